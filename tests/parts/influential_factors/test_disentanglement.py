"""Chapter 5 metrics (repro_lib.parts.influential_factors.disentanglement) on cases with known answers.

References transcribed here, not in the library: disentanglement_lib's MIG (a loop of
``sklearn.metrics.mutual_info_score`` on ``_histogram_discretize``) and the thesis's
Listing C.3 (one vote per decode/encode)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.stats
import torch

from repro_lib.parts.influential_factors.disentanglement import (
    factorvae_score,
    mig,
    mutual_information_matrix,
    reference_mig,
    reference_mutual_information_matrix,
    thesis_factorvae,
)
from repro_lib.parts.influential_factors.dsprites import DSpritesLike
from repro_lib.parts.influential_factors.fidelity import ks_fidelity


def mixed_data(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Integer factors with unusual ranges and codes that are noisy mixtures of them."""
    rng = np.random.default_rng(seed)
    factors = np.stack([rng.integers(1, 3, n),                  # SEX in {1, 2}
                        rng.integers(0, 7, n),                  # EDUCATION 0..6
                        rng.choice([-3, 0, 100], n),            # arbitrary labels
                        rng.integers(21, 80, n)], axis=1)       # AGE, 59 values
    mixing = rng.normal(size=(4, 6))
    codes = (factors - factors.mean(0)) / factors.std(0) @ mixing + 0.5 * rng.normal(size=(n, 6))
    return codes, factors


def grid_factors(n: int = 10000, sizes=(3, 5, 8, 10), seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, s, n) for s in sizes], axis=1)


# -------------------------------------------------------------------------- MIG
def test_mi_matrix_and_mig_match_the_sklearn_loop():
    codes, factors = mixed_data()
    mi = mutual_information_matrix(codes, factors)
    assert mi.shape == (6, 4)
    np.testing.assert_allclose(mi, reference_mutual_information_matrix(codes, factors), rtol=0, atol=1e-9)
    assert abs(mig(codes, factors) - reference_mig(codes, factors)) < 1e-9


@pytest.mark.parametrize("bins", [2, 7, 50])
def test_other_bin_counts_match_the_sklearn_loop(bins):
    codes, factors = mixed_data(800, seed=bins)
    np.testing.assert_allclose(mutual_information_matrix(codes, factors, bins),
                               reference_mutual_information_matrix(codes, factors, bins), rtol=0, atol=1e-9)


def test_mi_is_in_nats():
    factor = np.repeat([0, 1], 500)[:, None]          # a fair coin, exactly balanced
    mi = mutual_information_matrix(factor.astype(float), factor)
    assert mi[0, 0] == pytest.approx(math.log(2), abs=1e-12)


def test_codes_equal_to_factors_give_mig_near_one():
    factors = grid_factors()                          # <= 20 levels: every level its own bin
    assert mig(factors.astype(float), factors) > 0.99


def test_constant_codes_give_mig_zero():
    factors = grid_factors(2000)
    assert mig(np.full((2000, 4), 0.3), factors) == 0.0


def test_independent_noise_codes_give_mig_near_zero():
    factors = grid_factors()
    codes = np.random.default_rng(1).normal(size=(10000, 6))
    assert mig(codes, factors) < 0.01


def test_a_duplicated_latent_gives_mig_zero():
    factors = grid_factors(5000, sizes=(8,))
    codes = np.repeat(factors.astype(float), 2, axis=1)      # [f, f]
    assert mig(codes, factors) == pytest.approx(0.0, abs=1e-12)


def test_mig_is_invariant_to_permuting_latents():
    codes, factors = mixed_data()
    assert mig(codes[:, ::-1], factors) == mig(codes, factors)


def test_mig_is_invariant_to_positive_affine_maps_of_each_latent():
    codes, factors = mixed_data()
    scaled = codes * np.array([0.01, 1, 3, 250, 0.5, 7]) + np.array([5, -2, 0, 1e3, 0.1, -40])
    assert mig(scaled, factors) == pytest.approx(mig(codes, factors), abs=1e-12)
    np.testing.assert_allclose(mutual_information_matrix(scaled, factors),
                               mutual_information_matrix(codes, factors), rtol=0, atol=1e-12)


def test_mig_changes_under_a_nonaffine_monotone_map_because_bins_are_equal_width():
    codes, factors = mixed_data()
    assert abs(mig(np.exp(codes), factors) - mig(codes, factors)) > 1e-3


def test_factor_labels_only_matter_up_to_relabelling():
    codes, factors = mixed_data()
    relabelled = np.where(factors == 100, 7, factors) * 3 - 11
    np.testing.assert_array_equal(mutual_information_matrix(codes, relabelled),
                                  mutual_information_matrix(codes, factors))


@pytest.mark.parametrize("codes, factors, match", [
    (np.zeros((10, 2)), np.zeros((9, 1)), "rows"),
    (np.zeros(10), np.zeros((10, 1)), "2-D"),
    (np.full((10, 2), np.nan), np.zeros((10, 1)), "NaN"),
    (np.zeros((10, 2)), np.linspace(0, 1, 10)[:, None], "integer"),
])
def test_bad_mi_inputs_are_rejected(codes, factors, match):
    with pytest.raises(ValueError, match=match):
        mutual_information_matrix(codes, factors)


def test_bad_bins_and_degenerate_mig_inputs_are_rejected():
    codes, factors = mixed_data(200)
    with pytest.raises(ValueError, match="bins"):
        mig(codes, factors, bins=1)
    with pytest.raises(ValueError, match="2 latents"):
        mig(codes[:, :1], factors)
    with pytest.raises(ValueError, match="single value"):
        mig(codes, np.ones((200, 1)))


# ------------------------------------------------------------ FactorVAE (standard)
class FactorsAsObservations:
    """Ground-truth data whose observations are the factors themselves."""

    factor_sizes = (3, 6, 10, 8)

    def sample_factors(self, n, rng):
        return np.random.default_rng(rng).integers(0, self.factor_sizes, size=(n, 4))

    def observations_from_factors(self, factors):
        return np.asarray(factors, dtype=np.float64)


FAST = dict(n_train_votes=400, n_eval_votes=200, n_variance=2000)


def test_factorvae_codes_equal_to_factors_score_one():
    result = factorvae_score(lambda x: x, FactorsAsObservations(), **FAST)
    assert result.train_accuracy == 1.0 and result.eval_accuracy == 1.0
    assert result.train_votes.sum() == 400 and result.eval_votes.sum() == 200
    np.testing.assert_array_equal(result.train_votes, np.diag(np.diag(result.train_votes)))


def test_factorvae_is_invariant_to_scaling_each_latent():
    data = FactorsAsObservations()
    mixing = np.random.default_rng(0).normal(size=(4, 4))
    base = factorvae_score(lambda x: x @ mixing, data, seed=3, **FAST)
    scaled = factorvae_score(lambda x: (x @ mixing) * [0.2, 5.0, 1.0, 40.0], data, seed=3, **FAST)
    np.testing.assert_array_equal(base.train_votes, scaled.train_votes)
    np.testing.assert_array_equal(base.eval_votes, scaled.eval_votes)
    assert base.train_accuracy < 1.0               # the mixing makes this a non-trivial check


def test_factorvae_entangled_code_scores_low():
    noise = np.random.default_rng(0)

    def entangled(x):       # every latent is the same mixture of all factors
        return x.sum(1, keepdims=True) + 0.01 * noise.normal(size=(len(x), 4))

    result = factorvae_score(entangled, FactorsAsObservations(), **FAST)
    assert result.eval_accuracy < 0.45


def test_factorvae_prunes_collapsed_latents_like_disentanglement_lib():
    def with_collapsed(x):
        return np.concatenate([x, np.full((len(x), 1), 2.0), 0.01 * x[:, :1]], axis=1)

    result = factorvae_score(with_collapsed, FactorsAsObservations(), **FAST)
    assert result.active_dims.tolist() == [True] * 4 + [False, False]
    assert result.train_accuracy == 1.0 and result.train_votes[:, 4:].sum() == 0
    dead = factorvae_score(lambda x: np.zeros((len(x), 3)), FactorsAsObservations(), **FAST)
    assert (dead.train_accuracy, dead.eval_accuracy, dead.active_dims.any()) == (0.0, 0.0, False)


def test_factorvae_on_dsprites_with_a_position_oracle():
    def centroid_and_area(images):
        img = images[:, 0]
        grid = np.arange(64) + 0.5
        area = img.sum(axis=(1, 2))
        return np.stack([(img.sum(1) * grid).sum(1) / area, (img.sum(2) * grid).sum(1) / area, area], 1)

    result = factorvae_score(centroid_and_area, DSpritesLike(), n_train_votes=300,
                             n_eval_votes=150, n_variance=1000)
    assert result.train_votes.shape == (5, 3)
    # pos_x -> column 0 and pos_y -> column 1 always win; the area serves one more factor.
    assert result.train_votes[3, 0] == result.train_votes[3].sum() > 0
    assert result.train_votes[4, 1] == result.train_votes[4].sum() > 0
    assert 0.4 <= result.eval_accuracy <= 0.8


def test_factorvae_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="batch_size"):
        factorvae_score(lambda x: x, FactorsAsObservations(), batch_size=1, **FAST)
    with pytest.raises(ValueError, match="rows"):
        factorvae_score(lambda x: x[:-1], FactorsAsObservations(), **FAST)


# ------------------------------------------------------------- FactorVAE (thesis)
def listing_c3_votes(encode_sample, decode, codes, n, rng, global_variances):
    """Listing C.3 `_generate_training_sample`, one vote per call, same random draws."""
    num_samp, latent_dim = codes.shape
    latent_idx_all = rng.integers(latent_dim, size=n)
    rows_all = rng.integers(num_samp, size=n)
    votes = np.zeros((latent_dim, latent_dim), dtype=np.int64)
    for latent_idx, row in zip(latent_idx_all, rows_all):
        y_all_samp = codes.detach().cpu().clone()
        y_all_samp[:, latent_idx] = y_all_samp[row, latent_idx]
        with torch.no_grad():
            representations = encode_sample(decode(y_all_samp)).cpu().detach().numpy()
        local_variances = np.var(representations, axis=0, ddof=1)
        votes[latent_idx, np.argmin(local_variances / global_variances)] += 1
    return votes


def small_autoencoder(latent_dim=6, data_dim=12):
    torch.manual_seed(0)
    decoder = torch.nn.Sequential(torch.nn.Linear(latent_dim, 32), torch.nn.Tanh(),
                                  torch.nn.Linear(32, data_dim), torch.nn.Sigmoid())
    encoder = torch.nn.Sequential(torch.nn.Linear(data_dim, 32), torch.nn.Tanh(),
                                  torch.nn.Linear(32, latent_dim))
    return encoder, decoder


def test_thesis_factorvae_matches_a_transcription_of_listing_c3():
    encoder, decoder = small_autoencoder()
    codes = torch.randn(64, 6, generator=torch.Generator().manual_seed(1))
    result = thesis_factorvae(encoder, decoder, codes, n_train_votes=150, n_eval_votes=100, seed=5)
    rng = np.random.default_rng(5)
    global_var = np.var(codes.numpy().astype(np.float64), axis=0, ddof=1)
    train = listing_c3_votes(encoder, decoder, codes, 150, rng, global_var)
    evals = listing_c3_votes(encoder, decoder, codes, 100, rng, global_var)
    np.testing.assert_array_equal(result.train_votes, train)
    np.testing.assert_array_equal(result.eval_votes, evals)


def test_thesis_factorvae_does_not_depend_on_batching():
    encoder, decoder = small_autoencoder()
    codes = torch.randn(50, 6, generator=torch.Generator().manual_seed(2))
    one = thesis_factorvae(encoder, decoder, codes, 200, 100, seed=1, rows_per_call=50)
    many = thesis_factorvae(encoder, decoder, codes, 200, 100, seed=1)
    np.testing.assert_array_equal(one.train_votes, many.train_votes)
    np.testing.assert_array_equal(one.eval_votes, many.eval_votes)


def test_thesis_factorvae_identity_autoencoder_scores_one():
    codes = np.random.default_rng(0).normal(size=(128, 5))
    result = thesis_factorvae(lambda x: x, lambda z: z, codes)
    assert result.train_accuracy == 1.0 and result.eval_accuracy == 1.0
    assert result.train_votes.sum() == 1000 and result.eval_votes.sum() == 1000


def test_thesis_factorvae_entangled_encoder_scores_low():
    noise = np.random.default_rng(1)

    def entangled_sample(x):        # every sampled latent is the sum of all inputs plus noise
        return x.sum(1, keepdims=True) + 0.1 * noise.normal(size=x.shape)

    codes = np.random.default_rng(0).normal(size=(128, 5))
    result = thesis_factorvae(entangled_sample, lambda z: z, codes)
    assert result.train_accuracy < 0.4 and result.eval_accuracy < 0.4


def test_thesis_factorvae_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="constant"):
        thesis_factorvae(lambda x: x, lambda z: z, np.ones((10, 2)))
    with pytest.raises(ValueError, match="2 rows"):
        thesis_factorvae(lambda x: x, lambda z: z, np.ones((1, 2)))
    with pytest.raises(ValueError, match="latents"):
        thesis_factorvae(lambda x: x[:, :1], lambda z: z, np.random.default_rng(0).normal(size=(10, 2)))


# ---------------------------------------------------------------------- KS fidelity
def test_ks_fidelity_is_one_minus_scipy_ks_statistic():
    rng = np.random.default_rng(0)
    real = pd.DataFrame({"a": rng.normal(size=500), "b": rng.exponential(size=500),
                         "c": rng.integers(0, 5, 500)})           # ties: a discrete column
    synthetic = pd.DataFrame({"a": rng.normal(0.3, 1, 300), "b": rng.normal(1, 1, 300),
                              "c": rng.integers(0, 6, 300)})
    result = ks_fidelity(real, synthetic)
    for c in real.columns:
        expected = 1 - scipy.stats.ks_2samp(real[c], synthetic[c]).statistic
        assert result.per_column[c] == pytest.approx(expected, abs=1e-9)
    assert result.mean == pytest.approx(result.per_column.mean(), abs=1e-15)
    assert list(ks_fidelity(real, synthetic, columns=["b"]).per_column.index) == ["b"]


def test_ks_fidelity_of_identical_tables_is_one():
    real = pd.DataFrame({"x": np.arange(100.0), "y": np.sin(np.arange(100.0))})
    result = ks_fidelity(real, real.copy())
    assert (result.per_column == 1.0).all() and result.mean == 1.0


@pytest.mark.parametrize("synthetic, columns, match", [
    (pd.DataFrame({"x": [1.0, np.nan]}), None, "NaN"),
    (pd.DataFrame({"x": ["a", "b"]}), None, "numeric"),
    (pd.DataFrame({"y": [1.0, 2.0]}), None, "both tables"),
    (np.array([[1.0], [2.0]]), None, "DataFrame"),
])
def test_ks_fidelity_bad_inputs_are_rejected(synthetic, columns, match):
    with pytest.raises(ValueError, match=match):
        ks_fidelity(pd.DataFrame({"x": [1.0, 2.0, 3.0]}), synthetic, columns)

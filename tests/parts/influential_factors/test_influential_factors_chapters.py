"""Influential-factors part: the recipes the chapter notebooks call, each on a small case
computed by hand (or with a known answer)."""
import json
import math
from types import SimpleNamespace

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from repro_lib.models.vae import Posterior, VAEOutput
from repro_lib.parts.influential_factors import recipes as inf
from repro_lib.parts.influential_factors.credit import MinMax
from repro_lib.parts.influential_factors.dsprites import DSpritesLike

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


class LinearCode(nn.Module):
    """A stand-in VAE: the code's mean is flatten(x) @ weight, the reconstruction is x."""

    def __init__(self, weight):
        super().__init__()
        self.weight = nn.Parameter(torch.as_tensor(weight, dtype=torch.float32), requires_grad=False)

    def encode(self, x):
        mu = x.flatten(1) @ self.weight
        return Posterior(mu, torch.zeros_like(mu), None)

    def forward(self, x):
        posterior = self.encode(x)
        return VAEOutput(x, posterior, posterior.mu)


class Centroid(nn.Module):
    """A position oracle for (N, 1, H, W) images: the code is the sprite's centre of mass (x, y)."""

    def encode(self, x):
        img = x[:, 0]
        grid = torch.arange(img.shape[-1], dtype=img.dtype) + 0.5
        area = img.sum((1, 2))
        mu = torch.stack([(img.sum(1) * grid).sum(1) / area, (img.sum(2) * grid).sum(1) / area], 1)
        return Posterior(mu, torch.zeros_like(mu), None)


class Constant(nn.Module):
    """A collapsed encoder: every image has the code (0, 0, 0)."""

    def encode(self, x):
        mu = torch.zeros(len(x), 3)
        return Posterior(mu, torch.zeros_like(mu), None)


# ----------------------------------------------------------------------------- 1 MNIST in 2-D


def test_latent_2d_stats_by_hand():
    # the first half fits (0, 0) and (1, 0) -> digit 0, (10, 0) -> digit 1; of the second half
    # (9, 0) -> 1 is right, (2, 0) -> 0 wrong (it is a 1), (3, 4) -> 0 right (4.47 from (1, 0))
    mu = np.array([[0.0, 0.0], [10.0, 0.0], [1.0, 0.0], [9.0, 0.0], [2.0, 0.0], [3.0, 4.0]])
    labels = np.array([0, 1, 0, 1, 1, 0])
    stats = inf.latent_2d_stats(mu, labels, k=1)
    assert stats["1-NN digit accuracy"] == pytest.approx(2 / 3)
    assert stats["mean |mu|"] == pytest.approx((0 + 10 + 1 + 9 + 2 + 5) / 6)


def test_latent_2d_stats_separated_clusters_score_one():
    rng = np.random.default_rng(0)
    labels = np.tile(np.arange(10), 30)
    mu = np.stack([labels * 10.0, np.zeros(len(labels))], 1) + rng.normal(0, 0.1, (len(labels), 2))
    assert inf.latent_2d_stats(mu, labels)["10-NN digit accuracy"] == 1.0


def test_scatter_codes_draws_every_code_on_the_fixed_square():
    fig, ax = plt.subplots()
    mu = np.array([[0.0, 1.0], [2.0, -3.0], [-1.0, 0.5]])
    sc = inf.scatter_codes(ax, mu, np.array([0, 5, 9]), "t")
    np.testing.assert_array_equal(sc.get_offsets(), mu)
    assert ax.get_xlim() == (-4, 4) and ax.get_ylim() == (-4, 4) and ax.get_title() == "t"
    plt.close(fig)


def test_spearman_is_the_rank_correlation():
    assert inf.spearman([1, 2, 3, 4], [10, 20, 15, 40]) == pytest.approx(0.8)
    assert inf.spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


# ----------------------------------------------------------------------------- 3 images and losses


def test_reconstruction_variances_and_ratios():
    originals = torch.stack([torch.zeros(1, 2, 2), torch.full((1, 2, 2), 2.0)])  # variance 2 per pixel
    tcvae = torch.stack([torch.zeros(1, 2, 2), torch.ones(1, 2, 2)])             # 0.5
    betavae = torch.ones(2, 1, 2, 2)                                             # 0
    variance = inf.reconstruction_variances(originals, tcvae, betavae)
    assert variance.to_dict() == pytest.approx({"originals": 2.0, "beta-TCVAE": 0.5, "beta-VAE": 0.0})
    assert inf.variance_ratios(variance) == pytest.approx({"tcvae_variance_ratio": 0.25,
                                                           "betavae_over_tcvae_variance": 0.0})


def test_msvae_mses_and_ratio():
    x = torch.zeros(2, 1, 1, 2)
    stage1 = torch.tensor([[[[1.0, 1.0]]], [[[1.0, 1.0]]]])    # squared error 1 everywhere
    msvae = torch.tensor([[[[0.5, 0.0]]], [[[0.0, 0.5]]]])     # 0.25 on half the elements
    assert inf.pixel_mse(stage1, x) == 1.0
    mses = inf.msvae_mses(x, stage1, msvae)
    assert mses == pytest.approx({"beta-TCVAE": 1.0, "MSVAE": 0.125})
    assert inf.msvae_over_tcvae(mses) == pytest.approx(0.125)


def test_n_parameters():
    assert inf.n_parameters(nn.Linear(3, 2)) == 3 * 2 + 2


# ----------------------------------------------------------------------------- 4 traversals and mixups


def test_background_latent_finds_the_row_whose_border_follows_the_value():
    values = np.linspace(-2, 2, 5)
    ramp = (values + 2) / 4                                   # 0, .25, .5, .75, 1
    rows = [np.full(5, 0.5),                                  # constant: correlation 0
            ramp + np.array([0, 0.1, 0, 0.1, 0]),             # rises, not exactly linearly
            1 - ramp]                                         # falls exactly: correlation -1
    gallery = torch.cat([torch.as_tensor(r, dtype=torch.float32)[:, None, None, None].expand(5, 3, 16, 16)
                         for r in rows])
    corr, best = inf.background_latent(gallery, values, width=2)
    assert best == 2
    assert corr[0] == 0.0 and 0.9 < corr[1] < 1.0 and corr[2] == pytest.approx(-1.0)


def test_median_linear_r2_and_traversal_linearity():
    v = np.linspace(-1, 1, 21)
    curves = np.stack([2 * v, v ** 2, -v + 3], 1)             # R^2: 1, 0, 1 -> median 1
    assert inf.median_linear_r2(v, curves) == pytest.approx(1.0)
    bent = np.stack([v ** 2, v ** 2, v], 1)                   # R^2: 0, 0, 1 -> median 0
    claims = inf.traversal_linearity(v, curves, v, bent)
    assert claims == pytest.approx({"small_scale_median_r2": 1.0, "large_scale_median_r2": 0.0,
                                    "large_minus_small_r2": -1.0}, abs=1e-12)


def test_traversal_range_is_the_mean_column_range():
    curves = np.array([[0.0, 5.0], [1.0, 5.0], [3.0, 5.0]])    # ranges 3 and 0
    assert inf.traversal_range(curves) == 1.5


def test_latent_spread_is_the_std_of_the_mean_codes():
    x = torch.tensor([[0.0, 0.0], [2.0, 1.0], [4.0, 2.0]])
    spread = inf.latent_spread(LinearCode(np.eye(2)), x)
    np.testing.assert_allclose(spread, [math.sqrt(8 / 3), math.sqrt(2 / 3)], rtol=1e-6)


def test_mixup_relative_distance_by_hand():
    x_i, x_j = torch.zeros(1, 1, 1, 2), torch.tensor([[[[3.0, 4.0]]]])   # 5 apart
    outs = [torch.tensor([[[[0.0, 0.0]]]]), torch.tensor([[[[0.0, 1.0]]]]), torch.tensor([[[[0.0, 2.0]]]])]
    # pairwise distances 1, 2, 1 -> mean 4/3, over 5
    assert inf.mixup_relative_distance(outs, x_i, x_j) == pytest.approx(4 / 15)


# ----------------------------------------------------------------------------- 5 metrics' claims


def _t53():
    rows = [(4, 1e-4, 2, 0.5), (4, 1e-4, 20, 0.7), (10, 1e-4, 2, 0.2), (10, 1e-4, 20, 0.3),
            (4, 1e-5, 2, 0.4), (4, 1e-5, 20, 0.4), (10, 1e-5, 2, 0.1), (10, 1e-5, 20, 0.3)]
    return pd.DataFrame(rows, columns=["LD", "lr", "beta", "eval accuracy"])


def test_factorvae_claims_by_hand():
    t51 = pd.DataFrame([(10, 1e-3, 0.9), (10, 1e-4, 1.0), (25, 1e-3, 0.3), (25, 1e-4, 0.5)],
                       columns=["LD", "lr", "eval accuracy"])
    t52 = pd.DataFrame([(5, 1e-3, 0.4), (5, 1e-4, 0.6), (10, 1e-3, 0.3), (10, 1e-4, 0.2), (20, 1e-3, 0.1)],
                       columns=["LD", "lr", "eval accuracy"])
    assert inf.best_eval_accuracy(t52, 5) == 0.6
    claims = inf.factorvae_claims(t51, t52, _t53(), [10, 25], [1e-3, 1e-4], [5, 10, 20], [4, 10], [1e-4, 1e-5],
                                  face_votes=100, votes=400)
    z = 1.959964
    half = {"celeba": z * 0.05,  # variance 0.5 * 0.5 / 100 + 1.0 * 0.0 / 100
            "ld5": z * math.sqrt((0.24 + 0.21) / 400),
            # (0.25 + 0.21) / 400 / 4 + (0.16 + 0.21) / 400 / 4
            "small_ld": z * math.sqrt(0.83 / 1600)}
    assert {k: v for k, v in claims.items() if not k.endswith("_ci")} == pytest.approx({
        "celeba_small_lr_wins_share": 1.0,     # 1.0 > 0.9 and 0.5 > 0.3
        "celeba_learning_rates": 2,
        "celeba_ld_excess_change": -0.44,      # (0.5 - 1/25) - (1.0 - 1/10) at lr 1e-4
        "table_ld5_margin": 0.2,               # (0.6 - 1/5) - max(0.3 - 1/10, 0.1 - 1/20)
        "table_ld5_over_chance": 3.0,          # 0.6 / (1/5)
        "table_beta_max_range": 0.2,           # ranges 0.2, 0.1, 0.0, 0.2
        "table_small_ld_excess": 0.2,          # (mean(0.5, 0.7) - 1/4) - (mean(0.2, 0.3) - 1/10)
    })
    assert claims["celeba_ld_excess_change_ci"] == pytest.approx([-0.44 - half["celeba"], -0.44 + half["celeba"]])
    assert claims["table_ld5_margin_ci"] == pytest.approx([0.2 - half["ld5"], 0.2 + half["ld5"]])
    assert claims["table_small_ld_excess_ci"] == pytest.approx([0.2 - half["small_ld"], 0.2 + half["small_ld"]])
    assert claims["table_ld5_over_chance_ci"] == pytest.approx([5 * v for v in inf.binomial_interval(0.6, 400)])
    # without lr 1e-4 among the beta sweep's, the first lr stands in: (0.4 - 1/4) - (mean(0.1, 0.3) - 1/10)
    t51_one_win = t51.assign(**{"eval accuracy": [0.9, 1.0, 0.5, 0.3]})
    other = inf.factorvae_claims(t51_one_win, t52, _t53(), [10, 25], [1e-3, 1e-4], [5, 10, 20], [4, 10], [1e-5],
                                 face_votes=100, votes=400)
    assert other["table_small_ld_excess"] == pytest.approx(0.05)
    assert other["celeba_small_lr_wins_share"] == 0.5
    # one learning rate on CelebA: no comparison of learning rates (NaN, and the gate's count is 1)
    one = inf.factorvae_claims(t51[t51.lr == 1e-3], t52, _t53(), [10, 25], [1e-3], [5, 10, 20], [4, 10], [1e-4],
                               face_votes=100, votes=400)
    assert math.isnan(one["celeba_small_lr_wins_share"]) and one["celeba_learning_rates"] == 1
    assert one["celeba_ld_excess_change"] == pytest.approx((0.3 - 0.04) - (0.9 - 0.1))


def test_a_model_at_chance_cannot_win_the_comparisons_across_latent_sizes():
    """Accuracies at chance (1/LD) give excess-over-chance differences of 0 (the raw
    differences would favour the smaller LD by 1/LD_small - 1/LD_large)."""
    t51 = pd.DataFrame([(10, 1e-3, 0.1), (25, 1e-3, 0.04)], columns=["LD", "lr", "eval accuracy"])
    t52 = pd.DataFrame([(5, 1e-3, 0.2), (10, 1e-3, 0.1), (20, 1e-3, 0.05)], columns=["LD", "lr", "eval accuracy"])
    t53 = pd.DataFrame([(4, 1e-4, 2, 0.25), (10, 1e-4, 2, 0.1)], columns=["LD", "lr", "beta", "eval accuracy"])
    claims = inf.factorvae_claims(t51, t52, t53, [10, 25], [1e-3], [5, 10, 20], [4, 10], [1e-4], 100, 400)
    for key in ("celeba_ld_excess_change", "table_ld5_margin", "table_small_ld_excess"):
        assert claims[key] == pytest.approx(0.0, abs=1e-12)
        low, high = claims[key + "_ci"]
        assert low < 0 < high


def test_factorvae_results_reads_table_53_of_the_5_1_result(tmp_path, monkeypatch):
    path = tmp_path / "5_1_factorvae.json"
    rows = [{"LD": 4, "lr": 1e-4, "beta": 2.0, "train accuracy": 0.5, "eval accuracy": 0.4, "active latents": 0}]
    path.write_text(json.dumps({"numbers": {"table_53": rows}}))
    seen = []
    monkeypatch.setattr(inf, "result_path", lambda *args: seen.append(args) or path)
    frame = inf.factorvae_results("smoke")
    assert seen == [("smoke", inf.PART, "5_1_factorvae")]
    assert list(frame.columns) == ["LD", "lr", "beta", "train accuracy", "eval accuracy"]
    assert frame.iloc[0].tolist() == [4, 1e-4, 2.0, 0.5, 0.4]
    monkeypatch.setattr(inf, "result_path", lambda *args: tmp_path / "missing.json")
    with pytest.raises(FileNotFoundError, match="run that chapter first"):
        inf.factorvae_results("smoke")


def test_mig_claims_by_hand():
    b1 = pd.DataFrame([(4, 1e-4, 2, 0.01, 0.5), (4, 1e-4, 20, 0.03, 0.5), (10, 1e-4, 2, 0.02, 0.2),
                       (10, 1e-4, 20, 0.01, 0.2), (4, 1e-5, 20, 0.05, 0.4), (10, 1e-5, 20, 0.01, 0.4)],
                      columns=["LD", "lr", "beta", "MIG", "eval accuracy"])
    dsprites = {"untrained": {"MIG": 0.1}, "beta-TCVAE": {"MIG": 0.4}}
    assert inf.mig_claims(b1, [2, 20], [4, 10], dsprites) == pytest.approx({
        "mig_over_factorvae": 0.13 / 2.2,          # (0.13 / 6) / (2.2 / 6)
        "mig_max": 0.05,
        "mig_ld4_minus_ld10_beta20": 0.03,         # mean(0.03, 0.05) - mean(0.01, 0.01)
        "dsprites_mig_gain": 0.3,
    })


def test_mean_skew_by_hand():
    # [0, 0, 0, 1]: m2 = 3/16, m3 = 3/32, skew = m3 / m2^1.5 = 2 / sqrt(3); [0, 1, 2, 3]: 0
    frame = pd.DataFrame({"a": [0, 0, 0, 1], "b": [0, 1, 2, 3]})
    assert inf.mean_skew(frame) == pytest.approx(1 / math.sqrt(3))
    assert inf.mean_skew(frame.to_numpy()) == pytest.approx(1 / math.sqrt(3))


def test_reconstruction_stats_of_a_perfect_reconstruction():
    features = pd.DataFrame({"a": [0, 0, 0, 4], "b": [0, 2, 6, 8], "c": [1, 1, 5, 5]})  # exact in float32
    scaler = MinMax.fit(features)
    x = torch.from_numpy(scaler.transform(features).to_numpy(np.float32))
    table = SimpleNamespace(x=x, features=features, scaler=scaler)
    stats = inf.ReconstructionStats(table, ["a", "b"])
    row = stats(LinearCode(np.eye(3)), ("key", 1))
    assert row == pytest.approx({"KS": 1.0, "BILL skew": 1 / math.sqrt(3)})
    pd.testing.assert_frame_equal(stats.recon[("key", 1)], features[["a", "b"]].astype(float))


def _ks():
    rows = [(4, 1e-5, 1, 0.50, 2.0), (4, 1e-5, 40, 0.49, 1.0), (4, 1e-5, 100, 0.45, -0.5),
            (10, 1e-5, 1, 0.60, 3.0), (10, 1e-5, 40, 0.598, 3.0), (10, 1e-5, 100, 0.58, 3.0),
            (4, 1e-4, 1, 0.90, 9.0), (4, 1e-4, 100, 0.10, 0.0)]       # another lr: ignored
    return pd.DataFrame(rows, columns=["LD", "lr", "beta", "KS", "BILL skew"])


def test_ks_claims_by_hand():
    claims = inf.ks_claims(_ks(), [4, 10], [1e-4, 1e-5], [1, 40, 100])
    assert claims == pytest.approx({
        "skew_change_ld4_lr1e5": -1.5,        # |-0.5| - |2.0|
        "ks_change_lr1e5": -0.035,            # mean(0.45 - 0.50, 0.58 - 0.60)
        "ks_below_beta1_share": 0.75,         # 0.49 and 0.45 below 0.495; 0.58 below 0.595, 0.598 not
    })
    few = _ks()[_ks().beta < 40]
    assert math.isnan(inf.ks_claims(few, [4, 10], [1e-5], [1])["ks_below_beta1_share"])


def test_dsprites_scores_position_oracle_beats_a_collapsed_encoder():
    gen = DSpritesLike()
    images, factors = gen.make_dataset(600, seed=0)
    x = inf.to_32px(images)
    votes = dict(n_train_votes=60, n_eval_votes=30, n_variance=300)
    oracle = inf.dsprites_scores(Centroid(), gen, x, factors, **votes)
    dead = inf.dsprites_scores(Constant(), gen, x, factors, **votes)
    assert dead == {"MIG": 0.0, "FactorVAE (Kim & Mnih) eval": 0.0}
    assert oracle["MIG"] > 0.1
    assert 0.2 < oracle["FactorVAE (Kim & Mnih) eval"] <= 0.6   # pos_x and pos_y of 5 factors

"""Saliency separation metrics (repro_lib.parts.attribution_priors.saliency), Eqs. 2 and 5-9."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch

from repro_lib.parts.attribution_priors.saliency import (
    active_units_per_feature,
    attribution_entropy,
    pearson_correlation,
    pearson_correlation_prior,
    total_variation,
)


def lfxai_entropy(sal: np.ndarray) -> float:
    """lfxai.utils.metrics.entropy_saliency (Crabbé & van der Schaar)."""
    K = sal.shape[1]
    flat = np.reshape(sal.swapaxes(1, -1), (-1, K))
    flat = flat[flat.sum(1) > 0]
    return float(np.mean(scipy.stats.entropy(flat, axis=1)))


def lfxai_pearson(sal: np.ndarray) -> float:
    """lfxai.utils.metrics.pearson_saliency."""
    K = sal.shape[1]
    corr = np.corrcoef(sal.swapaxes(0, 1).reshape(K, -1))
    return float((np.sum(corr) - np.trace(corr)) / (K * (K - 1)))


# ---------------------------------------------------------------- total variation

def test_tv_hand_computed():
    a = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    assert total_variation(a.view(1, 1, 2, 2)).item() == pytest.approx(6.0)
    # mean over the B * K maps: one map of TV 6 and three constant maps
    maps = torch.stack([a, torch.full((2, 2), 5.0), a * 0, a * 0 + 1]).view(2, 2, 2, 2)
    assert total_variation(maps).item() == pytest.approx(6.0 / 4)


def test_tv_non_square_and_constant():
    a = torch.tensor([[0.0, 1.0, 3.0], [1.0, 1.0, 1.0]])  # 2 x 3
    # vertical |1-0|+|1-1|+|1-3| = 3, horizontal |1-0|+|3-1|+|1-1|+|1-1| = 3
    assert total_variation(a.view(1, 1, 2, 3)).item() == pytest.approx(6.0)
    assert total_variation(torch.full((3, 2, 5, 5), 2.5)).item() == 0.0


def test_tv_gradient_finite():
    maps = torch.zeros(2, 3, 6, 6)
    maps[:, :, 2:4, 2:4] = torch.rand(2, 3, 2, 2)
    maps.requires_grad_()
    total_variation(maps).backward()
    assert torch.isfinite(maps.grad).all()


# ---------------------------------------------------------------- entropy

def test_entropy_zero_when_one_latent_per_pixel():
    B, K, H, W = 3, 4, 5, 5
    owner = torch.randint(K, (B, H, W))
    maps = torch.nn.functional.one_hot(owner, K).permute(0, 3, 1, 2).float()
    maps = maps * (torch.rand(B, 1, H, W) + 0.1)
    assert attribution_entropy(maps).item() == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize("K", [2, 3, 5])
def test_entropy_log_k_for_equal_attributions(K):
    maps = (torch.rand(4, 1, 6, 6) + 0.1).expand(4, K, 6, 6)
    assert attribution_entropy(maps).item() == pytest.approx(math.log(K), rel=1e-6)


def test_entropy_matches_scipy_and_lfxai():
    rng = np.random.default_rng(0)
    sal = rng.random((5, 3, 7, 7))
    ours = attribution_entropy(torch.from_numpy(sal)).item()
    flat = sal.transpose(0, 2, 3, 1).reshape(-1, 3)
    assert ours == pytest.approx(float(np.mean(scipy.stats.entropy(flat, axis=1))), rel=1e-10)
    # zero pixels (all latents 0) and zero entries, as under a black baseline
    sal[:, :, :2, :] = 0.0
    sal[:, 1, 3:, 3:] = 0.0
    ours = attribution_entropy(torch.from_numpy(sal)).item()
    assert ours == pytest.approx(lfxai_entropy(sal), rel=1e-10)
    # Eq. 5 takes |a|: signed attributions give the same value
    signs = np.where(rng.random(sal.shape) < 0.5, -1.0, 1.0)
    assert attribution_entropy(torch.from_numpy(sal * signs)).item() == pytest.approx(ours, rel=1e-10)
    # shape (B, K, 1, H, W) from latent_saliency is accepted
    assert attribution_entropy(torch.from_numpy(sal[:, :, None])).item() == pytest.approx(ours, rel=1e-12)


def test_entropy_nan_free_with_zero_features():
    maps = torch.rand(3, 3, 8, 8, dtype=torch.float64)
    maps[:, :, :3] = 0.0          # black pixels: zero for every latent
    maps[:, 0, 5:] = 0.0          # one latent silent on some pixels
    maps.requires_grad_()
    val = attribution_entropy(maps)
    val.backward()
    assert torch.isfinite(val) and torch.isfinite(maps.grad).all()
    assert maps.grad[:, :, :3].abs().sum() == 0  # excluded features get no gradient
    # all-zero maps: no salient feature -> 0, finite gradient
    z = torch.zeros(2, 3, 4, 4, requires_grad=True)
    v = attribution_entropy(z)
    v.backward()
    assert v.item() == 0.0 and torch.isfinite(z.grad).all()


def test_entropy_gradcheck():
    maps = (torch.rand(2, 3, 4, 4, dtype=torch.float64) + 0.05)
    maps[:, :, 0] = 0.0
    maps.requires_grad_()
    assert torch.autograd.gradcheck(attribution_entropy, (maps,))


# ---------------------------------------------------------------- Pearson

def test_pearson_identical_maps_is_one():
    m = torch.rand(4, 1, 6, 6)
    assert pearson_correlation(m.expand(4, 3, 6, 6)).item() == pytest.approx(1.0, abs=1e-5)


def test_pearson_negated_affine_is_minus_one():
    # saliency is >= 0 and no |.| is applied: m and 2 - 3 m are perfectly anti-correlated
    m = torch.rand(4, 1, 6, 6, dtype=torch.float64)
    maps = torch.cat([m, 2.0 - 3.0 * m], dim=1)
    assert pearson_correlation(maps).item() == pytest.approx(-1.0, abs=1e-12)
    # the training prior's guard: |error| ~ eps * max-spread^2 / var ~ 1e-7
    assert pearson_correlation_prior(maps).item() == pytest.approx(-1.0, abs=1e-6)
    assert pearson_correlation_prior(maps, eps=0.0).item() == pytest.approx(-1.0, abs=1e-12)
    # a positive affine map is +1
    maps = torch.cat([m, 0.5 + 4.0 * m], dim=1)
    assert pearson_correlation(maps).item() == pytest.approx(1.0, abs=1e-12)
    assert pearson_correlation_prior(maps).item() == pytest.approx(1.0, abs=1e-6)


def test_pearson_independent_is_near_zero():
    maps = torch.rand(64, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    assert abs(pearson_correlation(maps).item()) < 0.02


@pytest.mark.parametrize("K", [2, 4])
def test_pearson_matches_numpy_and_lfxai(K):
    rng = np.random.default_rng(1)
    shared = rng.random((6, 1, 9, 9))
    sal = 0.6 * shared + 0.4 * rng.random((6, K, 9, 9))
    sal[:, :, :2] = 0.0  # black pixels are kept, as in lfxai
    corr = np.corrcoef(sal.transpose(1, 0, 2, 3).reshape(K, -1))
    expected = (corr.sum() - np.trace(corr)) / (K * (K - 1))
    for fn, tol in ((pearson_correlation, 1e-12), (pearson_correlation_prior, 1e-7)):
        assert fn(torch.from_numpy(sal)).item() == pytest.approx(expected, abs=tol)
        assert fn(torch.from_numpy(sal)).item() == pytest.approx(lfxai_pearson(sal), abs=tol)
        # scale invariance, also for tiny saliency values
        assert fn(torch.from_numpy(sal * 1e-9)).item() == pytest.approx(expected, abs=max(tol, 1e-10))
        f32 = fn(torch.from_numpy(sal).float())
        assert f32.item() == pytest.approx(expected, abs=1e-5)
    assert pearson_correlation(torch.from_numpy(sal).float()).dtype == torch.float32


def test_pearson_evaluation_keeps_a_nearly_dead_unit():
    # A collapsed model: unit 1's saliency is 1e-6 of the others' but follows unit 0's
    # pattern. The evaluation metric is np.corrcoef's (lfxai's) number; the training prior's
    # guard scores such a unit as uncorrelated (r about 0), which is why it must not score models.
    rng = np.random.default_rng(2)
    base = rng.random((20, 1, 8, 8))
    sal = np.concatenate([base + 0.3 * rng.random((20, 1, 8, 8)),
                          1e-6 * (base + 0.5 * rng.random((20, 1, 8, 8))),
                          rng.random((20, 1, 8, 8))], axis=1)
    expected = lfxai_pearson(sal)
    for dtype, tol in ((torch.float64, 1e-10), (torch.float32, 1e-6)):
        assert pearson_correlation(torch.from_numpy(sal).to(dtype)).item() == pytest.approx(expected, abs=tol)
    guarded = pearson_correlation_prior(torch.from_numpy(sal)).item()
    assert abs(expected) > 0.1 and abs(guarded - expected) > 0.05
    # exactly constant unit: NaN, as np.corrcoef (with a warning) gives
    sal[:, 1] = 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        assert math.isnan(lfxai_pearson(sal))
    assert math.isnan(pearson_correlation(torch.from_numpy(sal)).item())


def test_pearson_prior_nan_free_with_constant_latent():
    maps = torch.rand(3, 3, 5, 5, dtype=torch.float64)
    maps[:, 1] = 0.0  # a dead latent: constant saliency
    maps[:, :, :2] = 0.0
    maps.requires_grad_()
    v = pearson_correlation_prior(maps)
    v.backward()
    assert torch.isfinite(v) and torch.isfinite(maps.grad).all()
    # the dead latent contributes r = 0 to its pairs
    live = maps.detach()[:, [0, 2]]
    assert v.item() == pytest.approx(pearson_correlation_prior(live).item() * 2 / 6, abs=1e-6)


@pytest.mark.parametrize("fn", [pearson_correlation, pearson_correlation_prior])
def test_pearson_gradcheck(fn):
    maps = torch.rand(2, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(fn, (maps,))


# ---------------------------------------------------------------- active units per feature

def lfxai_count_activated_neurons(sal: np.ndarray) -> float:
    """lfxai.utils.metrics.count_activated_neurons."""
    K = sal.shape[1]
    flat = np.reshape(sal.swapaxes(1, -1), (-1, K))
    flat = flat[flat.sum(1) > 0]
    return float(np.mean(np.count_nonzero(flat / flat.sum(1, keepdims=True) > 1 / K, axis=1)))


def test_active_units_per_feature_by_hand_and_against_lfxai():
    # one feature (1, 0, 0) -> 1 unit above 1/3; (1, 1, 0) -> 2; (1, 1, 1) -> 0 (1/3 is not > 1/3);
    # an all-zero feature is left out: mean (1 + 2 + 0) / 3 = 1
    maps = torch.tensor([[1.0, 1.0, 1.0, 0.0], [0.0, 1.0, 1.0, 0.0], [0.0, 0.0, 1.0, 0.0]]).view(1, 3, 1, 4)
    assert active_units_per_feature(maps).item() == pytest.approx(1.0)
    rng = np.random.default_rng(3)
    sal = rng.random((5, 3, 6, 6)) ** 3
    sal[:, :, :2] = 0.0
    assert active_units_per_feature(torch.from_numpy(sal)).item() == pytest.approx(
        lfxai_count_activated_neurons(sal), abs=1e-12)

"""The arithmetic behind the attribution-priors chapters' scored numbers, on hand-computed cases."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pandas as pd
import pytest
import torch

from repro_lib.parts.attribution_priors import recipes as ap


def _rows(*rows):
    """Model rows as `recipes.sweep` gives them (only the columns the recipes read)."""
    columns = ["model", "lam", "seed", "tv", "tv_scale_free", "mu_abs", "recon_test", "pearson", "entropy",
               "dominant_share"]
    return pd.DataFrame([dict(zip(columns, row)) for row in rows])


def test_trend_is_spearman_over_all_models():
    # lambda 0, 0, 1, 10 against a metric 4, 3, 2, 1: ranks fall monotonically except the tie
    # in lambda; Spearman = Pearson of ranks (1.5, 1.5, 3, 4) and (4, 3, 2, 1) = -0.9486833.
    frame = pd.DataFrame({"lam": [0.0, 0.0, 1.0, 10.0], "entropy": [4.0, 3.0, 2.0, 1.0]})
    assert ap.trend(frame, "entropy") == pytest.approx(-3 / math.sqrt(10))
    rising = pd.DataFrame({"lam": [0.0, 1.0, 10.0], "entropy": [0.1, 0.2, 0.9]})
    assert ap.trend(rising, "entropy") == pytest.approx(1.0)


def test_trend_is_nan_with_one_lambda():
    assert math.isnan(ap.trend(pd.DataFrame({"lam": [1.0, 1.0], "pearson": [0.1, 0.2]}), "pearson"))


def test_trends_names_the_three_metrics():
    frame = pd.DataFrame({"lam": [0.0, 1.0, 2.0], "entropy": [3.0, 2.0, 1.0], "pearson": [1.0, 2.0, 3.0],
                          "recon_test": [5.0, 4.0, 6.0]})
    got = ap.trends(frame)
    assert set(got) == {"entropy_trend", "pearson_trend", "recon_trend"}
    assert got["entropy_trend"] == pytest.approx(-1.0) and got["pearson_trend"] == pytest.approx(1.0)
    assert got["recon_trend"] == pytest.approx(0.5)  # ranks (2, 1, 3): 1 - 6 * (1 + 1 + 0) / (3 * 8)


def test_tv_prior_numbers_by_hand():
    base = _rows(("VAE", 0.0, 0, 50.0, 2.0, 4.0, 100.0, 0, 0, 0),
                 ("VAE", 0.0, 1, 99.0, 9.0, 9.0, 999.0, 0, 0, 0))
    prior = _rows(("tv", 0.01, 0, 1.0, 1.6, 0.5, 100.5, 0, 0, 0),
                  ("tv", 0.1, 0, 7.0, 7.0, 7.0, 7.0, 0, 0, 0),
                  ("tv", 0.01, 1, 7.0, 7.0, 7.0, 7.0, 0, 0, 0))
    got = ap.tv_prior_numbers(base, prior, 0.01, seed=0)
    assert got["tv_ratio"] == pytest.approx(50.0)               # 50 / 1
    assert got["recon_increase_pct"] == pytest.approx(0.5)      # 100 * (100.5 - 100) / 100
    assert got["tv_scale_free_ratio"] == pytest.approx(1.25)    # 2 / 1.6
    assert got["mu_abs_ratio"] == pytest.approx(8.0)            # 4 / 0.5
    assert (got["vae_tv"], got["prior_tv"], got["vae_recon"], got["prior_recon"]) == (50.0, 1.0, 100.0, 100.5)
    assert all(type(v) is float for v in got.values())


def test_tv_prior_numbers_is_the_notebooks_arithmetic_bit_for_bit():
    base = _rows(("VAE", 0.0, 0, 0.123456789, 0.3, 0.7, 81.123, 0, 0, 0))
    prior = _rows(("tv", 0.01, 0, 0.00234567, 0.29, 0.01, 81.456, 0, 0, 0))
    b0, p0 = base.iloc[0], prior.iloc[0]
    got = ap.tv_prior_numbers(base, prior, 0.01)
    assert got["tv_ratio"] == b0.tv / p0.tv
    assert got["recon_increase_pct"] == 100 * (p0.recon_test - b0.recon_test) / b0.recon_test


def test_collapse_share_averages_the_runs_at_lambda():
    sweep = _rows(("entropy", 1.0, 0, 0, 0, 0, 0, 0, 0, 0.9),
                  ("entropy", 1.0, 1, 0, 0, 0, 0, 0, 0, 0.6),
                  ("entropy", 0.1, 0, 0, 0, 0, 0, 0, 0, 0.34))
    assert ap.collapse_share(sweep, 1.0) == pytest.approx(0.75)
    assert ap.collapse_share(sweep, 0.1) == pytest.approx(0.34)
    assert math.isnan(ap.collapse_share(sweep, 5.0))


def test_pearson_prior_numbers_by_hand():
    sweep = _rows(("pearson", 10.0, 0, 0, 0, 0, 0, 0.02, 0, 0.40),
                  ("pearson", 10.0, 1, 0, 0, 0, 0, 0.06, 0, 0.50),
                  ("pearson", 1.0, 0, 0, 0, 0, 0, 0.30, 0, 0.70))
    disentangled = _rows(("beta-VAE", 0.0, 0, 0, 0, 0, 0, 0.10, 0, 0.5),
                         ("beta-VAE", 0.0, 1, 0, 0, 0, 0, 0.00, 0, 0.5),   # beta-VAE mean 0.05
                         ("beta-TCVAE", 0.0, 0, 0, 0, 0, 0, 0.20, 0, 0.5))
    got = ap.pearson_prior_numbers(sweep, disentangled, 10.0)
    assert got["pearson_at_max_lambda"] == pytest.approx(0.04)  # (0.02 + 0.06) / 2
    assert got["below_beta_and_tc"] is True                     # 0.04 < min(0.05, 0.20)
    assert got["max_dominant_share"] == pytest.approx(0.70)     # over every lambda of the sweep
    # the per-model mean decides, not the smallest single run (0.00 < 0.04 < 0.05)
    closer = disentangled.assign(pearson=[0.06, 0.0, 0.2])      # beta-VAE mean 0.03 < 0.04
    assert ap.pearson_prior_numbers(sweep, closer, 10.0)["below_beta_and_tc"] is False


def test_describe_names_the_run():
    s = SimpleNamespace(epochs=2, batch_size=300, prior_batch=100)
    splits = SimpleNamespace(train=torch.zeros(600, 1, 32, 32), test=torch.zeros(200, 1, 32, 32),
                             eval=torch.zeros(50, 1, 32, 32))
    assert ap.describe("smoke", s, splits) == (
        "profile smoke: 600 training and 200 test images, 2 epochs, batch 300 (priors estimated on 100 "
        "of them); saliency measured on 50 test images")
    s.prior_batch = 1000  # more than a batch: the whole batch
    assert "priors estimated on 300 of them" in ap.describe("cpu", s, splits)

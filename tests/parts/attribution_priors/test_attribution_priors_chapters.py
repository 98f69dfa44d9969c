"""The arithmetic behind the attribution-priors chapters' scored numbers, on hand-computed cases."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from repro_lib.parts.attribution_priors import recipes as ap
from repro_lib.parts.attribution_priors.intervals import mean_interval, welch_interval


def _rows(*rows):
    """Model rows as `recipes.sweep` gives them (only the columns the recipes read)."""
    columns = ["model", "lam", "seed", "tv", "tv_scale_free", "mu_abs", "recon_test", "pearson", "entropy",
               "dominant_share"]
    frame = pd.DataFrame([dict(zip(columns, row)) for row in rows])
    return frame.assign(active_latents=3)


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
    frame = _rows(("VAE", 0.0, 0, 50.0, 2.0, 4.0, 100.0, 0, 0, 0),
                  ("VAE", 0.0, 1, 70.0, 4.0, 8.0, 102.0, 0, 0, 0),      # plain means: tv 60, recon 101
                  ("tv", 0.01, 0, 2.0, 1.5, 0.5, 101.505, 0, 0, 0),
                  ("tv", 0.1, 0, 7.0, 7.0, 7.0, 7.0, 0, 0, 0))
    got = ap.tv_prior_numbers(frame, 0.01, seed=0)
    assert got["tv_ratio"] == pytest.approx(30.0)                # 60 / 2
    assert got["recon_increase_pct"] == pytest.approx(0.5)       # 100 * (101.505 - 101) / 101
    assert got["tv_ratio_seed"] == pytest.approx(25.0)           # 50 / 2
    assert got["recon_increase_pct_seed"] == pytest.approx(1.505)
    assert got["tv_scale_free_ratio"] == pytest.approx(2.0)      # 3 / 1.5
    assert got["mu_abs_ratio"] == pytest.approx(12.0)            # 6 / 0.5
    # t interval of the plain mean on 1 degree of freedom: 60 +- t(0.975, 1) * 10 / sqrt(2) * sqrt(2)
    half = stats.t.ppf(0.975, 1) * np.std([50.0, 70.0], ddof=1) / np.sqrt(2)
    assert got["tv_ratio_ci"] == pytest.approx([(60 - half) / 2, (60 + half) / 2])
    half_r = stats.t.ppf(0.975, 1) * np.std([100.0, 102.0], ddof=1) / np.sqrt(2)
    assert got["recon_increase_pct_ci"] == pytest.approx([100 * (101.505 - 101 - half_r) / 101,
                                                          100 * (101.505 - 101 + half_r) / 101])


def test_tv_prior_numbers_with_one_plain_run_have_no_interval():
    frame = _rows(("VAE", 0.0, 0, 50.0, 2.0, 4.0, 100.0, 0, 0, 0), ("tv", 0.01, 0, 1.0, 1.6, 0.5, 100.5, 0, 0, 0))
    got = ap.tv_prior_numbers(frame, 0.01)
    assert got["tv_ratio"] == pytest.approx(50.0) and got["tv_ratio_ci"] == [None, None]
    assert got["recon_increase_pct_ci"] == [None, None]
    with pytest.raises(ValueError, match="one prior model at lambda 0.5"):
        ap.tv_prior_numbers(frame, 0.5)


def test_differences_are_welch_intervals_against_the_plain_runs():
    frame = _rows(("VAE", 0.0, 0, 0, 0, 0, 170.0, 0.30, 0.70, 0.4),
                  ("VAE", 0.0, 1, 0, 0, 0, 172.0, 0.26, 0.72, 0.4),
                  ("VAE", 0.0, 2, 0, 0, 0, 168.0, 0.28, 0.68, 0.4),
                  ("entropy", 1.0, 0, 0, 0, 0, 230.0, 0.50, 0.02, 0.99),
                  ("entropy", 1.0, 1, 0, 0, 0, 240.0, 0.46, 0.04, 0.98),
                  ("entropy", 0.5, 0, 0, 0, 0, 999.0, 0.99, 0.99, 0.99))   # another lambda: ignored
    got = ap.differences(frame, 1.0)
    treated, control = [0.02, 0.04], [0.70, 0.72, 0.68]
    ci = stats.ttest_ind(treated, control, equal_var=False).confidence_interval(0.95)
    assert got["entropy_diff"] == pytest.approx(0.03 - 0.70)
    assert got["entropy_diff_ci"] == pytest.approx([ci.low, ci.high])
    assert got["recon_diff"] == pytest.approx(235.0 - 170.0) and got["recon_diff_ci"][0] > 0
    assert got["pearson_diff"] == pytest.approx(0.48 - 0.28)
    one = ap.differences(frame[frame.seed == 0], 1.0)       # one run each side: no interval
    assert one["entropy_diff"] == pytest.approx(0.02 - 0.70) and one["entropy_diff_ci"] == [None, None]


def test_intervals_against_scipy_and_without_spread():
    diff, low, high = welch_interval([1.0, 2.0, 4.0], [0.0, 1.0])
    ci = stats.ttest_ind([1.0, 2.0, 4.0], [0.0, 1.0], equal_var=False).confidence_interval(0.95)
    assert (diff, low, high) == pytest.approx((7 / 3 - 0.5, ci.low, ci.high))
    assert welch_interval([1.0, 1.0], [0.0, 0.0]) == (1.0, None, None)      # no spread: undefined
    assert mean_interval([3.0]) == (3.0, None, None)
    mean, low, high = mean_interval([1.0, 2.0, 3.0])
    half = stats.t.ppf(0.975, 2) * 1.0 / np.sqrt(3)
    assert (mean, low, high) == pytest.approx((2.0, 2 - half, 2 + half))
    with pytest.raises(ValueError):
        welch_interval([], [1.0])


def test_plain_health_and_its_table():
    frame = _rows(("VAE", 0.0, 0, 0, 0, 0, 180.0, 0.30, 0.70, 0.40),
                  ("VAE", 0.0, 1, 0, 0, 0, 190.0, 0.20, 0.74, 0.55),
                  ("entropy", 1.0, 0, 0, 0, 0, 230.0, 0.50, 0.02, 0.99))
    frame.loc[1, "active_latents"] = 2
    got = ap.plain_health(frame)
    assert got == pytest.approx({"plain_runs": 2, "plain_recon_max": 190.0, "plain_recon_mean": 185.0,
                                 "plain_active_latents_min": 2, "plain_dominant_share_max": 0.55,
                                 "plain_entropy_mean": 0.72, "plain_pearson_mean": 0.25})
    table = ap.health_table(got, "4_2_entropy_prior")
    assert list(table.index) == ["plain_recon_4_2", "plain_latents_4_2", "plain_share_4_2"]
    assert table.passes.tolist() == [True, False, True]       # 190 <= 195; 2 < 3 units; 0.55 <= 0.6
    with pytest.raises(ValueError, match="no plain VAE rows"):
        ap.plain_health(frame[frame.model != "VAE"])


def test_collapse_numbers_and_share():
    sweep = _rows(("entropy", 1.0, 0, 0, 0, 0, 0, 0, 0, 0.95),
                  ("entropy", 1.0, 1, 0, 0, 0, 0, 0, 0, 0.6),
                  ("entropy", 0.1, 0, 0, 0, 0, 0, 0, 0, 0.34),
                  ("VAE", 0.0, 0, 0, 0, 0, 0, 0, 0, 0.99))                   # the plain run is not counted
    got = ap.collapse_numbers(sweep, 1.0)
    assert got == pytest.approx({"dominant_share_lambda1_max": 0.95, "dominant_share_lambda1_mean": 0.775,
                                 "collapsed_runs_lambda1": 1, "runs_lambda1": 2})
    assert math.isnan(ap.collapse_numbers(sweep, 5.0)["dominant_share_lambda1_max"])
    assert ap.collapse_share(sweep[sweep.model != "VAE"], 1.0) == pytest.approx(0.775)
    assert math.isnan(ap.collapse_share(sweep, 5.0))


def test_pearson_prior_numbers_by_hand():
    frame = _rows(("VAE", 0.0, 0, 0, 0, 0, 170, 0.30, 0.7, 0.40),
                  ("VAE", 0.0, 1, 0, 0, 0, 171, 0.26, 0.7, 0.45),
                  ("pearson", 10.0, 0, 0, 0, 0, 168, 0.02, 0.6, 0.40),
                  ("pearson", 10.0, 1, 0, 0, 0, 169, 0.06, 0.6, 0.50),
                  ("pearson", 1.0, 0, 0, 0, 0, 170, 0.30, 0.7, 0.70))
    disentangled = _rows(("beta-VAE", 0.0, 0, 0, 0, 0, 0, 0.10, 0, 0.5),
                         ("beta-VAE", 0.0, 1, 0, 0, 0, 0, 0.00, 0, 0.5),    # beta-VAE mean 0.05
                         ("beta-TCVAE", 0.0, 0, 0, 0, 0, 0, 0.20, 0, 0.5),
                         ("beta-TCVAE", 0.0, 1, 0, 0, 0, 0, 0.24, 0, 0.5))  # beta-TCVAE mean 0.22
    got = ap.pearson_prior_numbers(frame, disentangled, 10.0)
    assert got["pearson_at_max_lambda"] == pytest.approx(0.04)       # (0.02 + 0.06) / 2
    half = stats.t.ppf(0.975, 1) * np.std([0.02, 0.06], ddof=1) / np.sqrt(2)
    assert got["pearson_at_max_lambda_ci"] == pytest.approx([0.04 - half, 0.04 + half])
    vs_beta = welch_interval([0.02, 0.06], [0.10, 0.00])
    vs_tc = welch_interval([0.02, 0.06], [0.20, 0.24])
    assert got["vs_disentangled_diff"] == pytest.approx(max(vs_beta[0], vs_tc[0]))   # -0.01: beta-VAE
    assert got["vs_disentangled_diff_ci"] == pytest.approx([max(vs_beta[1], vs_tc[1]), max(vs_beta[2], vs_tc[2])])
    assert got["below_beta_and_tc"] is True
    assert got["max_dominant_share"] == pytest.approx(0.70)           # over every lambda of the sweep
    assert got["top_active_latents_min"] == 3 and got["disentangled_active_latents_min"] == 3
    assert got["plain_recon_max"] == 171 and got["pearson_diff"] == pytest.approx(0.04 - 0.28)
    closer = disentangled.assign(pearson=[0.04, 0.0, 0.2, 0.24])      # beta-VAE mean 0.02 < 0.04
    assert ap.pearson_prior_numbers(frame, closer, 10.0)["below_beta_and_tc"] is False


def test_with_interval_text():
    assert ap.with_interval(-0.12, [-0.2, -0.05]) == "-0.120 [-0.200, -0.050]"
    assert ap.with_interval(1.5, [None, None], 1) == "+1.5 (no interval)"


def test_describe_names_the_run():
    s = SimpleNamespace(epochs=2, batch_size=300, prior_batch=100)
    splits = SimpleNamespace(train=torch.zeros(600, 1, 32, 32), test=torch.zeros(200, 1, 32, 32),
                             eval=torch.zeros(50, 1, 32, 32))
    assert ap.describe("smoke", s, splits) == (
        "profile smoke: 600 training and 200 test images, 2 epochs, batch 300 (priors estimated on 100 "
        "of them); saliency measured on 50 test images")
    s.prior_batch = 1000  # more than a batch: the whole batch
    assert "priors estimated on 300 of them" in ap.describe("cpu", s, splits)

"""Influential-factors part: the health gates' numbers (table, image), the intervals and the
trend test, each on a case with a known answer; and the scorecard's verdict on a table claim
when its model is collapsed (inconclusive, the gate named) or healthy (decided)."""
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from scipy import stats
from torch import nn

from repro_lib import scorecard
from repro_lib.models.vae import Posterior, VAEOutput
from repro_lib.parts.influential_factors import recipes as inf
from repro_lib.paths import repo_root, write_text_atomic

PART = "influential_factors"


class MeanPredictor(nn.Module):
    """A collapsed VAE: every code is the prior's mean (KL 0), every reconstruction the
    column (or pixel) means `means` (1, ...)."""

    def __init__(self, means: torch.Tensor, latent_dim: int = 5):
        super().__init__()
        self.means, self.latent_dim = means, latent_dim

    def encode(self, x):
        mu = torch.zeros(len(x), self.latent_dim)
        return Posterior(mu, torch.zeros_like(mu), None)

    def forward(self, x):
        posterior = self.encode(x)
        return VAEOutput(self.means.expand_as(x), posterior, posterior.mu)


class Copier(nn.Module):
    """A perfect VAE: reconstructs x exactly; its code is the first `latent_dim` inputs times
    10 with variance e^-4 (every latent far from the prior)."""

    def __init__(self, latent_dim: int = 5):
        super().__init__()
        self.latent_dim = latent_dim

    def encode(self, x):
        mu = 10 * x.flatten(1)[:, : self.latent_dim]
        return Posterior(mu, torch.full_like(mu, -4.0), None)

    def forward(self, x):
        posterior = self.encode(x)
        return VAEOutput(x, posterior, posterior.mu)


def _table(n=400, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 23, generator=g)
    x[:, 1] = (x[:, 1] > 0.4).float()  # a binary column, as SEX
    return x


def _entropy(x: np.ndarray) -> float:
    """Bernoulli entropy of [0, 1] targets, summed over columns, mean over rows (0 log 0 = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(np.where(x > 0, x * np.log(x), 0) + np.where(x < 1, (1 - x) * np.log(1 - x), 0))
    return float(h.sum(1).mean())


def _mean_predictor(x: np.ndarray) -> float:
    m = x.mean(0)
    return float(-(x * np.log(m) + (1 - x) * np.log(1 - m)).sum(1).mean())


def test_table_health_of_a_collapsed_and_of_a_perfect_model():
    x = _table()
    xn = x.double().numpy()
    assert inf.perfect_nll(x) == pytest.approx(_entropy(xn), rel=1e-5)
    dead = inf.table_health(MeanPredictor(x.mean(0, keepdim=True)), x)
    assert dead["mean predictor"] == pytest.approx(_mean_predictor(xn), rel=1e-5)
    assert dead[inf.GAIN] == pytest.approx(0.0, abs=1e-4)
    assert dead["gap closed"] == pytest.approx(0.0, abs=1e-4)
    assert dead["active latents"] == 0
    perfect = inf.table_health(Copier(), x)
    assert perfect["recon"] == pytest.approx(_entropy(xn), rel=1e-5)
    assert perfect["gap closed"] == pytest.approx(1.0, rel=1e-5)
    assert perfect["active latents"] == 5


def test_table_gate_numbers_take_the_worst_model():
    frame = pd.DataFrame({inf.GAIN: [0.4, -0.03, 0.2], "active latents": [3, 0, 2]})
    assert inf.table_gate_numbers(frame, "t52") == {"t52_min_gain": -0.03, "t52_min_active": 0}


def test_image_health_of_a_mean_image_model_and_of_a_perfect_one():
    g = torch.Generator().manual_seed(1)
    train, test = torch.rand(50, 1, 8, 8, generator=g), torch.rand(20, 1, 8, 8, generator=g)
    mean = train.mean(0, keepdim=True)
    dead = inf.image_health(MeanPredictor(mean, 3), train, test)
    assert dead["MSE over mean image"] == pytest.approx(1.0)
    assert dead["MSE"] == pytest.approx(float(((mean - test) ** 2).mean()))
    assert dead["active latents"] == 0
    perfect = inf.image_health(Copier(3), train, test)
    assert perfect["MSE over mean image"] == 0.0 and perfect["active latents"] == 3
    assert perfect["NLL"] < perfect["mean-image NLL"]


def test_binomial_interval_is_wilsons():
    p, n, z = 0.6, 400, stats.norm.ppf(0.975)
    centre = (p + z ** 2 / (2 * n)) / (1 + z ** 2 / n)
    half = z / (1 + z ** 2 / n) * math.sqrt(p * (1 - p) / n + z ** 2 / (4 * n ** 2))
    assert inf.binomial_interval(p, n) == pytest.approx([centre - half, centre + half])
    assert inf.knn_accuracy_interval(0.6, 801) == pytest.approx(inf.binomial_interval(0.6, 401))


def test_excess_difference_of_models_at_chance_is_zero_with_an_interval_around_it():
    value, (low, high) = inf.excess_difference([0.25, 0.25], 4, [0.1], 10, votes=1000)
    assert value == pytest.approx(0.0, abs=1e-12)
    half = stats.norm.ppf(0.975) * math.sqrt(2 * 0.25 * 0.75 / 1000 / 4 + 0.1 * 0.9 / 1000)
    assert [low, high] == pytest.approx([-half, half])


def test_bootstrap_interval_of_a_mean_matches_scipys_percentile_bootstrap():
    v = np.random.default_rng(0).normal(3.0, 1.0, 200)
    ours = inf.bootstrap_interval(lambda i: v[i].mean(), len(v), n_resamples=2000)
    theirs = stats.bootstrap((v,), np.mean, n_resamples=2000, method="percentile", random_state=0).confidence_interval
    assert ours[0] < v.mean() < ours[1]
    assert ours == pytest.approx([theirs.low, theirs.high], abs=0.03)
    se = v.std(ddof=1) / math.sqrt(len(v))
    assert ours[1] - ours[0] == pytest.approx(2 * 1.96 * se, rel=0.15)


def test_trend_p_value_is_the_exact_permutation_share():
    betas = [1, 2, 5, 20, 50]
    assert inf.trend_p_value(betas, [5, 4, 3, 2, 1]) == pytest.approx(1 / 120)
    assert inf.trend_p_value(betas, [1, 2, 3, 4, 5]) == pytest.approx(1.0)
    # one adjacent swap: rho = 0.9 in size, reached or beaten by 1 + 4 of the 120 pairings
    assert inf.trend_p_value(betas, [5, 4, 3, 1, 2]) == pytest.approx(5 / 120)
    assert inf.trend_p_value([1, 2, 20, 100], [4, 3, 2, 1]) == pytest.approx(1 / 24)


def test_mixup_pair_distances_and_the_mean():
    x_i, x_j = torch.zeros(2, 1, 2, 2), torch.ones(2, 1, 2, 2)       # |x_i - x_j| = 2 per pair
    a, b = torch.zeros(2, 1, 2, 2), torch.zeros(2, 1, 2, 2)
    b[1] = 0.5                                                      # pair 1: variants 1 apart
    assert inf.mixup_pair_distances([a, b], x_i, x_j).tolist() == [0.0, 0.5]
    assert inf.mixup_relative_distance([a, b], x_i, x_j) == 0.25


def test_ratio_intervals_contain_the_ratio():
    g = torch.Generator().manual_seed(2)
    x = torch.rand(60, 1, 4, 4, generator=g)
    y, xhat = x + 0.2 * torch.randn(60, 1, 4, 4, generator=g), x + 0.1 * torch.randn(60, 1, 4, 4, generator=g)
    assert inf.per_image_mse(y, x).shape == (60,)
    low, high = inf.msvae_ratio_interval(x, y, xhat, n_resamples=300)
    assert low < inf.msvae_over_tcvae(inf.msvae_mses(x, y, xhat)) < high < 1
    low, high = inf.variance_ratio_interval(x, 0.5 * x, n_resamples=300)  # variance scales by 1/4
    assert low == pytest.approx(0.25) and high == pytest.approx(0.25)


# ----------------------------------------------------------------------------- verdicts


def _claims():
    return yaml.safe_load((repo_root() / "book" / PART / "claims.yaml").read_text())


def _write(tmp_path, notebook, numbers):
    write_text_atomic(tmp_path / "smoke" / PART / f"{notebook}.json", json.dumps(
        {"part": PART, "notebook": notebook, "profile": "smoke", "overrides": {}, "numbers": numbers}))


@pytest.mark.parametrize("healthy", [False, True])
def test_a_collapsed_table_model_makes_table_5_2s_claims_inconclusive(healthy, tmp_path, monkeypatch):
    """Table 5.2's claims computed on table models: a model that predicts the column means
    (its FactorVAE accuracy at chance or not, here made to pass every rule) leaves them
    inconclusive with the gate named; a model that reconstructs decides them."""
    monkeypatch.setattr("repro_lib.results.results_dir", lambda profile, custom=False: tmp_path / profile)
    x = _table()
    model = Copier() if healthy else MeanPredictor(x.mean(0, keepdim=True))
    health = inf.table_health(model, x)
    t52 = pd.DataFrame([{"LD": ld, "lr": 1e-3, "eval accuracy": acc, **health}
                        for ld, acc in ((5, 0.8), (10, 0.3), (20, 0.1))])
    t51 = pd.DataFrame([(10, 1e-3, 0.9), (20, 1e-3, 0.3)], columns=["LD", "lr", "eval accuracy"])
    t53 = pd.DataFrame([(4, 1e-4, 2, 0.5), (10, 1e-4, 2, 0.2)], columns=["LD", "lr", "beta", "eval accuracy"])
    claims = inf.factorvae_claims(t51, t52, t53, [10, 20], [1e-3], [5, 10, 20], [4, 10], [1e-4], 100, 1000)
    _write(tmp_path, "5_1_factorvae", {**claims, **inf.table_gate_numbers(t52, "t52"),
                                        **inf.table_gate_numbers(t52, "t53")})
    table = scorecard.scorecard("smoke")
    wording = {c["id"]: c["claim"] for c in _claims()["claims"]}
    rows = table[table.claim.isin([wording["table_ld5_best"], wording["table_ld5_above_chance"]])]
    assert len(rows) == 2
    if healthy:
        assert (rows.verdict == "holds").all(), rows[["verdict", "why"]]
    else:
        assert (rows.verdict == "inconclusive").all(), rows[["verdict", "why"]]
        assert rows.why.str.contains("gate table52_not_at_mean_predictor failed").all()
        assert rows.why.str.contains("gate table52_active failed").all()


def test_every_claim_of_the_part_rests_on_a_gate_and_intervals_are_recorded_names():
    doc = _claims()
    gates = {g["id"] for g in doc["gates"]}
    for claim in doc["claims"]:
        assert claim.get("gates"), claim["id"]
        assert set(claim["gates"]) <= gates


def test_last_epoch_improvement():
    history = {"loss": [10, 10, 8, 8, 7.6, 7.6]}  # 2 steps per epoch: 10, 8, 7.6
    assert inf.last_epoch_improvement(history, n=20, batch_size=10) == pytest.approx(0.05)
    assert math.isnan(inf.last_epoch_improvement({"loss": [1.0, 1.0]}, n=20, batch_size=10))
    # above a floor of 7.2: 0.4 of the 0.8 left
    assert inf.last_epoch_improvement(history, n=20, batch_size=10, floor=7.2) == pytest.approx(0.5)

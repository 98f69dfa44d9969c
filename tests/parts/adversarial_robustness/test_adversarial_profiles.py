"""The per-source profile and per-cell grid claims (rank correlation of our attack success with
Tables 5.1-5.3 and 7.1-7.3, bootstrap interval over attack pairs), the attack models' health
gates, and a degenerate model that leaves the part's claims inconclusive rather than held."""
import json

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from repro_lib import scorecard
from repro_lib.parts.adversarial_robustness import recipes as ar
from repro_lib.parts.adversarial_robustness import robustness
from repro_lib.paths import repo_root, write_text_atomic
from repro_lib.results import _plain  # the result file's own conversion (NaN -> null)

CLAIMS = yaml.safe_load((repo_root() / "book" / "adversarial_robustness" / "claims.yaml").read_text())


def test_rank_correlation_rows_is_scipys_spearman_ties_included():
    rng = np.random.default_rng(0)
    ours = rng.integers(0, 4, (40, 10)).astype(float)  # many ties
    reference = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3], float)
    got = robustness.rank_correlation_rows(ours, reference)
    assert got == pytest.approx([stats.spearmanr(row, reference)[0] for row in ours], abs=1e-12)
    assert np.isnan(robustness.rank_correlation_rows(np.ones((1, 10)), reference)).all()
    assert robustness.rank_correlation_rows(reference[None], reference)[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="values per row"):
        robustness.rank_correlation_rows(np.ones((1, 9)), reference)


def _attacks(rates: np.ndarray, per_cell: int, seed: int = 0, deterministic: bool = False) -> pd.DataFrame:
    """Attacks whose reconstruction leaves its source (is read as 'source + 1' mod 10, never the
    target unless it is that digit) with probability rates[s, t] (10 x 10)."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(10):
        for t in range(10):
            if s == t:
                continue
            if deterministic:
                moved = np.arange(per_cell) < round(rates[s, t] * per_cell)
            else:
                moved = rng.random(per_cell) < rates[s, t]
            for m in moved:
                rows.append((s, t, t if m else s))
    return pd.DataFrame(rows, columns=["source", "target", "predicted"])


def test_source_profile_point_estimate_is_the_rank_correlation_of_the_books_marginals():
    rng = np.random.default_rng(1)
    frame = _attacks(rng.random((10, 10)), per_cell=12, seed=2)
    reference = np.array(ar.PAPER_MARGINALS["entangled"]["ignore"]) / 100
    out = robustness.profile_rank_correlation(frame.source, frame.target, frame.predicted, reference,
                                              "ignore", "source", n_boot=500)
    ours = robustness.marginals(ar.tables(frame)).loc["AS ignore-target"].to_numpy()
    assert out["rho"] == pytest.approx(stats.spearmanr(ours, reference)[0])
    assert out["points"] == 10 and out["low"] <= out["rho"] <= out["high"]


def test_a_profile_that_ranks_like_the_thesis_has_rho_1_and_a_tight_interval():
    grid = ar.paper_grid("disentangled", "ignore").to_numpy()
    frame = _attacks(np.nan_to_num(grid), per_cell=400, deterministic=True)
    cell = robustness.profile_rank_correlation(frame.source, frame.target, frame.predicted, grid,
                                               "ignore", "cell", n_boot=300)
    assert cell["points"] == 90 and cell["rho"] > 0.999
    assert cell["low"] > 0.98
    source = robustness.profile_rank_correlation(frame.source, frame.target, frame.predicted,
                                                 np.array(ar.PAPER_MARGINALS["disentangled"]["ignore"]) / 100,
                                                 "ignore", "source", n_boot=300)
    assert source["rho"] == pytest.approx(1.0) and source["low"] > 0.95
    # AS target: here an attack that moves always lands on its target, so target = ignore
    same = robustness.profile_rank_correlation(frame.source, frame.target, frame.predicted, grid,
                                               "target", "cell", n_boot=10)
    assert same["rho"] == pytest.approx(cell["rho"])


def test_bootstrap_redraws_attacks_within_their_cell():
    """All attacks of a cell alike: nothing to redraw, the interval is the point; one mixed
    cell of n attacks: its replicated rate has the binomial spread sqrt(p(1-p)/n)."""
    rates = (np.arange(10)[None, :] < np.arange(10)[:, None]).astype(float)  # source s: its first s targets
    frame = _attacks(rates, per_cell=10, deterministic=True)
    ref = np.arange(10) / 10
    out = robustness.profile_rank_correlation(frame.source, frame.target, frame.predicted, ref, n_boot=50)
    assert out["low"] == out["high"] == pytest.approx(out["rho"]) == pytest.approx(1.0)
    s = np.zeros(400, int)
    t = np.ones(400, int)
    p = np.where(np.arange(400) < 100, 5, 0)  # one cell, p = 0.25
    boot = np.random.default_rng(0)
    draws = p[boot.integers(0, 400, (4000, 400))] != 0
    assert draws.mean(1).std() == pytest.approx(np.sqrt(0.25 * 0.75 / 400), rel=0.05)
    with pytest.raises(ValueError, match="shape"):
        robustness.profile_rank_correlation(s, t, p, np.ones((10, 10)), level="source")


def test_degenerate_profiles_give_no_interval():
    """Every attack fails (a constant profile): no ranking, so no rho and no interval; sources
    without attacks are left out of both sides, and too few left give no interval."""
    frame = _attacks(np.zeros((10, 10)), per_cell=5)
    ref = np.array(ar.PAPER_MARGINALS["entangled"]["ignore"]) / 100
    out = robustness.profile_rank_correlation(frame.source, frame.target, frame.predicted, ref, n_boot=50)
    assert np.isnan(out["rho"]) and np.isnan(out["low"]) and np.isnan(out["high"])
    few = frame[frame.source < 3].copy()
    few.loc[few.index[::2], "predicted"] = few.target[few.index[::2]]
    out = robustness.profile_rank_correlation(few.source, few.target, few.predicted, ref, n_boot=50)
    assert out["points"] == 3 and np.isnan(out["low"])


def _healthy_pooled(seed=0):
    return {k: _attacks(np.nan_to_num(ar.paper_grid(k, "ignore").to_numpy()), 40, seed=seed) for k in ar.KINDS}


def test_profile_numbers_name_every_rank_claims_measure_and_interval():
    numbers = ar.profile_numbers(ar.profile_agreement(_healthy_pooled(), n_boot=100))
    rank_claims = [c for c in CLAIMS["claims"] if c["id"].startswith("rank_")]
    assert len(rank_claims) == 12  # 3 model kinds x {AS ignore-target, AS target} x {Table 5.x, Table 7.x}
    for claim in rank_claims:
        assert claim["measure"] in numbers and claim["interval"] in numbers, claim["id"]
        assert claim["check"] == {">": 0.5}
    assert numbers["rank_source_ignore_disentangled"] > 0.8  # drawn from Table 7.1's own rates


def test_clean_accuracy_minima():
    clean = {("disentangled", 0): 0.8, ("disentangled", 1): 0.75, ("entangled", 0): 0.97,
             ("entangled_wd", 0): 0.95, ("entangled_wd", 1): 0.99}
    assert ar.clean_accuracy_minima(clean) == {"clean_accuracy_min_disentangled": 0.75,
                                               "clean_accuracy_min_entangled": 0.95}


def _write_results(tmp_path, monkeypatch, clean, pooled, recon=95.0):
    """Result files of 2_2_vae and 5_attacks (smoke) from the part's own recipes."""
    monkeypatch.setattr("repro_lib.results.results_dir", lambda profile, custom=False: tmp_path / profile)
    numbers = {"classifier_test_accuracy": 0.99, **ar.clean_accuracy_minima(clean),
               **ar.profile_numbers(ar.profile_agreement(pooled, n_boot=200))}
    for notebook, values in (("2_2_vae", {"test_recon_nats": recon}), ("5_attacks", numbers)):
        write_text_atomic(tmp_path / "smoke" / ar.PART / f"{notebook}.json", json.dumps(
            {"part": ar.PART, "notebook": notebook, "profile": "smoke", "overrides": {},
             "numbers": _plain(values)}, allow_nan=False))


def _rank_verdicts():
    table = scorecard.scorecard("smoke")
    ids = {c["claim"]: c["id"] for c in CLAIMS["claims"]}
    rows = table[table.part == ar.PART]
    return {ids[r.claim]: (r.verdict, r.why) for r in rows.itertuples() if ids[r.claim].startswith("rank_")}


def test_healthy_models_decide_the_rank_claims(tmp_path, monkeypatch):
    clean = {(k, sd): 0.97 for k in ar.KINDS for sd in range(2)}
    _write_results(tmp_path, monkeypatch, clean, _healthy_pooled())
    verdicts = _rank_verdicts()
    assert verdicts["rank_source_ignore_disentangled"][0] == "holds"
    assert verdicts["rank_cell_ignore_entangled"][0] == "holds"


def test_a_degenerate_model_is_inconclusive_not_held(tmp_path, monkeypatch):
    """The entangled models collapsed: every reconstruction looks like one template, so the
    judge reads about one digit in ten correctly, and the plain VAE reconstructs at 236 nats.
    The attacks still give a profile (here the thesis's own), but the claims on those models
    are inconclusive, naming the failed gates, and none holds."""
    clean = {("disentangled", 0): 0.95, ("entangled", 0): 0.11, ("entangled_wd", 0): 0.1}
    _write_results(tmp_path, monkeypatch, clean, _healthy_pooled(), recon=236.0)
    verdicts = _rank_verdicts()
    assert verdicts and all(v == "inconclusive" for v, _ in verdicts.values()), verdicts
    assert "gate entangled_reconstruct failed" in verdicts["rank_cell_target_entangled_wd"][1]
    assert "gate vae_reconstructs failed" in verdicts["rank_source_ignore_disentangled"][1]
    assert "gate entangled_reconstruct failed" not in verdicts["rank_source_ignore_disentangled"][1]


def test_an_interval_that_straddles_the_threshold_is_inconclusive(tmp_path, monkeypatch):
    """Healthy models but few, noisy attacks (2 per cell): the bootstrap intervals are wide,
    and a claim whose interval straddles 0.5 is inconclusive, saying so."""
    rng = np.random.default_rng(3)
    noisy = {k: _attacks(rng.random((10, 10)), 2, seed=4) for k in ar.KINDS}
    clean = {(k, 0): 0.97 for k in ar.KINDS}
    _write_results(tmp_path, monkeypatch, clean, noisy)
    verdicts = _rank_verdicts()
    assert any(v == "inconclusive" and "straddles > 0.5" in why for v, why in verdicts.values())


def test_weakest_model_best_attribute_by_hand():
    reliability = {("disentangled", 0): np.array([0.9, 0.6, np.nan]), ("entangled", 0): np.array([0.5, 0.82, 0.7]),
                   ("entangled", 1): np.array([np.nan, 0.55, 0.51])}
    assert ar.weakest_model_best_attribute(reliability) == 0.55


def test_weight_decay_effect_against_scipy():
    summary = pd.DataFrame({"model": ["entangled"] * 3 + ["entangled_wd"] * 3 + ["disentangled"] * 3,
                            "seed": [0, 1, 2] * 3,
                            "AS ignore-target": [0.30, 0.28, 0.33, 0.25, 0.27, 0.26, 0.4, 0.4, 0.4]})
    out = ar.weight_decay_effect(summary)
    d = np.array([0.25 - 0.30, 0.27 - 0.28, 0.26 - 0.33])
    low, high = stats.t.interval(0.95, 2, loc=d.mean(), scale=stats.sem(d))
    assert out["wd_minus_entangled_ignore_seeds"] == pytest.approx(d.mean())
    assert out["wd_minus_entangled_ignore_ci"] == pytest.approx([low, high])


def test_the_interval_is_the_basic_bootstrap_of_the_replicates():
    """Recompute the replicates by hand (same generator, same order of cells) and check the
    interval is [2 rho - q97.5, 2 rho - q2.5]."""
    rng = np.random.default_rng(5)
    frame = _attacks(rng.random((10, 10)), per_cell=6, seed=6)
    ref = np.array(ar.PAPER_MARGINALS["entangled_wd"]["ignore"]) / 100
    out = robustness.profile_rank_correlation(frame.source, frame.target, frame.predicted, ref, n_boot=400, seed=9)
    draw = np.random.default_rng(9)
    boot = np.full((400, 10, 10), np.nan)
    moved = (frame.predicted != frame.source).to_numpy()
    cells = (frame.source * 10 + frame.target).to_numpy()
    for key in np.unique(cells):
        o = moved[cells == key].astype(float)
        boot[:, key // 10, key % 10] = o[draw.integers(0, len(o), (400, len(o)))].mean(1)
    reps = [stats.spearmanr(np.nanmean(b, 1), ref)[0] for b in boot]
    q_low, q_high = np.quantile(reps, [0.025, 0.975])
    assert out["low"] == pytest.approx(max(-1, 2 * out["rho"] - q_high))
    assert out["high"] == pytest.approx(min(1, 2 * out["rho"] - q_low))

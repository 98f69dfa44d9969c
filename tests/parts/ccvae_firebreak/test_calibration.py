"""Calibration of our simulator against a reward: the agreement measures against scipy,
the ignition-weight fit, the per-ignition-cell fitness against the reference search, the
weighted simulator against the fitted model, and the optimiser's plumbing on a case whose
answer is known."""
import numpy as np
import pytest
import torch
from scipy.stats import pearsonr, spearmanr

from repro_lib.parts.ccvae_firebreak import calibration as cal
from repro_lib.parts.ccvae_firebreak import fire


def small_landscape(radius=1, wind_dir=0.0):
    """A 20x20 forest with a gentle east-rising slope, ignitions uniform over the square of
    `radius` around (10, 9), and two weather streams."""
    size = 20
    elevation = np.tile(np.arange(size) * 5.0, (size, 1))
    ign = np.zeros((size, size))
    ign[10 - radius:11 + radius, 9 - radius:10 + radius] = 1.0
    return fire.Landscape(np.ones((size, size)), elevation, np.full((size, size), 0.05), np.zeros((size, size)),
                          ign / ign.sum(), 100.0, stream_dir=np.array([wind_dir, wind_dir + 1.0]),
                          stream_speed=np.array([6.0, 9.0]))


def test_agreement_against_scipy():
    rng = np.random.default_rng(0)
    theirs = rng.random(50)
    ours = theirs + 0.1 * rng.standard_normal(50)
    out = cal.agreement(ours, theirs)
    assert out["spearman"] == pytest.approx(spearmanr(ours, theirs)[0])
    assert out["pearson"] == pytest.approx(pearsonr(ours, theirs)[0])
    assert out["mad"] == pytest.approx(np.abs(ours - theirs).mean())
    assert out["bias"] == pytest.approx((ours - theirs).mean())
    assert cal.agreement([1, 2, 3], [10, 20, 40]) == pytest.approx(
        {"spearman": 1.0, "pearson": pearsonr([1, 2, 3], [10, 20, 40])[0], "mad": 64 / 3, "bias": -64 / 3})
    with pytest.raises(ValueError, match="equal-length"):
        cal.agreement([1, 2, 3], [1, 2])


def test_fit_ignition_weights_recovers_a_known_mixture():
    rng = np.random.default_rng(1)
    f = rng.uniform(0.4, 0.7, size=(200, 12))
    w_true = np.zeros(12)
    w_true[[1, 4, 5, 9]] = [0.1, 0.4, 0.2, 0.3]
    w = cal.fit_ignition_weights(f, f @ w_true)
    assert w.sum() == pytest.approx(1.0, abs=1e-9) and (w >= 0).all()
    assert np.allclose(w, w_true, atol=1e-6)
    # a target outside the hull: still a distribution (the sum row dominates)
    w = cal.fit_ignition_weights(f, np.full(200, 0.95))
    assert w.sum() == pytest.approx(1.0, abs=1e-6) and (w >= 0).all()


def test_cell_fitness_matches_the_reference_search():
    land = small_landscape()
    params = fire.FireParams(p_base=0.7, c_wind=0.1, c_slope=1.0, duration=8)
    draws = cal.design_draws(land, 4, seed=3)
    cells = cal.ignition_cells(land)
    assert len(cells) == 9 and np.array_equal(draws.ignition, np.repeat(cells, 4))
    assert set(draws.wind_dir.tolist()) <= set(land.stream_dir.tolist())    # winds come from the streams
    layouts = fire.random_layouts(3, seed=5)
    f = cal.cell_fitness(land, params, draws, 4, layouts)
    scen = fire.scenarios_from(land, params, draws)
    for i, lay in enumerate(layouts.numpy()):
        burned = np.array([fire.reference_burned(lay, scen, k).sum() for k in range(len(scen))])
        assert np.allclose(f[i], 1 - burned.reshape(9, 4).mean(1) / 400)
    with pytest.raises(ValueError, match="power of two"):
        cal.design_draws(land, 3, seed=0)


def test_calibrated_simulator_is_the_fitted_mixture():
    land = small_landscape()
    params = fire.FireParams(p_base=0.8, c_wind=0.15, c_slope=0.5, duration=10)
    weights = (0.0, 0.3, 0.0, 0.0, 0.25, 0.0, 0.45, 0.0, 0.0)
    c = cal.Calibrated(params, True, tuple(cal.ignition_cells(land).tolist()), weights, 8, 2)
    layouts = fire.random_layouts(20, seed=0)
    f = cal.cell_fitness(land, params, cal.design_draws(land, 8, 2), 8, layouts)
    scen = c.scenarios(land)
    assert len(scen) == 3 * 8                                      # zero-weight cells are dropped
    sim = fire.FireSimulator(scen, device="cpu")
    assert torch.allclose(sim.fitness(layouts), torch.as_tensor(f @ np.asarray(weights)), atol=1e-12)
    assert np.allclose(sim.fitness(layouts[:2]).numpy(), fire.reference_fitness(layouts[:2].numpy(), scen))
    again = cal.Calibrated.from_description(c.describe())
    assert again == c
    moved = small_landscape(radius=2)
    with pytest.raises(ValueError, match="ignition cells differ"):
        c.scenarios(moved)


def test_calibrate_finds_a_known_answer():
    """Rewards made by our own simulator (convention False, known spread and weights): the
    optimiser, started there, keeps an exact fit (RMSE ~ 0) and finds the weights; started
    elsewhere, it never returns worse than its start."""
    lands = {True: small_landscape(wind_dir=0.0), False: small_landscape(wind_dir=np.pi)}
    truth = fire.FireParams(p_base=0.75, c_wind=0.12, c_slope=0.8, duration=9)
    w_true = np.array([0.2, 0.0, 0.1, 0.0, 0.3, 0.0, 0.0, 0.4, 0.0])
    layouts = fire.random_layouts(120, seed=7)
    rewards = cal.cell_fitness(lands[False], truth, cal.design_draws(lands[False], 2, 0), 2, layouts) @ w_true
    out = cal.calibrate(lands, layouts, rewards, per_cell=2, seed=0, maxiter=1, popsize=2, start=truth,
                        start_wind_from=False)
    c = out["calibrated"]
    assert out["rmse"] < 1e-6 and c.wind_from is False
    assert np.allclose(c.weights, w_true, atol=1e-4)
    assert out["trace"][0]["rmse"] < 1e-6 and out["trace"][0]["wind_from"] is False
    assert len(out["trace"]) == 2 * 2 * 5 and out["seconds"] > 0
    off = cal.calibrate(lands, layouts, rewards, per_cell=2, seed=0, maxiter=1, popsize=2,
                        start=fire.FireParams(p_base=0.4, duration=30), start_wind_from=True)
    assert off["rmse"] <= off["trace"][0]["rmse"] + 1e-12
    assert all(cal.BOUNDS["duration"][0] <= t["duration"] <= cal.BOUNDS["duration"][1] for t in off["trace"])


def test_linear_reference_recovers_an_additive_score():
    rng = np.random.default_rng(2)
    x = fire.random_layouts(600, seed=1).numpy()
    coef = rng.normal(size=400) * 0.01
    y = 0.5 + x.reshape(600, -1) @ coef
    pred = cal.linear_reference(x[:500], y[:500], x[500:])
    assert np.allclose(pred, y[500:], atol=1e-8)

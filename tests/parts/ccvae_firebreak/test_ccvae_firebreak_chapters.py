"""The recipes behind the CCVAE-firebreak chapters' tables and claim numbers, on small
hand-computed cases."""
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from repro_lib.data import Tensors
from repro_lib.models import build
from repro_lib.parts.ccvae_firebreak import fire
from repro_lib.parts.ccvae_firebreak import recipes as cf
from repro_lib.parts.ccvae_firebreak.regression import cell_metrics
from repro_lib.profiles import Settings

SPEC = {"latent_dim": 16, "channels": 4}


def tiny_models():
    torch.manual_seed(0)
    return {"VAE": build({**SPEC, "family": "fire_vae"}).eval(),
            "CCVAE": build({**SPEC, "family": "fire_ccvae"}).eval()}


def splits(x, y, n_train, n_val):
    """A stand-in for recipes.Data: the split attributes the recipes read."""
    a, b = n_train, n_train + n_val
    return SimpleNamespace(train_x=x[:a], train_y=y[:a], val_x=x[a:b], val_y=y[a:b], test_x=x[b:], test_y=y[b:],
                           all_x=x, all_y=y)


def test_describe_run_and_fits():
    x = torch.zeros(10, 1, 20, 20)
    data = cf.split(Tensors((x, torch.zeros(10)), "test"), cf.World("cell2fire", {}))
    assert (len(data.train_x), len(data.val_x), len(data.test_x)) == (8, 1, 1)
    assert data.training.data_id == "test[:8]" and data.test.data_id == "test[9:]"
    assert cf.describe_run("smoke", data) == ("profile smoke: 10 of the authors' layouts with their Cell2Fire "
                                              "rewards (8 train / 1 validation / 1 test)")
    simulated = cf.split(Tensors((x, torch.zeros(10)), "test"), cf.World("simulated", {}))
    assert "synthetic forest" in cf.describe_run("cpu", simulated)
    fits = {"VAE": SimpleNamespace(from_cache=True, seconds=3.0),
            "CCVAE": SimpleNamespace(from_cache=False, seconds=12.4)}
    assert cf.describe_fits(fits) == {"VAE": "loaded from the cache", "CCVAE": "trained in 12 s"}


def test_data_source_is_checked_and_names_the_model_landscape():
    with pytest.raises(ValueError, match="unknown data_source 'cell2fir'.*cell2fire, simulated"):
        cf.World("cell2fir", {})
    s = SimpleNamespace(channels=4, data_source="cell2fire")
    assert cf.model_spec("CCVAE", s)["landscape"] == "cell2fire"
    assert "landscape" not in cf.model_spec("VAE", SimpleNamespace(channels=4, data_source="simulated"))
    bad = SimpleNamespace(data_source="cell2fire", n_data=50001, calib_layouts=10, calib_holdout=10)
    with pytest.raises(ValueError, match="50000 layouts"):
        cf.load_data(bad)
    with pytest.raises(ValueError, match="must not overlap"):
        cf.calibration_result(Settings(calib_layouts=40000, calib_holdout=10001, calib_per_cell=2,
                                       calib_generations=1, calib_popsize=2))
    with pytest.raises(ValueError, match="power of two"):
        cf.calibration_result(Settings(calib_layouts=100, calib_holdout=100, calib_per_cell=3,
                                       calib_generations=1, calib_popsize=2))


def test_data_summary_by_hand():
    y = torch.tensor([0.65, 0.72, 0.75, 0.76, 0.90])
    x = fire.random_layouts(5, seed=0).unsqueeze(1)
    out = cf.data_summary(y, x)
    assert out["fitness_mean"] == pytest.approx(3.78 / 5, abs=1e-6)
    assert out["fitness_min"] == pytest.approx(0.65) and out["fitness_max"] == pytest.approx(0.90)
    assert out["all_below_077"] is False                         # 0.90
    assert cf.data_summary(y[:4], x[:4])["all_below_077"] is True
    assert out["n_layouts"] == 5 and out["n_distinct"] == 5 and out["all_valid"] is True
    d = np.array([0.65, 0.72, 0.75, 0.76, 0.90]) - 0.756
    assert out["fitness_std"] == pytest.approx(np.sqrt((d**2).mean()), rel=1e-5)          # population std
    assert out["skewness"] == pytest.approx((d**3).mean() / (d**2).mean() ** 1.5, rel=1e-4)
    twice = torch.cat([x[:2], x[:2]])
    assert cf.data_summary(y[:4], twice)["n_distinct"] == 2
    x[0, 0, 0, 0] = 1 - x[0, 0, 0, 0]                                                     # 19 or 21 firebreaks
    assert cf.data_summary(y, x)["all_valid"] is False


def test_layer_table_lists_table_1():
    table = cf.layer_table(tiny_models())
    flat = 2 * 4 * 5 * 5                 # 2 * channels * (20 / 4)^2
    assert list(table.index) == ["enc", "enc", "enc mu", "enc logvar", "dec", "dec", "dec", "head", "head", "head"]
    assert list(table.CCVAE) == ["Conv2d(4, 4)", "Conv2d(4, 8)", f"Linear({flat}, 16)", f"Linear({flat}, 16)",
                                 f"Linear(16, {flat})", "ConvTranspose2d(8, 4)", "ConvTranspose2d(4, 1)",
                                 "Linear(8, 128)", "Linear(128, 64)", "Linear(64, 1)"]
    assert list(table.VAE[:7]) == list(table.CCVAE[:7]) and list(table.VAE[7:]) == ["-"] * 3


def test_metrics_table_applies_fit_metrics_to_every_model_and_split():
    models = tiny_models()
    x = fire.random_layouts(12, seed=1).unsqueeze(1)
    y = torch.linspace(0.70, 0.78, 12)
    tables = cf.metrics_table(models, splits(x, y, 8, 2))
    assert list(tables.index) == [(m, s) for m in ("VAE", "CCVAE") for s in ("train", "validation", "test")]
    assert tables.index.names == ["model", "split"]
    assert tables.loc[("VAE", "validation")].isna()[["mae", "mape"]].all()
    with torch.no_grad():     # the validation row by hand: cells of the decoded posterior mean, head on it
        m = models["CCVAE"]
        mu = m.encode(x[8:10]).mu
        hand = cell_metrics(m.decode(mu) > 0.5, x[8:10] > 0.5)
        err = (m.predict(mu) - y[8:10]).abs()
    row = tables.loc[("CCVAE", "validation")]
    for key in ("accuracy", "precision", "recall"):
        assert row[key] == pytest.approx(hand[key])
    assert row["mae"] == pytest.approx(float(err.mean()), rel=1e-5)
    assert row["mape"] == pytest.approx(float((err / y[8:10]).mean()), rel=1e-5)
    assert ((tables.top20_overlap >= 0) & (tables.top20_overlap <= 1)).all()


def test_interpolation_errors_by_hand():
    path = pd.DataFrame({"simulated": [0.70, 0.72, 0.72, 0.80], "predicted": [0.71, 0.70, 0.75, 0.78],
                         "cells_changed": [0, 2, 0, 4]})
    out = cf.interpolation_errors(path)
    # |errors| 0.01, 0.02, 0.03, 0.02: endpoints (0.01 + 0.02) / 2, interior (0.02 + 0.03) / 2
    assert out["endpoint_abs_err"] == pytest.approx(0.015) and out["interior_abs_err"] == pytest.approx(0.025)
    assert out["endpoint_minus_interior_err"] == pytest.approx(-0.010)
    # fitness changes 0.02 over 2 cells, 0 over 0 cells (skipped), 0.08 over 4 cells
    assert out["max_fitness_jump_per_cell"] == pytest.approx(0.02)
    assert out["identical_consecutive"] == 1
    still = path.assign(cells_changed=0)
    assert cf.interpolation_errors(still)["max_fitness_jump_per_cell"] is None
    assert cf.interpolation_errors(still)["identical_consecutive"] == 3


def test_latent_views_and_r2_numbers():
    models = tiny_models()
    x = fire.random_layouts(6, seed=2).unsqueeze(1)
    views = cf.latent_views(models, x)
    assert tuple(views) == cf.LATENT_VIEWS
    with torch.no_grad():
        mu = models["CCVAE"].encode(x).mu.numpy()
        mu_vae = models["VAE"].encode(x).mu.numpy()
    zc, rest, vae, whole = views.values()
    assert np.allclose(zc, mu[:, 8:]) and np.allclose(rest, mu[:, :8]) and np.allclose(whole, mu)
    assert np.allclose(vae, mu_vae)
    r2 = dict(zip(cf.LATENT_VIEWS, (0.5, 0.1, 0.2, 0.4)))
    out = cf.r2_numbers(r2)
    assert out == {"r2_ccvae_zc": 0.5, "r2_ccvae_zrest": 0.1, "r2_vae": 0.2, "r2_ccvae_all": 0.4,
                   "r2_zc_minus_vae": pytest.approx(0.3)}


def rejection_frame(sims_by_threshold: dict, acceptance: dict) -> pd.DataFrame:
    rows = [pd.DataFrame({"threshold": lam, "predicted": [lam + 0.05] * len(sims), "simulated": sims})
            for lam, sims in sims_by_threshold.items()]
    out = pd.concat(rows, ignore_index=True)
    out.attrs["acceptance"] = acceptance
    return out


def test_rejection_table_and_generation_numbers_by_hand():
    samples = rejection_frame({0.5: [0.72, 0.74], 0.9: [0.80]}, {0.5: 0.4, 0.9: 0.1})
    pred = np.array([0.3, 0.6, 0.7, 0.95, 0.2])
    sim = np.array([0.70, 0.72, 0.70, 0.72, 0.71])
    table = cf.rejection_table(samples, pred, sim)
    assert list(table.index) == [0.5, 0.9, "none (prior)"]
    assert list(table.n) == [2, 1, 5] and list(table.acceptance) == [0.4, 0.1, 1.0]
    assert table.simulated.tolist() == pytest.approx([0.73, 0.80, 0.71])
    assert table.predicted.tolist() == pytest.approx([0.55, 0.95, 0.55])
    assert table.simulated_std.iloc[0] == pytest.approx(np.std([0.72, 0.74], ddof=1))
    y = np.array([0.72, 0.74], dtype=np.float32)
    out = cf.generation_numbers(y, pred, sim, table)
    assert out["data_mean"] == pytest.approx(0.73) and out["prior_pred_mean"] == pytest.approx(0.55)
    assert out["prior_sim_mean"] == pytest.approx(0.71)
    assert out["prior_sim_minus_data"] == pytest.approx(-0.02, abs=1e-6)
    assert out["prior_shift_in_sd"] == pytest.approx(-2.0, rel=1e-5)          # std of [0.72, 0.74] is 0.01
    same = cf.generation_numbers(y, pred, sim, table, y_sim=np.array([0.70, 0.74]))   # scored like the draws
    assert same["data_mean"] == pytest.approx(0.73) and same["data_sim_mean"] == pytest.approx(0.72)
    assert same["prior_sim_minus_data"] == pytest.approx(-0.01) and same["prior_shift_in_sd"] == pytest.approx(-0.5)
    assert out["threshold_trend"] == pytest.approx(1.0)     # 0.71 < 0.73 < 0.80 at thresholds 0 < 0.5 < 0.9
    assert out["shift_at_highest_threshold"] == pytest.approx(0.09)
    down = cf.rejection_table(rejection_frame({0.5: [0.70], 0.9: [0.69]}, {0.5: 0.4, 0.9: 0.1}), pred, sim)
    assert cf.generation_numbers(y, pred, sim, down)["threshold_trend"] == pytest.approx(-1.0)
    assert cf.generation_numbers(y, pred, sim, down)["shift_at_highest_threshold"] == pytest.approx(-0.02)


def test_intervention_summary_by_hand():
    means = [0.70, 0.72, 0.74, 0.745, 0.745]       # two layouts per step, +-0.01 around these means
    rows = pd.DataFrame({"step": np.repeat(np.arange(5), 2), "index": np.tile([0, 1], 5),
                         "simulated": np.ravel([[m - 0.01, m + 0.01] for m in means])})
    out = cf.intervention_summary(rows)
    assert out["start"] == pytest.approx(0.70) and out["best"] == pytest.approx(0.745)
    assert out["best_step"] == 3                    # the first of the equal best means
    assert out["gain"] == pytest.approx(0.045)
    assert out["gain_second_half"] == pytest.approx(0.005)    # steps 2..4: 0.745 - 0.74
    assert out["plateaus"] is True                  # 0.005 <= 0.25 * 0.045
    rising = rows.assign(simulated=rows.step * 0.01 + 0.7)
    late = cf.intervention_summary(rising)
    assert late["gain"] == pytest.approx(0.04) and late["gain_second_half"] == pytest.approx(0.02)
    assert late["plateaus"] is False
    assert cf.intervention_summary(rows.assign(simulated=0.7))["plateaus"] is False   # no gain, no plateau


def test_ga_numbers_by_hand():
    final = {"vanilla": (0.75, 0.77), "VAE": (0.80, 0.82), "CCVAE": (0.79, 0.79),
             "CCVAE-CG": (0.80, 0.83), "CCVAE-GD": (0.81, 0.80)}
    rows = []
    for variant, bests in final.items():
        for run, best in enumerate(bests):
            rows += [(variant, run, 0, 0.7, 0.7), (variant, run, 2, best, best - 0.02)]
    runs = pd.DataFrame(rows, columns=["variant", "run", "iteration", "best", "mean"])
    out = cf.ga_numbers(runs, 2)
    assert out["final_best"] == pytest.approx({"vanilla": 0.76, "VAE": 0.81, "CCVAE": 0.79, "CCVAE-CG": 0.815,
                                               "CCVAE-GD": 0.805})
    assert out["vae_minus_vanilla"] == pytest.approx(0.05)
    assert out["ccvae_minus_vanilla"] == pytest.approx(0.03)
    assert out["latent_min_minus_vanilla"] == pytest.approx(0.03)    # the CCVAE is the worst latent GA
    assert out["custom_minus_vae"] == pytest.approx(0.005)           # CCVAE-CG 0.815 minus VAE 0.81
    assert cf.ga_numbers(runs, 0)["vae_minus_vanilla"] == pytest.approx(0.0)


def test_calibration_numbers_and_weight_map_by_hand():
    result = {"agreement": {"before": {"spearman": 0.5, "mad": 0.08, "pearson": 0.4, "bias": -0.08},
                            "synthetic forest": {"spearman": 0.1, "mad": 0.2, "pearson": 0.1, "bias": 0.2}},
              "calibrated": {"params": {"p_base": 0.7, "c_wind": 0.1, "c_slope": 1.5, "duration": 12, "wind_min": 0.0},
                             "wind_from": False, "cells": [0, 21, 399], "weights": [0.6, 0.0, 0.4],
                             "per_cell": 4, "seed": 0},
              "rmse": 0.004, "trace": [{}, {}, {}], "seconds": 12.5}
    out = cf.calibration_numbers(result)
    assert out == {"before_spearman": 0.5, "before_mad": 0.08, "synthetic_forest_spearman": 0.1,
                   "synthetic_forest_mad": 0.2, "p_base": 0.7, "c_wind": 0.1, "c_slope": 1.5, "duration": 12,
                   "wind_from": False, "ignition_cells_used": 2, "ignition_cells": 3, "calibration_rmse": 0.004,
                   "evaluations": 3, "calibration_seconds": 12.5}
    grid = cf.ignition_weight_map(result)
    assert grid.shape == (20, 20) and grid[0, 0] == 0.6 and grid[1, 1] == 0.0 and grid[19, 19] == 0.4
    assert grid.sum() == pytest.approx(1.0)


def test_mean_predictor_mae_by_hand():
    assert cf.mean_predictor_mae(torch.tensor([0.5, 0.7]), torch.tensor([0.6, 0.9, 0.3])) == pytest.approx(0.2)


def test_describe_world():
    world = cf.World("cell2fire", {})
    world.__dict__["calibration"] = {"agreement": {"after": {"spearman": 0.9512, "mad": 0.00431}},
                                     "holdout": {"reward": [0.5] * 2000}}
    assert cf.describe_world(world) == ("new layouts are scored by our simulator calibrated against Cell2Fire "
                                        "(3_data): on 2000 held-out layouts, Spearman 0.951 and mean absolute "
                                        "difference 0.0043 from Cell2Fire's reward")
    assert "synthetic forest" in cf.describe_world(cf.World("simulated", {}))


def test_genetic_algorithm_runs_are_the_same_serially_and_in_worker_processes():
    """`run_genetic_algorithms` sends its runs to `tasks.task_map`: one process or two give
    the same frame (each run has its own seeded generator), on the synthetic forest."""
    layouts = fire.random_layouts(40, seed=3).unsqueeze(1)
    data = SimpleNamespace(all_x=layouts, world=cf.World("simulated", {}))
    s = SimpleNamespace(ga_runs=2, ga_population=8, ga_iterations=2, ga_mutation_moves=2, ga_gd_steps=1,
                        intervention_step=0.5)
    serial = cf.run_genetic_algorithms(tiny_models(), data, s, workers=1)
    parallel = cf.run_genetic_algorithms(tiny_models(), data, s, workers=2)
    assert len(serial) == 2 * len(cf.GA_VARIANTS) * 3
    pd.testing.assert_frame_equal(serial, parallel)
    assert (serial.groupby(["variant", "run"]).best.diff().dropna() >= 0).all(), "elitism keeps the best"

"""Calibrating our fire simulator (`fire`) against Cell2Fire's rewards.

The authors scored every layout with Cell2Fire: 100 simulations with one fixed seed, each lit
at a cell drawn within 4 cells of the ignition point, under a random weather stream. We
cannot run Cell2Fire; we choose the free parameters of our simulator so that its fitness
agrees with Cell2Fire's reward on a calibration set of the authors' layouts, then judge the
agreement on held-out layouts.

Free parameters:

* the spread: `p_base` (chance an edge is open in calm, flat, fuelled conditions), `c_wind`
  (gain per m/s of wind along the edge), `c_slope` (gain per unit rise over run), `duration`
  (time steps a fire burns), and the wind-direction convention of the weather files
  (whether `WD` is where the wind comes from or where it blows to);
* the ignition weights: the share of fires lit at each cell of the ignition square. Cell2Fire
  drew its 100 ignitions once (fixed seed), so every layout meets the same ignitions; a
  firebreak on a cell where several of them fall stops those fires from starting, and that is
  most of what separates one layout's reward from another's. The weights are non-negative
  and sum to 1; for given spread parameters they are a least-squares fit (scipy's `nnls`
  with the sum as a heavily weighted extra row).

Each ignition cell gets `per_cell` scenarios (weather stream and edge draws, fixed by a seed
and shared by every parameter value: common random numbers), so a layout's fitness is
`F @ w`, where F (layouts x ignition cells) holds the mean non-burned share of the fires lit
at each cell. The spread parameters are chosen by `scipy.optimize.differential_evolution`
(integer duration and convention) minimising the calibration RMSE after the weight fit.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch

from . import fire

# Search box of the spread parameters (the duration and the convention are integers).
BOUNDS = {"p_base": (0.3, 1.0), "c_wind": (0.0, 0.6), "c_slope": (0.0, 4.0), "duration": (4, 40)}
SUM_WEIGHT = 1e3   # weight of the "weights sum to 1" row, per sqrt(layout), in the NNLS fit


def agreement(ours, theirs) -> dict[str, float]:
    """How far our fitness is from Cell2Fire's reward on the same layouts: Spearman rank
    correlation, Pearson correlation, mean absolute difference (MAD) and mean difference
    (ours minus theirs)."""
    from scipy.stats import pearsonr, spearmanr

    ours, theirs = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    if ours.shape != theirs.shape or ours.ndim != 1 or len(ours) < 3:
        raise ValueError(f"need two equal-length vectors of at least 3 values, got {ours.shape} and {theirs.shape}")
    return {"spearman": float(spearmanr(ours, theirs)[0]), "pearson": float(pearsonr(ours, theirs)[0]),
            "mad": float(np.abs(ours - theirs).mean()), "bias": float((ours - theirs).mean())}


def ignition_cells(land: fire.Landscape) -> np.ndarray:
    """The flat indices of the cells where fires may start (ignition probability > 0)."""
    return np.flatnonzero(land.ignition.ravel() > 0)


def design_draws(land: fire.Landscape, per_cell: int, seed: int) -> fire.Draws:
    """The random numbers of `per_cell` scenarios lit at each ignition cell, in cell order (so
    that block j of `per_cell` scenarios belongs to ignition cell j)."""
    if per_cell not in (1, 2, 4, 8, 16, 32, 64):
        raise ValueError(f"per_cell must be a power of two <= 64, got {per_cell}")
    cells = ignition_cells(land)
    return fire.draw_randomness(land, fire.FireParams(), len(cells) * per_cell, seed,
                                ignition=np.repeat(cells, per_cell))


def cell_fitness(land: fire.Landscape, params: fire.FireParams, draws: fire.Draws, per_cell: int,
                 layouts: torch.Tensor) -> np.ndarray:
    """F (N, C): the mean non-burned share of each layout over the `per_cell` fires lit at
    each of the C ignition cells (`draws` from `design_draws`)."""
    sim = fire.FireSimulator(fire.scenarios_from(land, params, draws), device="cpu")
    counts = sim.group_counts(layouts, per_cell).double().numpy()
    return 1.0 - counts / (per_cell * land.fuel.size)


def fit_ignition_weights(f: np.ndarray, y: np.ndarray) -> np.ndarray:
    """w >= 0 with sum(w) = 1 (to about 1e-6) minimising ||F w - y||^2: `scipy.optimize.nnls`
    on F with an extra row SUM_WEIGHT * sqrt(N) * [1 ... 1] = SUM_WEIGHT * sqrt(N)."""
    from scipy.optimize import nnls

    f, y = np.asarray(f, dtype=np.float64), np.asarray(y, dtype=np.float64)
    lam = SUM_WEIGHT * math.sqrt(len(y))
    w, _ = nnls(np.vstack([f, np.full(f.shape[1], lam)]), np.r_[y, lam], maxiter=50 * f.shape[1])
    return w / w.sum() if w.sum() > 0 else np.full(f.shape[1], 1.0 / f.shape[1])


@dataclass(frozen=True)
class Calibrated:
    """A calibrated simulator's recipe: the spread `params`, the wind convention (`wind_from`),
    the ignition `cells` and their `weights`, and the scenario design (`per_cell`, `seed`)."""

    params: fire.FireParams
    wind_from: bool
    cells: tuple[int, ...]
    weights: tuple[float, ...]
    per_cell: int
    seed: int

    def describe(self) -> dict:
        return {"params": asdict(self.params), "wind_from": self.wind_from, "cells": list(self.cells),
                "weights": list(self.weights), "per_cell": self.per_cell, "seed": self.seed}

    @classmethod
    def from_description(cls, d: dict) -> "Calibrated":
        return cls(fire.FireParams(**d["params"]), bool(d["wind_from"]), tuple(int(c) for c in d["cells"]),
                   tuple(float(w) for w in d["weights"]), int(d["per_cell"]), int(d["seed"]))

    def scenarios(self, land: fire.Landscape, min_weight: float = 0.0) -> fire.Scenarios:
        """The weighted scenarios (those of ignition cells with weight > `min_weight`, the
        weights renormalised), the same draws as during calibration."""
        draws = design_draws(land, self.per_cell, self.seed)
        cells = ignition_cells(land)
        if tuple(cells.tolist()) != self.cells:
            raise ValueError("this landscape's ignition cells differ from the calibrated ones")
        w = np.asarray(self.weights)
        keep_cells = np.flatnonzero(w > min_weight)
        keep = (keep_cells[:, None] * self.per_cell + np.arange(self.per_cell)).ravel()
        sub = fire.Draws(draws.ignition[keep], draws.wind_dir[keep], draws.wind_speed[keep], draws.uniform[keep])
        per_scenario = np.repeat(w[keep_cells] / w[keep_cells].sum(), self.per_cell) / self.per_cell
        return fire.scenarios_from(land, self.params, sub, per_scenario)


def calibrate(landscapes: dict[bool, fire.Landscape], layouts: torch.Tensor, rewards, per_cell: int = 16,
              seed: int = 0, maxiter: int = 6, popsize: int = 8, start: fire.FireParams | None = None,
              start_wind_from: bool = True) -> dict:
    """Choose the spread parameters and the wind convention (the key of `landscapes`: True =
    weather directions are where the wind comes from) minimising the RMSE between the
    fitness (after the ignition-weight fit) and `rewards` on `layouts` (N, 20, 20), with
    `scipy.optimize.differential_evolution` (`maxiter` generations of `popsize` x 5 members,
    seeded; the first member is `start`). Returns {"calibrated": Calibrated, "rmse": float,
    "trace": [{params..., "wind_from", "rmse"} per evaluation], "seconds": float}."""
    from scipy.optimize import differential_evolution

    layouts = torch.as_tensor(layouts).float().reshape(-1, 20, 20)
    y = np.asarray(rewards, dtype=np.float64)
    conventions = sorted(landscapes)
    draws = {c: design_draws(landscapes[c], per_cell, seed) for c in conventions}
    start = start or fire.FireParams()
    trace: list[dict] = []

    def unpack(x) -> tuple[fire.FireParams, bool]:
        params = replace(start, p_base=float(x[0]), c_wind=float(x[1]), c_slope=float(x[2]),
                         duration=int(round(x[3])))
        return params, conventions[int(round(x[4]))]

    def objective(x) -> float:
        params, conv = unpack(x)
        f = cell_fitness(landscapes[conv], params, draws[conv], per_cell, layouts)
        w = fit_ignition_weights(f, y)
        rmse = float(np.sqrt(((f @ w - y) ** 2).mean()))
        trace.append({**{k: getattr(params, k) for k in BOUNDS}, "wind_from": conv, "rmse": rmse})
        return rmse

    bounds = [BOUNDS[k] for k in BOUNDS] + [(0, len(conventions) - 1)]
    x0 = [start.p_base, start.c_wind, start.c_slope, start.duration, conventions.index(start_wind_from)]
    t0 = time.perf_counter()
    result = differential_evolution(objective, bounds, integrality=[False, False, False, True, True], x0=x0,
                                    maxiter=maxiter, popsize=popsize, rng=seed, polish=False, tol=0.0)
    params, conv = unpack(result.x)
    f = cell_fitness(landscapes[conv], params, draws[conv], per_cell, layouts)
    w = fit_ignition_weights(f, y)
    calibrated = Calibrated(params, conv, tuple(ignition_cells(landscapes[conv]).tolist()),
                            tuple(float(v) for v in w), per_cell, seed)
    return {"calibrated": calibrated, "rmse": float(np.sqrt(((f @ w - y) ** 2).mean())), "trace": trace,
            "seconds": time.perf_counter() - t0}


def linear_reference(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray) -> np.ndarray:
    """Not a simulator: the least-squares linear model of the reward on the 400 cells
    (numpy's lstsq, minimum-norm), fitted on (train_x, train_y) and applied to test_x; how far
    a purely additive score of the cells gets."""
    a = np.c_[np.ones(len(train_x)), np.asarray(train_x, dtype=np.float64).reshape(len(train_x), -1)]
    coef, *_ = np.linalg.lstsq(a, np.asarray(train_y, dtype=np.float64), rcond=None)
    b = np.c_[np.ones(len(test_x)), np.asarray(test_x, dtype=np.float64).reshape(len(test_x), -1)]
    return b @ coef

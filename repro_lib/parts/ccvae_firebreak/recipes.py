"""Recipes of the CCVAE-firebreak part (Gimó, Murray, Redon, document 004).

Known from the report and its public code: input 4x20x20 (layout + normalised elevation,
slope, aspect); latent 256, the regression head on the last 128 (z_c); loss = BCE + beta KL
+ alpha MSE with beta = 0.1 and alpha = 1e5 on batch sums of 16 layouts (alpha / 16 = 6250
per layout here, where every term is a per-layout mean); Adam, separate optimiser for the
head; split 90/5/5; GA population 300, 20 iterations, 8 runs. Every decoded layout is made
valid (the 20 most probable cells) before it is simulated.

Data (`data_source`): by default the authors' own layouts and Cell2Fire rewards
(`cell2fire.load_layouts`); new layouts (decoded, intervened on, bred by the GAs) are scored by
our simulator calibrated against those rewards (`World`, `calibration_result`). The option
"simulated" generates random layouts and scores them with our simulator on a synthetic forest.
"""
from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from ...cache import key_of, load_file, save_atomic
from ...data import Tensors
from ...device import get_device
from ...models.vae import evaluate_in_batches, posterior_means
from ...plans import TrainingJob
from ...tasks import task_map
from ...train import FitResult, TrainSettings
from . import calibration, cell2fire, fire
from .ccvae import ContinuousCCVAELoss
from .firebreaks import data_cache_dir, load_firebreaks
from .regression import cell_metrics, mae, mape

PART = "ccvae_firebreak"
FOREST = fire.Forest()
BETA = 0.1
ALPHA_REPORT, BATCH_REPORT = 1e5, 16
LATENT = 256
MODELS = ("VAE", "CCVAE")
DATA_SOURCES = ("cell2fire", "simulated")
IGNITION_RADIUS = 4          # Cell2Fire's --IgnitionRad in the authors' scripts
N_FILE = 50000               # layouts in the authors' file
CALIBRATION_FORMAT = 1


def check_source(source: str) -> str:
    if source not in DATA_SOURCES:
        raise ValueError(f"unknown data_source {source!r}; choose one of: {', '.join(DATA_SOURCES)} "
                         "(cell2fire: the authors' layouts and Cell2Fire rewards; simulated: random layouts "
                         "scored by our simulator on a synthetic forest)")
    return source


# ---------------------------------------------------------------------------- calibration

def _check_calibration_settings(s) -> None:
    if s.calib_layouts + s.calib_holdout > N_FILE:
        raise ValueError(f"calib_layouts ({s.calib_layouts}) + calib_holdout ({s.calib_holdout}) exceed the "
                         f"{N_FILE} layouts of the authors' file: the two sets must not overlap")
    if s.calib_per_cell not in (1, 2, 4, 8, 16, 32, 64):
        raise ValueError(f"calib_per_cell must be a power of two <= 64, got {s.calib_per_cell}")
    if s.calib_layouts < 3 or s.calib_holdout < 3:
        raise ValueError("calib_layouts and calib_holdout must be at least 3")


def calibration_description(s) -> dict:
    """Everything the calibration depends on (its cache key)."""
    return {"what": "cell2fire-calibration", "format": CALIBRATION_FORMAT, "data": cell2fire.data_id(),
            "calib_layouts": s.calib_layouts, "calib_holdout": s.calib_holdout, "per_cell": s.calib_per_cell,
            "generations": s.calib_generations, "popsize": s.calib_popsize, "bounds": calibration.BOUNDS,
            "start": str(fire.FireParams()), "radius": IGNITION_RADIUS, "seed": 0}


def run_calibration(s) -> dict:
    """Calibrate our simulator on the first `calib_layouts` of the authors' layouts and judge
    it on their last `calib_holdout` (see `calibration`). Returns the payload stored by
    `calibration_result`: the calibrated recipe, the optimiser's trace and, on the held-out
    layouts, Cell2Fire's reward and five scores with their `calibration.agreement`:
    "before" (the Cell2Fire landscape in our simulator with its default spread parameters,
    meteorological wind convention, ignitions uniform over the ignition square), "physics"
    (the calibrated spread, uniform ignitions), "after" (calibrated spread and ignition
    weights: the simulator used for new layouts), "synthetic forest" (the simulator the book
    used before it had the authors' data) and "linear model" (not a simulator: least squares
    on the cells, fitted on the same calibration layouts)."""
    _check_calibration_settings(s)
    inst = cell2fire.instance()
    lands = {wf: cell2fire.landscape(inst, IGNITION_RADIUS, wind_from=wf) for wf in (True, False)}
    cal = cell2fire.load_layouts(0, s.calib_layouts)
    hold = cell2fire.load_layouts(N_FILE - s.calib_holdout, None)
    cal_x, cal_y = cal.tensors[0][:, 0], cal.tensors[1].double().numpy()
    hold_x, hold_y = hold.tensors[0][:, 0], hold.tensors[1].double().numpy()
    res = calibration.calibrate(lands, cal_x, cal_y, per_cell=s.calib_per_cell, seed=0,
                                maxiter=s.calib_generations, popsize=s.calib_popsize)
    c = res["calibrated"]
    per = s.calib_per_cell
    f0 = calibration.cell_fitness(lands[True], fire.FireParams(), calibration.design_draws(lands[True], per, 0),
                                  per, hold_x)
    land = lands[c.wind_from]
    fc = calibration.cell_fitness(land, c.params, calibration.design_draws(land, per, 0), per, hold_x)
    scores = {"before": f0.mean(1), "physics": fc.mean(1), "after": fc @ np.asarray(c.weights),
              "synthetic forest": FOREST.simulator().fitness(hold_x).cpu().numpy(),
              "linear model": calibration.linear_reference(cal_x.numpy(), cal_y, hold_x.numpy())}
    return {"calibrated": c.describe(), "rmse": res["rmse"], "trace": res["trace"], "seconds": res["seconds"],
            "calibration_rows": cal.data_id, "holdout_rows": hold.data_id,
            "holdout": {"reward": hold_y.tolist(), **{k: np.asarray(v, dtype=np.float64).tolist()
                                                      for k, v in scores.items()}},
            "agreement": {k: calibration.agreement(v, hold_y) for k, v in scores.items()}}


@functools.lru_cache(maxsize=4)
def _calibration_cached(key: str, settings_items: tuple) -> dict:
    from types import SimpleNamespace

    s = SimpleNamespace(**dict(settings_items))
    path = data_cache_dir() / f"cell2fire-calibration-{key}.pt"
    if path.exists():
        return load_file(path)
    payload = run_calibration(s)
    save_atomic(path, payload)
    return payload


def calibration_result(s) -> dict:
    """`run_calibration(s)`, computed once and stored under the data cache
    (`cell2fire-calibration-<key>.pt`, key = `calibration_description(s)`)."""
    _check_calibration_settings(s)
    knobs = tuple(sorted((k, s[k]) for k in ("calib_layouts", "calib_holdout", "calib_per_cell",
                                              "calib_generations", "calib_popsize")))
    return _calibration_cached(key_of(calibration_description(s)), knobs)


def calibration_numbers(result: dict) -> dict:
    """A calibration result in the numbers a result file keeps: per score of `agreement_table`
    its held-out Spearman and MAD (`<score>_spearman`, `<score>_mad`, spaces as underscores),
    the chosen spread parameters and wind convention, the number of ignition cells with weight
    above 1e-6, the calibration RMSE, the optimiser's evaluations and seconds."""
    out = {}
    for name, values in result["agreement"].items():
        key = name.replace(" ", "_")
        out[f"{key}_spearman"], out[f"{key}_mad"] = values["spearman"], values["mad"]
    c = result["calibrated"]
    out.update({k: c["params"][k] for k in calibration.BOUNDS})
    out.update({"wind_from": bool(c["wind_from"]), "ignition_cells_used": int(sum(w > 1e-6 for w in c["weights"])),
                "ignition_cells": len(c["weights"]), "calibration_rmse": result["rmse"],
                "evaluations": len(result["trace"]), "calibration_seconds": result["seconds"]})
    return out


def ignition_weight_map(result: dict, shape=(fire.SIZE, fire.SIZE)) -> np.ndarray:
    """The fitted ignition weights on the grid (0 outside the ignition cells)."""
    c = result["calibrated"]
    grid = np.zeros(shape[0] * shape[1])
    grid[np.asarray(c["cells"], dtype=int)] = c["weights"]
    return grid.reshape(shape)


def summary_layouts(data: Data) -> tuple[torch.Tensor, torch.Tensor]:
    """The layouts and fitness Figure 8 describes: all 50,000 of the authors' file (whatever
    `n_data`), or the generated data set for simulated data."""
    if data.source == "cell2fire":
        return tuple(cell2fire.load_layouts())
    return data.all_x.cpu(), data.all_y.cpu()


def agreement_table(result: dict) -> pd.DataFrame:
    """The held-out agreement of each score of a calibration result, one row per score."""
    table = pd.DataFrame(result["agreement"]).T
    table.index.name = f"on {len(result['holdout']['reward'])} held-out layouts"
    return table[["spearman", "pearson", "mad", "bias"]]


# ---------------------------------------------------------------------------- the world

@dataclass
class World:
    """Where layouts are scored. `source` "cell2fire": the Cell2Fire landscape and our simulator
    calibrated against the authors' rewards; "simulated": the synthetic forest `FOREST`."""

    source: str
    settings: dict = field(repr=False)   # the part's Settings (the calib_* knobs)

    def __post_init__(self):
        check_source(self.source)

    @functools.cached_property
    def calibration(self) -> dict | None:
        return calibration_result(self.settings) if self.source == "cell2fire" else None

    @functools.cached_property
    def calibrated(self) -> calibration.Calibrated | None:
        return None if self.calibration is None else calibration.Calibrated.from_description(
            self.calibration["calibrated"])

    @functools.cached_property
    def landscape(self) -> fire.Landscape:
        if self.source == "simulated":
            return FOREST.landscape()
        return cell2fire.landscape(cell2fire.instance(), IGNITION_RADIUS, wind_from=self.calibrated.wind_from)

    @functools.cached_property
    def simulator(self) -> fire.FireSimulator:
        if self.source == "simulated":
            return FOREST.simulator()
        return fire.FireSimulator(self.calibrated.scenarios(self.landscape), device=get_device())

    def simulate(self, layouts: torch.Tensor) -> np.ndarray:
        """Fitness (N,) of valid layouts (N, [1,] 20, 20)."""
        return self.simulator.fitness(torch.as_tensor(layouts).reshape(-1, fire.SIZE, fire.SIZE)).cpu().numpy()

    def describe(self) -> str:
        if self.source == "simulated":
            return f"our simulator on a synthetic forest, K = {FOREST.k} scenarios"
        return (f"our simulator calibrated against Cell2Fire on the authors' landscape, {self.simulator.k} "
                "weighted scenarios")


def describe_world(world: World) -> str:
    """One line: what scores new layouts and, for the calibrated simulator, how far it stands
    from Cell2Fire on the held-out layouts of the calibration."""
    if world.source == "simulated":
        return "new layouts are scored by our simulator on the synthetic forest, like the data"
    result = world.calibration
    after, n = result["agreement"]["after"], len(result["holdout"]["reward"])
    return (f"new layouts are scored by our simulator calibrated against Cell2Fire (3_data): on {n} held-out "
            f"layouts, Spearman {after['spearman']:.3f} and mean absolute difference {after['mad']:.4f} "
            "from Cell2Fire's reward")


@dataclass
class Data:
    """Layouts (N, 1, 20, 20) and fitness (N,) of the 90/5/5 split, on the device, each split
    with its identity; `world` scores new layouts."""

    training: Tensors
    validation: Tensors
    test: Tensors
    world: World | None = None

    train_x = property(lambda self: self.training.tensors[0])
    train_y = property(lambda self: self.training.tensors[1])
    val_x = property(lambda self: self.validation.tensors[0])
    val_y = property(lambda self: self.validation.tensors[1])
    test_x = property(lambda self: self.test.tensors[0])
    test_y = property(lambda self: self.test.tensors[1])

    @property
    def all_x(self) -> torch.Tensor:
        return torch.cat([self.train_x, self.val_x, self.test_x])

    @property
    def all_y(self) -> torch.Tensor:
        return torch.cat([self.train_y, self.val_y, self.test_y])

    @property
    def source(self) -> str:
        return self.world.source if self.world is not None else "simulated"


def split(layouts: Tensors, world: World | None = None) -> Data:
    """90/5/5 in row order (the layouts are i.i.d. draws in both sources)."""
    n_hold = max(1, round(0.05 * len(layouts)))
    n_train = len(layouts) - 2 * n_hold
    return Data(layouts.rows(None, n_train), layouts.rows(n_train, n_train + n_hold),
                layouts.rows(n_train + n_hold, None), world)


def load_data(s) -> Data:
    """`data_source` "cell2fire": the first `n_data` of the authors' layouts with their Cell2Fire
    rewards (all 50,000 under `full`: the report's data); "simulated": `n_data` random layouts
    scored by our simulator on the synthetic forest (generated once, then cached). Split 90/5/5
    in row order."""
    source = check_source(s.data_source)
    if source == "cell2fire":
        if s.n_data > N_FILE:
            raise ValueError(f"n_data = {s.n_data}, but the authors' file holds {N_FILE} layouts")
        layouts = cell2fire.load_layouts(None, s.n_data if s.n_data < N_FILE else None)
    else:
        layouts = load_firebreaks(s.n_data, seed=0, forest=FOREST)
    return split(layouts.to(get_device()), World(source, s))


def describe_run(profile: str, data: Data) -> str:
    """One line for a chapter's set-up: the profile, the data source and the split sizes."""
    what = ("of the authors' layouts with their Cell2Fire rewards" if data.source == "cell2fire"
            else f"random layouts scored by our simulator on a synthetic forest (K = {FOREST.k} scenarios)")
    return (f"profile {profile}: {len(data.all_x)} {what} ({len(data.train_x)} train / {len(data.val_x)} "
            f"validation / {len(data.test_x)} test)")


def data_summary(y, x) -> dict:
    """Figure 8b in numbers, for fitness values `y` (N,) and layouts `x` (N, [1,] 20, 20): mean,
    std, min, max and skewness of the fitness (share of non-burned cells), whether all are
    below the report's 0.77 ("only solutions with fitness below 0.77", Section 5.2), the number
    of layouts, of distinct layouts, and whether every layout has exactly 20 firebreaks."""
    from scipy import stats

    y = np.asarray(torch.as_tensor(y).double().cpu())
    flat = torch.as_tensor(x).reshape(len(y), -1).cpu()
    return {"fitness_mean": float(y.mean()), "fitness_std": float(y.std()), "fitness_min": float(y.min()),
            "fitness_max": float(y.max()), "all_below_077": bool((y < 0.77).all()),
            "skewness": float(stats.skew(y)), "n_layouts": int(len(y)),
            "n_distinct": int(len(torch.unique(flat.to(torch.uint8), dim=0))),
            "all_valid": bool(fire.is_valid(flat.reshape(-1, 20, 20)).all())}


def model_spec(kind: str, s) -> dict:
    """The network of `kind` ("VAE" or "CCVAE"); its landscape input is the Cell2Fire landscape
    for the authors' data and the synthetic forest for simulated data."""
    family = {"VAE": "fire_vae", "CCVAE": "fire_ccvae"}[kind]
    spec = {"family": family, "latent_dim": LATENT, "channels": s.channels,
            "landscape_seed": FOREST.landscape_seed}
    if check_source(s.data_source) == "cell2fire":
        spec["landscape"] = "cell2fire"
    return spec


def objective(kind: str, s) -> ContinuousCCVAELoss:
    return ContinuousCCVAELoss(beta=BETA, alpha=0.0 if kind == "VAE" else s.alpha)


def training_job(kind: str, data: Data, s) -> TrainingJob:
    """The VAE or the CCVAE as a job of the training plan; validation terms per epoch."""
    settings = TrainSettings(epochs=s.epochs, batch_size=s.batch_size, lr=s.lr, seed=0)
    return TrainingJob("ccvae_firebreak", kind, model_spec(kind, s), objective(kind, s), data.training,
                       settings, val=data.validation)


def training_plan(s) -> list[TrainingJob]:
    """Every model this part's notebooks train under settings `s` (see `repro_lib.plans`)."""
    data = load_data(s)
    return [training_job(kind, data, s) for kind in MODELS]


def train_models(data: Data, s) -> dict[str, FitResult]:
    """Train (or load from the cache) the VAE and the CCVAE."""
    return {kind: training_job(kind, data, s).fit() for kind in MODELS}


def describe_fits(fits: dict[str, FitResult]) -> dict[str, str]:
    """For each model: "loaded from the cache" or "trained in <seconds> s"."""
    return {kind: ("loaded from the cache" if fit.from_cache else f"trained in {fit.seconds:.0f} s")
            for kind, fit in fits.items()}


# ---------------------------------------------------------------------------- model helpers

def encode(model, x: torch.Tensor, batch: int = 1024) -> torch.Tensor:
    """Posterior means (N, 256), in eval mode."""
    return posterior_means(model, x, batch)


@torch.no_grad()
def encode_dist(model, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior mean and log-variance, each (N, 256)."""
    posterior = model.encode(x)
    return posterior.mu, posterior.logvar


def decode_valid(model, z: torch.Tensor, batch: int = 1024) -> torch.Tensor:
    """Decoded layouts made valid: the 20 most probable cells, (N, 20, 20) in {0, 1}."""
    return evaluate_in_batches(model, z, lambda m, zb: fire.top_k_layout(m.decode(zb)[:, 0]), batch)


@torch.no_grad()
def predict(model, z: torch.Tensor) -> np.ndarray:
    return model.predict(z).cpu().numpy()


def epoch_losses(result: FitResult, n_train: int, batch_size: int) -> pd.DataFrame:
    """Per-epoch mean of each training term and the validation terms: columns epoch,
    term, split ("train" / "validation"), value."""
    steps = max(1, n_train // batch_size)
    rows = []
    for term, values in result.history.items():
        if term.startswith("val_"):
            rows += [(e + 1, term[4:], "validation", v) for e, v in enumerate(values)]
        else:
            per = np.asarray(values).reshape(-1, steps).mean(1)
            rows += [(e + 1, term, "train", v) for e, v in enumerate(per)]
    return pd.DataFrame(rows, columns=["epoch", "term", "split", "value"])


@torch.no_grad()
def fit_metrics(model, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Tables 2-3: accuracy, precision, recall of cells (reconstruction thresholded at 0.5,
    z = posterior mean); overlap of the top-20 projection with the input; for a CCVAE also
    MAE and MAPE of the fitness head."""
    mu = encode(model, x)
    recon = evaluate_in_batches(model, mu, lambda m, zb: m.decode(zb), 1024)
    out = cell_metrics(recon > 0.5, x > 0.5)
    out["top20_overlap"] = float((fire.top_k_layout(recon[:, 0]) * x[:, 0]).sum() / x.sum())
    if model.head is not None:
        pred = model.predict(mu)
        out["mae"], out["mape"] = mae(pred, y), mape(pred, y)
    return out


def mean_predictor_mae(train_y, y) -> float:
    """The MAE on `y` of the constant prediction mean(train_y): what a head that learned
    nothing about the layouts would score."""
    train_y = torch.as_tensor(train_y, dtype=torch.float64)
    return mae(torch.full_like(torch.as_tensor(y, dtype=torch.float64), float(train_y.mean())), y)


def layers(model) -> list[str]:
    """Table 1 rows of one model: "Type(in, out)" of each convolution, transposed
    convolution and linear layer (channels or features), in module order."""
    kinds = (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Linear)
    return [f"{type(layer).__name__}({getattr(layer, 'in_channels', getattr(layer, 'in_features', ''))}, "
            f"{getattr(layer, 'out_channels', getattr(layer, 'out_features', ''))})"
            for layer in model.modules() if isinstance(layer, kinds)]


def layer_table(models: dict) -> pd.DataFrame:
    """Table 1: the layers of the VAE and the CCVAE side by side ("-": the VAE has no head),
    rows labelled enc (2), enc mu, enc logvar, dec (3), head (3)."""
    table = pd.DataFrame({kind: pd.Series(layers(models[kind])) for kind in MODELS}).fillna("-")
    table.index = ["enc"] * 2 + ["enc mu", "enc logvar"] + ["dec"] * 3 + ["head"] * 3
    return table


def metrics_table(models: dict, data: Data) -> pd.DataFrame:
    """Tables 2-3: `fit_metrics` of each model (VAE, CCVAE) on each split (train,
    validation, test); index (model, split), one column per metric (mae and mape NaN for
    the VAE)."""
    rows = {}
    for kind in MODELS:
        for split, (x, y) in {"train": (data.train_x, data.train_y), "validation": (data.val_x, data.val_y),
                              "test": (data.test_x, data.test_y)}.items():
            rows[(kind, split)] = fit_metrics(models[kind], x, y)
    tables = pd.DataFrame(rows).T
    tables.index.names = ["model", "split"]
    return tables


# ---------------------------------------------------------------------------- 4.1 latent space

def extremes(data: Data) -> tuple[torch.Tensor, torch.Tensor, float, float]:
    """The lowest- and highest-fitness layouts of the data set and their fitness."""
    y = data.all_y
    lo, hi = int(y.argmin()), int(y.argmax())
    return data.all_x[lo:lo + 1], data.all_x[hi:hi + 1], float(y[lo]), float(y[hi])


def interpolate(model, xa: torch.Tensor, xb: torch.Tensor, world: World, n: int = 10) -> pd.DataFrame:
    """Decode a z_A + (1 - a) z_B for n equidistant a in [0, 1] (a = 1: A): the valid layout,
    its simulated fitness (`world`) and predicted fitness, and how many cells differ from the
    previous one."""
    za, zb = encode(model, xa), encode(model, xb)
    alphas = torch.linspace(1.0, 0.0, n, device=za.device)
    z = alphas[:, None] * za + (1 - alphas[:, None]) * zb
    layouts = decode_valid(model, z)
    changes = [0] + [int((layouts[i] != layouts[i - 1]).sum()) for i in range(1, n)]
    return pd.DataFrame({"alpha": alphas.cpu().numpy(), "simulated": world.simulate(layouts),
                         "predicted": predict(model, z), "cells_changed": changes,
                         "layout": list(layouts.cpu().numpy())})


def knn_r2(embedding: np.ndarray, y: np.ndarray, k: int = 10) -> float:
    """How much of the fitness a 2-D embedding's neighbourhoods hold: the 5-fold cross-
    validated R^2 of a k-nearest-neighbour regression of fitness on the embedding."""
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsRegressor

    return float(cross_val_score(KNeighborsRegressor(k), embedding, y, cv=5, scoring="r2").mean())


def umap_embeddings(latents: dict[str, np.ndarray], seed: int = 0) -> dict[str, np.ndarray]:
    """2-D UMAP (umap-learn, 15 neighbours) of each named latent matrix."""
    import umap

    return {name: umap.UMAP(n_neighbors=15, random_state=seed, n_jobs=1).fit_transform(z)
            for name, z in latents.items()}


def interpolation_errors(path: pd.DataFrame) -> dict:
    """Figures 1b and 6 in numbers, from an `interpolate` table (n >= 3 rows): the mean
    |simulated - predicted| fitness at the two endpoints and at the interior points, their
    difference (endpoints minus interior), the largest |change of simulated fitness| per
    changed cell between consecutive points (None when no cell changes), and how many
    consecutive points decode to the same layout."""
    err = (path.simulated - path.predicted).abs()
    endpoint_err, middle_err = float(err.iloc[[0, -1]].mean()), float(err.iloc[1:-1].mean())
    steps = path.iloc[1:]
    jump = (path.simulated.diff().abs().iloc[1:] / steps.cells_changed.replace(0, np.nan)).max()
    return {"endpoint_abs_err": endpoint_err, "interior_abs_err": middle_err,
            "endpoint_minus_interior_err": endpoint_err - middle_err,
            "max_fitness_jump_per_cell": float(jump) if np.isfinite(jump) else None,
            "identical_consecutive": int((steps.cells_changed == 0).sum())}


LATENT_VIEWS = ("CCVAE z_c (characteristic, head input)", "CCVAE z_\\c (rest)", "VAE z (all 256)",
                "CCVAE z (all 256)")


def latent_views(models: dict, x: torch.Tensor) -> dict[str, np.ndarray]:
    """The posterior means of layouts x (N, 1, 20, 20) seen four ways, named as LATENT_VIEWS:
    the CCVAE's z_c (N, 128), its z_\\c (N, 128), the VAE's z (N, 256), the CCVAE's z (N, 256)."""
    z_cc, z_v = encode(models["CCVAE"], x).cpu().numpy(), encode(models["VAE"], x).cpu().numpy()
    split = models["CCVAE"].split
    return dict(zip(LATENT_VIEWS, (z_cc[:, split:], z_cc[:, :split], z_v, z_cc)))


def r2_numbers(r2: dict[str, float]) -> dict[str, float]:
    """The kNN R^2 of each LATENT_VIEWS embedding under short names, and how much more of the
    fitness the CCVAE's z_c holds than the VAE's z (r2_zc_minus_vae)."""
    zc, rest, vae, whole = (r2[name] for name in LATENT_VIEWS)
    return {"r2_ccvae_zc": zc, "r2_ccvae_zrest": rest, "r2_vae": vae, "r2_ccvae_all": whole,
            "r2_zc_minus_vae": zc - vae}


# ---------------------------------------------------------------------------- 5.1 generation

@torch.no_grad()
def prior_samples(model, n: int, seed: int = 0) -> tuple[torch.Tensor, np.ndarray]:
    """n draws z ~ N(0, I) and their predicted fitness."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, model.latent_dim, generator=g).to(get_device())
    return z, predict(model, z)


def rejection_sampling(model, n: int, thresholds, pool: int, world: World, seed: int = 0) -> pd.DataFrame:
    """For each threshold lambda, the first (up to) n prior draws with predicted fitness >
    lambda (Eq. 3), decoded, made valid and simulated (`world`). Columns threshold, predicted,
    simulated; `attrs["acceptance"]` gives each threshold's acceptance rate."""
    z, pred = prior_samples(model, pool, seed)
    rows, acceptance = [], {}
    for lam in thresholds:
        keep = np.flatnonzero(pred > lam)
        acceptance[float(lam)] = len(keep) / pool
        keep = keep[:n]
        if len(keep) == 0:
            continue
        sim = world.simulate(decode_valid(model, z[keep]))
        rows.append(pd.DataFrame({"threshold": float(lam), "predicted": pred[keep], "simulated": sim}))
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["threshold", "predicted", "simulated"])
    out.attrs["acceptance"] = acceptance
    return out


def rejection_table(samples: pd.DataFrame, pred: np.ndarray, sim: np.ndarray) -> pd.DataFrame:
    """Figure 3b as a table: per threshold of a `rejection_sampling` frame, the number of
    accepted draws, their mean predicted and mean (and std) simulated fitness and the
    acceptance rate; a last row "none (prior)" for the unconditioned prior draws with
    predicted fitness `pred` (N,) and simulated fitness `sim` (N,)."""
    table = samples.groupby("threshold").agg(n=("simulated", "size"), predicted=("predicted", "mean"),
                                             simulated=("simulated", "mean"), simulated_std=("simulated", "std"))
    table["acceptance"] = [samples.attrs["acceptance"][lam] for lam in table.index]
    table.loc["none (prior)"] = [len(sim), pred.mean(), sim.mean(), sim.std(), 1.0]
    return table


def generation_numbers(y: np.ndarray, pred: np.ndarray, sim: np.ndarray, table: pd.DataFrame,
                       y_sim: np.ndarray | None = None) -> dict:
    """Figure 3 in numbers: the mean fitness of the data set `y`, of the prior draws'
    predictions `pred` and simulations `sim`; the simulated minus the data mean, also in
    standard deviations of the data (`prior_shift_in_sd`), where the data's fitness is
    `y_sim` when given (data layouts scored by the same simulator as the draws, so that the
    simulator's own offset from Cell2Fire cancels) and `y` otherwise; from a
    `rejection_table`, the Spearman rho between the threshold (the prior counted as
    threshold 0) and the mean simulated fitness, and the highest threshold's mean minus the
    prior's (NaN without thresholds)."""
    from scipy.stats import spearmanr

    ref = np.asarray(y if y_sim is None else y_sim, dtype=np.float64)
    levels = [float(level) for level in table.index[:-1]]
    means = list(table.simulated.iloc[:-1])
    trend = float(spearmanr([0.0] + levels, [sim.mean()] + means)[0]) if len(levels) else float("nan")
    shift_high = float(means[-1] - sim.mean()) if means else float("nan")
    shift = float(sim.mean() - ref.mean())
    return {"data_mean": float(np.mean(y)), "data_sim_mean": float(ref.mean()), "prior_pred_mean": float(pred.mean()),
            "prior_sim_mean": float(sim.mean()), "prior_sim_minus_data": shift,
            "prior_shift_in_sd": shift / float(ref.std()) if ref.std() > 0 else float("nan"),
            "threshold_trend": trend, "shift_at_highest_threshold": shift_high}


# ---------------------------------------------------------------------------- 5.2 interventions

def _ascend(model, z: torch.Tensor, step: float) -> torch.Tensor:
    """One normalised gradient-ascent step of the predicted fitness on z_c (head frozen)."""
    zc = z[:, model.split:].detach().requires_grad_(True)
    for p in model.head.parameters():
        p.requires_grad_(False)
    try:
        grad, = torch.autograd.grad(model.head(zc).sum(), zc)
    finally:
        for p in model.head.parameters():
            p.requires_grad_(True)
    grad = grad / grad.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return torch.cat([z[:, :model.split], zc.detach() + step * grad], dim=1)


def intervention_paths(model, x: torch.Tensor, steps: int, step: float, world: World,
                       direction: torch.Tensor | None = None) -> pd.DataFrame:
    """Move the characteristic latents of the layouts `x` for `steps` steps of length `step`:
    by gradient ascent on the predicted fitness (Figure 4a) or, with `direction` (256-d,
    only its z_c half is used), along that fixed direction (Figure 4b). Each step is decoded,
    made valid and simulated (`world`). Columns step, layout index, simulated, predicted."""
    z = encode(model, x)
    if direction is not None:
        d = torch.zeros_like(direction)
        d[model.split:] = direction[model.split:]
        d = d / d.norm()
    rows = []
    for t in range(steps + 1):
        if t:
            z = _ascend(model, z, step) if direction is None else z + step * d
        rows.append(pd.DataFrame({"step": t, "index": np.arange(len(z)),
                                  "simulated": world.simulate(decode_valid(model, z)),
                                  "predicted": predict(model, z)}))
    return pd.concat(rows, ignore_index=True)


def min_max_direction(model, data: Data) -> torch.Tensor:
    """z(highest-fitness layout) - z(lowest-fitness layout)."""
    lo, hi, _, _ = extremes(data)
    return (encode(model, hi) - encode(model, lo))[0]


def intervention_summary(rows: pd.DataFrame) -> dict:
    """Figure 4 in numbers, from an `intervention_paths` frame: the mean simulated fitness
    per step gives the start, the best and its step, the gain (best minus start), the gain
    within the second half of the steps (best of the second half minus its first value) and
    whether it plateaus (a positive gain of which the second half adds at most a quarter)."""
    m = rows.groupby("step").simulated.mean()
    gain = float(m.max() - m.iloc[0])
    half = len(m) // 2
    late = float(m.iloc[half:].max() - m.iloc[half])
    return {"start": float(m.iloc[0]), "best": float(m.max()), "best_step": int(m.idxmax()), "gain": gain,
            "gain_second_half": late, "plateaus": bool(gain > 0 and late <= 0.25 * gain)}


# ---------------------------------------------------------------------------- 5.3 genetic algorithms

GA_VARIANTS = ("vanilla", "VAE", "CCVAE", "CCVAE-CG", "CCVAE-GD")


def _valid_mutation(layouts: torch.Tensor, moves: int, g: torch.Generator) -> torch.Tensor:
    """Move `moves` random firebreaks of each layout to random empty cells (flips 2*moves
    cells, keeps exactly 20 firebreaks)."""
    flat = layouts.reshape(len(layouts), -1).clone()
    for _ in range(moves):
        on = torch.rand(flat.shape, generator=g) * flat
        off = torch.rand(flat.shape, generator=g) * (1 - flat)
        i = torch.arange(len(flat))
        flat[i, on.argmax(1)] = 0.0
        flat[i, off.argmax(1)] = 1.0
    return flat.view_as(layouts)


def _vanilla_children(parents_a, parents_b, s, g):
    """Cross-over: each child keeps a random half of the union of its parents' firebreaks
    (the union's cells drawn without replacement, 20 kept); mutation: move cells."""
    union = ((parents_a + parents_b) > 0).float().reshape(len(parents_a), -1)
    score = torch.rand(union.shape, generator=g) * union + union
    children = fire.top_k_layout(score.view_as(parents_a))
    return _valid_mutation(children, s.ga_mutation_moves, g)


def _latent_children(model, za, va, zb, vb, variant, s, g, cg_pool):
    """Cross-over: interpolate the parents' posteriors at a random a; mutation: sample that
    posterior (VAE, CCVAE), or replace z_c by a conditional-generation draw (CG), or take
    gradient steps on z_c (GD)."""
    a = torch.rand(len(za), 1, generator=g).to(za.device)
    mu, logvar = a * za + (1 - a) * zb, a * va + (1 - a) * vb
    eps = torch.randn(mu.shape, generator=g).to(mu.device)
    z = mu + eps * (0.5 * logvar).exp()
    if variant == "CCVAE-CG":
        pick = torch.randint(len(cg_pool), (len(z),), generator=g)
        z = torch.cat([z[:, :model.split], cg_pool[pick.to(cg_pool.device)]], dim=1)
    elif variant == "CCVAE-GD":
        for _ in range(s.ga_gd_steps):
            z = _ascend(model, z, s.intervention_step)
    return decode_valid(model, z)


def _tournament(fitness: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """len(fitness) binary tournaments: the index of the fitter of two random members each."""
    n = len(fitness)
    i, j = torch.randint(n, (2, n), generator=g)
    return torch.where(fitness[i] >= fitness[j], i, j)


def genetic_algorithm(variant: str, models: dict, start: torch.Tensor, s, seed: int, world: World) -> pd.DataFrame:
    """One run: a population of `s.ga_population` layouts (starting from `start`), each
    iteration makes as many children from random parent pairs (chosen by binary tournaments)
    and keeps the best `ga_population` of parents and children. Every layout is simulated
    (`world`). Columns iteration, best, mean."""
    g = torch.Generator().manual_seed(seed)
    model = models["VAE"] if variant == "VAE" else models["CCVAE"]
    pop = start.reshape(-1, fire.SIZE, fire.SIZE).float().cpu()
    fit_ = torch.as_tensor(world.simulate(pop))
    cg_pool = None
    if variant == "CCVAE-CG":  # z_c of prior draws whose predicted fitness is in the top 10%
        z, pred = prior_samples(model, 20 * s.ga_population, seed)
        cg_pool = z[torch.as_tensor(pred >= np.quantile(pred, 0.9)), model.split:]
    rows = [(0, float(fit_.max()), float(fit_.mean()))]
    n = len(pop)
    for it in range(1, s.ga_iterations + 1):
        pa, pb = pop[_tournament(fit_, g)], pop[_tournament(fit_, g)]
        if variant == "vanilla":
            children = _vanilla_children(pa, pb, s, g)
        else:
            dev = get_device()
            ma, va = encode_dist(model, pa.unsqueeze(1).to(dev))
            mb, vb = encode_dist(model, pb.unsqueeze(1).to(dev))
            children = _latent_children(model, ma, va, mb, vb, variant, s, g, cg_pool).cpu()
        child_fit = torch.as_tensor(world.simulate(children))
        allpop, allfit = torch.cat([pop, children]), torch.cat([fit_, child_fit])
        best = torch.argsort(allfit, descending=True, stable=True)[:n]
        pop, fit_ = allpop[best], allfit[best]
        rows.append((it, float(fit_.max()), float(fit_.mean())))
    return pd.DataFrame(rows, columns=["iteration", "best", "mean"])


def run_genetic_algorithms(models: dict, data: Data, s, workers: int | None = None) -> pd.DataFrame:
    """Every variant, `s.ga_runs` runs each; run r starts from the same random sample of the
    data set for every variant. The runs are independent: they go to `tasks.task_map` (the
    engine's Ray cluster, else `workers` processes). Columns variant, run, iteration, best, mean."""
    starts = {}
    for r in range(s.ga_runs):
        g = torch.Generator().manual_seed(1000 + r)
        pick = torch.randperm(len(data.all_x), generator=g)[: s.ga_population]
        starts[r] = data.all_x[pick.to(data.all_x.device)].cpu()
    shared = {"models": {name: copy.deepcopy(m).cpu() for name, m in models.items()}, "starts": starts,
              "settings": s, "world": data.world}
    runs = [(variant, r) for r in range(s.ga_runs) for variant in GA_VARIANTS]
    frames = task_map(_one_ga_run, runs, shared, workers=workers, desc="genetic algorithm runs")
    return pd.concat(frames, ignore_index=True)


def _one_ga_run(shared: dict, run: tuple[str, int]) -> pd.DataFrame:
    """A task of `run_genetic_algorithms`: run `r` of `variant`."""
    variant, r = run
    models = {name: m.to(get_device()) for name, m in shared["models"].items()}
    df = genetic_algorithm(variant, models, shared["starts"][r], shared["settings"], seed=r, world=shared["world"])
    return df.assign(variant=variant, run=r)


def ga_numbers(runs: pd.DataFrame, iterations: int) -> dict:
    """Figure 5 in numbers, from a `run_genetic_algorithms` frame: each variant's best
    fitness at iteration `iterations`, averaged over runs (`final_best`), and the
    differences the report's claims compare: VAE and CCVAE minus vanilla, the worst latent
    variant minus vanilla, and the better of CCVAE-CG and CCVAE-GD minus the VAE."""
    best = runs[runs.iteration == iterations].groupby("variant").best.mean()
    return {"final_best": best.to_dict(),
            "vae_minus_vanilla": float(best["VAE"] - best["vanilla"]),
            "ccvae_minus_vanilla": float(best["CCVAE"] - best["vanilla"]),
            "latent_min_minus_vanilla": float(min(best[v] for v in GA_VARIANTS[1:]) - best["vanilla"]),
            "custom_minus_vae": float(max(best["CCVAE-CG"], best["CCVAE-GD"]) - best["VAE"])}

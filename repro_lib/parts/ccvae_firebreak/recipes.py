"""Recipes of the CCVAE-firebreak part (Gimó, Murray, Redon, document 004).

Known from the report and its public code: input 4x20x20 (layout + normalised elevation,
slope, aspect); latent 256, the regression head on the last 128 (z_c); loss = BCE + beta KL
+ alpha MSE with beta = 0.1 and alpha = 1e5 on batch sums of 16 layouts (alpha / 16 = 6250
per layout here, where every term is a per-layout mean); Adam, separate optimiser for the
head; split 90/5/5; GA population 300, 20 iterations, 8 runs. Every decoded layout is made
valid (the 20 most probable cells) before it is simulated.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ...data import Tensors
from ...device import get_device
from ...models.vae import evaluate_in_batches, posterior_means
from ...train import FitResult, TrainSettings, fit
from . import fire
from .ccvae import ContinuousCCVAELoss
from .firebreaks import load_firebreaks
from .regression import cell_metrics, mae, mape

PART = "ccvae_firebreak"
FOREST = fire.Forest()
BETA = 0.1
ALPHA_REPORT, BATCH_REPORT = 1e5, 16
LATENT = 256
MODELS = ("VAE", "CCVAE")


@functools.lru_cache(maxsize=1)
def simulator() -> fire.FireSimulator:
    """The forest's K = 100 shared scenarios, vectorised (on the book's device)."""
    return FOREST.simulator()


def simulate(layouts: torch.Tensor) -> np.ndarray:
    """Fitness (N,) of valid layouts (N, [1,] 20, 20)."""
    return simulator().fitness(layouts.reshape(-1, fire.SIZE, fire.SIZE)).cpu().numpy()


@dataclass
class Data:
    """Layouts (N, 1, 20, 20) and fitness (N,) of the 90/5/5 split, on the device, each split
    with its identity."""

    training: Tensors
    validation: Tensors
    test: Tensors

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


def load_data(s) -> Data:
    """`s.n_data` random layouts and their fitness (generated once, then cached), split
    90/5/5 in generation order (the layouts are i.i.d.)."""
    layouts = load_firebreaks(s.n_data, seed=0, forest=FOREST).to(get_device())
    n_hold = max(1, round(0.05 * len(layouts)))
    n_train = len(layouts) - 2 * n_hold
    return Data(layouts.rows(None, n_train), layouts.rows(n_train, n_train + n_hold),
                layouts.rows(n_train + n_hold, None))


def describe_run(profile: str, data: Data) -> str:
    """One line for a chapter's set-up: the profile, the split sizes and K."""
    return (f"profile {profile}: {len(data.all_x)} layouts ({len(data.train_x)} train / {len(data.val_x)} "
            f"validation / {len(data.test_x)} test), K = {FOREST.k} fire scenarios per layout")


def data_summary(data: Data) -> dict:
    """Figure 8b in numbers: mean, std, min, max and skewness of the fitness (share of
    non-burned cells, float32 as stored), the share of layouts with fitness in the report's
    [0.70, 0.77], the number of layouts and whether every layout has exactly 20 firebreaks."""
    from scipy import stats

    y = data.all_y.cpu().numpy()
    return {"fitness_mean": float(y.mean()), "fitness_std": float(y.std()), "fitness_min": float(y.min()),
            "fitness_max": float(y.max()), "share_in_070_077": float(((y >= 0.70) & (y <= 0.77)).mean()),
            "skewness": float(stats.skew(y)), "n_layouts": int(len(y)),
            "all_valid": bool(fire.is_valid(data.all_x[:, 0].cpu()).all())}


def model_spec(kind: str, s) -> dict:
    family = {"VAE": "fire_vae", "CCVAE": "fire_ccvae"}[kind]
    return {"family": family, "latent_dim": LATENT, "channels": s.channels,
            "landscape_seed": FOREST.landscape_seed}


def objective(kind: str, s) -> ContinuousCCVAELoss:
    return ContinuousCCVAELoss(beta=BETA, alpha=0.0 if kind == "VAE" else s.alpha)


def train_model(kind: str, data: Data, s) -> FitResult:
    """Train (or load from the cache) the VAE or the CCVAE; validation terms per epoch."""
    settings = TrainSettings(epochs=s.epochs, batch_size=s.batch_size, lr=s.lr, seed=0)
    return fit(model_spec(kind, s), objective(kind, s), data.training, settings, desc=kind,
               val=data.validation)


def train_models(data: Data, s) -> dict[str, FitResult]:
    return {kind: train_model(kind, data, s) for kind in MODELS}


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


def interpolate(model, xa: torch.Tensor, xb: torch.Tensor, n: int = 10) -> pd.DataFrame:
    """Decode a z_A + (1 - a) z_B for n equidistant a in [0, 1] (a = 1: A): the valid layout,
    its simulated and predicted fitness, and how many cells differ from the previous one."""
    za, zb = encode(model, xa), encode(model, xb)
    alphas = torch.linspace(1.0, 0.0, n, device=za.device)
    z = alphas[:, None] * za + (1 - alphas[:, None]) * zb
    layouts = decode_valid(model, z)
    changes = [0] + [int((layouts[i] != layouts[i - 1]).sum()) for i in range(1, n)]
    return pd.DataFrame({"alpha": alphas.cpu().numpy(), "simulated": simulate(layouts),
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
    z = torch.randn(n, LATENT, generator=g).to(get_device())
    return z, predict(model, z)


def rejection_sampling(model, n: int, thresholds, pool: int, seed: int = 0) -> pd.DataFrame:
    """For each threshold lambda, the first (up to) n prior draws with predicted fitness >
    lambda (Eq. 3), decoded, made valid and simulated. Columns threshold, predicted,
    simulated; `attrs["acceptance"]` gives each threshold's acceptance rate."""
    z, pred = prior_samples(model, pool, seed)
    rows, acceptance = [], {}
    for lam in thresholds:
        keep = np.flatnonzero(pred > lam)
        acceptance[float(lam)] = len(keep) / pool
        keep = keep[:n]
        if len(keep) == 0:
            continue
        sim = simulate(decode_valid(model, z[keep]))
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


def generation_numbers(y: np.ndarray, pred: np.ndarray, sim: np.ndarray, table: pd.DataFrame) -> dict:
    """Figure 3 in numbers: the mean fitness of the data set `y`, of the prior draws'
    predictions `pred` and simulations `sim`, the simulated minus the data mean; from a
    `rejection_table`, the Spearman rho between the threshold (the prior counted as
    threshold 0) and the mean simulated fitness, and the highest threshold's mean minus the
    prior's (NaN without thresholds)."""
    from scipy.stats import spearmanr

    levels = [float(level) for level in table.index[:-1]]
    means = list(table.simulated.iloc[:-1])
    trend = float(spearmanr([0.0] + levels, [sim.mean()] + means)[0]) if len(levels) else float("nan")
    shift_high = float(means[-1] - sim.mean()) if means else float("nan")
    return {"data_mean": float(y.mean()), "prior_pred_mean": float(pred.mean()), "prior_sim_mean": float(sim.mean()),
            "prior_sim_minus_data": float(sim.mean() - y.mean()), "threshold_trend": trend,
            "shift_at_highest_threshold": shift_high}


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


def intervention_paths(model, x: torch.Tensor, steps: int, step: float, direction: torch.Tensor | None = None
                       ) -> pd.DataFrame:
    """Move the characteristic latents of the layouts `x` for `steps` steps of length `step`:
    by gradient ascent on the predicted fitness (Figure 4a) or, with `direction` (256-d,
    only its z_c half is used), along that fixed direction (Figure 4b). Each step is decoded,
    made valid and simulated. Columns step, layout index, simulated, predicted."""
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
                                  "simulated": simulate(decode_valid(model, z)),
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


def genetic_algorithm(variant: str, models: dict, start: torch.Tensor, s, seed: int) -> pd.DataFrame:
    """One run: a population of `s.ga_population` layouts (starting from `start`), each
    iteration makes as many children from random parent pairs (chosen by binary tournaments)
    and keeps the best `ga_population` of parents and children. Every layout is simulated.
    Columns iteration, best, mean."""
    g = torch.Generator().manual_seed(seed)
    model = models["VAE"] if variant == "VAE" else models["CCVAE"]
    pop = start.reshape(-1, fire.SIZE, fire.SIZE).float().cpu()
    fit_ = torch.as_tensor(simulate(pop))
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
        child_fit = torch.as_tensor(simulate(children))
        allpop, allfit = torch.cat([pop, children]), torch.cat([fit_, child_fit])
        best = torch.argsort(allfit, descending=True, stable=True)[:n]
        pop, fit_ = allpop[best], allfit[best]
        rows.append((it, float(fit_.max()), float(fit_.mean())))
    return pd.DataFrame(rows, columns=["iteration", "best", "mean"])


def run_genetic_algorithms(models: dict, data: Data, s) -> pd.DataFrame:
    """Every variant, `s.ga_runs` runs each; run r starts from the same random sample of the
    data set for every variant. Columns variant, run, iteration, best, mean."""
    frames = []
    for r in range(s.ga_runs):
        g = torch.Generator().manual_seed(1000 + r)
        start = data.all_x[torch.randperm(len(data.all_x), generator=g)[: s.ga_population].to(data.all_x.device)]
        for variant in GA_VARIANTS:
            df = genetic_algorithm(variant, models, start, s, seed=r)
            frames.append(df.assign(variant=variant, run=r))
    return pd.concat(frames, ignore_index=True)


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


# ---------------------------------------------------------------------------- calibration

def calibrate(p_grid, n_layouts: int = 500, seed: int = 0) -> pd.DataFrame:
    """Fitness of `n_layouts` random layouts for each spread probability p_base (other
    parameters as in FOREST): mean, std, 1st and 99th percentiles."""
    from dataclasses import replace

    layouts = fire.random_layouts(n_layouts, seed=seed)
    rows = []
    for p in p_grid:
        forest = replace(FOREST, params=replace(FOREST.params, p_base=float(p)))
        f = forest.simulator().fitness(layouts).cpu().numpy()
        rows.append({"p_base": float(p), "mean": f.mean(), "std": f.std(),
                     "p1": np.percentile(f, 1), "p99": np.percentile(f, 99)})
    return pd.DataFrame(rows)

"""Recipes of the attribution-priors part (Amad, document 001).

Known from the author's public code: MNIST resized to 32x32 in [0, 1]; the
Burgess conv VAE with 3 latent units; Bernoulli reconstruction; Adam lr 1e-3,
weight decay 1e-5, batch 300; beta = 1; Gradient SHAP of each latent mean with
one all-black baseline and 5 samples; saliency |mu_j(x) * GS_j(x)|.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr
from tqdm.auto import tqdm

from ... import data as datasets
from ...data import Tensors
from ...device import get_device
from ...models.vae import evaluate_in_batches, gaussian_kl_per_dim
from ...objectives import BetaTCVAE, BetaVAE, reconstruction_error
from ...plans import TrainingJob
from ...scorecard import evaluate, load_targets
from ...train import FitResult, TrainSettings
from .attribution import latent_saliency
from .intervals import mean_interval, welch_interval
from .objectives import AttributionPrior
from .saliency import attribution_entropy, pearson_correlation, total_variation

PART = "attribution_priors"
ACTIVE_KL_NATS = 0.1
"""A latent unit is active when its KL(q(z_j | x) || N(0, 1)), averaged over the test images,
exceeds this many nats (a dormant unit copies the prior: KL about 0)."""
MODEL_SPEC = {"family": "burgess_vae", "latent_dim": 3}
LEARNING_RATE = 1e-3
WEIGHT_DECAY = 1e-5


@dataclass
class Splits:
    """Training images with their identity (`training`), test and saliency-evaluation images;
    (N, 1, 32, 32) on the device."""

    training: Tensors
    test: torch.Tensor
    eval: torch.Tensor

    @property
    def train(self) -> torch.Tensor:
        return self.training.x


def load_data(s) -> Splits:
    """The first `s.n_train` MNIST training and `s.n_test` test images; the first
    `s.n_eval` test images are the ones whose saliency maps are measured."""
    device = get_device()
    training = datasets.load_mnist("train", limit=s.n_train).select(0).to(device)
    test = datasets.load_mnist("test", limit=s.n_test).x.to(device)
    return Splits(training, test, test[: s.n_eval])



def objective_for(s, prior: str | None, lam: float, path: str = "faithful"):
    """The plain VAE when `prior` is None or `lam` == 0, else the prior's objective
    with the profile's Gradient SHAP samples and prior batch (None: the whole batch)."""
    if prior is None or lam == 0:
        return BetaVAE(1.0)
    prior_batch = None if s.prior_batch >= s.batch_size else s.prior_batch
    return AttributionPrior(prior, float(lam), path=path, n_samples=s.gs_samples,
                            prior_batch=prior_batch)


def training_job(training: Tensors, s, objective, seed: int, name: str) -> TrainingJob:
    """One VAE of this part's architecture and settings as a job of the training plan."""
    settings = TrainSettings(epochs=s.epochs, batch_size=s.batch_size, lr=LEARNING_RATE,
                             weight_decay=WEIGHT_DECAY, seed=seed)
    return TrainingJob(PART, name, MODEL_SPEC, objective, training, settings)


def train_model(splits: Splits, s, objective, seed: int, desc: str) -> FitResult:
    """Train (or load from the cache) one VAE of this part's architecture and settings."""
    return training_job(splits.training, s, objective, seed, desc).fit()


def disentangled_objectives(n_data: int, beta: float = 5.0) -> dict:
    """The beta-VAE and beta-TCVAE baselines of Section 4.3, by name."""
    return {"beta-VAE": BetaVAE(beta), "beta-TCVAE": BetaTCVAE(n_data=n_data, beta=beta)}


def training_plan(s) -> list[TrainingJob]:
    """Every model the part's notebooks train under settings `s` (see `repro_lib.plans`): the
    plain VAEs, each prior's lambda sweep, the beta baselines and the gradient-path sweeps."""
    training = datasets.load_mnist("train", limit=s.n_train).select(0)
    configurations = [(None, 0.0, seed, "faithful") for seed in range(s.baseline_runs)]
    configurations += [("tv", lam, 0, "faithful") for lam in s.tv_lambdas]
    for prior, lambdas in (("entropy", s.entropy_lambdas), ("pearson", s.pearson_lambdas)):
        configurations += [(prior, lam, seed, "faithful") for lam in lambdas for seed in range(s.runs_per_lambda)]
    for prior, lambdas in (("entropy", s.path_entropy_lambdas), ("pearson", s.path_pearson_lambdas)):
        configurations += [(prior, lam, seed, path) for path in ("faithful", "differentiable")
                           for lam in lambdas for seed in range(s.path_runs)]
    jobs = {}
    for prior, lam, seed, path in configurations:
        job = training_job(training, s, objective_for(s, prior, lam, path), seed,
                           f"{prior or 'VAE'} lam={lam} seed={seed} {path}")
        jobs.setdefault(job.key(), job)
    for name, objective in disentangled_objectives(len(training)).items():
        for seed in range(s.baseline_runs):
            job = training_job(training, s, objective, seed, f"{name} seed={seed}")
            jobs.setdefault(job.key(), job)
    return list(jobs.values())


def saliency_maps(model, x: torch.Tensor, n_samples: int = 5, batch_size: int = 250,
                  seed: int = 1234) -> torch.Tensor:
    """Saliency maps |mu_j * GS_j| of every latent, (N, K, H, W), detached, on the CPU.

    Gradient SHAP draws independently for each latent unit (`attribution.gradient_shap`),
    from the global torch RNG seeded with `seed`. The passes run on a channels-last copy of
    the model (the same arithmetic; mkldnn's convolutions measured about 1.7x faster on CPU).
    """
    torch.manual_seed(seed)
    fast = copy.deepcopy(model).to(memory_format=torch.channels_last) if x.dim() == 4 else model
    out = []
    for start in range(0, len(x), batch_size):
        _, sal = latent_saliency(fast.encode_mean, x[start : start + batch_size],
                                 n_samples=n_samples, chunk_size=4096)
        out.append(sal.detach().sum(2).cpu())
    return torch.cat(out)


def kl_per_unit(model, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """KL(q(z_j | x) || N(0, 1)) of each latent unit j, averaged over the images `x`, (K,) nats
    (eval mode, no gradients)."""
    params = evaluate_in_batches(model, x, lambda m, xb: torch.cat(m.encode(xb)[:2], dim=1), batch_size)
    K = params.shape[1] // 2
    return gaussian_kl_per_dim(params[:, :K], params[:, K:]).cpu()


def active_latents(model, x: torch.Tensor, threshold: float = ACTIVE_KL_NATS) -> int:
    """Number of latent units whose mean KL over the images `x` exceeds `threshold` nats."""
    return int((kl_per_unit(model, x) > threshold).sum())


def measure(model, splits: Splits, n_samples: int = 5) -> dict[str, float]:
    """Test reconstruction error (nats/image) and the saliency metrics on the eval images.

    Besides the document's metrics: `tv_scale_free`, the total variation of each map
    divided by the map's total saliency (so shrinking mu cannot lower it), `mu_abs`,
    the mean |mu_j(x)|, and `dominant_share`, the share of all saliency held by the
    most salient latent unit (1/K balanced, 1 collapsed); `active_latents`, the units whose
    mean KL on the test images exceeds `ACTIVE_KL_NATS`. `pearson` is the evaluation metric
    (`saliency.pearson_correlation`, np.corrcoef's definition).
    """
    maps = saliency_maps(model, splits.eval, n_samples)
    share = maps.sum((0, 2, 3)) / maps.sum()
    with torch.no_grad():
        mu_abs = float(model.encode_mean(splits.eval).abs().mean())
    mass = maps.sum((2, 3), keepdim=True).clamp_min(1e-30)
    return {
        "recon_test": reconstruction_error(model, splits.test),
        "tv": float(total_variation(maps)),
        "tv_scale_free": float(total_variation(maps / mass)),
        "mu_abs": mu_abs,
        "entropy": float(attribution_entropy(maps)),
        "pearson": float(pearson_correlation(maps)),
        "dominant_share": float(share.max()),
        "active_latents": active_latents(model, splits.test),
    }


def sweep(splits: Splits, s, prior: str | None, lambdas, runs: int, path: str = "faithful",
          label: str | None = None) -> pd.DataFrame:
    """Train `runs` seeds at each lambda and measure each model: one row per model."""
    rows = []
    jobs = [(lam, seed) for lam in lambdas for seed in range(runs)]
    for lam, seed in tqdm(jobs, desc=f"{label or prior} sweep", leave=False):
        objective = objective_for(s, prior, lam, path)
        result = train_model(splits, s, objective, seed, desc=f"{prior} lam={lam} seed={seed}")
        rows.append({"model": label or prior or "VAE", "prior": prior or "none", "lam": lam,
                     "seed": seed, "path": path, "train_seconds": result.seconds,
                     "cached": result.from_cache, **measure(result.model, splits, s.gs_samples)})
    return pd.DataFrame(rows)


def prior_sweep(splits: Splits, s, prior: str, lambdas) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The plain VAE's runs and `s.runs_per_lambda` runs of `prior` at each lambda:
    (sweep rows, sweep and plain VAE rows together)."""
    sweep_rows = sweep(splits, s, prior, lambdas, s.runs_per_lambda)
    return sweep_rows, pd.concat([baseline(splits, s), sweep_rows], ignore_index=True)


def baseline(splits: Splits, s) -> pd.DataFrame:
    """The plain VAE (lambda = 0), `s.baseline_runs` seeds."""
    return sweep(splits, s, None, [0.0], s.baseline_runs, label="VAE")


def disentangled_baselines(splits: Splits, s, beta: float = 5.0) -> pd.DataFrame:
    """beta-VAE and beta-TCVAE of the same architecture, `s.baseline_runs` seeds each."""
    rows = []
    for name, objective in disentangled_objectives(len(splits.train), beta).items():
        for seed in range(s.baseline_runs):
            result = train_model(splits, s, objective, seed, desc=f"{name} seed={seed}")
            rows.append({"model": name, "prior": "none", "lam": 0.0, "seed": seed,
                         "path": "-", "train_seconds": result.seconds,
                         "cached": result.from_cache, **measure(result.model, splits, s.gs_samples)})
    return pd.DataFrame(rows)


def trend(frame: pd.DataFrame, metric: str) -> float:
    """Spearman rank correlation of `metric` with lambda over all models of `frame`
    (positive: grows with lambda). NaN when fewer than two lambdas. Shown beside the
    scored differences; not scored (it has no interval)."""
    if frame["lam"].nunique() < 2:
        return float("nan")
    return float(spearmanr(frame["lam"], frame[metric]).statistic)


def trends(frame: pd.DataFrame) -> dict[str, float]:
    """Spearman trends with lambda of entropy, Pearson and test loss (see `trend`)."""
    return {"entropy_trend": trend(frame, "entropy"), "pearson_trend": trend(frame, "pearson"),
            "recon_trend": trend(frame, "recon_test")}


# ----------------------------------------------------------------------------- health

PLAIN = "VAE"
"""The `model` label of the plain VAE's rows (`baseline`)."""
COLLAPSED_SHARE = 0.9
"""A run is collapsed onto one latent unit when that unit holds at least this share of all
its saliency (1/3 when three units share it evenly)."""
AUTHOR_PLAIN = {
    "plain_recon_max": "166.5-169.4 (169.8 in the author's recon loss.csv)",
    "plain_recon_mean": "168.1",
    "plain_active_latents_min": "3 in every run",
    "plain_dominant_share_max": "0.34-0.49",
    "plain_entropy_mean": "0.70 (0.68-0.71)",
    "plain_pearson_mean": "0.26 (0.24-0.28)",
}
"""The author's five plain VAEs (document 001's released checkpoints) under our metrics on all
10,000 MNIST test images (results/cpu/attribution_priors/7_author_models.json), for the health
table beside ours."""


def plain_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The plain VAE's rows of a chapter's model table; an error if it has none."""
    plain = frame[frame["model"] == PLAIN]
    if plain.empty:
        raise ValueError(f"the model table has no plain VAE rows (model {PLAIN!r}); build it with "
                         "`prior_sweep` or add `baseline(splits, s)`")
    return plain


def plain_health(frame: pd.DataFrame) -> dict[str, float]:
    """Health of the plain VAEs of `frame` (rows as `sweep` gives them), the numbers the part's
    gates (book/attribution_priors/claims.yaml) check: `plain_recon_max` (worst test loss,
    nats per image), `plain_active_latents_min` (fewest active units of any run),
    `plain_dominant_share_max` (largest share of saliency in one unit); and, shown beside
    the author's, `plain_runs`, `plain_recon_mean`, `plain_entropy_mean`, `plain_pearson_mean`."""
    plain = plain_rows(frame)
    return {
        "plain_runs": int(len(plain)),
        "plain_recon_max": float(plain.recon_test.max()),
        "plain_recon_mean": float(plain.recon_test.mean()),
        "plain_active_latents_min": int(plain.active_latents.min()),
        "plain_dominant_share_max": float(plain.dominant_share.max()),
        "plain_entropy_mean": float(plain.entropy.mean()),
        "plain_pearson_mean": float(plain.pearson.mean()),
    }


def gates_of(notebook: str) -> list[dict]:
    """The health gates the claims file declares for `notebook` (id, what, measure, check)."""
    gates = load_targets()[PART]["gates"].values()
    return [g for g in gates if g["notebook"] == notebook]


def health_table(numbers: dict, notebook: str) -> pd.DataFrame:
    """One row per gate of `notebook`: what it checks, our number, the rule, whether it
    passes, and the author's plain VAEs' value where known (`AUTHOR_PLAIN`)."""
    rows = []
    for gate in gates_of(notebook):
        value = numbers.get(gate["measure"])
        (op, ref), = gate["check"].items()
        ok = value is not None and not (isinstance(value, float) and np.isnan(value)) and evaluate(gate["check"], value)
        rows.append({"gate": gate["id"], "measure": gate["measure"], "ours": value, "rule": f"{op} {ref}",
                     "passes": bool(ok), "author's plain VAEs": AUTHOR_PLAIN.get(gate["measure"], "-")})
    return pd.DataFrame(rows).set_index("gate")


# ----------------------------------------------------------------------------- claim numbers

def _pair(low, high) -> list:
    return [low, high]


def at_lambda(frame: pd.DataFrame, lam: float, model: str | None = None) -> pd.DataFrame:
    """Rows of `frame` at `lam` (and of `model`, if given)."""
    sel = frame[np.isclose(frame["lam"], lam)]
    return sel if model is None else sel[sel["model"] == model]


def differences(frame: pd.DataFrame, lam: float) -> dict:
    """The direction claims of Sections 4.2 and 4.3: for Pearson, entropy and test loss, the
    mean over the runs at `lam` minus the mean over the plain VAE's runs (`pearson_diff`,
    `entropy_diff`, `recon_diff`) and its 95% Welch interval (`<name>_diff_ci`, [low, high],
    None bounds with a single run on either side). NaN when no run has that lambda."""
    plain = plain_rows(frame)
    treated = frame[(frame["model"] != PLAIN) & np.isclose(frame["lam"], lam)]
    out = {}
    for metric, name in (("pearson", "pearson"), ("entropy", "entropy"), ("recon_test", "recon")):
        if treated.empty:
            diff, low, high = float("nan"), None, None
        else:
            diff, low, high = welch_interval(treated[metric], plain[metric])
        out[f"{name}_diff"] = diff
        out[f"{name}_diff_ci"] = _pair(low, high)
    return out


def tv_prior_numbers(frame: pd.DataFrame, lam: float, seed: int = 0) -> dict:
    """Section 4.1's numbers from the plain VAE's runs and the total-variation prior's model at
    `lam`, seed `seed` (rows of `frame` as `sweep` gives them; the document has one model each).

    `tv_ratio`: the plain runs' mean total variation over the prior model's, with
    `tv_ratio_ci` from the 95% t interval of the plain mean (None bounds with one plain run);
    `recon_increase_pct`: the prior model's test loss against the plain mean, in %, with
    `recon_increase_pct_ci` likewise. Shown beside them: the same two against the seed-`seed`
    plain run alone (`tv_ratio_seed`, `recon_increase_pct_seed`), the scale-free total
    variation ratio and the mean-|mu| ratio (against the plain mean), and the raw
    `vae_tv`, `prior_tv`, `vae_recon`, `prior_recon` (plain mean, prior model).
    """
    plain = plain_rows(frame)
    prior = frame[(frame["model"] != PLAIN) & np.isclose(frame["lam"], lam) & (frame["seed"] == seed)]
    if len(prior) != 1:
        raise ValueError(f"expected one prior model at lambda {lam}, seed {seed}; found {len(prior)}")
    p0 = prior.iloc[0]
    b0 = plain[plain["seed"] == seed].iloc[0]
    tv_mean, tv_lo, tv_hi = mean_interval(plain.tv)
    rec_mean, rec_lo, rec_hi = mean_interval(plain.recon_test)

    def pct(base):
        return float(100 * (p0.recon_test - base) / rec_mean)

    return {
        "tv_ratio": float(tv_mean / p0.tv),
        "tv_ratio_ci": _pair(None if tv_lo is None else float(tv_lo / p0.tv),
                             None if tv_hi is None else float(tv_hi / p0.tv)),
        "recon_increase_pct": pct(rec_mean),
        "recon_increase_pct_ci": _pair(None if rec_hi is None else pct(rec_hi),
                                       None if rec_lo is None else pct(rec_lo)),
        "tv_ratio_seed": float(b0.tv / p0.tv),
        "recon_increase_pct_seed": float(100 * (p0.recon_test - b0.recon_test) / b0.recon_test),
        "tv_scale_free_ratio": float(plain.tv_scale_free.mean() / p0.tv_scale_free),
        "mu_abs_ratio": float(plain.mu_abs.mean() / p0.mu_abs),
        "vae_tv": float(tv_mean), "prior_tv": float(p0.tv),
        "vae_recon": float(rec_mean), "prior_recon": float(p0.recon_test),
    }


def collapse_numbers(frame: pd.DataFrame, lam: float) -> dict:
    """Figure 3's collapse at `lam` over the prior's runs there: `dominant_share_lambda1_max`
    (the largest share of saliency in one unit of any run), `dominant_share_lambda1_mean`,
    `collapsed_runs_lambda1` (runs at or above `COLLAPSED_SHARE`) and `runs_lambda1`. NaN
    (and 0 runs) when no run has that lambda."""
    runs = frame[(frame["model"] != PLAIN) & np.isclose(frame["lam"], lam)]
    return {
        "dominant_share_lambda1_max": float(runs.dominant_share.max()) if len(runs) else float("nan"),
        "dominant_share_lambda1_mean": float(runs.dominant_share.mean()) if len(runs) else float("nan"),
        "collapsed_runs_lambda1": int((runs.dominant_share >= COLLAPSED_SHARE).sum()),
        "runs_lambda1": int(len(runs)),
    }


def collapse_share(frame: pd.DataFrame, lam: float) -> float:
    """Mean over the runs of `frame` at `lam` of `dominant_share`, the share of all saliency
    held by the most salient latent unit (1/K balanced, 1 collapsed onto one unit); NaN when
    no run has that lambda."""
    return float(frame.loc[np.isclose(frame.lam, lam), "dominant_share"].mean())


def entropy_prior_numbers(frame: pd.DataFrame, top: float, collapse_lam: float = 1.0) -> dict:
    """Section 4.2's numbers: the plain VAEs' health (`plain_health`), the differences at the
    largest lambda `top` against the plain runs (`differences`), the collapse at
    `collapse_lam` (`collapse_numbers`), the Spearman trends (not scored) and the lambdas."""
    return {**plain_health(frame), **differences(frame, top), **collapse_numbers(frame, collapse_lam),
            **trends(frame), "lambda": float(top), "collapse_lambda": float(collapse_lam)}


def pearson_prior_numbers(frame: pd.DataFrame, disentangled: pd.DataFrame, top: float) -> dict:
    """Section 4.3's numbers from the plain and Pearson-prior runs `frame` and the beta-VAE /
    beta-TCVAE runs `disentangled` (rows as `prior_sweep` and `disentangled_baselines` give
    them), besides the plain VAEs' health, the differences at `top` and the trends:

    `pearson_at_max_lambda`: mean Pearson correlation of the prior's runs at `top`, with its
    95% t interval `pearson_at_max_lambda_ci`; `top_active_latents_min`: the fewest active
    units of those runs (a dead unit makes a correlation near 0 meaningless);
    `vs_disentangled_diff`: the larger over beta-VAE and beta-TCVAE of (mean Pearson at `top`
    minus that model's mean Pearson), with `vs_disentangled_diff_ci` = [larger of the two
    Welch lows, larger of the two highs] (below both exactly when both intervals are below 0;
    None bounds when either is undefined); `below_beta_and_tc` (that difference < 0, shown
    only); `disentangled_active_latents_min`; `max_dominant_share`: the largest share of one
    unit over every prior run (a collapse shows as a value near 1).
    """
    sweep_rows = frame[frame["model"] != PLAIN]
    at = at_lambda(sweep_rows, top)
    mean, low, high = mean_interval(at.pearson) if len(at) else (float("nan"), None, None)
    diffs, lows, highs = [], [], []
    for _, runs in disentangled.groupby("model"):
        d, lo, hi = welch_interval(at.pearson, runs.pearson)
        diffs.append(d), lows.append(lo), highs.append(hi)
    undefined = not diffs or any(v is None for v in lows + highs)
    worst = max(diffs) if diffs else float("nan")
    return {
        **plain_health(frame), **differences(frame, top), **trends(frame), "lambda": float(top),
        "pearson_at_max_lambda": mean, "pearson_at_max_lambda_ci": _pair(low, high),
        "top_active_latents_min": int(at.active_latents.min()) if len(at) else 0,
        "vs_disentangled_diff": worst,
        "vs_disentangled_diff_ci": _pair(None, None) if undefined else _pair(max(lows), max(highs)),
        "below_beta_and_tc": bool(worst < 0),
        "disentangled_active_latents_min": int(disentangled.active_latents.min()) if len(disentangled) else 0,
        "max_dominant_share": float(sweep_rows.dominant_share.max()),
    }


def describe(profile: str, s, splits: Splits) -> str:
    """One line on what the run uses: images, epochs, batch size, the images per batch the
    priors are estimated on and the test images whose saliency is measured."""
    return (f"profile {profile}: {len(splits.train)} training and {len(splits.test)} test images, "
            f"{s.epochs} epochs, batch {s.batch_size} (priors estimated on "
            f"{min(s.prior_batch, s.batch_size)} of them); saliency measured on {len(splits.eval)} test images")


def summary(frame: pd.DataFrame,
            metrics=("recon_test", "tv", "entropy", "pearson", "mu_abs", "dominant_share")) -> pd.DataFrame:
    """Mean and standard deviation of each metric per (model, lambda)."""
    return frame.groupby(["model", "lam"])[list(metrics)].agg(["mean", "std"]).round(4)


def example_images(splits: Splits, count: int = 4) -> torch.Tensor:
    """`count` evenly spaced evaluation images for saliency figures, (count, 1, 32, 32)."""
    return splits.eval[np.linspace(0, len(splits.eval) - 1, count).astype(int)]


def load_model(splits: Splits, s, prior: str | None, lam: float, seed: int = 0,
               path: str = "faithful"):
    """The trained model of one configuration (from the cache after a sweep)."""
    objective = objective_for(s, prior, lam, path)
    return train_model(splits, s, objective, seed, desc=f"{prior} lam={lam} seed={seed}").model


def with_interval(value, interval, digits: int = 3) -> str:
    """`value` and its [low, high] interval as text ("-0.120 [-0.200, -0.050]"), or
    "(no interval)" after the value when a bound is missing (a single run)."""
    low, high = interval if interval is not None else (None, None)
    if low is None or high is None:
        return f"{value:+.{digits}f} (no interval)"
    return f"{value:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"

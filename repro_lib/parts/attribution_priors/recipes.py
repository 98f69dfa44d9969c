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
from ...train import FitResult, TrainSettings, fit
from .attribution import latent_saliency
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


def train_model(splits: Splits, s, objective, seed: int, desc: str) -> FitResult:
    """Train (or load from the cache) one VAE of this part's architecture and settings."""
    settings = TrainSettings(epochs=s.epochs, batch_size=s.batch_size, lr=LEARNING_RATE,
                             weight_decay=WEIGHT_DECAY, seed=seed)
    return fit(MODEL_SPEC, objective, splits.training, settings, desc=desc)


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
    for name, objective in (("beta-VAE", BetaVAE(beta)),
                            ("beta-TCVAE", BetaTCVAE(n_data=len(splits.train), beta=beta))):
        for seed in range(s.baseline_runs):
            result = train_model(splits, s, objective, seed, desc=f"{name} seed={seed}")
            rows.append({"model": name, "prior": "none", "lam": 0.0, "seed": seed,
                         "path": "-", "train_seconds": result.seconds,
                         "cached": result.from_cache, **measure(result.model, splits, s.gs_samples)})
    return pd.DataFrame(rows)


def trend(frame: pd.DataFrame, metric: str) -> float:
    """Spearman rank correlation of `metric` with lambda over all models of `frame`
    (positive: grows with lambda). NaN when fewer than two lambdas."""
    if frame["lam"].nunique() < 2:
        return float("nan")
    return float(spearmanr(frame["lam"], frame[metric]).statistic)


def trends(frame: pd.DataFrame) -> dict[str, float]:
    """Spearman trends with lambda of entropy, Pearson and test loss (see `trend`)."""
    return {"entropy_trend": trend(frame, "entropy"), "pearson_trend": trend(frame, "pearson"),
            "recon_trend": trend(frame, "recon_test")}


def tv_prior_numbers(base: pd.DataFrame, prior: pd.DataFrame, lam: float, seed: int = 0) -> dict[str, float]:
    """Section 4.1's numbers: the seed-`seed` plain VAE (row of `base`) against the seed-`seed`
    total-variation-prior model at `lam` (row of `prior`; rows as `sweep` gives them).

    `tv_ratio` (mean total variation, VAE / prior), `recon_increase_pct` (relative change of
    the test reconstruction error, prior against VAE, in %), `tv_scale_free_ratio` and
    `mu_abs_ratio` (the same ratio of the scale-free total variation and of mean |mu|), and
    the raw `vae_tv`, `prior_tv` and `vae_recon`, `prior_recon` (nats per image).
    """
    b0 = base[base.seed == seed].iloc[0]
    p0 = prior[(prior.lam == lam) & (prior.seed == seed)].iloc[0]
    return {
        "tv_ratio": float(b0.tv / p0.tv),
        "recon_increase_pct": float(100 * (p0.recon_test - b0.recon_test) / b0.recon_test),
        "tv_scale_free_ratio": float(b0.tv_scale_free / p0.tv_scale_free),
        "mu_abs_ratio": float(b0.mu_abs / p0.mu_abs),
        "vae_tv": float(b0.tv), "prior_tv": float(p0.tv),
        "vae_recon": float(b0.recon_test), "prior_recon": float(p0.recon_test),
    }


def collapse_share(frame: pd.DataFrame, lam: float) -> float:
    """Mean over the runs of `frame` at `lam` of `dominant_share`, the share of all saliency
    held by the most salient latent unit (1/K balanced, 1 collapsed onto one unit); NaN when
    no run has that lambda."""
    return float(frame.loc[frame.lam == lam, "dominant_share"].mean())


def pearson_prior_numbers(sweep_rows: pd.DataFrame, disentangled: pd.DataFrame, lam: float) -> dict:
    """Section 4.3's numbers beside the trends, from the Pearson-prior runs `sweep_rows` and
    the beta-VAE / beta-TCVAE runs `disentangled` (rows as `sweep` and
    `disentangled_baselines` give them).

    `pearson_at_max_lambda`: mean Pearson correlation of the runs at `lam`;
    `below_beta_and_tc`: whether that mean is below the mean of every model of `disentangled`
    (each model's runs averaged first); `max_dominant_share`: the largest `dominant_share` of
    any run of the sweep (a collapse shows as a value near 1).
    """
    at = sweep_rows[sweep_rows.lam == lam]
    return {
        "pearson_at_max_lambda": float(at.pearson.mean()),
        "below_beta_and_tc": bool(at.pearson.mean() < disentangled.groupby("model").pearson.mean().min()),
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

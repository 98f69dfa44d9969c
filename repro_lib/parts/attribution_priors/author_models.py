"""Document 001's author's own 42 trained models, loaded into our VAE and scored with our metrics.

The checkpoints (registry entry ``attribution_priors_checkpoints``; the author's repository
harrya32/encoder_attribution_priors @ 85588ae, ``experiments/results/mnist/<folder>/*.pt``)
are state_dicts of lfxai's ``EncoderBurgess`` + ``DecoderBurgess`` (1x32x32 MNIST, 3 latents).
lfxai's encoder ends in one linear layer ``mu_logvar_gen`` of 2K outputs and splits them with
``mu_logvar.view(-1, K, 2).unbind(-1)``: output 2j is the mean of unit j and 2j + 1 its
log-variance (interleaved, not the first K means then K log-variances). Our
`repro_lib.models.BurgessVAE` has the same layers (convs, dense, decoder) and two heads, so
`convert_state_dict` maps the layers one to one and splits that head by rows 0, 2, 4 / 1, 3, 5.

File stems name the prior and its weight ("alpha" is the document's lambda):
``Beta-vae_beta1_run{1..5}`` (plain VAE), ``Pearson-vae_alpha{1,5,10}_run{1..5}``,
``Entropy-vae_alpha{0.5,1,5}_run{1..5}``, ``TotalVariation-vae_alpha{0,...,5}_run1``.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from scipy import stats
from tqdm.auto import tqdm

from ... import data as datasets
from ...device import get_device
from ...models.burgess import BurgessVAE
from ...objectives import reconstruction_error
from ...results import load_results
from . import recipes
from .attribution import gradient_shap
from .intervals import mean_interval, welch_interval
from .saliency import (
    active_units_per_feature,
    attribution_entropy,
    pearson_correlation,
    pearson_correlation_prior,
    total_variation,
)

CHECKPOINTS = "attribution_priors_checkpoints"
LATENT_DIM = 3
SOURCE = ("github harrya32/encoder_attribution_priors @ 85588ae61020cf90af68b9b14f1b1d23a86062b1, "
          "experiments/results/mnist/")

# lfxai layer -> our layer (BurgessVAE's nn.Sequential indices); the interleaved head apart.
LAYER_MAP = {
    "encoder.conv1": "encoder.convs.0",
    "encoder.conv2": "encoder.convs.2",
    "encoder.conv3": "encoder.convs.4",
    "encoder.lin1": "encoder.dense.0",
    "encoder.lin2": "encoder.dense.2",
    "decoder.lin1": "decoder.dense.0",
    "decoder.lin2": "decoder.dense.2",
    "decoder.lin3": "decoder.dense.4",
    "decoder.convT1": "decoder.deconvs.0",
    "decoder.convT2": "decoder.deconvs.2",
    "decoder.convT3": "decoder.deconvs.4",
}
HEAD = "encoder.mu_logvar_gen"

# The author's own numbers for these checkpoints, transcribed from the same repository
# (SOURCE): `<folder>/metrics.csv` (lfxai's pearson_saliency, entropy_saliency and
# count_activated_neurons of captum GradientShap saliency, one captum call per latent, all
# 10,000 test images; rows taken as runs 1..5 in file order) and `recon loss.csv`
# (test reconstruction loss; the TV models have none).
# stem: (pearson, entropy, active_neurons, recon_loss)
AUTHOR_REPORTED = {
    "Beta-vae_beta1_run1": (0.281861, 0.715246, 1.270994, 169.5195),
    "Beta-vae_beta1_run2": (0.248504, 0.684326, 1.252149, 169.655),
    "Beta-vae_beta1_run3": (0.269896, 0.707511, 1.264036, 167.6355),
    "Beta-vae_beta1_run4": (0.239519, 0.697063, 1.25796, 168.2366),
    "Beta-vae_beta1_run5": (0.259593, 0.707128, 1.262867, 169.81),
    "Pearson-vae_alpha1_run1": (0.227673, 0.701903, 1.26223, 168.8716),
    "Pearson-vae_alpha1_run2": (0.215332, 0.692867, 1.255226, 168.4909),
    "Pearson-vae_alpha1_run3": (0.219362, 0.701484, 1.257756, 166.9136),
    "Pearson-vae_alpha1_run4": (0.206953, 0.684957, 1.252563, 169.4167),
    "Pearson-vae_alpha1_run5": (0.244747, 0.705431, 1.260329, 169.0853),
    "Pearson-vae_alpha5_run1": (0.168675, 0.665342, 1.238147, 167.7988),
    "Pearson-vae_alpha5_run2": (0.162208, 0.664754, 1.23944, 167.8663),
    "Pearson-vae_alpha5_run3": (0.148573, 0.667035, 1.24146, 169.2919),
    "Pearson-vae_alpha5_run4": (0.129637, 0.656164, 1.235784, 166.9111),
    "Pearson-vae_alpha5_run5": (0.140486, 0.664277, 1.236976, 168.6233),
    "Pearson-vae_alpha10_run1": (0.090685, 0.61894, 1.210756, 168.2091),
    "Pearson-vae_alpha10_run2": (0.087546, 0.634868, 1.225163, 167.2686),
    "Pearson-vae_alpha10_run3": (0.082191, 0.607923, 1.207512, 167.2773),
    "Pearson-vae_alpha10_run4": (0.07305, 0.617569, 1.209729, 168.5751),
    "Pearson-vae_alpha10_run5": (0.083644, 0.630846, 1.219138, 165.9091),
    "Entropy-vae_alpha0.5_run1": (0.295496, 0.715343, 1.275488, 169.5129),
    "Entropy-vae_alpha0.5_run2": (0.255292, 0.711926, 1.270652, 170.6395),
    "Entropy-vae_alpha0.5_run3": (0.218764, 0.635313, 1.229184, 174.9413),
    "Entropy-vae_alpha0.5_run4": (0.274681, 0.4043, 1.211887, 191.0063),
    "Entropy-vae_alpha0.5_run5": (0.280092, 0.713588, 1.275321, 168.8567),
    "Entropy-vae_alpha1_run1": (0.244354, 0.689955, 1.250072, 168.2498),
    "Entropy-vae_alpha1_run2": (0.421063, 0.025175, 1.001535, 233.3411),
    "Entropy-vae_alpha1_run3": (0.609193, 0.033018, 1.00218, 234.3965),
    "Entropy-vae_alpha1_run4": (0.229358, 0.418801, 1.200287, 190.4332),
    "Entropy-vae_alpha1_run5": (0.467534, 0.029189, 1.001851, 190.5219),
    "Entropy-vae_alpha5_run1": (0.403693, 0.013728, 1.000663, 233.3733),
    "Entropy-vae_alpha5_run2": (0.444504, 0.036625, 1.002941, 231.2433),
    "Entropy-vae_alpha5_run3": (0.38525, 0.006738, 1.000224, 219.0157),
    "Entropy-vae_alpha5_run4": (0.46585, 0.007927, 1.00028, 225.637),
    "Entropy-vae_alpha5_run5": (0.438672, 0.015467, 1.00076, 223.1816),
    "TotalVariation-vae_alpha5_run1": (0.352913, 0.681953, 1.234152, None),
    "TotalVariation-vae_alpha1_run1": (0.435672, 0.714044, 1.283853, None),
    "TotalVariation-vae_alpha0.5_run1": (0.457187, 0.745448, 1.312776, None),
    "TotalVariation-vae_alpha0.1_run1": (0.430264, 0.729521, 1.268453, None),
    "TotalVariation-vae_alpha0.01_run1": (0.256742, 0.685602, 1.257838, None),
    "TotalVariation-vae_alpha0.001_run1": (0.290206, 0.440017, 1.217685, None),
}
AUTHOR_TV_RATIO = 58.9572
"""What the author's notebook (``encoder_attribution_priors.ipynb``, cells 33-36) printed for
the total variation of ``Beta-vae_beta1_run1`` over ``TotalVariation-vae_alpha0.01_run1``:
torchmetrics' TotalVariation (summed over images) of |mu_j GS_j| (lfxai's
``tensor_attribution``; the call passes ``dim_latent``, i.e. the per-unit version) on the
test images as ``test_dataset.data`` resized and cast to float, i.e. pixel values 0-255,
while the models were trained on [0, 1]."""

_STEM = re.compile(r"^(Beta|Pearson|Entropy|TotalVariation)-vae_(beta|alpha)([0-9.]+)_run([0-9]+)$")
_PRIOR = {"Beta": "none", "Pearson": "pearson", "Entropy": "entropy", "TotalVariation": "tv"}


def parse_stem(stem: str) -> dict:
    """Prior ("none", "pearson", "entropy", "tv"), lambda and run of a checkpoint's file stem;
    the plain VAE (``Beta-vae_beta1``) has lambda 0. E.g. ``Pearson-vae_alpha10_run3`` ->
    {"stem": ..., "prior": "pearson", "lam": 10.0, "run": 3}."""
    m = _STEM.match(stem)
    if m is None:
        raise ValueError(f"{stem!r} is not a checkpoint name like 'Pearson-vae_alpha10_run1' "
                         "or 'Beta-vae_beta1_run1'")
    family, _, weight, run = m.groups()
    lam = 0.0 if family == "Beta" else float(weight)
    return {"stem": stem, "prior": _PRIOR[family], "lam": lam, "run": int(run)}


def catalogue(paths: Mapping[str, Path] | None = None) -> pd.DataFrame:
    """One row per checkpoint (stem, prior, lam, run, path), ordered by prior, lambda, run;
    `paths` as `repro_lib.data.fetch(CHECKPOINTS)` returns them (fetched when None)."""
    paths = datasets.fetch(CHECKPOINTS) if paths is None else paths
    rows = [{**parse_stem(Path(name).stem), "path": Path(path)} for name, path in paths.items()]
    order = {"none": 0, "pearson": 1, "entropy": 2, "tv": 3}
    frame = pd.DataFrame(rows)
    frame["_order"] = frame.prior.map(order)
    return frame.sort_values(["_order", "lam", "run"]).drop(columns="_order").reset_index(drop=True)


def convert_state_dict(state: Mapping[str, torch.Tensor], latent_dim: int = LATENT_DIM) -> dict:
    """An lfxai EncoderBurgess/DecoderBurgess state_dict as a state_dict of our
    `BurgessVAE(latent_dim)`: every layer mapped (`LAYER_MAP`), the interleaved head
    ``encoder.mu_logvar_gen`` split into ``mu_head`` (rows 0, 2, ...) and ``logvar_head``
    (rows 1, 3, ...). A missing, unexpected or mis-shaped tensor is an error naming it."""
    expected = {f"{layer}.{p}" for layer in [*LAYER_MAP, HEAD] for p in ("weight", "bias")}
    missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or extra:
        raise ValueError("not an lfxai EncoderBurgess/DecoderBurgess state_dict for 32x32 images: "
                         + (f"missing {missing}" if missing else "")
                         + ("; " if missing and extra else "")
                         + (f"unexpected {extra}" if extra else ""))
    target = BurgessVAE(latent_dim).state_dict()
    out = {}
    for theirs, ours in LAYER_MAP.items():
        for p in ("weight", "bias"):
            out[f"{ours}.{p}"] = state[f"{theirs}.{p}"]
    for p in ("weight", "bias"):
        head = state[f"{HEAD}.{p}"]
        if head.shape[0] != 2 * latent_dim:
            raise ValueError(f"{HEAD}.{p} has {head.shape[0]} rows; a {latent_dim}-unit VAE needs "
                             f"{2 * latent_dim} (mean and log-variance of each unit, interleaved)")
        out[f"encoder.mu_head.{p}"] = head[0::2]
        out[f"encoder.logvar_head.{p}"] = head[1::2]
    bad = [f"{k}: {tuple(v.shape)}, expected {tuple(target[k].shape)}"
           for k, v in out.items() if tuple(v.shape) != tuple(target[k].shape)]
    if bad:
        raise ValueError("checkpoint tensors of the wrong shape for BurgessVAE("
                         f"{latent_dim}) on 1x32x32 images: " + "; ".join(bad))
    if set(out) != set(target):  # the mapping covers our model exactly
        raise ValueError(f"mapping leaves {sorted(set(target) - set(out))} unset")
    return out


def load_author_model(source: Path | str | Mapping[str, torch.Tensor],
                      device: torch.device | str | None = None) -> BurgessVAE:
    """One of the author's checkpoints (a path, loaded with ``weights_only=True``, or its
    state_dict) as our `BurgessVAE(3)` in eval mode on `device` (the book's device if None)."""
    state = torch.load(source, map_location="cpu", weights_only=True) if isinstance(source, (str, Path)) \
        else source
    model = BurgessVAE(LATENT_DIM)
    model.load_state_dict(convert_state_dict(state), strict=True)
    return model.to(device or get_device()).eval()


def mnist_test_images(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `n` MNIST test images (N, 1, 32, 32) in [0, 1] on the device, and their labels."""
    images, labels = datasets.load_mnist("test", limit=n)
    return images.to(get_device()), labels


def example_indices(labels: torch.Tensor, count: int) -> list[int]:
    """The first test image of digit 0, 1, ..., count - 1 (the author's plot order)."""
    return [int(torch.nonzero(labels == digit)[0]) for digit in range(count)]


def evaluate(model, x: torch.Tensor, n_samples: int = 5, seed: int = 1234) -> dict[str, float]:
    """Our metrics of one model on the images `x`.

    `recon_test`: Bernoulli NLL summed per image from z = mu, mean over images (nats);
    `kl_test`: KL(q(z | x) || N(0, I)) summed over units, mean over images (nats);
    saliency |mu_j GS_j| on every image (Gradient SHAP, all-black baseline, `n_samples`
    draws per image and unit) and its `pearson` (evaluation definition, np.corrcoef),
    `entropy`, `tv` (mean total variation per map); `active_latents`: units with mean KL >
    `recipes.ACTIVE_KL_NATS`; `active_neurons`: lfxai's units per feature with more than 1/K
    of its saliency; `dominant_share`: the most salient unit's share of all saliency;
    `pearson_guarded`: the training prior's guarded Pearson on the same maps (for comparison).
    """
    maps = recipes.saliency_maps(model, x, n_samples, seed=seed)
    kl = recipes.kl_per_unit(model, x)
    share = maps.sum((0, 2, 3)) / maps.sum()
    return {
        "recon_test": reconstruction_error(model, x),
        "kl_test": float(kl.sum()),
        "pearson": float(pearson_correlation(maps)),
        "entropy": float(attribution_entropy(maps)),
        "active_latents": int((kl > recipes.ACTIVE_KL_NATS).sum()),
        "tv": float(total_variation(maps)),
        "active_neurons": float(active_units_per_feature(maps)),
        "dominant_share": float(share.max()),
        "pearson_guarded": float(pearson_correlation_prior(maps)),
    }


def evaluate_all(checkpoints: pd.DataFrame, x: torch.Tensor, n_samples: int = 5) -> pd.DataFrame:
    """`evaluate` for every checkpoint of `catalogue()`: one row per checkpoint, with the
    author's own numbers (`author_pearson`, `author_entropy`, `author_active_neurons`,
    `author_recon`; NaN where the author reported none)."""
    rows = []
    for row in tqdm(checkpoints.itertuples(), total=len(checkpoints), desc="author's checkpoints", leave=False):
        model = load_author_model(row.path)
        reported = AUTHOR_REPORTED.get(row.stem, (None,) * 4)
        rows.append({"stem": row.stem, "prior": row.prior, "lam": row.lam, "run": row.run,
                     **evaluate(model, x, n_samples),
                     **{f"author_{k}": (np.nan if v is None else v) for k, v in
                        zip(("pearson", "entropy", "active_neurons", "recon"), reported)}})
    return pd.DataFrame(rows)


def shared_draw_metrics(model, x: torch.Tensor, n_samples: int = 5, seed: int = 1234,
                        batch_size: int = 250) -> dict[str, float]:
    """Pearson and entropy of |mu_j GS_j| when all latent units share one set of Gradient SHAP
    coefficients (what this book computed before the draws were made per unit), for
    comparison with `evaluate`'s independent draws."""
    gen = torch.Generator(device=x.device).manual_seed(seed)
    out = []
    for start in range(0, len(x), batch_size):
        xb = x[start : start + batch_size]
        with torch.no_grad():
            mu = model.encode_mean(xb)
        K, N = mu.shape[1], len(xb) * n_samples
        alphas = torch.rand((1, N), generator=gen, device=x.device, dtype=x.dtype).expand(K, N)
        gs = gradient_shap(model.encode_mean, xb, torch.zeros_like(xb[:1]), n_samples, alphas=alphas)
        out.append((mu.T[:, :, None, None, None] * gs).abs().sum(2).transpose(0, 1).cpu())
    maps = torch.cat(out)
    return {"pearson": float(pearson_correlation(maps)), "entropy": float(attribution_entropy(maps))}


def mean_total_variation(model, x: torch.Tensor, n_samples: int = 5, seed: int = 1234) -> float:
    """Mean total variation of one saliency map |mu_j GS_j| of `model` on the images `x`
    (e.g. ``255 * x`` to evaluate as the author's notebook did, on pixel values 0-255)."""
    return float(total_variation(recipes.saliency_maps(model, x, n_samples, seed=seed)))


def maps_of(model, x: torch.Tensor, n_samples: int = 5) -> torch.Tensor:
    """Saliency maps (N, K, H, W) of a few images, for figures."""
    return recipes.saliency_maps(model, x, n_samples)


# ----------------------------------------------------------------------------- numbers

GROUPS = [("plain", "none", 0.0), ("Pearson 1", "pearson", 1.0), ("Pearson 5", "pearson", 5.0),
          ("Pearson 10", "pearson", 10.0), ("entropy 0.5", "entropy", 0.5), ("entropy 1", "entropy", 1.0),
          ("entropy 5", "entropy", 5.0), ("TV 0.01", "tv", 0.01)]


def group_ranges(frame: pd.DataFrame, metrics=("pearson", "entropy", "active_latents", "recon_test")
                 ) -> pd.DataFrame:
    """Min and max over the runs of each group of `GROUPS` (rows) for each metric: columns
    `<metric> min`, `<metric> max`, and `runs`."""
    out = {}
    for name, prior, lam in GROUPS:
        sel = frame[(frame.prior == prior) & np.isclose(frame.lam, lam)]
        if len(sel):
            out[name] = {"runs": len(sel), **{f"{m} {f}": getattr(sel[m], f)() for m in metrics
                                              for f in ("min", "max")}}
    return pd.DataFrame(out).T


def _at(frame: pd.DataFrame, prior: str, lam: float) -> pd.DataFrame:
    return frame[(frame.prior == prior) & np.isclose(frame.lam, lam)]


def _one(frame: pd.DataFrame, stem: str) -> pd.Series:
    sel = frame[frame.stem == stem]
    if len(sel) != 1:
        raise KeyError(f"no single row for checkpoint {stem!r}")
    return sel.iloc[0]


def claim_numbers(frame: pd.DataFrame, collapse_share: float = 0.9) -> dict[str, float]:
    """The document's claims measured on the author's models (`evaluate_all` rows).

    Section 4.1 (one TV model at lambda = 0.01, five plain runs): `tv_ratio_plain_mean`, the
    plain runs' mean TV over that of ``TotalVariation-vae_alpha0.01_run1``, with
    `tv_ratio_plain_mean_ci` from the 95% t interval of the plain mean; `tv_ratio`, the same for
    ``Beta-vae_beta1_run1`` alone (the pair the author's notebook compares);
    `tv_ratio_vs_tv_alpha0` (over the TV family's own lambda = 0 run); `recon_increase_pct`, the
    TV model's test loss against the plain runs' mean, in %, with `recon_increase_pct_ci` from
    the plain mean's 95% t interval, and `recon_increase_pct_run1` against run 1 alone.
    Sections 4.2 and 4.3, direction claims: for a metric m and prior p, `<p>_<m>_diff` is
    mean(m at p's largest lambda) - mean(m of the plain runs) over the five runs each, with
    its 95% Welch interval `_lo`, `_hi` (and as the pair `_ci`); `<p>_<m>_spearman`: Spearman rho of m with lambda
    over the plain and all p runs. `pearson_recon_10_vs_5_*`: the same difference, lambda 10
    minus lambda 5. `pearson_lambda10_mean`, its 95% t interval `pearson_lambda10_ci` and
    `pearson_lambda10_ci_max_abs`, the interval's largest |bound|.
    `entropy_lambda1_max_dominant_share` and `entropy_lambda1_collapsed_runs` (runs whose most
    salient unit holds >= `collapse_share` of the saliency); `pearson_prior_max_dominant_share`
    over the 15 Pearson-prior runs; `plain_recon_max`, `plain_active_latents_min` (health of
    the plain runs).
    """
    plain = _at(frame, "none", 0.0)
    base1 = _one(frame, "Beta-vae_beta1_run1")
    tv = _one(frame, "TotalVariation-vae_alpha0.01_run1")
    tv0 = _one(frame, "TotalVariation-vae_alpha0_run1")
    tv_mean, tv_lo, tv_hi = mean_interval(plain.tv)
    rec_mean, rec_lo, rec_hi = mean_interval(plain.recon_test)
    out = {
        "tv_ratio": float(base1.tv / tv.tv),
        "tv_ratio_plain_mean": float(tv_mean / tv.tv),
        "tv_ratio_plain_mean_ci": [float(tv_lo / tv.tv), float(tv_hi / tv.tv)],
        "tv_ratio_vs_tv_alpha0": float(tv0.tv / tv.tv),
        "recon_increase_pct": float(100 * (tv.recon_test - rec_mean) / rec_mean),
        "recon_increase_pct_ci": [float(100 * (tv.recon_test - rec_hi) / rec_mean),
                                  float(100 * (tv.recon_test - rec_lo) / rec_mean)],
        "recon_increase_pct_run1": float(100 * (tv.recon_test - base1.recon_test) / base1.recon_test),
    }
    for prior, top in (("entropy", 5.0), ("pearson", 10.0)):
        runs = frame[(frame.prior == prior) | (frame.prior == "none")]
        for metric, name in (("pearson", "pearson"), ("entropy", "entropy"), ("recon_test", "recon")):
            diff, lo, hi = welch_interval(_at(frame, prior, top)[metric], plain[metric])
            out.update({f"{prior}_{name}_diff": diff, f"{prior}_{name}_diff_lo": lo, f"{prior}_{name}_diff_hi": hi,
                        f"{prior}_{name}_diff_ci": [lo, hi],
                        f"{prior}_{name}_spearman": float(stats.spearmanr(runs.lam, runs[metric]).statistic)})
    diff, lo, hi = welch_interval(_at(frame, "pearson", 10.0).recon_test, _at(frame, "pearson", 5.0).recon_test)
    out.update({"pearson_recon_10_vs_5_diff": diff, "pearson_recon_10_vs_5_lo": lo, "pearson_recon_10_vs_5_hi": hi,
                "pearson_recon_10_vs_5_ci": [lo, hi]})
    mean, lo, hi = mean_interval(_at(frame, "pearson", 10.0).pearson)
    out.update({"pearson_lambda10_mean": mean, "pearson_lambda10_ci": [lo, hi],
                "pearson_lambda10_ci_max_abs": max(abs(lo), abs(hi))})
    ent1 = _at(frame, "entropy", 1.0)
    out.update({
        "entropy_lambda1_max_dominant_share": float(ent1.dominant_share.max()),
        "entropy_lambda1_collapsed_runs": int((ent1.dominant_share >= collapse_share).sum()),
        "pearson_prior_max_dominant_share": float(frame[frame.prior == "pearson"].dominant_share.max()),
        "plain_recon_max": float(plain.recon_test.max()),
        "plain_active_latents_min": int(plain.active_latents.min()),
    })
    return out


def agreement_with_author(frame: pd.DataFrame) -> dict[str, float]:
    """Largest |ours - author's| over the checkpoints the author reported, per metric:
    `pearson`, `entropy`, `active_neurons` (metrics.csv) and `recon` (recon loss.csv
    against our `recon_test`), plus the median of the same differences; and
    `author_recon_max_abs_diff_plain_pearson`, the recon one over the plain and
    Pearson-prior models only (none collapsed)."""
    healthy = frame[frame.prior.isin(["none", "pearson"])]
    d = (healthy.recon_test - healthy.author_recon).dropna()
    out = {"author_recon_max_abs_diff_plain_pearson": float(d.abs().max()) if len(d) else float("nan")}
    for ours, theirs in (("pearson", "author_pearson"), ("entropy", "author_entropy"),
                         ("active_neurons", "author_active_neurons"), ("recon_test", "author_recon")):
        d = (frame[ours] - frame[theirs]).dropna()
        key = "recon" if ours == "recon_test" else ours
        out[f"author_{key}_max_abs_diff"] = float(d.abs().max()) if len(d) else float("nan")
        out[f"author_{key}_median_diff"] = float(d.median()) if len(d) else float("nan")
    return out


# ----------------------------------------------------------------------------- our models

OUR_NOTEBOOKS = ("4_1_pixel_prior", "4_2_entropy_prior", "4_3_pearson_prior")


def our_models(profile: str) -> tuple[pd.DataFrame, str]:
    """The models this book trained under `profile`, from the result files of 4.1-4.3
    (one row per model: prior, lam, seed and its metrics; the plain VAE once), and a line
    saying which files were read or are missing."""
    results = load_results(profile)
    frames, notes = [], []
    for notebook in OUR_NOTEBOOKS:
        record = results.get((recipes.PART, notebook))
        where = f"results/{profile}/{recipes.PART}/{notebook}.json"
        if record is None:
            notes.append(f"{where} missing (run that chapter under {profile!r} first)")
        elif "problem" in record:
            notes.append(f"{where} not used: {record['problem']}")
        else:
            frames.append(pd.DataFrame(record["numbers"]["models"]))
            notes.append(f"{where} read")
    if not frames:
        return pd.DataFrame(columns=["prior", "lam", "seed"]), "; ".join(notes)
    ours = pd.concat(frames, ignore_index=True).drop_duplicates(subset=["prior", "lam", "seed", "path"])
    return ours.reset_index(drop=True), "; ".join(notes)


def beside(author: pd.DataFrame, ours: pd.DataFrame, ours_label: str,
           metrics=("pearson", "entropy", "recon_test", "active_latents")) -> pd.DataFrame:
    """Median [min, max] over runs of each metric per group, the author's models beside ours
    (one row per group and source; groups of `GROUPS` that a source lacks are left out)."""
    rows = []
    for source, frame in (("author's models", author), (ours_label, ours)):
        for name, prior, lam in GROUPS:
            if frame.empty:
                continue
            sel = frame[(frame.prior == prior) & np.isclose(frame.lam.astype(float), lam)]
            if sel.empty:
                continue
            row = {"group": name, "source": source, "runs": len(sel)}
            for m in metrics:
                if m in sel:
                    v = sel[m].astype(float)
                    row[m] = f"{v.median():.3f} [{v.min():.3f}, {v.max():.3f}]"
            rows.append(row)
    return pd.DataFrame(rows).set_index(["group", "source"])


def boxplots_beside(frames: Mapping[str, pd.DataFrame], metrics, title: str = "",
                    labels: Mapping[str, str] | None = None) -> plt.Figure:
    """Box plots (one point per model) of each metric against lambda, one row per source
    (e.g. the author's models, ours); a source with no models shows an empty row."""
    labels = labels or {}
    fig, axes = plt.subplots(len(frames), len(metrics), figsize=(4.2 * len(metrics), 3.0 * len(frames)),
                             squeeze=False)
    for row, (source, frame) in zip(axes, frames.items()):
        for ax, metric in zip(row, metrics):
            if len(frame) and metric in frame:
                sns.boxplot(data=frame, x="lam", y=metric, ax=ax, color="#a6cee3")
                sns.stripplot(data=frame, x="lam", y=metric, ax=ax, color="k", size=3)
            else:
                ax.text(0.5, 0.5, "no models", ha="center", va="center", transform=ax.transAxes)
            ax.set_xlabel("lambda")
            ax.set_ylabel(labels.get(metric, metric))
            ax.set_title(source, fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def claims_table(numbers: Mapping[str, float]) -> pd.DataFrame:
    """The document's claims beside `claim_numbers` as text: one row per claim with what the
    document says and what the author's models give under our metrics."""
    n = numbers
    tv_lo, tv_hi = n["tv_ratio_plain_mean_ci"]
    rec_lo, rec_hi = n["recon_increase_pct_ci"]
    rows = [
        ("TV prior: mean TV of the plain VAE / TV prior (lambda 0.01)", "50x",
         f"{n['tv_ratio_plain_mean']:.1f}x [{tv_lo:.1f}, {tv_hi:.1f}] "
         f"over the five plain runs; run 1 alone {n['tv_ratio']:.1f}x (the author's notebook printed "
         f"{AUTHOR_TV_RATIO:.1f}x for that pair, on 0-255 pixel values)"),
        ("TV prior: test loss increase", "< 1%",
         f"{n['recon_increase_pct']:+.2f}% [{rec_lo:+.2f}, {rec_hi:+.2f}] "
         f"against the five plain runs ({n['recon_increase_pct_run1']:+.2f}% against run 1)"),
    ]
    said = {("entropy", "entropy"): "falls", ("entropy", "pearson"): "rises", ("entropy", "recon"): "rises",
            ("pearson", "pearson"): "falls", ("pearson", "entropy"): "falls", ("pearson", "recon"): "falls"}
    for prior, top in (("entropy", 5), ("pearson", 10)):
        for metric, label in (("entropy", "entropy"), ("pearson", "Pearson"), ("recon", "test loss")):
            key = f"{prior}_{metric}"
            rows.append((f"{prior} prior: {label}, lambda {top} minus plain", said[(prior, metric)],
                         f"{n[key + '_diff']:+.3f} [{n[key + '_diff_lo']:+.3f}, {n[key + '_diff_hi']:+.3f}], "
                         f"Spearman rho {n[key + '_spearman']:+.2f}"))
    rows += [
        ("entropy prior, lambda 1: runs collapsed onto one unit (>= 90% of saliency)", "one shown (Figure 3)",
         f"{n['entropy_lambda1_collapsed_runs']} of 5 (largest share {n['entropy_lambda1_max_dominant_share']:.3f})"),
        ("Pearson prior, lambda 10: Pearson correlation", "close to 0",
         f"mean {n['pearson_lambda10_mean']:.3f}, 95% interval within +/-{n['pearson_lambda10_ci_max_abs']:.3f}"),
        ("Pearson prior: largest share of one unit, any run", "no failure cases",
         f"{n['pearson_prior_max_dominant_share']:.3f}"),
        ("Pearson prior: test loss, lambda 10 minus lambda 5", "still falls (no plateau)",
         f"{n['pearson_recon_10_vs_5_diff']:+.3f} [{n['pearson_recon_10_vs_5_lo']:+.3f}, "
         f"{n['pearson_recon_10_vs_5_hi']:+.3f}]"),
    ]
    return pd.DataFrame(rows, columns=["claim", "document", "author's models, our metrics"]).set_index("claim")

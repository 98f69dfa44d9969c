"""Recipes of the DDS part (document 000, "Using Unsupervised Dynamic Feature Selection to
Enhance Latent Representations"): the data, Table 5's seven models, their scores, the checks
of Section 3's method and the figures.

Everything a notebook scores comes from a function here (tests/parts/dds). Our choices where
the document is silent are module constants or knobs, and the chapters state them: the mask is
per pixel (shared by the colour channels, F = 1024 on CIFAR-10); Table 5's reconstruction
network f is a U-Net (`networks.UNet`) reconstructing the whole image from the masked one;
"w/o residual links" is that U-Net without its skip connections; the naive AE codes each image
in M numbers; all train with Adam on the mean squared error, pixels in [0, 1].
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ...data import Tensors, cifar10_source, load_cifar10, load_cifar100, load_imagenet_subset, load_tiny_imagenet
from ...data.registry import DataError, fetch
from ...device import get_device
from ...models.vae import evaluate_in_batches
from ...objectives import describe_fields
from ...plans import TrainingJob
from ...train import FitResult, TrainSettings
from . import model as _model  # noqa: F401  (registers the dds_autoencoder and naive_ae families)
from . import propos as pp  # registers the propos family
from . import selection as sel
from .model import GRANULARITIES, DDSAutoencoder, NaiveAutoencoder
from .networks import UNet, parameter_count

PART = "dds"
TABLE5_M = (64, 128, 256, 512, 1024)
# Table 5 of the document, reconstruction MSE on CIFAR-10 (row -> values at TABLE5_M).
PAPER_TABLE5 = {
    "naive_ae": (0.01820, 0.01264, 0.00806, 0.00526, 0.00449),
    "no_residual": (0.03129, 0.01804, 0.01302, 0.00844, 0.00817),
    "hard_sigmoid": (0.01838, 0.00861, 0.00397, 0.00126, 0.00030),
    "kappa_1": (0.03759, 0.01771, 0.01415, 0.00320, 0.00064),
    "kappa_0": (0.01641, 0.01145, 0.00484, 0.00148, 0.00024),
    "epsilon_0": (0.01609, 0.00778, 0.00385, 0.00088, 0.00017),
    "dds": (0.01636, 0.00945, 0.00469, 0.00119, 0.00025),
}
ROW_LABELS = {
    "naive_ae": "Naive AE",
    "no_residual": "DDS w/o Residual Links",
    "hard_sigmoid": "DDS Hard Sigmoid (zeta = 1.1, gamma = -0.1)",
    "kappa_1": "DDS classic Binary Concrete (kappa = 1)",
    "kappa_0": "DDS w/o Binary Concrete (kappa = 0)",
    "epsilon_0": "DDS w/o Dynamic M (epsilon = 0)",
    "dds": "DDS",
}
ROWS = tuple(PAPER_TABLE5)
# What each DDS row changes from the defaults (beta 2/3, delta 1, zeta 1, gamma 0, kappa 0.1,
# epsilon 0.1, f with skip links).
ROW_CHANGES: dict[str, dict[str, Any]] = {
    "no_residual": {"f_skips": False},
    "hard_sigmoid": {"zeta": sel.HARD_ZETA, "gamma": sel.HARD_GAMMA},
    "kappa_1": {"kappa": 1.0},
    "kappa_0": {"kappa": 0.0},
    "epsilon_0": {"epsilon": 0.0},
    "dds": {},
}
EVAL_BATCH = 250
# The "converged" health gate: the training loss of the last tenth of steps is at most this
# much (relative) below that of the tenth before it.
CONVERGED_DROP = 0.02


# ----------------------------------------------------------------------------- data


@dataclass
class Cifar:
    """Training images (Tensors, images only, on the device), the lossless test images and
    labels (on the device), and which copy they came from ("full" or "subset")."""

    train: Tensors
    test_x: torch.Tensor
    test_y: torch.Tensor
    source: str


def load_data(s) -> Cifar:
    """The first `s.n_train` training and `s.n_test` test images of CIFAR-10 (`s.data_source`:
    "auto", "full" or "subset"; the subset has 5,000 and 1,000 lossless ones)."""
    source = cifar10_source(s.data_source)
    dev = get_device()
    train = load_cifar10("train", limit=s.n_train, source=source).select(0).to(dev)
    test_x, test_y = load_cifar10("test", limit=s.n_test, source=source)
    return Cifar(train, test_x.to(dev), test_y.to(dev), source)


def describe(profile: str, s, data: Cifar) -> str:
    """One line on what the run uses."""
    where = ("full CIFAR-10" if data.source == "full" else
             "the 5,000-image CIFAR-10 subset standing in for CIFAR-10 (test images: its lossless ones)")
    steps = s.epochs * max(1, len(data.train) // s.batch_size)
    return (f"profile {profile}: {len(data.train)} training and {len(data.test_x)} test images from {where}; "
            f"{s.epochs} epochs of batch {s.batch_size} ({steps} Adam steps, lr {s.lr:g}) per model; "
            f"U-Nets with C = {s.channels} (selector) and {s.f_channels} (f); M in {list(s.ms)}; "
            f"{s.granularity} mask")


def mean_image_mse(train_x: torch.Tensor, test_x: torch.Tensor) -> float:
    """MSE of predicting every test image by the mean training image (the baseline a
    reconstruction must beat)."""
    return float(((test_x - train_x.mean(0, keepdim=True)) ** 2).mean())


# ----------------------------------------------------------------------------- models


@dataclass(frozen=True)
class Reconstruction:
    """Mean squared error between the model's output and the whole input image."""

    def __call__(self, model, x):
        return {"loss": F.mse_loss(model(x), x)}

    describe = describe_fields


def check_granularity(granularity: str) -> None:
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}")


def model_spec(row: str, m: int, s) -> dict:
    """The model spec of Table 5's `row` at M = `m` under settings `s`."""
    if row not in ROWS:
        raise ValueError(f"unknown Table 5 row {row!r}; choose one of {ROWS}")
    if row == "naive_ae":
        return {"family": "naive_ae", "latent": int(m), "width": s.ae_width}
    check_granularity(s.granularity)
    return {"family": "dds_autoencoder", "m": int(m), "channels": s.channels, "f_channels": s.f_channels,
            "depth": s.depth, "granularity": s.granularity, **ROW_CHANGES[row]}


def row_job(row: str, m: int, data: Cifar, s, seed: int = 0) -> TrainingJob:
    """One model of Table 5 as a job of the training plan: `row` at M = `m`, trained on the
    training images."""
    return TrainingJob("dds", f"{row} M={m} seed {seed}", model_spec(row, m, s), Reconstruction(), data.train,
                       TrainSettings(epochs=s.epochs, batch_size=s.batch_size, lr=s.lr, seed=seed))


def train_row(row: str, m: int, data: Cifar, s, seed: int = 0) -> FitResult:
    """One model of Table 5 (cached): `row` at M = `m`, trained on the training images."""
    return row_job(row, m, data, s, seed).fit()


def reconstruction_mse(model: nn.Module, x: torch.Tensor, batch: int = EVAL_BATCH) -> float:
    """Mean squared error of the model's reconstructions of images x (eval mode: kappa = 0 and
    exactly M features for DDS), averaged over images, channels and pixels."""
    squared = evaluate_in_batches(model, x, lambda mdl, xb: ((mdl(xb) - xb) ** 2).flatten(1).sum(1), batch)
    return float(squared.sum() / x.numel())


def final_drop(history: dict, share: float = 0.1) -> float:
    """How much the training loss still fell at the end: (mean over the last-but-one `share` of
    steps - mean over the last `share`) / the latter; NaN for fewer than 20 steps."""
    loss = np.asarray(history["loss"], dtype=float)
    k = int(len(loss) * share)
    if len(loss) < 20 or k < 1:
        return float("nan")
    last, before = loss[-k:].mean(), loss[-2 * k:-k].mean()
    return float((before - last) / last)


def run_ablation(data: Cifar, s, rows=ROWS) -> pd.DataFrame:
    """Train (or load) every row of Table 5 at every M of `s.ms` and seed in range(`s.seeds`):
    one row per (row, M, seed) with the test MSE, the final loss drop and the training time."""
    records = []
    for row in rows:
        for m in s.ms:
            for seed in range(s.seeds):
                result = train_row(row, m, data, s, seed)
                records.append({"row": row, "M": int(m), "seed": seed,
                                "test_mse": reconstruction_mse(result.model, data.test_x),
                                "final_drop": final_drop(result.history), "seconds": result.seconds,
                                "steps": len(result.history["loss"])})
    return pd.DataFrame(records)


def ablation_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean test MSE over seeds, rows in Table 5's order (labelled) x M."""
    table = runs.groupby(["row", "M"]).test_mse.mean().unstack("M")
    table = table.reindex([r for r in ROWS if r in table.index])
    table.index = [ROW_LABELS[r] for r in table.index]
    return table


def paper_table5(ms=TABLE5_M) -> pd.DataFrame:
    """The document's Table 5 at the columns `ms` (all of them by default)."""
    missing = [m for m in ms if m not in TABLE5_M]
    if missing:
        raise ValueError(f"Table 5 has no column M = {missing}; it has {TABLE5_M}")
    columns = [TABLE5_M.index(m) for m in ms]
    return pd.DataFrame([[PAPER_TABLE5[r][i] for i in columns] for r in ROWS],
                        index=[ROW_LABELS[r] for r in ROWS], columns=list(ms))


def side_by_side(ours: pd.DataFrame, paper: pd.DataFrame) -> pd.DataFrame:
    """Ours and the document's MSE per (row, M) in adjacent columns, with ours / document."""
    frames = {}
    for m in ours.columns:
        frames[(m, "ours")] = ours[m]
        frames[(m, "document")] = paper[m] if m in paper.columns else np.nan
        frames[(m, "ratio")] = ours[m] / frames[(m, "document")]
    return pd.DataFrame(frames)


def best_row_at_each_m(table: pd.DataFrame) -> dict[int, str]:
    """{M: the label of the row with the lowest MSE}."""
    return {int(m): str(table[m].idxmin()) for m in table.columns}


def _mse(table: pd.DataFrame, row: str, m: int) -> float:
    label = ROW_LABELS[row]
    if label not in table.index or m not in table.columns:
        return float("nan")
    return float(table.loc[label, m])


def table5_numbers(table: pd.DataFrame, runs: pd.DataFrame) -> dict[str, Any]:
    """The result-file numbers of 4_3_ablation from the mean table (labelled rows x M) and the
    per-run frame: every MSE ("mse_<row>_m<M>"), the ratios the claims read at M = 64 and
    M = 256 (NaN where a column was not run), whether epsilon = 0 is the lowest row at every M,
    and the largest final loss drop of any DDS model (the convergence gate)."""
    out: dict[str, Any] = {}
    for row in ROWS:
        for m in table.columns:
            out[f"mse_{row}_m{int(m)}"] = _mse(table, row, int(m))
    ratio = lambda a, b, m: _mse(table, a, m) / _mse(table, b, m)
    for m in (64, 256):
        out[f"no_residual_over_dds_m{m}"] = ratio("no_residual", "dds", m)
        out[f"naive_over_dds_m{m}"] = ratio("naive_ae", "dds", m)
        out[f"hard_sigmoid_over_dds_m{m}"] = ratio("hard_sigmoid", "dds", m)
        out[f"kappa1_over_dds_m{m}"] = ratio("kappa_1", "dds", m)
        out[f"kappa0_over_dds_m{m}"] = ratio("kappa_0", "dds", m)
        out[f"epsilon0_over_dds_m{m}"] = ratio("epsilon_0", "dds", m)
    out["no_residual_over_dds_min"] = float(np.nanmin([ratio("no_residual", "dds", int(m)) for m in table.columns]))
    out["dds_m256_over_m64"] = _mse(table, "dds", 256) / _mse(table, "dds", 64)
    best = best_row_at_each_m(table)
    out["epsilon0_best_at_every_m"] = all(v == ROW_LABELS["epsilon_0"] for v in best.values())
    dds_runs = runs[runs.row != "naive_ae"]
    out["max_final_drop_dds"] = float(dds_runs.final_drop.max()) if len(dds_runs) else float("nan")
    out["max_final_drop_naive_ae"] = float(runs[runs.row == "naive_ae"].final_drop.max())
    return out


def health_numbers(table: pd.DataFrame, mean_mse: float) -> dict[str, float]:
    """The health gates' numbers: the naive AE's and DDS's test MSE at the largest M run,
    each over the mean-image predictor's MSE `mean_mse` (a reconstruction must be well below 1)."""
    largest = int(max(table.columns))
    return {"mean_image_mse": mean_mse, "largest_m": largest,
            "naive_ae_over_mean_image": _mse(table, "naive_ae", largest) / mean_mse,
            "dds_over_mean_image": _mse(table, "dds", largest) / mean_mse}


def paper_ratio(a: str, b: str, m: int) -> float:
    """Table 5's MSE of row `a` over row `b` at M = `m` (the document's own number)."""
    i = TABLE5_M.index(m)
    return PAPER_TABLE5[a][i] / PAPER_TABLE5[b][i]


def tensions() -> pd.DataFrame:
    """Where the document's text and its Table 5 disagree, computed from the table: per M, is
    the hard sigmoid worse than DDS (the text: it "drops the performance ... specially when
    selecting low M values"), and is epsilon = 0 the lowest row (the text: dynamic M "may be
    counterproductive" to remove, yet Section 3.2 introduces it to help)."""
    rows = []
    for i, m in enumerate(TABLE5_M):
        column = {r: PAPER_TABLE5[r][i] for r in ROWS}
        rows.append({"M": m, "hard sigmoid / DDS": column["hard_sigmoid"] / column["dds"],
                     "hard sigmoid worse than DDS": column["hard_sigmoid"] > column["dds"],
                     "lowest row": ROW_LABELS[min(column, key=column.get)]})
    return pd.DataFrame(rows).set_index("M")


def ablation_figure(table: pd.DataFrame, paper: pd.DataFrame, title: str = "") -> plt.Figure:
    """Test MSE against M (log-log): ours solid, the document's dashed, one colour per row."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for i, label in enumerate(table.index):
        colour = f"C{i}"
        ax.plot(table.columns, table.loc[label], "o-", color=colour, label=label)
        if label in paper.index:
            ax.plot(paper.columns, paper.loc[label], "x--", color=colour, alpha=0.6)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("M (pixels kept of 1024)")
    ax.set_ylabel("test MSE")
    ax.set_title(title or "Table 5: ours (solid) and the document's (dashed)")
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- Section 3 checks


def gate_formula_error(n: int = 2001, limit: float = 15.0) -> pd.DataFrame:
    """Largest |tau(x) - Eq. 3 written out in numpy float64| on a grid of x in [-limit, limit],
    for the document's defaults and Louizos's stretch; and whether the clamp acts anywhere."""
    x = np.linspace(-limit, limit, n)
    rows = []
    for name, zeta, gamma in (("document (zeta 1, gamma 0)", sel.ZETA, sel.GAMMA),
                              ("Louizos (zeta 1.1, gamma -0.1)", sel.HARD_ZETA, sel.HARD_GAMMA)):
        ours = sel.hard_concrete_gate(torch.tensor(x, dtype=torch.float64), sel.BETA, zeta, gamma).numpy()
        stretched = (zeta - gamma) / (1 + np.exp(-x / sel.BETA)) + gamma
        formula = np.minimum(1.0, np.maximum(0.0, stretched))
        rows.append({"gate": name, "max |ours - formula|": float(np.abs(ours - formula).max()),
                     "clamp acts on the grid": bool(((stretched < 0) | (stretched > 1)).any())})
    return pd.DataFrame(rows).set_index("gate")


def exact_zero_table(xs, kappas, n: int, seed: int = 0) -> pd.DataFrame:
    """Per (x, kappa) with Louizos's stretch: the share of n draws of tau_u(x) (Eq. 4) that are
    exactly 0 and exactly 1, beside the closed forms."""
    rows = []
    for j, kappa in enumerate(kappas):
        for i, x0 in enumerate(xs):
            g = torch.Generator().manual_seed(seed + 1000 * j + i)
            z = sel.stochastic_gate(torch.full((n,), float(x0), dtype=torch.float64), kappa,
                                    zeta=sel.HARD_ZETA, gamma=sel.HARD_GAMMA, generator=g)
            x = torch.tensor([float(x0)], dtype=torch.float64)
            rows.append({"x": x0, "kappa": kappa, "P(0) sampled": float((z == 0).double().mean()),
                         "P(0) closed form": float(sel.prob_exact_zero(x, kappa, zeta=sel.HARD_ZETA,
                                                                       gamma=sel.HARD_GAMMA)),
                         "P(1) sampled": float((z == 1).double().mean()),
                         "P(1) closed form": float(sel.prob_exact_one(x, kappa, zeta=sel.HARD_ZETA,
                                                                      gamma=sel.HARD_GAMMA))})
    frame = pd.DataFrame(rows)
    frame["|sampled - closed|, in standard errors"] = [
        abs(r["P(0) sampled"] - r["P(0) closed form"]) / max(np.sqrt(r["P(0) closed form"] *
                                                                    (1 - r["P(0) closed form"]) / n), 1e-12)
        for _, r in frame.iterrows()]
    return frame


def gate_samples(x0: float, kappas, zeta: float, gamma: float, n: int, seed: int = 0) -> dict[float, np.ndarray]:
    """n draws of tau_u(x0) (Eq. 4) per kappa, for histograms: {kappa: (n,) array}."""
    return {k: sel.stochastic_gate(torch.full((n,), float(x0)), k, zeta=zeta, gamma=gamma,
                                   generator=torch.Generator().manual_seed(seed)).numpy() for k in kappas}


def gate_figure(n: int, seed: int = 0) -> plt.Figure:
    """Left: tau(x) (Eq. 3) with the document's defaults and with Louizos's stretch. Right:
    the training gate tau_u(x) at x = delta = 1 (a zero score) for kappa = 0.1 and 1."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    x = torch.linspace(-6, 6, 400)
    a.plot(x, sel.hard_concrete_gate(x), label="zeta 1, gamma 0 (document)")
    a.plot(x, sel.hard_concrete_gate(x, zeta=sel.HARD_ZETA, gamma=sel.HARD_GAMMA), "--",
           label="zeta 1.1, gamma -0.1 (Louizos)")
    a.set(xlabel="x = g~(X) + delta", ylabel="tau(x)", title="Eq. 3")
    a.legend(fontsize=8)
    for (zeta, gamma, style) in ((sel.ZETA, sel.GAMMA, "document"), (sel.HARD_ZETA, sel.HARD_GAMMA, "Louizos")):
        for kappa, draws in gate_samples(sel.DELTA, (0.1, 1.0), zeta, gamma, n, seed).items():
            b.hist(draws, bins=50, range=(0, 1), histtype="step", density=True, label=f"{style}, kappa {kappa}")
    b.set(yscale="log", xlabel="tau_u(1)", title="Eqs. 4-5 at a zero score")
    b.legend(fontsize=7)
    fig.tight_layout()
    return fig


def mask_checks(features: int, ms, batch: int = 256, seed: int = 0) -> pd.DataFrame:
    """Gamma_M on random scores with many ties (integers 0..3): per M, the fewest and most ones
    in a row, and whether any dropped score beats a kept one (it never should)."""
    g = torch.Generator().manual_seed(seed)
    scores = torch.randint(0, 4, (batch, features), generator=g).float()
    rows = []
    for m in ms:
        mask = sel.top_m_mask(scores, int(m)).bool()
        kept_min = torch.where(mask, scores, torch.inf).min(1).values
        dropped_max = torch.where(mask, -torch.inf, scores).max(1).values
        rows.append({"M": int(m), "fewest ones in a row": int(mask.sum(1).min()),
                     "most ones in a row": int(mask.sum(1).max()),
                     "a dropped score beats a kept one": bool((dropped_max > kept_min).any())})
    return pd.DataFrame(rows).set_index("M")


def dynamic_share(n: int, m: int, features: int, epsilon: float, seed: int = 0) -> float:
    """Share of n draws of Eq. 6 that keep all F features."""
    return float((sel.dynamic_m(n, m, features, epsilon, torch.Generator().manual_seed(seed)) == features)
                 .double().mean())


def gradient_flow(model, x: torch.Tensor) -> dict[str, float]:
    """Backpropagate a DDS model's reconstruction MSE of x (eval mode) to the selector's scores
    g~: the share of kept features (Gamma_M = 1) with a non-zero gradient, the share of dropped
    ones with a non-zero gradient (0: Gamma_M passes no gradient), whether Gamma_M is part of
    the graph, and the selector parameters' gradient norm."""
    model.eval()
    model.zero_grad(set_to_none=True)
    selection = model.select(x)
    selection.scores.retain_grad()
    F.mse_loss(model.downstream(selection.masked), x).backward()
    grad, kept = selection.scores.grad, selection.mask.bool()
    norm = float(torch.sqrt(sum((p.grad ** 2).sum() for p in model.selector.parameters() if p.grad is not None)))
    out = {"kept with gradient": float((grad[kept] != 0).double().mean()),
           "dropped with gradient": float((grad[~kept] != 0).double().mean()),
           "Gamma_M requires grad": bool(selection.mask.requires_grad),
           "selector gradient norm": norm}
    model.zero_grad(set_to_none=True)
    return out


def saved_activation_bytes(model: nn.Module, x: torch.Tensor) -> int:
    """Bytes of the tensors autograd keeps for the backward pass of one training step of
    `model` on x (reconstruction MSE; each storage counted once; parameters excluded): the
    part of a step's memory that depends on the model's inputs and choices such as M."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            seen[storage.data_ptr()] = storage.nbytes()
        return t

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = F.mse_loss(model(x), x)
    del loss
    return int(sum(seen.values()))


def memory_across_m(s, fractions, batch: int, seed: int = 0) -> pd.DataFrame:
    """Saved-activation bytes of one DDS training step (`saved_activation_bytes`) at M = each
    of `fractions` of F (same seeded weights and images), beside the numbers an L2X-style
    selector output (N x F x M, float32) would need."""
    torch.manual_seed(seed)
    x = torch.rand(batch, 3, 32, 32, generator=torch.Generator().manual_seed(seed))
    features = 32 * 32 * (1 if s.granularity == "pixel" else 3)
    base = DDSAutoencoder(m=features, channels=s.channels, f_channels=s.f_channels, depth=s.depth,
                          granularity=s.granularity)
    rows = []
    for frac in fractions:
        m = max(1, int(round(frac * features)))
        base.m = m
        rows.append({"M / F": frac, "M": m, "DDS saved bytes": saved_activation_bytes(base, x),
                     "L2X-style selector output bytes": 4 * batch * features * m})
    frame = pd.DataFrame(rows).set_index("M / F")
    frame["DDS / smallest M"] = frame["DDS saved bytes"] / frame["DDS saved bytes"].iloc[0]
    return frame


def parameter_table(s, ms) -> pd.DataFrame:
    """Trainable parameters of the selector at the document's C = 16 and at this profile's C,
    of our f, and of the naive AE at each M."""
    rows = [{"network": "selector g, U-Net C = 16 (the document's)",
             "parameters": parameter_count(UNet(3, 1, 16, s.depth))},
            {"network": f"selector g, U-Net C = {s.channels} (this profile)",
             "parameters": parameter_count(UNet(3, 1, s.channels, s.depth))},
            {"network": f"f, U-Net C = {s.f_channels} with skip links",
             "parameters": parameter_count(UNet(3, 3, s.f_channels, s.depth))},
            {"network": f"f, U-Net C = {s.f_channels} without skip links",
             "parameters": parameter_count(UNet(3, 3, s.f_channels, s.depth, skips=False))}]
    rows += [{"network": f"naive AE, code of M = {m} (width {s.ae_width})",
              "parameters": parameter_count(NaiveAutoencoder(int(m), width=s.ae_width))} for m in ms]
    return pd.DataFrame(rows).set_index("network")


@torch.no_grad()
def figure1(model, x: torch.Tensor, title: str = "") -> plt.Figure:
    """Figure 1 from a trained DDS model (eval mode): per image, the input, the gate
    tau(g~ + delta), the mask Gamma_M, the masked input f receives and f's reconstruction."""
    model.eval()
    s = model.select(x)
    recon = model.downstream(s.masked)
    shape = (len(x), *x.shape[2:])
    columns = [("input", x), ("gate tau", s.gate.view(shape)), ("mask Gamma_M", s.mask.view(shape)),
               ("masked input", s.masked), ("reconstruction", recon)]
    fig, axes = plt.subplots(len(x), len(columns), figsize=(1.6 * len(columns), 1.6 * len(x)), squeeze=False)
    for j, (name, images) in enumerate(columns):
        for i in range(len(x)):
            img = images[i].detach().cpu()
            if img.dim() == 3:
                axes[i, j].imshow(img.permute(1, 2, 0).clamp(0, 1).numpy())
            else:
                axes[i, j].imshow(img.numpy(), cmap="gray", vmin=0, vmax=1)
            axes[i, j].axis("off")
        axes[0, j].set_title(name, fontsize=8)
    fig.suptitle(title or f"Figure 1 from our trained model (M = {model.m})", fontsize=9)
    fig.tight_layout()
    return fig


def gate_statistics(model, x: torch.Tensor) -> dict[str, float]:
    """On images x in eval mode: the mean gate over kept features, the share of kept gates
    above 0.99 (the document: the score "rarely reaches the perfect score of 1"), and the
    share of kept pixels that the mask shares with the same image's brightest M pixels."""
    model.eval()
    with torch.no_grad():
        s = model.select(x)
        kept = s.mask.bool()
        brightness = x.mean(1).flatten(1) if model.granularity == "pixel" else x.flatten(1)
        bright = sel.top_m_mask(brightness, model.m).bool()
    return {"mean gate of kept features": float(s.gate[kept].mean()),
            "kept gates above 0.99": float((s.gate[kept] > 0.99).double().mean()),
            "overlap with the brightest M pixels": float((kept & bright).sum() / kept.sum())}


# ----------------------------------------------------------------------------- Section 4.1: clustering
#
# DDS(10%) + ProPos and DDS(25%) + ProPos against ProPos (`propos.py`), scored by NMI, ACC
# (Hungarian) and ARI from core's `metrics.clustering`. Tables 1-2's literature rows are the
# document's numbers, quoted (never ours); the data sets that are not on this machine are shown
# as absent. The k-means that scores a model clusters the images it was trained on (ProPos's
# protocol, transductive); the held-out images are clustered too, as a second reading.


CLUSTER_DATASETS = ("cifar10", "cifar20", "imagenet10", "imagenet_dogs", "tiny_imagenet")
DATASET_LABELS = {"cifar10": "CIFAR-10", "cifar20": "CIFAR-20", "imagenet10": "ImageNet-10",
                  "imagenet_dogs": "ImageNet-Dogs", "tiny_imagenet": "Tiny-ImageNet"}
N_CLASSES = {"cifar10": 10, "cifar20": 20, "imagenet10": 10, "imagenet_dogs": 15, "tiny_imagenet": 200}
METRICS = ("nmi", "acc", "ari")
METHODS = ("propos", "dds10", "dds25")
METHOD_LABELS = {"propos": "ProPos", "dds10": "DDS(10%)+ProPos", "dds25": "DDS(25%)+ProPos",
                 "dds25_long": "DDS(25%)+ProPos (Long)"}
# Table 1 of the document (NMI, ACC, ARI in %; None: "-"), methods in its order.
PAPER_TABLE1 = {
    "SCAN": {"cifar10": (79.7, 88.3, 77.2), "cifar20": (48.6, 50.7, 33.3), "imagenet10": None, "imagenet_dogs": None},
    "NMM": {"cifar10": (74.8, 84.3, 70.9), "cifar20": (48.4, 47.7, 31.6), "imagenet10": None, "imagenet_dogs": None},
    "CC": {"cifar10": (70.5, 79.0, 63.7), "cifar20": (43.1, 42.9, 26.6), "imagenet10": (85.9, 89.3, 82.2),
           "imagenet_dogs": (44.5, 42.9, 27.4)},
    "GCC": {"cifar10": (76.4, 85.6, 72.8), "cifar20": (47.2, 47.2, 30.5), "imagenet10": (84.2, 90.1, 82.2),
            "imagenet_dogs": (49.0, 52.6, 36.2)},
    "TCL": {"cifar10": (81.9, 88.7, 78.0), "cifar20": (57.9, 53.1, 35.7), "imagenet10": (87.5, 89.5, 83.7),
            "imagenet_dogs": (62.3, 64.4, 51.6)},
    "TCC": {"cifar10": (79.0, 90.6, 73.3), "cifar20": (47.9, 49.1, 31.2), "imagenet10": (84.8, 89.7, 82.5),
            "imagenet_dogs": (55.4, 59.5, 41.7)},
    "SimSiam": {"cifar10": (78.6, 85.6, 73.6), "cifar20": (52.2, 48.5, 32.7), "imagenet10": (83.1, 92.1, 83.3),
                "imagenet_dogs": (58.3, 67.4, 50.1)},
    "BYOL": {"cifar10": (81.7, 89.4, 79.0), "cifar20": (55.9, 56.9, 39.3), "imagenet10": (86.6, 93.9, 87.2),
             "imagenet_dogs": (63.5, 69.4, 54.8)},
    "IDFD": {"cifar10": (71.1, 81.5, 66.3), "cifar20": (42.6, 42.5, 26.4), "imagenet10": (89.8, 95.4, 90.1),
             "imagenet_dogs": (54.6, 59.1, 41.3)},
    "PCL": {"cifar10": (80.2, 87.4, 76.6), "cifar20": (52.8, 52.6, 36.3), "imagenet10": (84.1, 90.7, 82.2),
            "imagenet_dogs": (44.0, 41.2, 29.9)},
    "ProPos": {"cifar10": (88.6, 94.3, 88.4), "cifar20": (60.6, 61.4, 45.1), "imagenet10": (89.6, 95.6, 90.6),
               "imagenet_dogs": (69.2, 74.5, 62.7)},
    "DDS(10%)+ProPos": {"cifar10": (80.2, 86.3, 75.7), "cifar20": (54.4, 50.5, 37.2),
                        "imagenet10": (91.8, 96.7, 92.8), "imagenet_dogs": (74.4, 76.0, 66.5)},
    "DDS(25%)+ProPos": {"cifar10": (87.6, 93.9, 87.2), "cifar20": (62.2, 58.4, 46.6),
                        "imagenet10": (90.8, 96.2, 91.7), "imagenet_dogs": (75.9, 78.6, 69.5)},
}
TABLE1_DATASETS = ("cifar10", "cifar20", "imagenet10", "imagenet_dogs")
# Table 2 (Tiny-ImageNet; NMI, ACC, ARI in %).
PAPER_TABLE2 = {
    "CC": (34.0, 14.0, 7.1), "GCC": (34.7, 13.8, 7.5), "PCL": (35.0, 15.9, 8.7), "SimSiam": (35.1, 20.3, 9.4),
    "BYOL": (36.5, 19.9, 10.0), "ProPos": (40.5, 25.6, 14.3), "DDS(10%)+ProPos": (43.8, 27.1, 16.0),
    "DDS(25%)+ProPos": (47.0, 30.5, 18.9), "DDS(25%)+ProPos (Long)": (54.6, 40.3, 26.3),
}
PAPER_METHOD = {"propos": "ProPos", "dds10": "DDS(10%)+ProPos", "dds25": "DDS(25%)+ProPos"}


def dataset_status(name: str, data_source: str = "auto") -> tuple[bool, str]:
    """(present, what): whether data set `name` of Tables 1-2 is on this machine (never
    downloads; the registry's `fetch(download=False)`), and which copy or why not."""
    if name not in CLUSTER_DATASETS:
        raise ValueError(f"unknown clustering data set {name!r}; choose from {CLUSTER_DATASETS}")
    if name == "cifar10":
        source = cifar10_source(data_source)
        return True, ("full CIFAR-10" if source == "full" else
                      "the CIFAR-10 subset (5,000 lossless training, 1,000 lossless test images)")
    registered = {"cifar20": "cifar100"}.get(name, name)
    try:
        fetch(registered, download=False)
    except (DataError, KeyError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        return False, f"ABSENT: {first}"
    return True, {"cifar20": "full CIFAR-100 (20 superclasses)"}.get(name, f"registered {name}")


def presence_table(names, data_source: str = "auto") -> pd.DataFrame:
    """One row per data set: present or not, and which copy / why not."""
    rows = []
    for name in names:
        present, what = dataset_status(name, data_source)
        rows.append({"data set": DATASET_LABELS[name], "present": present, "copy / reason": what})
    return pd.DataFrame(rows).set_index("data set")


@dataclass
class ClusterData:
    """Training images with classes (`Tensors` of (x, y), on the device), held-out images and
    classes, the number of clusters (= classes), the data set and which copy."""

    name: str
    train: Tensors
    test_x: torch.Tensor
    test_y: torch.Tensor
    k: int
    source: str


def load_clustering_data(name: str, s) -> ClusterData:
    """Data set `name` of Tables 1-2 (it must be present: see `dataset_status`): the first
    `s.cl_n_train` training and `s.cl_n_test` held-out images. CIFAR-10 offline: the
    subset's lossless images only; ImageNet-10 / -Dogs have no held-out split (ProPos clusters
    their training images), so their last images are held out here."""
    dev = get_device()
    if name == "cifar10":
        source = cifar10_source(s.data_source)
        train = load_cifar10("train", limit=s.cl_n_train, source=source)
        test = load_cifar10("test", limit=s.cl_n_test, source=source)
    elif name == "cifar20":
        source = "full CIFAR-100"
        train, test = (load_cifar100(split, limit=n, labels="coarse")
                       for split, n in (("train", s.cl_n_train), ("test", s.cl_n_test)))
    elif name == "tiny_imagenet":
        source = "Tiny-ImageNet"
        train, test = (load_tiny_imagenet(split, limit=n) for split, n in (("train", s.cl_n_train),
                                                                         ("val", s.cl_n_test)))
    elif name in ("imagenet10", "imagenet_dogs"):
        source = name
        whole = load_imagenet_subset(name)
        perm = torch.randperm(len(whole), generator=torch.Generator().manual_seed(0))
        cut = min(s.cl_n_train, len(whole) - s.cl_n_test)
        train = whole.derive(f"shuffled0[:{cut}]", *(t[perm[:cut]] for t in whole))
        test = whole.derive(f"shuffled0[{cut}:{cut + s.cl_n_test}]",
                            *(t[perm[cut:cut + s.cl_n_test]] for t in whole))
    else:
        raise ValueError(f"unknown clustering data set {name!r}; choose from {CLUSTER_DATASETS}")
    test_x, test_y = test
    return ClusterData(name, train.to(dev), test_x.to(dev), test_y.to(dev), N_CLASSES[name], source)


def dds_m(fraction: float, height: int = 32, width: int = 32) -> int:
    """M for DDS(fraction): round(fraction x H x W) pixels, at least 1 (102 and 256 of 1,024
    for 10% and 25% of a CIFAR image)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"the DDS fraction must lie in (0, 1], got {fraction}")
    return max(1, int(round(fraction * height * width)))


def method_fraction(method: str, s) -> float:
    """The DDS fraction of a method: 0 for ProPos, `s.cl_dds_fractions` for dds10 / dds25."""
    fractions = {"propos": 0.0, "dds10": s.cl_dds_fractions[0], "dds25": s.cl_dds_fractions[1],
                 "dds25_long": s.cl_dds_fractions[1]}
    if method not in fractions:
        raise ValueError(f"unknown method {method!r}; choose from {tuple(fractions)}")
    return fractions[method]


def methods_for(name: str) -> tuple[str, ...]:
    """The methods a data set's table has: Tiny-ImageNet adds Table 2's Long run."""
    return (*METHODS, "dds25_long") if name == "tiny_imagenet" else METHODS


FIG5_VARIANTS = {"default": {}, "epsilon_0": {"epsilon": 0.0}, "kappa_0": {"kappa": 0.0}}


def propos_spec(s, m: int = 0, variant: str = "default") -> dict:
    """The model spec of ProPos (m = 0) or DDS(m pixels) + ProPos under settings `s`."""
    if variant not in FIG5_VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose from {tuple(FIG5_VARIANTS)}")
    spec = {"family": "propos", "blocks": list(s.cl_blocks), "width": s.cl_width, "hidden": s.cl_hidden,
            "feat_dim": s.cl_feat_dim, "dds_m": int(m)}
    if m:
        spec.update({"dds_channels": s.cl_dds_channels, "dds_depth": s.depth, "dds_target": s.cl_dds_target,
                     **FIG5_VARIANTS[variant]})
    return spec


def propos_settings(s, k: int, seed: int, epochs: int | None = None) -> pp.ProPosSettings:
    return pp.ProPosSettings(epochs=epochs or s.cl_epochs, batch_size=s.cl_batch_size, lr=s.cl_lr,
                             weight_decay=s.cl_weight_decay, warmup_epochs=s.cl_warmup_epochs, ema=s.cl_ema,
                             n_clusters=k, kmeans_n_init=s.cl_kmeans_n_init, seed=seed)


def propos_loss(s) -> pp.ProPosLoss:
    return pp.ProPosLoss(temperature=s.cl_temperature, cluster_weight=s.cl_cluster_weight,
                         latent_std=s.cl_latent_std)


def clustering_job(data: ClusterData, s, method: str, seed: int = 0, variant: str = "default",
                   epochs: int | None = None) -> TrainingJob:
    """One clustering model as a job of the training plan; "dds25_long" is DDS(25%) trained
    for twice the epochs (Table 2's Long run)."""
    height, width = data.train.x.shape[-2:]
    if method == "dds25_long":
        epochs = 2 * (epochs or s.cl_epochs)
    m = dds_m(method_fraction(method, s), height, width) if method != "propos" else 0
    name = f"{data.name} {method}{'' if variant == 'default' else ' ' + variant} seed {seed}"
    return TrainingJob("dds", name, propos_spec(s, m, variant), propos_loss(s), data.train,
                       propos_settings(s, data.k, seed, epochs), loop=pp.propos_loop)


def train_clustering(data: ClusterData, s, method: str, seed: int = 0, variant: str = "default",
                     epochs: int | None = None) -> FitResult:
    """One clustering model (cached through `train.fit`: a model trained before is loaded)."""
    return clustering_job(data, s, method, seed, variant, epochs).fit()


def score_model(model, x: torch.Tensor, y: torch.Tensor, k: int, seed: int = 0, n_init: int = 10) -> dict[str, float]:
    """NMI, ACC, ARI of k-means (k clusters, `n_init` starts) on the model's features of x."""
    return pp.clustering_scores(y.cpu().numpy(), pp.kmeans_labels(pp.extract_features(model, x), k, seed, n_init))


def raw_pixel_scores(x: torch.Tensor, y: torch.Tensor, k: int, seed: int = 0, n_init: int = 10) -> dict[str, float]:
    """NMI, ACC, ARI of k-means on the raw pixels of x (the baseline a learned representation
    must beat: the clustering models' health gate)."""
    return pp.clustering_scores(y.cpu().numpy(), pp.kmeans_labels(x.flatten(1), k, seed, n_init))


def run_clustering(data: ClusterData, s, methods=None) -> tuple[pd.DataFrame, dict]:
    """Train (or load) every method for seeds range(`s.cl_seeds`) and score it on the training
    images ("train", ProPos's protocol) and the held-out ones ("test"). Returns one row per
    (method, seed, split) with NMI / ACC / ARI in [0, 1], training seconds and whether it was
    loaded, and {(method, seed): per-epoch NMI history} for Figure 5."""
    rows, curves = [], {}
    for method in methods or methods_for(data.name):
        for seed in range(s.cl_seeds):
            result = train_clustering(data, s, method, seed)
            curves[(method, seed)] = result.history.get("epoch_nmi", [])
            for split, x, y in (("train", data.train.x, data.train.tensors[1]), ("test", data.test_x, data.test_y)):
                scores = score_model(result.model, x, y, data.k, seed)
                rows.append({"data set": data.name, "method": method, "seed": seed, "split": split, **scores,
                             "seconds": result.seconds, "from_cache": result.from_cache,
                             "final_loss": float(np.mean(result.history["loss"][-10:]))})
    return pd.DataFrame(rows), curves


def mean_interval(values, level: float = 0.95) -> tuple[float, float | None, float | None]:
    """(mean, low, high): the t-interval of the mean over seeds; (mean, None, None) for one value."""
    from scipy import stats

    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        return float(v.mean()), None, None
    half = float(stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return float(v.mean()), float(v.mean() - half), float(v.mean() + half)


def paired_differences(runs: pd.DataFrame, a: str, b: str, metric: str, split: str = "train") -> np.ndarray:
    """metric(a) - metric(b) per seed (paired by seed) on `split`."""
    frame = runs[runs.split == split].pivot_table(index="seed", columns="method", values=metric)
    return (frame[a] - frame[b]).dropna().to_numpy()


def ours_table(runs: pd.DataFrame, names, statuses: dict[str, tuple[bool, str]], split: str = "train",
               methods=METHODS) -> pd.DataFrame:
    """Our Tables 1-2 rows (mean over seeds, %, one column per (data set, metric)); a data
    set that is absent reads "ABSENT" in every cell, one present but not run "not run"."""
    frames = {}
    for name in names:
        present, _ = statuses[name]
        sub = runs[(runs["data set"] == name) & (runs.split == split)] if len(runs) else runs
        for metric in METRICS:
            column = []
            for method in methods:
                if not present:
                    column.append("ABSENT")
                elif not len(sub) or not (sub.method == method).any():
                    column.append("not run")
                else:
                    column.append(round(100 * float(sub[sub.method == method][metric].mean()), 1))
            frames[(DATASET_LABELS[name], metric.upper())] = column
    return pd.DataFrame(frames, index=[f"{METHOD_LABELS[m]} (ours)" for m in methods])


def quoted_table1() -> pd.DataFrame:
    """The document's Table 1, every row labelled as quoted (%; "-" where it has none)."""
    frames = {}
    for name in TABLE1_DATASETS:
        for i, metric in enumerate(METRICS):
            frames[(DATASET_LABELS[name], metric.upper())] = [
                "-" if PAPER_TABLE1[row][name] is None else PAPER_TABLE1[row][name][i] for row in PAPER_TABLE1]
    return pd.DataFrame(frames, index=[f"{row} (quoted from the document)" for row in PAPER_TABLE1])


def quoted_table2() -> pd.DataFrame:
    """The document's Table 2 (Tiny-ImageNet), every row labelled as quoted (%)."""
    return pd.DataFrame([PAPER_TABLE2[row] for row in PAPER_TABLE2], columns=[m.upper() for m in METRICS],
                        index=[f"{row} (quoted from the document)" for row in PAPER_TABLE2])


def table2_relative_gains() -> pd.DataFrame:
    """From Table 2 itself: each DDS row's gain over ProPos per metric, relative (row / ProPos
    - 1) and in points; the text says DDS surpasses ProPos "in the three metrics by a margin
    greater than 15%" and the Long run reaches "an impressive 80% in the ARI score"."""
    base = np.array(PAPER_TABLE2["ProPos"])
    rows = []
    for row in ("DDS(10%)+ProPos", "DDS(25%)+ProPos", "DDS(25%)+ProPos (Long)"):
        values = np.array(PAPER_TABLE2[row])
        for i, metric in enumerate(METRICS):
            rows.append({"row": row, "metric": metric.upper(), "relative gain": float(values[i] / base[i] - 1),
                         "gain in points": float(values[i] - base[i])})
    return pd.DataFrame(rows).set_index(["row", "metric"])


def paper_gain(dataset: str, method: str, metric: str, relative: bool = False) -> float:
    """The document's gain of `method` ("dds10", "dds25", "dds25_long") over ProPos on
    `dataset`, in points (or relative), from Table 1 or Table 2."""
    i = METRICS.index(metric)
    if dataset == "tiny_imagenet":
        a, b = PAPER_TABLE2[METHOD_LABELS[method]][i], PAPER_TABLE2["ProPos"][i]
    else:
        a, b = PAPER_TABLE1[METHOD_LABELS[method]][dataset][i], PAPER_TABLE1["ProPos"][dataset][i]
    return a / b - 1 if relative else a - b


def clustering_numbers(runs: pd.DataFrame, name: str) -> dict[str, Any]:
    """The result-file numbers of one data set (prefix `name`): per method and split the mean
    NMI / ACC / ARI (fractions), and for each DDS method against ProPos and DDS(25%) against
    DDS(10%) the mean paired difference per metric (train split) with its 95% t-interval over
    seeds ("..._ci": [low, high], null bounds for a single seed), and the relative gains
    (DDS / ProPos - 1)."""
    out: dict[str, Any] = {}
    sub = runs[runs["data set"] == name]
    for (method, split), group in sub.groupby(["method", "split"]):
        for metric in METRICS:
            out[f"{name}_{method}_{split}_{metric}"] = float(group[metric].mean())
    for a, b in (("dds10", "propos"), ("dds25", "propos"), ("dds25_long", "propos"), ("dds25", "dds10")):
        if not {a, b} <= set(sub.method):
            continue
        for metric in METRICS:
            mean, low, high = mean_interval(paired_differences(sub, a, b, metric))
            out[f"{name}_{a}_minus_{b}_{metric}"] = mean
            out[f"{name}_{a}_minus_{b}_{metric}_ci"] = [low, high]
            if b == "propos":
                frame = sub[sub.split == "train"].pivot_table(index="seed", columns="method", values=metric)
                _, low, high = mean_interval((frame[a] / frame[b] - 1).dropna().to_numpy())
                out[f"{name}_{a}_rel_gain_{metric}"] = (out[f"{name}_{a}_train_{metric}"] /
                                                        out[f"{name}_propos_train_{metric}"] - 1)
                out[f"{name}_{a}_rel_gain_{metric}_ci"] = [low, high]
    return out


def health_clustering(runs: pd.DataFrame, raw: dict[str, float], name: str) -> dict[str, float]:
    """The clustering models' health gates: each method's ACC on the training images over that
    of k-means on their raw pixels (a learned representation must beat raw pixels: > 1)."""
    out = {f"{name}_raw_pixel_{m}": raw[m] for m in METRICS}
    sub = runs[(runs["data set"] == name) & (runs.split == "train")]
    for method in sorted(set(sub.method)):
        out[f"{name}_{method}_acc_over_raw_pixels"] = float(sub[sub.method == method].acc.min()) / raw["acc"]
    return out


def figure5(curves: dict, title: str = "") -> plt.Figure:
    """NMI of the k-means pseudo-labels on the training images per epoch (epoch 0: before
    training): the measured counterpart of Figure 5. `curves`: {(method, seed): NMI list} (one
    line per model) or {variant: NMI list} (Figure 5's DDS(10%) variants)."""
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for i, (key, nmi) in enumerate(sorted(curves.items(), key=lambda kv: str(kv[0]))):
        if isinstance(key, tuple):
            method, seed = key
            colour = f"C{list(METHOD_LABELS).index(method) if method in METHOD_LABELS else i}"
            label, alpha = f"{METHOD_LABELS.get(method, method)}, seed {seed}", 1.0 if seed == 0 else 0.5
        else:
            colour, label, alpha = f"C{i}", f"DDS(10%)+ProPos, {key}", 1.0
        ax.plot(range(len(nmi)), nmi, "o-", color=colour, alpha=alpha, label=label)
    ax.set(xlabel="epoch", ylabel="NMI of the pseudo-labels",
           title=title or "NMI over training (cf. Figure 5: DDS(10%) + ProPos, CIFAR-10)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def run_figure5_variants(data: ClusterData, s, variants) -> dict:
    """Figure 5's DDS(10%) variants (`FIG5_VARIANTS`: "default", "epsilon_0", "kappa_0"), one
    seed each: {variant: per-epoch NMI}."""
    return {v: train_clustering(data, s, "dds10", 0, v).history["epoch_nmi"] for v in variants}


def figure5_numbers(curves: dict) -> dict[str, Any]:
    """Final NMI per variant, default minus each variant, and the epoch-to-epoch standard
    deviation of NMI over the last half of training per variant (the "unstable output")."""
    out: dict[str, Any] = {}
    for v, nmi in curves.items():
        out[f"fig5_{v}_final_nmi"] = float(nmi[-1])
        half = np.diff(np.asarray(nmi[len(nmi) // 2:], dtype=float))
        out[f"fig5_{v}_nmi_jitter"] = float(half.std()) if len(half) > 1 else float("nan")
    for v in curves:
        if v != "default" and "default" in curves:
            out[f"fig5_default_minus_{v}_nmi"] = out["fig5_default_final_nmi"] - out[f"fig5_{v}_final_nmi"]
            out[f"fig5_{v}_jitter_over_default"] = out[f"fig5_{v}_nmi_jitter"] / out["fig5_default_nmi_jitter"]
    return out


def side_recorder(ch, suffix: str):
    """A result recorder beside the chapter's, for results/<profile>/dds/<chapter>_<suffix>.json
    (a data set other than CIFAR-10, or Figure 5's variants): written only when that part ran,
    so its claims read "not run" otherwise."""
    from ...results import Recorder

    return Recorder(ch.part, f"{ch.name}_{suffix}", ch.profile, overrides=ch.record.overrides)


def describe_clustering(profile: str, s, data: ClusterData) -> str:
    """One line on what the clustering run uses."""
    steps = s.cl_epochs * (len(data.train) // s.cl_batch_size)
    return (f"profile {profile}: {DATASET_LABELS[data.name]} from {data.source}: {len(data.train)} training images "
            f"(clustered: ProPos's protocol) and {len(data.test_x)} held-out images; ResNet blocks "
            f"{list(s.cl_blocks)} width {s.cl_width}, MLPs {s.cl_hidden} -> {s.cl_feat_dim}; {s.cl_epochs} epochs "
            f"({s.cl_warmup_epochs} warm-up) of batch {s.cl_batch_size} = {steps} SGD steps per model; DDS U-Net "
            f"C = {s.cl_dds_channels}, M = {[dds_m(f) for f in s.cl_dds_fractions]} of 1024 pixels; "
            f"{s.cl_seeds} seed(s)")


def run_side_dataset(ch, name: str, s) -> pd.DataFrame:
    """Train and score every method on data set `name` (it must be present), save its numbers
    and health gates to results/<profile>/dds/<chapter>_<name>.json, and return its runs."""
    data = load_clustering_data(name, s)
    print(describe_clustering(ch.profile, s, data))
    runs, _ = run_clustering(data, s)
    raw = raw_pixel_scores(data.train.x, data.train.tensors[1], data.k)
    side_recorder(ch, name).save({**clustering_numbers(runs, name), **health_clustering(runs, raw, name),
                                  "n_train": len(data.train), "n_test": len(data.test_x)})
    return runs


def run_figure5(ch, data: ClusterData, s) -> dict | None:
    """Figure 5's DDS(10%) variants (`s.cl_fig5_variants`, "none" to skip) on `data`: their
    per-epoch NMI, saved with `figure5_numbers` to results/<profile>/dds/<chapter>_figure5.json."""
    variants = fig5_variants(s)
    if not variants:
        return None
    curves = run_figure5_variants(data, s, variants)
    side_recorder(ch, "figure5").save(figure5_numbers(curves))
    return curves


# ----------------------------------------------------------------------------- the training plan


def fig5_variants(s) -> list[str]:
    """Figure 5's variants under `s.cl_fig5_variants` ([] for "none"); checked."""
    if s.cl_fig5_variants == "none":
        return []
    variants = [v.strip() for v in s.cl_fig5_variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in FIG5_VARIANTS]
    if unknown or "default" not in variants:
        raise ValueError(f"cl_fig5_variants must be 'none' or a comma-separated list of {tuple(FIG5_VARIANTS)} "
                         f"that includes 'default'; got {s.cl_fig5_variants!r}")
    return variants


def training_plan(s) -> list[TrainingJob]:
    """Every model of Sections 3, 4.1 and 4.3 under settings `s` (see `repro_lib.plans`): Table
    5's rows at each M and seed, Figure 1's model, and the clustering models of each data set
    that is on this machine (plus Figure 5's variants where the profile runs them); and Section
    4.2's World Models, as far as they can be described now
    (`world_models.recipes.training_jobs`: nothing before the rollouts are generated, and a model
    that needs an earlier one's weights once that one is cached)."""
    from .world_models.recipes import training_jobs as world_models_jobs

    data = load_data(s)
    jobs = [row_job(row, m, data, s, seed) for row in ROWS for m in s.ms for seed in range(s.seeds)]
    if s.figure_m not in s.ms:
        jobs.append(row_job("dds", s.figure_m, data, s))
    for name in s.cl_datasets:
        if not dataset_status(name, s.data_source)[0]:
            continue
        cluster = load_clustering_data(name, s)
        jobs += [clustering_job(cluster, s, method, seed) for method in methods_for(name)
                 for seed in range(s.cl_seeds)]
        if name == "cifar10":
            jobs += [clustering_job(cluster, s, "dds10", 0, v) for v in fig5_variants(s) if v != "default"]
    return jobs + world_models_jobs(s)

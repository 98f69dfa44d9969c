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

from ...data import Tensors, cifar10_source, load_cifar10
from ...device import get_device
from ...models.vae import evaluate_in_batches
from ...objectives import describe_fields
from ...train import FitResult, TrainSettings, fit
from . import model as _model  # noqa: F401  (registers the dds_autoencoder and naive_ae families)
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


def train_row(row: str, m: int, data: Cifar, s, seed: int = 0) -> FitResult:
    """One model of Table 5 (cached): `row` at M = `m`, trained on the training images."""
    return fit(model_spec(row, m, s), Reconstruction(), data.train,
               TrainSettings(epochs=s.epochs, batch_size=s.batch_size, lr=s.lr, seed=seed),
               desc=f"{row} M={m} seed {seed}")


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

"""Figures shared by the notebooks. Each function returns a matplotlib Figure."""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch


def _np(t) -> np.ndarray:
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def saliency_figure(images: torch.Tensor, maps: Mapping[str, torch.Tensor],
                    title: str = "", cmap: str = "hot") -> plt.Figure:
    """Images (N, 1, H, W) and, for each model, its latent saliency maps (N, K, H, W).

    One row per (model, image): the image, then one panel per latent unit. The
    panels of a row share one colour scale (the row's largest saliency), so a latent
    unit that the image barely moves shows dark, as the dormant units of the
    document's Figure 3 do.
    """
    names = list(maps)
    n, k = images.shape[0], next(iter(maps.values())).shape[1]
    fig, axes = plt.subplots(len(names) * n, k + 1, figsize=(1.6 * (k + 1), 1.6 * len(names) * n),
                             squeeze=False)
    for m, name in enumerate(names):
        for i in range(n):
            row = axes[m * n + i]
            row[0].imshow(_np(images[i, 0]), cmap="gray")
            row[0].set_ylabel(name if i == 0 else "", fontsize=8)
            top = float(maps[name][i].max()) or 1.0
            for j in range(k):
                row[j + 1].imshow(_np(maps[name][i, j]), cmap=cmap, vmin=0.0, vmax=top)
                if m == 0 and i == 0:
                    row[j + 1].set_title(f"latent {j + 1}", fontsize=9)
            for ax in row:
                ax.set_xticks([]), ax.set_yticks([])
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def metric_boxplots(frame: pd.DataFrame, metrics: Sequence[str], title: str = "",
                    x: str = "lam", labels: Mapping[str, str] | None = None) -> plt.Figure:
    """One box plot per metric of its values (one point per trained model) against `x`."""
    labels = labels or {}
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.4), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        sns.boxplot(data=frame, x=x, y=metric, ax=ax, color="#a6cee3")
        sns.stripplot(data=frame, x=x, y=metric, ax=ax, color="k", size=3)
        ax.set_xlabel("lambda" if x == "lam" else x)
        ax.set_ylabel(labels.get(metric, metric))
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def loss_curves(histories: Mapping[str, Mapping[str, Sequence[float]]], terms: Sequence[str],
                smooth: int = 10, title: str = "") -> plt.Figure:
    """Training curves of each named term (moving average over `smooth` steps)."""
    fig, axes = plt.subplots(1, len(terms), figsize=(4.2 * len(terms), 3.2), squeeze=False)
    for ax, term in zip(axes[0], terms):
        for name, hist in histories.items():
            if term not in hist:
                continue
            values = np.asarray(hist[term], dtype=float)
            width = max(1, min(smooth, len(values)))
            ax.plot(np.convolve(values, np.ones(width) / width, mode="valid"), label=name)
        ax.set_xlabel("step")
        ax.set_ylabel(term)
        ax.set_yscale("symlog" if term != "loss" else "linear")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------- firebreaks

def show_layout(ax, layout, background=None, burned=None, title: str = "") -> None:
    """One 20x20 layout on axis `ax`: firebreaks black; optional `background` (e.g.
    elevation, greens) and `burned` cells (orange)."""
    layout = _np(layout).reshape(_np(layout).shape[-2:])
    h, w = layout.shape
    rgb = np.ones((h, w, 3))
    if background is not None:
        bg = _np(background)
        bg = (bg - bg.min()) / max(float(bg.max() - bg.min()), 1e-9)
        rgb = plt.get_cmap("Greens")(0.25 + 0.5 * bg)[..., :3]
    if burned is not None:
        rgb[_np(burned).astype(bool)] = (0.95, 0.45, 0.1)
    rgb[layout > 0.5] = (0.0, 0.0, 0.0)
    ax.imshow(rgb, interpolation="nearest")
    ax.set_xticks([]), ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)


def layouts_figure(layouts, titles: Sequence[str], background=None, burned=None,
                   ncols: int = 5, title: str = "", size: float = 1.9) -> plt.Figure:
    """A grid of layouts (see `show_layout`), with optional per-layout burned maps."""
    n = len(layouts)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i < n:
            show_layout(ax, layouts[i], background, None if burned is None else burned[i], titles[i])
        else:
            ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def interpolation_figure(frame: pd.DataFrame, title: str = "", annotate_changes: bool = False,
                         ax=None) -> plt.Figure:
    """Simulated and predicted fitness along an interpolation (columns alpha, simulated,
    predicted[, cells_changed]); with `annotate_changes` the number of changed cells is
    written above each predicted point (the report's Figure 6)."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 3.4))
    else:
        fig = ax.figure
    ax.plot(frame.alpha, frame.simulated, "o-", label="simulated")
    ax.plot(frame.alpha, frame.predicted, "s--", label="predicted (head)")
    if annotate_changes:
        for a, p, c in zip(frame.alpha, frame.predicted, frame.cells_changed):
            ax.annotate(str(c), (a, p), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7)
    ax.set_xlabel("alpha (1 = lowest-fitness layout A, 0 = highest B)")
    ax.set_ylabel("fitness")
    ax.invert_xaxis()
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def band_figure(frame: pd.DataFrame, x: str, y: str, group: str, title: str = "",
                ylabel: str = "", ax=None) -> plt.Figure:
    """Mean of `y` against `x` per `group`, with a +-1 std band over the other rows."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.6))
    else:
        fig = ax.figure
    for name, rows in frame.groupby(group, sort=False):
        stats = rows.groupby(x)[y].agg(["mean", "std"]).fillna(0.0)
        ax.plot(stats.index, stats["mean"], label=str(name))
        ax.fill_between(stats.index, stats["mean"] - stats["std"], stats["mean"] + stats["std"], alpha=0.15)
    ax.set_xlabel(x)
    ax.set_ylabel(ylabel or y)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def embedding_figure(embeddings: Mapping[str, np.ndarray], colour, title: str = "",
                     label: str = "simulated fitness") -> plt.Figure:
    """Scatter plots of 2-D embeddings side by side, coloured by `colour`."""
    names = list(embeddings)
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.8), squeeze=False)
    for ax, name in zip(axes[0], names):
        e = embeddings[name]
        sc = ax.scatter(e[:, 0], e[:, 1], c=_np(colour), s=3, cmap="viridis")
        ax.set_title(name, fontsize=9)
        ax.set_xticks([]), ax.set_yticks([])
    fig.colorbar(sc, ax=axes[0].tolist(), label=label, shrink=0.8)
    fig.suptitle(title, fontsize=10)
    return fig


# ---------------------------------------------------------------------------- adversarial robustness

def success_heatmaps(grids: Mapping[str, pd.DataFrame], title: str = "", vmax: float = 1.0) -> plt.Figure:
    """Source x target attack-success grids (fractions; NaN diagonal) side by side, in percent."""
    fig, axes = plt.subplots(1, len(grids), figsize=(3.3 * len(grids), 3.2), squeeze=False)
    for ax, (name, grid) in zip(axes[0], grids.items()):
        im = ax.imshow(100 * grid.to_numpy(dtype=float), vmin=0, vmax=100 * vmax, cmap="magma")
        ax.set_title(name, fontsize=8)
        ax.set_xlabel("target")
        ax.set_ylabel("source")
        ax.set_xticks(range(grid.shape[1]))
        ax.set_yticks(range(grid.shape[0]))
        ax.tick_params(labelsize=6)
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, label="%")
    fig.suptitle(title, fontsize=10)
    return fig


def simplex_scatter(ax, points: np.ndarray, title: str = "", colour: str = "C0") -> None:
    """Points on the 3-category probability simplex (N, 3), drawn in a triangle."""
    corners = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3) / 2]])
    xy = np.asarray(points) @ corners
    ax.plot(*np.vstack([corners, corners[:1]]).T, color="grey", lw=0.8)
    ax.scatter(xy[:, 0], xy[:, 1], s=3, alpha=0.3, color=colour)
    ax.set_title(title, fontsize=9)
    ax.set_aspect("equal")
    ax.axis("off")


def interval_figure(frame: pd.DataFrame, label: str, title: str = "") -> plt.Figure:
    """Horizontal mean +- confidence interval per row of `frame` (columns: `label`,
    "mean difference", "ci_low", "ci_high"), with a line at 0."""
    fig, ax = plt.subplots(figsize=(6, 0.5 + 0.45 * len(frame)))
    y = np.arange(len(frame))
    mean = frame["mean difference"].to_numpy(float)
    low, high = frame["ci_low"].to_numpy(float), frame["ci_high"].to_numpy(float)
    ax.errorbar(mean, y, xerr=[mean - low, high - mean], fmt="o", capsize=4)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(frame[label])
    ax.set_xlabel("disentangled minus entangled (95% CI over seeds)")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def grid_image(images: torch.Tensor, ncol: int) -> np.ndarray:
    """(N, C, H, W) images -> one (rows*H, ncol*W[, 3]) array in [0, 1] with 1-px white gaps."""
    imgs = images.detach().cpu().numpy()
    n, c, h, w = imgs.shape
    nrow = (n + ncol - 1) // ncol
    out = np.ones((nrow * (h + 1) - 1, ncol * (w + 1) - 1, c))
    for i in range(n):
        r, q = divmod(i, ncol)
        out[r * (h + 1):r * (h + 1) + h, q * (w + 1):q * (w + 1) + w] = imgs[i].transpose(1, 2, 0)
    return out[..., 0] if c == 1 else out

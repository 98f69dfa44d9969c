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

    One row per (model, image): the image, then one panel per latent unit. Each
    map is scaled to its own maximum, as in the document's figures.
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
            for j in range(k):
                row[j + 1].imshow(_np(maps[name][i, j]), cmap=cmap)
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

"""Attack-success tables (thesis 003, Tables 5.1-5.3 and 7.1-7.3) from classifier outputs.

For source class s and target class t != s, over the attacks of that pair:
AS ignore-target = share whose reconstruction is classified as anything but s;
AS target = share classified as t. A per-source marginal is the mean of its row over the
targets (the thesis's marginals equal its grids' row means), the overall rate the mean of
the marginals.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


def success_tables(sources, targets, predicted, classes: int = 10) -> dict[str, pd.DataFrame]:
    """Grids (classes x classes; rows = source, columns = target) of "ignore" (AS
    ignore-target), "target" (AS target) and "count" (attacks per pair). Cells without
    attacks (the diagonal) are NaN in the rate grids."""
    s, t, p = (np.asarray(a, dtype=int) for a in (sources, targets, predicted))
    if not (s.shape == t.shape == p.shape):
        raise ValueError(f"sources {s.shape}, targets {t.shape}, predicted {p.shape} differ in shape")
    count = np.zeros((classes, classes))
    moved = np.zeros((classes, classes))
    hit = np.zeros((classes, classes))
    np.add.at(count, (s, t), 1)
    np.add.at(moved, (s, t), p != s)
    np.add.at(hit, (s, t), p == t)
    with np.errstate(invalid="ignore", divide="ignore"):
        ignore, target = moved / count, hit / count
    index = pd.Index(range(classes), name="source")
    columns = pd.Index(range(classes), name="target")
    return {"ignore": pd.DataFrame(ignore, index, columns),
            "target": pd.DataFrame(target, index, columns),
            "count": pd.DataFrame(count.astype(int), index, columns)}


def tables_from_confusion(confusion: np.ndarray) -> dict[str, pd.DataFrame]:
    """The same grids from counts confusion[s, t, k] = attacks from s toward t whose
    reconstruction was classified as k."""
    c = np.asarray(confusion, dtype=float)
    classes = c.shape[0]
    s, t, k = np.nonzero(c)
    reps = c[s, t, k].astype(int)
    return success_tables(np.repeat(s, reps), np.repeat(t, reps), np.repeat(k, reps), classes)


def marginals(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per source: the row means (over targets) of AS ignore-target and AS target."""
    return pd.DataFrame({"AS ignore-target": tables["ignore"].mean(1, skipna=True),
                         "AS target": tables["target"].mean(1, skipna=True)}).T


def overall(tables: dict[str, pd.DataFrame]) -> dict[str, float]:
    """The unweighted mean over source digits of the per-source marginals (each source counts
    once, whatever its number of attacks), as the book reports the thesis's Tables 5.x:
    {"ignore": ..., "target": ...}."""
    m = marginals(tables)
    return {"ignore": float(m.loc["AS ignore-target"].mean()), "target": float(m.loc["AS target"].mean())}


def mean_ci(values, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval (level) of independent values (e.g. one per
    seed); with a single value the bounds are NaN."""
    v = np.asarray(values, dtype=float)
    mean = float(v.mean())
    if len(v) < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return mean, mean - half, mean + half


def format_grid(ignore: pd.DataFrame, target: pd.DataFrame) -> pd.DataFrame:
    """Cells as the thesis prints them: "AS ignore-target% (AS target%)", "-" on the diagonal."""
    out = ignore.copy().astype(object)
    for i in ignore.index:
        for j in ignore.columns:
            a, b = ignore.loc[i, j], target.loc[i, j]
            out.loc[i, j] = "-" if np.isnan(a) else f"{100 * a:.1f}% ({100 * b:.1f}%)"
    return out


def balanced_accuracy(predicted, truth) -> np.ndarray:
    """Per binary label, the mean of the true-positive and true-negative rates of
    `predicted` against `truth`, both (N, K) in {0, 1}; NaN for a label with one class only."""
    p, t = np.asarray(predicted, bool), np.asarray(truth, bool)
    pos, neg = t.sum(0), (~t).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = (p & t).sum(0) / pos
        tnr = (~p & ~t).sum(0) / neg
    out = (tpr + tnr) / 2
    out[(pos == 0) | (neg == 0)] = np.nan
    return out


def attribute_agreement(predicted, source, target, reliable) -> np.ndarray:
    """Per attack, the share of the `reliable` (K,) bool attributes on which source and
    target labels differ where the judge's `predicted` labels take the target's value; all
    arrays (N, K) in {0, 1}. NaN for a pair that differs on no reliable attribute."""
    p, s, t = (np.asarray(a, bool) for a in (predicted, source, target))
    differs = (s != t) & np.asarray(reliable, bool)[None]
    hits = (differs & (p == t)).sum(1)
    n = differs.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, hits / n, np.nan)

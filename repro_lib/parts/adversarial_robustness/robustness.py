"""Attack-success tables (thesis 003, Tables 5.1-5.3 and 7.1-7.3) from classifier outputs.

For source class s and target class t != s, over the attacks of that pair:
AS ignore-target = share whose reconstruction is classified as anything but s;
AS target = share classified as t. A per-source marginal is the mean of its row over the
targets (the thesis's marginals equal its grids' row means), the overall rate the mean of
the marginals.
"""
from __future__ import annotations

import warnings

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


def rank_correlation_rows(ours, reference) -> np.ndarray:
    """Spearman's rank correlation of each row of `ours` (R, n) with `reference` (n,), ties
    ranked by their average (as `scipy.stats.spearmanr`); NaN for a row (or a reference)
    that is constant, where no ranking exists. (R,)."""
    a = np.atleast_2d(np.asarray(ours, dtype=float))
    b = np.asarray(reference, dtype=float)
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"ours has {a.shape[1]} values per row, the reference {b.shape[0]}")
    ra = stats.rankdata(a, axis=1)
    rb = stats.rankdata(b)
    ra = ra - ra.mean(1, keepdims=True)
    rb = rb - rb.mean()
    denominator = np.sqrt((ra**2).sum(1) * (rb**2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (ra * rb).sum(1) / np.where(denominator > 0, denominator, 1), np.nan)


PROFILE_LEVELS = ("source", "cell")


def _profile(rates: np.ndarray, level: str) -> np.ndarray:
    """Rates (R, C, C) of the cells (NaN: no attack, the diagonal) -> the profile compared
    with the thesis: per source, the mean over its attacked targets (R, C) ("source", Table
    5.x's marginals), or the off-diagonal cells row by row (R, C * (C - 1)) ("cell", Table 7.x)."""
    if level == "source":
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a source without attacks: NaN
            return np.nanmean(rates, axis=2)
    if level == "cell":
        c = rates.shape[1]
        off = ~np.eye(c, dtype=bool)
        return rates[:, off]
    raise ValueError(f"level must be one of {PROFILE_LEVELS}, got {level!r}")


def profile_rank_correlation(sources, targets, predicted, reference, which: str = "ignore",
                             level: str = "source", n_boot: int = 2000, level_ci: float = 0.95,
                             seed: int = 0, classes: int = 10, min_points: int = 5) -> dict:
    """How well our attack-success profile ranks like the thesis's, with a bootstrap interval.

    sources, targets, predicted: one entry per attack (pooled over seeds). which: "ignore"
    (AS ignore-target: predicted != source) or "target" (predicted == target). level:
    "source" compares our per-source marginals (the mean over a source's attacked targets of
    its cells' rates, as in `marginals`) with `reference`, the thesis's (classes,) marginals
    (a row of Table 5.1-5.3); "cell" compares our off-diagonal cells, row by row, with those
    of `reference`, the thesis's grid (classes x classes, rows = source, NaN diagonal; Tables
    7.1-7.3, `recipes.paper_grid`).

    The interval is the basic (reverse-percentile) bootstrap over attack pairs: each replicate
    redraws, with replacement, as many attacks as each (source, target) cell holds from that
    cell's attacks (so every cell keeps its number of attacks), recomputes the profile and its
    Spearman correlation with the reference; the interval is [2 rho - q_high, 2 rho - q_low]
    (clipped to [-1, 1]) for the replicates' quantiles q. A replicate carries the attacks'
    sampling noise twice, which pulls its correlation below rho; the percentile interval
    [q_low, q_high] would inherit that shift (and call a claim "fails" too readily), the basic
    interval reverses it. It reflects the sampling of attack pairs, not the variation between
    training seeds. Sources or cells without attacks are left out of both
    sides; with fewer than `min_points` left, or when more than (1 - level_ci) / 2 of the
    replicates have no ranking (a constant profile), the bounds are NaN.

    {"rho", "low", "high", "points", "n_boot"}."""
    if which not in ("ignore", "target"):
        raise ValueError(f"which must be 'ignore' or 'target', got {which!r}")
    s, t, p = (np.asarray(a, dtype=int) for a in (sources, targets, predicted))
    if not (s.shape == t.shape == p.shape):
        raise ValueError(f"sources {s.shape}, targets {t.shape}, predicted {p.shape} differ in shape")
    ref = np.asarray(reference, dtype=float)
    expected = (classes,) if level == "source" else (classes, classes)
    if level not in PROFILE_LEVELS:
        raise ValueError(f"level must be one of {PROFILE_LEVELS}, got {level!r}")
    if ref.shape != expected:
        raise ValueError(f"the reference of level {level!r} must have shape {expected}, got {ref.shape}")
    if level == "cell":
        ref = _profile(ref[None], level)[0]
    outcome = (p != s) if which == "ignore" else (p == t)
    rng = np.random.default_rng(seed)
    point = np.full((1, classes, classes), np.nan)
    boot = np.full((n_boot, classes, classes), np.nan)
    cell = s * classes + t
    for key in np.unique(cell):
        i, j = divmod(int(key), classes)
        if i == j:
            continue
        o = outcome[cell == key].astype(float)
        point[0, i, j] = o.mean()
        boot[:, i, j] = o[rng.integers(0, len(o), (n_boot, len(o)))].mean(1)
    ours = _profile(point, level)[0]
    keep = np.isfinite(ours) & np.isfinite(ref)
    rho = float(rank_correlation_rows(ours[None, keep], ref[keep])[0]) if keep.sum() >= 2 else float("nan")
    out = {"rho": rho, "low": float("nan"), "high": float("nan"), "points": int(keep.sum()), "n_boot": n_boot}
    if keep.sum() < min_points:
        return out
    replicates = rank_correlation_rows(_profile(boot, level)[:, keep], ref[keep])
    tail = (1 - level_ci) / 2
    if np.isnan(replicates).mean() > tail:
        return out
    q_low, q_high = np.nanquantile(replicates, [tail, 1 - tail])
    out.update(low=float(max(-1.0, 2 * rho - q_high)), high=float(min(1.0, 2 * rho - q_low)))
    return out

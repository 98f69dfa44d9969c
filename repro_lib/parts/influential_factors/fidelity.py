"""Fidelity of a synthetic table (e.g. VAE reconstructions) to the real one, column by column.

:func:`ks_fidelity`: per column 1 - two-sample Kolmogorov-Smirnov statistic (sdmetrics'
``KSComplement``, the current name of the SDV ``KSTest`` that thesis 002 used); 1 = same
empirical distribution, 0 = disjoint supports.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["KSFidelity", "ks_fidelity"]


@dataclass(frozen=True)
class KSFidelity:
    """``per_column``: 1 - KS statistic of each column (pandas Series, in [0, 1]); ``mean`` over them."""

    per_column: pd.Series
    mean: float


def ks_fidelity(real: pd.DataFrame, synthetic: pd.DataFrame, columns=None) -> KSFidelity:
    """Column-wise KS fidelity of ``synthetic`` (e.g. reconstructions) to ``real`` data.

    Each score is sdmetrics' ``KSComplement.compute(real[c], synthetic[c])`` = 1 - D, with D the
    two-sample Kolmogorov-Smirnov statistic (max distance between the empirical CDFs); the
    tables may have different numbers of rows. ``columns`` defaults to all of ``real``'s columns;
    every column must be numeric and free of NaNs in both tables.
    """
    from sdmetrics.single_column import KSComplement  # slow to import: only when used

    for name, table in (("real", real), ("synthetic", synthetic)):
        if not isinstance(table, pd.DataFrame):
            raise ValueError(f"{name} must be a pandas DataFrame; got {type(table).__name__}.")
        if table.empty:
            raise ValueError(f"{name} has no rows or no columns.")
    columns = list(real.columns if columns is None else columns)
    if not columns:
        raise ValueError("columns is empty: name at least one column.")
    missing = [c for c in columns if c not in real.columns or c not in synthetic.columns]
    if missing:
        raise ValueError(f"columns {missing} are not in both tables; pass columns= with shared names.")
    for c in columns:
        for name, table in (("real", real), ("synthetic", synthetic)):
            if not pd.api.types.is_numeric_dtype(table[c]):
                raise ValueError(f"{name}[{c!r}] is not numeric ({table[c].dtype}); the KS statistic needs "
                                 f"numbers: encode it or leave it out of columns.")
            if table[c].isna().any():
                raise ValueError(f"{name}[{c!r}] contains NaN: drop or impute those rows first.")
    scores = pd.Series({c: float(KSComplement.compute(real[c], synthetic[c])) for c in columns},
                       name="ks_complement", dtype=float)
    return KSFidelity(scores, float(scores.mean()))

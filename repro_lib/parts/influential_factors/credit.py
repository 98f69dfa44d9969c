"""The Taiwan credit-default table (Yeh & Lien 2009) as pandas, with the thesis's min-max scaling.

The registered file is Kaggle's `credit_default/UCI_Credit_Card.csv`: 30,000 clients, an ID,
23 integer features (credit limit and bill amounts in NT dollars, demographic codes, repayment
status per month) and the binary target `default.payment.next.month`. The thesis (document 002,
Section 3.2) min-max normalises every feature to [0, 1] so that the Bernoulli cross-entropy of
beta-TCVAE applies; `MinMax` is that map and its inverse.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch

from ...data.registry import fetch, fingerprint

ID = "ID"
TARGET = "default.payment.next.month"
FEATURES = (
    "LIMIT_BAL", "SEX", "EDUCATION", "MARRIAGE", "AGE",
    "PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6",
    *(f"BILL_AMT{i}" for i in range(1, 7)),
    *(f"PAY_AMT{i}" for i in range(1, 7)),
)
COLUMNS = (ID, *FEATURES, TARGET)


@dataclass(frozen=True)
class MinMax:
    """Per-column min-max scaling x -> (x - low) / (high - low), fitted on a DataFrame.

    On the data it was fitted on, `transform` gives values in [0, 1]; a constant column
    (high = low) maps to 0. `inverse_transform` maps model outputs (N, D) back to the
    original units, as a DataFrame with the fitted column names.
    """

    columns: tuple[str, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]

    @classmethod
    def fit(cls, frame: pd.DataFrame) -> MinMax:
        values = frame.to_numpy(dtype=np.float64)
        return cls(tuple(frame.columns), tuple(map(float, values.min(0))),
                   tuple(map(float, values.max(0))))

    def _range(self) -> np.ndarray:
        span = np.asarray(self.high) - np.asarray(self.low)
        return np.where(span > 0, span, 1.0)

    def _ordered(self, frame: pd.DataFrame) -> np.ndarray:
        missing = [c for c in self.columns if c not in frame.columns]
        extra = [c for c in frame.columns if c not in self.columns]
        if missing or extra:
            raise ValueError(f"columns differ from the fitted ones: missing {missing}, "
                             f"unexpected {extra}")
        return frame[list(self.columns)].to_numpy(dtype=np.float64)

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Scaled float64 copy of `frame` (columns matched by name, put in fitted order)."""
        scaled = (self._ordered(frame) - np.asarray(self.low)) / self._range()
        return pd.DataFrame(scaled, columns=list(self.columns), index=frame.index)

    def inverse_transform(self, values: pd.DataFrame | np.ndarray | torch.Tensor) -> pd.DataFrame:
        """Original units of scaled `values` (N, D): a DataFrame (matched by column name),
        an array or a tensor (columns in fitted order). Not rounded: the features are
        integers, model outputs are not."""
        if isinstance(values, pd.DataFrame):
            array, index = self._ordered(values), values.index
        else:
            if isinstance(values, torch.Tensor):
                values = values.detach().cpu().numpy()
            array, index = np.asarray(values, dtype=np.float64), None
            if array.ndim != 2 or array.shape[1] != len(self.columns):
                raise ValueError(f"expected (N, {len(self.columns)}) values, got {array.shape}")
        original = array * self._range() + np.asarray(self.low)
        return pd.DataFrame(original, columns=list(self.columns), index=index)


class CreditData(NamedTuple):
    """`features` int64 DataFrame (N, 23), `target` int64 Series (N,) in {0, 1} (1 = default),
    `scaler` the MinMax fitted on `features`, `data_id` the rows taken of the registered file."""

    features: pd.DataFrame
    target: pd.Series
    scaler: MinMax
    data_id: str


def read_credit_csv(path: str | Path) -> tuple[pd.DataFrame, pd.Series]:
    """Parse and check a `UCI_Credit_Card.csv`: its header must be `COLUMNS` in order, every
    value an integer (some written as 5e+05), the target 0 or 1. Returns (features (N, 23),
    target (N,)), ID dropped."""
    frame = pd.read_csv(path)
    header = tuple(frame.columns)
    if header != COLUMNS:
        missing = [c for c in COLUMNS if c not in header]
        extra = [c for c in header if c not in COLUMNS]
        detail = (f"missing {missing}, unexpected {extra}" if missing or extra
                  else "same names in another order")
        raise ValueError(
            f"{path}: not Kaggle's UCI_Credit_Card.csv header ({detail}).\n"
            f"  expected: {','.join(COLUMNS)}\n  found:    {','.join(header)}"
        )
    # Kaggle's file writes some amounts as 5e+05: integer values, not integer text.
    numeric = frame.apply(pd.to_numeric, errors="coerce")
    not_int = [c for c in COLUMNS if not (np.isfinite(numeric[c]) & (numeric[c] % 1 == 0)).all()]
    if not_int:
        raise ValueError(f"{path}: columns with missing or non-integer values: {not_int}")
    frame = numeric.astype(np.int64)
    bad_target = sorted(set(frame[TARGET].tolist()) - {0, 1})
    if bad_target:
        raise ValueError(f"{path}: {TARGET} must be 0 or 1, found {bad_target}")
    return frame[list(FEATURES)], frame[TARGET]


def load_credit(limit: int | None = None) -> CreditData:
    """The registered table (all 30,000 rows, or the first `limit`) with a MinMax scaler fitted
    on those rows, e.g. `x = torch.from_numpy(scaler.transform(features).to_numpy(np.float32))`."""
    if limit is not None and (not isinstance(limit, (int, np.integer)) or limit < 1):
        raise ValueError(f"limit must be None or an int >= 1, got {limit!r}")
    features, target = read_credit_csv(fetch("credit_default")["UCI_Credit_Card.csv"])
    features, target = features.iloc[:limit], target.iloc[:limit]
    rows = "" if limit is None else limit
    return CreditData(features, target, MinMax.fit(features),
                      f"credit_default:{fingerprint('credit_default')}:[:{rows}]")

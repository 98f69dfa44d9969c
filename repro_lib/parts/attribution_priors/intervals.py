"""95% t intervals over seeds for the attribution-priors claims (scipy's t tests)."""
from __future__ import annotations

import math

import numpy as np
from scipy import stats


def _finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)


def welch_interval(treated, control, level: float = 0.95) -> tuple[float, float | None, float | None]:
    """Difference of means (treated - control) and its Welch t confidence interval,
    (difference, low, high); the bounds are None when a group has fewer than two values, when
    neither group has any spread (a zero-width interval would decide on no evidence) or when
    the interval is not finite, so a claim resting on it stays undecided instead of passing on
    one seed."""
    treated, control = np.asarray(treated, float), np.asarray(control, float)
    if len(treated) == 0 or len(control) == 0:
        raise ValueError("a difference of means needs at least one value in each group")
    diff = float(treated.mean() - control.mean())
    no_spread = np.ptp(treated) == 0 and np.ptp(control) == 0
    if len(treated) < 2 or len(control) < 2 or no_spread:
        return diff, None, None
    ci = stats.ttest_ind(treated, control, equal_var=False).confidence_interval(level)
    low, high = float(ci.low), float(ci.high)
    return (diff, low, high) if _finite(low, high) else (diff, None, None)


def mean_interval(values, level: float = 0.95) -> tuple[float, float | None, float | None]:
    """Mean and its t confidence interval, (mean, low, high); None bounds with fewer than two
    values or no spread."""
    values = np.asarray(values, float)
    if len(values) == 0:
        raise ValueError("a mean needs at least one value")
    mean = float(values.mean())
    if len(values) < 2 or np.ptp(values) == 0:
        return mean, None, None
    ci = stats.ttest_1samp(values, 0.0).confidence_interval(level)
    low, high = float(ci.low), float(ci.high)
    return (mean, low, high) if _finite(low, high) else (mean, None, None)

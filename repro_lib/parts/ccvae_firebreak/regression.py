"""Metrics of the firebreak models (report's Tables 2-3): cell-wise reconstruction
accuracy, precision and recall, and the fitness head's MAE and MAPE."""
from __future__ import annotations

import torch


def mae(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Mean absolute error, mean |pred - target| (units of the target)."""
    pred, target = torch.as_tensor(pred, dtype=torch.float64), torch.as_tensor(target, dtype=torch.float64)
    return float((pred - target).abs().mean())


def mape(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Mean absolute percentage error as a fraction: mean |pred - target| / |target|
    (0.005 = 0.5%, as scikit-learn's `mean_absolute_percentage_error`); targets must be non-zero."""
    pred = torch.as_tensor(pred, dtype=torch.float64)
    target = torch.as_tensor(target, dtype=torch.float64)
    if (target == 0).any():
        raise ValueError("MAPE is undefined for a zero target")
    return float(((pred - target).abs() / target.abs()).mean())


def cell_metrics(pred: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """Accuracy, precision and recall of binary cells (1 = firebreak), pooled over all
    cells of all layouts. `pred` and `target` are {0, 1} tensors of the same shape."""
    p = torch.as_tensor(pred).bool().reshape(-1)
    t = torch.as_tensor(target).bool().reshape(-1)
    tp = (p & t).sum().item()
    fp = (p & ~t).sum().item()
    fn = (~p & t).sum().item()
    return {"accuracy": float((p == t).double().mean()),
            "precision": tp / (tp + fp) if tp + fp else 0.0,
            "recall": tp / (tp + fn) if tp + fn else 0.0}

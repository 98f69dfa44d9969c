"""The one training loop, with the model cache in front of it.

`fit(spec, objective, x, data_id, settings)` returns a trained model: loaded
from the cache when the same (model spec and its layers, objective, data, settings,
seed) was trained before, trained and stored otherwise. Training data is one tensor on
the device (or a tuple of tensors, e.g. images and labels, sliced together), sliced per batch; a seeded generator fixes the batch order, and the
global torch seed fixes initialisation and sampling, so CPU runs repeat exactly.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import torch
from tqdm.auto import tqdm

from . import cache, models
from .device import get_device


@dataclass(frozen=True)
class TrainSettings:
    """epochs over the data; batch_size images; Adam lr and (L2) weight_decay; seed."""

    epochs: int
    batch_size: int
    lr: float = 1e-3
    weight_decay: float = 0.0
    seed: int = 0


@dataclass
class FitResult:
    """A trained model and how it came to be; `history[term]` is a per-step list."""

    model: torch.nn.Module
    history: dict[str, list[float]]
    key: str
    from_cache: bool
    seconds: float
    meta: dict[str, Any] = field(default_factory=dict)


# Number of models trained (not loaded) by this process; tests read it.
TRAINED_COUNT = 0


Data = "torch.Tensor | tuple[torch.Tensor, ...]"


def _to(x, device):
    return tuple(t.to(device) for t in x) if isinstance(x, tuple) else x.to(device)


def _rows(x, index):
    return tuple(t[index] for t in x) if isinstance(x, tuple) else x[index]


def _first(x) -> torch.Tensor:
    """The tensor (or the first of a tuple of tensors) that sets length and device."""
    return x[0] if isinstance(x, tuple) else x


def architecture_of(spec: dict[str, Any]) -> str:
    """A hash of the layers `models.build(spec)` makes (their repr), so that a changed network
    under an unchanged spec misses the cache instead of loading mismatched weights."""
    return hashlib.sha256(repr(models.build(spec)).encode()).hexdigest()[:16]


def fit(spec: dict[str, Any], objective: Callable, x: Data, data_id: str,
        settings: TrainSettings, desc: str = "train", progress: bool = True,
        val: Data | None = None) -> FitResult:
    """Train `models.build(spec)` on images `x` (N, ...) to minimise `objective`,
    or load it from the cache. `data_id` must identify the exact data (e.g. the
    dataset fingerprint plus the subset taken), including `val` when given.

    `x` may be a tuple of tensors with the same first dimension (e.g. images and
    labels): batches are then tuples, passed to the objective as they are. With
    `val` (same form), every term of the objective on it is recorded once per epoch
    as `history["val_<term>"]` (model in eval mode, no gradients).
    An objective with a `param_groups(model, lr)` method gets one Adam optimiser
    per returned group (`{"params": [...], "lr": ...}`); one with a true `wants_step`
    attribute is called as `objective(model, batch, step=step)` (step = 0, 1, ...)."""
    description = {"model": spec, "architecture": architecture_of(spec),
                   "objective": objective.describe(), "data": data_id, "train": asdict(settings)}
    if val is not None:
        description["validated"] = True
    key = cache.key_of(description)
    device = get_device()
    stored = cache.load(key)
    if stored is not None:
        model = models.build(spec).to(device)
        model.load_state_dict(stored["state_dict"])
        model.eval()
        return FitResult(model, stored["history"], key, True, stored["seconds"], stored["meta"])

    global TRAINED_COUNT
    start = time.perf_counter()
    torch.manual_seed(settings.seed)
    model = models.build(spec).to(device)
    history = train_loop(model, objective, _to(x, device), settings, desc, progress,
                         val=None if val is None else _to(val, device))
    seconds = time.perf_counter() - start
    n_train = len(_first(x))
    meta = {"device": str(device), "n_train": int(n_train), "torch": str(torch.__version__)}
    cache.save(key, {"state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
                     "history": history, "seconds": seconds, "meta": meta})
    TRAINED_COUNT += 1
    model.eval()
    return FitResult(model, history, key, False, seconds, meta)


def train_loop(model: torch.nn.Module, objective: Callable, x: Data,
               settings: TrainSettings, desc: str = "train", progress: bool = True,
               val: Data | None = None) -> dict[str, list[float]]:
    """Adam over shuffled minibatches of `x` for `settings.epochs` epochs.

    Returns every loss term per step (and per epoch on `val`, see `fit`). A
    non-finite loss stops the run with the step and the value of each term.
    """
    if hasattr(objective, "param_groups"):
        optimisers = [torch.optim.Adam(g["params"], lr=g["lr"], weight_decay=settings.weight_decay)
                      for g in objective.param_groups(model, settings.lr)]
    else:
        optimisers = [torch.optim.Adam(model.parameters(), lr=settings.lr,
                                       weight_decay=settings.weight_decay)]
    order = torch.Generator().manual_seed(settings.seed)
    n, device = len(_first(x)), _first(x).device
    steps_per_epoch = max(1, n // settings.batch_size)  # drop the last partial batch
    history: dict[str, list[float]] = {}
    model.train()
    bar = tqdm(total=settings.epochs * steps_per_epoch, desc=desc, disable=not progress,
               leave=False, mininterval=1.0)
    step = 0
    for epoch in range(settings.epochs):
        perm = torch.randperm(n, generator=order).to(device)
        for b in range(steps_per_epoch):
            xb = _rows(x, perm[b * settings.batch_size : (b + 1) * settings.batch_size])
            # An objective that declares `wants_step` (e.g. a capacity rising over training)
            # gets the global step; others are called as objective(model, batch).
            terms = (objective(model, xb, step=step) if getattr(objective, "wants_step", False)
                     else objective(model, xb))
            loss = terms["loss"]
            if not torch.isfinite(loss):
                values = ", ".join(f"{k}={v.item():.4g}" for k, v in terms.items())
                raise FloatingPointError(
                    f"{desc}: loss is not finite at step {step} (epoch {epoch}): {values}; "
                    "lower the learning rate or the prior weight"
                )
            for optimiser in optimisers:
                optimiser.zero_grad(set_to_none=True)
            loss.backward()
            for optimiser in optimisers:
                optimiser.step()
            for name, value in terms.items():
                history.setdefault(name, []).append(float(value.detach()))
            step += 1
            bar.update()
            if step % 20 == 0:
                bar.set_postfix(loss=f"{history['loss'][-1]:.1f}")
        if val is not None:
            model.eval()
            with torch.no_grad():
                for name, value in _evaluate(objective, model, val, settings.batch_size).items():
                    history.setdefault(f"val_{name}", []).append(value)
            model.train()
    bar.close()
    model.eval()
    return history


def _evaluate(objective: Callable, model: torch.nn.Module, data: Data, batch_size: int
              ) -> dict[str, float]:
    """Mean of each term of `objective` over `data`, in batches (weighted by batch size)."""
    n = len(_first(data))
    totals: dict[str, float] = {}
    for start in range(0, n, batch_size):
        index = slice(start, min(n, start + batch_size))
        terms = objective(model, _rows(data, index))
        for name, value in terms.items():
            totals[name] = totals.get(name, 0.0) + float(value) * (index.stop - start)
    return {name: total / n for name, total in totals.items()}

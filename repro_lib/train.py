"""Training behind the model cache.

`fit(spec, objective, data, settings)` returns a trained model: loaded from the cache when the
same (model spec and its layers, objective, data identity, training loop, settings, seed) was
trained before, trained and stored otherwise. `data` is a `data.Tensors` (tensors plus the
name of exactly those rows), so a cache key never rests on a hand-written string.

The default loop, `adam_minibatches`, is Adam over shuffled minibatches: a seeded generator
fixes the batch order and the global torch seed fixes initialisation and sampling, so CPU runs
repeat exactly. Another loop (a sequence model's, an evolution strategy's) is any function
`loop(model, objective, data, settings, desc, progress, val) -> history` with its own frozen
settings dataclass (which has a `seed`); `fit` caches its models the same way.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import torch
from tqdm.auto import tqdm

from . import cache, models
from .data.tensors import Tensors
from .device import get_device


@dataclass(frozen=True)
class TrainSettings:
    """Settings of `adam_minibatches`: epochs over the data; batch_size rows; Adam lr and
    (L2) weight_decay; seed (initialisation, sampling and batch order)."""

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


Batch = "torch.Tensor | tuple[torch.Tensor, ...]"
TrainingLoop = Callable[..., "dict[str, list[float]]"]


def _rows(x, index):
    return tuple(t[index] for t in x) if isinstance(x, tuple) else x[index]


def _first(x) -> torch.Tensor:
    """The tensor (or the first of a tuple of tensors) that sets length and device."""
    return x[0] if isinstance(x, tuple) else x


def architecture_of(spec: dict[str, Any]) -> str:
    """A hash of the layers `models.build(spec)` makes (their repr), so that a changed network
    under an unchanged spec misses the cache instead of loading mismatched weights."""
    return hashlib.sha256(repr(models.build(spec)).encode()).hexdigest()[:16]


def describe(spec: dict[str, Any], objective: Callable, data: Tensors, settings: Any,
             val: Tensors | None = None, loop: TrainingLoop | None = None) -> dict[str, Any]:
    """What a trained model is a function of; `cache.key_of` of it is the model's cache key."""
    if not isinstance(data, Tensors) or (val is not None and not isinstance(val, Tensors)):
        raise TypeError("fit takes data (and val) as repro_lib.data.Tensors: tensors with their data_id")
    loop = loop or adam_minibatches
    description = {"model": spec, "architecture": architecture_of(spec),
                   "objective": objective.describe(), "data": data.data_id,
                   "loop": f"{loop.__module__}.{loop.__qualname__}",
                   "train": {"settings": type(settings).__name__, **asdict(settings)}}
    if val is not None:
        description["validation"] = val.data_id
    return description


def train_fresh(spec: dict[str, Any], objective: Callable, data: Tensors, settings: Any, *,
                desc: str = "train", progress: bool = True, val: Tensors | None = None,
                loop: TrainingLoop | None = None) -> dict[str, Any]:
    """Train `models.build(spec)` without the cache (an engine's worker calls this); returns
    the payload `fit` stores: CPU state_dict, per-step history, seconds and meta."""
    global TRAINED_COUNT
    loop = loop or adam_minibatches
    device = get_device()
    start = time.perf_counter()
    torch.manual_seed(settings.seed)
    model = models.build(spec).to(device)
    history = loop(model, objective, data.to(device).batch_form, settings, desc, progress,
                   val=None if val is None else val.to(device).batch_form)
    seconds = time.perf_counter() - start
    meta = {"device": str(device), "n_train": int(len(data)), "torch": str(torch.__version__)}
    TRAINED_COUNT += 1
    return {"state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "history": history, "seconds": seconds, "meta": meta}


def from_payload(spec: dict[str, Any], payload: dict[str, Any], key: str, from_cache: bool) -> FitResult:
    """The model of a stored (or just trained) payload, on this process's device, in eval mode."""
    model = models.build(spec).to(get_device())
    model.load_state_dict(payload["state_dict"])
    model.eval()
    return FitResult(model, payload["history"], key, from_cache, payload["seconds"], payload["meta"])


def fit(spec: dict[str, Any], objective: Callable, data: Tensors, settings: Any, *,
        desc: str = "train", progress: bool = True, val: Tensors | None = None,
        loop: TrainingLoop | None = None) -> FitResult:
    """Train `models.build(spec)` on `data` to minimise `objective` with `loop` (default
    `adam_minibatches`, whose settings are a `TrainSettings`), or load it from the cache.

    The objective sees batches of `data.batch_form`: one tensor, or a tuple (e.g. images and
    labels). With `val` (same form), every term of the objective on it is recorded once per
    epoch as `history["val_<term>"]` (model in eval mode, no gradients)."""
    key = cache.key_of(describe(spec, objective, data, settings, val, loop))
    stored = cache.load(key)
    if stored is not None:
        return from_payload(spec, stored, key, True)
    storable = cache.writable()  # checked before, not after, the training it would lose
    payload = train_fresh(spec, objective, data, settings, desc=desc, progress=progress, val=val, loop=loop)
    if storable:
        cache.save(key, payload)
    return from_payload(spec, payload, key, False)


def objective_terms(objective: Callable, model: torch.nn.Module, batch: Batch, step: int) -> dict:
    """`objective(model, batch)`, or with `step=step` for an objective that declares
    `wants_step` (e.g. a capacity rising over training)."""
    if getattr(objective, "wants_step", False):
        return objective(model, batch, step=step)
    return objective(model, batch)


def adam_minibatches(model: torch.nn.Module, objective: Callable, x: Batch,
                     settings: TrainSettings, desc: str = "train", progress: bool = True,
                     val: Batch | None = None) -> dict[str, list[float]]:
    """Adam over shuffled minibatches of `x` (a tensor, or a tuple sliced together) for
    `settings.epochs` epochs, dropping the last partial batch.

    An objective with a `param_groups(model, lr)` method gets one Adam optimiser per returned
    group (`{"params": [...], "lr": ...}`); one with a true `wants_step` attribute is called
    as `objective(model, batch, step=step)` (step = 0, 1, ...). Returns every loss term per
    step (and per epoch on `val`, see `fit`). A non-finite loss stops the run with the step
    and the value of each term.
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
            try:
                terms = objective_terms(objective, model, xb, step)
            except FloatingPointError as err:  # the loss's own guard (e.g. non-finite reconstructions)
                raise FloatingPointError(f"{desc}: {err} at step {step} (epoch {epoch}); "
                                         "lower the learning rate or the prior weight") from err
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


def _evaluate(objective: Callable, model: torch.nn.Module, data: Batch, batch_size: int
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

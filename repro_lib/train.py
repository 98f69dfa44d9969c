"""The one training loop, with the model cache in front of it.

`fit(spec, objective, x, data_id, settings)` returns a trained model: loaded
from the cache when the same (model spec, objective, data, settings, seed) was
trained before, trained and stored otherwise. Training data is one tensor on
the device, sliced per batch; a seeded generator fixes the batch order, and the
global torch seed fixes initialisation and sampling, so CPU runs repeat exactly.
"""
from __future__ import annotations

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


def fit(spec: dict[str, Any], objective: Callable, x: torch.Tensor, data_id: str,
        settings: TrainSettings, desc: str = "train", progress: bool = True) -> FitResult:
    """Train `models.build(spec)` on images `x` (N, ...) to minimise `objective`,
    or load it from the cache. `data_id` must identify the exact data (e.g. the
    dataset fingerprint plus the subset taken)."""
    key = cache.key_of({"model": spec, "objective": objective.describe(),
                        "data": data_id, "train": asdict(settings)})
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
    history = train_loop(model, objective, x.to(device), settings, desc, progress)
    seconds = time.perf_counter() - start
    meta = {"device": str(device), "n_train": int(len(x)), "torch": str(torch.__version__)}
    cache.save(key, {"state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
                     "history": history, "seconds": seconds, "meta": meta})
    TRAINED_COUNT += 1
    model.eval()
    return FitResult(model, history, key, False, seconds, meta)


def train_loop(model: torch.nn.Module, objective: Callable, x: torch.Tensor,
               settings: TrainSettings, desc: str = "train", progress: bool = True
               ) -> dict[str, list[float]]:
    """Adam over shuffled minibatches of `x` for `settings.epochs` epochs.

    Returns every loss term per step. A non-finite loss stops the run with the
    step and the value of each term.
    """
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.lr,
                                 weight_decay=settings.weight_decay)
    order = torch.Generator().manual_seed(settings.seed)
    n = len(x)
    steps_per_epoch = max(1, n // settings.batch_size)  # drop the last partial batch
    history: dict[str, list[float]] = {}
    model.train()
    bar = tqdm(total=settings.epochs * steps_per_epoch, desc=desc, disable=not progress,
               leave=False, mininterval=1.0)
    step = 0
    for epoch in range(settings.epochs):
        perm = torch.randperm(n, generator=order).to(x.device)
        for b in range(steps_per_epoch):
            xb = x[perm[b * settings.batch_size : (b + 1) * settings.batch_size]]
            terms = objective(model, xb)
            loss = terms["loss"]
            if not torch.isfinite(loss):
                values = ", ".join(f"{k}={v.item():.4g}" for k, v in terms.items())
                raise FloatingPointError(
                    f"{desc}: loss is not finite at step {step} (epoch {epoch}): {values}; "
                    "lower the learning rate or the prior weight"
                )
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            for name, value in terms.items():
                history.setdefault(name, []).append(float(value.detach()))
            step += 1
            bar.update()
            if step % 20 == 0:
                bar.set_postfix(loss=f"{history['loss'][-1]:.1f}")
    bar.close()
    model.eval()
    return history

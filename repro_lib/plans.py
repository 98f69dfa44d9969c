"""Training plans as data: the models a part's notebooks need under a profile.

A part whose recipes define `training_plan(settings) -> list[TrainingJob]` says, without
running a notebook, every model its notebooks train: the same spec, objective, data, settings
and loop the notebooks pass to `train.fit` (the notebooks train through `job.fit()`), so a
cache filled in advance by an engine (`engine.py`) means the notebooks train nothing.

`check(jobs)` builds every model of a plan and takes one training step on a tiny batch, on
the CPU, so a configuration that cannot run (shapes, a missing data set) is found in minutes.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch

from . import book_parts, cache, models, train
from .data.registry import DataError
from .data.tensors import Tensors
from .profiles import settings as profile_settings


@dataclass(frozen=True)
class TrainingJob:
    """One model of a plan: the arguments of `train.fit` and a name for progress and reports."""

    part: str
    name: str
    spec: dict[str, Any]
    objective: Any
    data: Tensors
    settings: Any
    val: Tensors | None = None
    loop: Callable | None = None

    def description(self) -> dict[str, Any]:
        return train.describe(self.spec, self.objective, self.data, self.settings, self.val, self.loop)

    def key(self) -> str:
        """The model's cache key (as `train.fit` computes it)."""
        return cache.key_of(self.description())

    def cached(self) -> bool:
        return cache.path_of(self.key()).exists()

    def fit(self, progress: bool = True) -> train.FitResult:
        """Train (or load) the model, exactly as a notebook does."""
        return train.fit(self.spec, self.objective, self.data, self.settings, desc=self.name,
                         progress=progress, val=self.val, loop=self.loop)

    def label(self) -> str:
        return f"{self.part}/{self.name}"


def part_plan(part: str, profile: str, **overrides: Any) -> list[TrainingJob]:
    """The plan of `part` under `profile` (empty when the part declares none yet)."""
    module = book_parts.recipes(part)
    if not hasattr(module, "training_plan"):
        return []
    return list(module.training_plan(profile_settings(part, profile, **overrides)))


def parts_with_plans() -> list[str]:
    return [p for p in book_parts.PARTS if hasattr(book_parts.recipes(p), "training_plan")]


@dataclass
class CheckRow:
    """One job of a plan check: "ok", or what stopped it."""

    job: str
    parameters: int
    seconds: float
    problem: str = ""


def _tiny(x: Any, rows: int) -> Any:
    return tuple(t[:rows] for t in x) if isinstance(x, tuple) else x[:rows]


def check_job(job: TrainingJob, rows: int = 2) -> CheckRow:
    """Build `job`'s model on the CPU and take one optimiser step on `rows` rows of its data;
    a job with its own loop runs that loop for one epoch over `max(rows, 64)` rows in batches
    of at most 32 (its settings otherwise unchanged), or, when its settings have a
    `for_check()` method (an evolution strategy's generations), with the settings it returns."""
    start = time.perf_counter()
    n_params = 0
    try:
        torch.manual_seed(0)
        model = models.build(job.spec)
        n_params = sum(p.numel() for p in model.parameters())
        if job.loop is not None:
            n = min(len(job.data), max(rows, 64))
            if hasattr(job.settings, "for_check"):  # a loop whose settings say what its smallest run is
                small = job.settings.for_check()
            else:
                small = dataclasses.replace(job.settings, epochs=1, batch_size=min(job.settings.batch_size, 32, n))
            job.loop(model, job.objective, _tiny(job.data.to("cpu").batch_form, n), small, desc=job.name,
                     progress=False)
        else:
            batch = _tiny(job.data.to("cpu").batch_form, rows)
            model.train()
            loss = train.objective_terms(job.objective, model, batch, 0)["loss"]
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss is {loss.item()} on the first batch")
            loss.backward()
            torch.optim.SGD(model.parameters(), lr=1e-6).step()
        problem = ""
    except Exception as err:  # the point of a check: report every failure, then go on
        problem = f"{type(err).__name__}: {err}".splitlines()[0]
    return CheckRow(job.label(), n_params, time.perf_counter() - start, problem)


def shape_of(job: TrainingJob) -> str:
    """What a check depends on: the model, the objective, the loop and the data's shape (not
    the seed), so jobs that differ only there are checked once."""
    first = job.data.tensors[0]
    settings = {k: v for k, v in dataclasses.asdict(job.settings).items() if k != "seed"}
    return repr((job.spec, job.objective.describe(), job.loop, tuple(first.shape[1:]), first.dtype,
                 sorted(settings.items(), key=str)))


def steps_of(job: TrainingJob) -> int | None:
    """Optimiser steps the job's training takes (settings with `epochs` and `batch_size`,
    dropping the last partial batch as `adam_minibatches` does); None for another loop."""
    s = job.settings
    if not (hasattr(s, "epochs") and hasattr(s, "batch_size")):
        return None
    return s.epochs * max(1, len(job.data) // s.batch_size)


def seconds_per_step(job: TrainingJob, steps: int = 3, device: torch.device | str | None = None) -> float:
    """Median seconds of a full-batch training step of `job`'s model on `device` (default:
    this process's) after one warm-up step, for estimating what a plan costs."""
    import statistics

    from .device import get_device

    device = torch.device(device) if device is not None else get_device()
    torch.manual_seed(0)
    model = models.build(job.spec).to(device)
    batch = _tiny(job.data.to(device).batch_form, getattr(job.settings, "batch_size", 2))
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-6)
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        loss = train.objective_terms(job.objective, model, batch, 0)["loss"]
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def check(parts: list[str], profile: str, rows: int = 2) -> list[CheckRow]:
    """`check_job` over the plans of `parts`; a part whose plan cannot even be built (its data
    is missing, say) gives one row saying why."""
    out: list[CheckRow] = []
    for part in parts:
        start = time.perf_counter()
        try:
            jobs = part_plan(part, profile)
        except (DataError, OSError, ValueError) as err:
            out.append(CheckRow(f"{part}/(plan)", 0, time.perf_counter() - start,
                                f"{type(err).__name__}: {str(err).splitlines()[0]}"))
            continue
        checked: dict[str, CheckRow] = {}
        for job in jobs:
            shape = shape_of(job)
            if shape in checked:
                first = checked[shape]
                out.append(CheckRow(job.label(), first.parameters, 0.0,
                                    first.problem and f"as {first.job}: {first.problem}"))
            else:
                checked[shape] = check_job(job, rows)
                out.append(checked[shape])
    return out

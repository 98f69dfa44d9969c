"""Running training plans (and then notebooks) on Ray.

`train_plan(jobs, address=None)`: each job whose model is not cached runs as a Ray task (one
GPU each where the cluster has GPUs, else `threads` CPU threads); the worker trains without
touching any cache (`train.train_fresh`) and returns the weights, and the driver writes them
to the content-addressed cache atomically, so no shared file system is needed and nothing
half-written enters the cache. A worker that dies is retried `retries` times (Ray's own
retry); a job that still fails is reported with its part, model description and error, and
the other jobs finish. One progress bar on the driver counts jobs done of total.

`run_notebooks(profile, parts, address=None)`: each part's notebooks run in order inside one
Ray task (a part's later notebooks read its earlier results), parts in parallel; the executed
copies and result files come back to the driver as bytes and are written atomically there.
The notebooks' heavy loops (`tasks.task_map`) send their items to the same cluster. So that
they never wait for CPUs held by the notebooks that wait for them, a notebook task reserves no
CPU in Ray's books: the driver itself runs at most as many parts at once as the cluster has
CPUs (a kernel computes only between its loops, and a loop's items take the CPUs it frees).

Ray is an optional dependency (`pip install "ray>=2.9"`; `make setup` installs it): nothing
here imports it until an engine runs. Without an address a local Ray starts on this machine.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from .paths import repo_root, write_bytes_atomic
from .threads import threads_per_process

if TYPE_CHECKING:
    from .plans import TrainingJob


class EngineError(RuntimeError):
    """The engine could not start (Ray missing, a bad address)."""


@dataclass
class PlanReport:
    """What an engine did with a plan: cached before, trained now, failed (label -> error)."""

    cached: list[str] = field(default_factory=list)
    trained: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> str:
        text = (f"{len(self.trained)} trained, {len(self.cached)} already cached, "
                f"{len(self.failed)} failed in {self.seconds:.0f} s")
        return text + "".join(f"\n  FAILED {label}: {error}" for label, error in self.failed.items())


def connect(address: str | None, num_cpus: int | None = None, runtime_env: dict | None = None):
    """The `ray` module, joined to the cluster at `address` or to a local Ray it starts with
    `num_cpus` CPUs (EngineError when Ray is missing or the address is wrong); `runtime_env`:
    Ray's, for this process's jobs."""
    try:
        import ray
    except ImportError:
        raise EngineError('the Ray engine needs Ray: pip install "ray>=2.9" (make setup installs it), '
                          "or run without --engine") from None
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address:  # a cluster keeps its own authentication settings
            kwargs["address"] = address
        else:
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a local instance of this process only
            kwargs["num_cpus"] = num_cpus
        if runtime_env:
            kwargs["runtime_env"] = runtime_env
        try:
            ray.init(**kwargs)
        except (ConnectionError, ValueError, RuntimeError) as err:
            raise EngineError(f"could not start or join Ray at {address or 'a local instance'}: {err}") from err
    return ray


def _train_remote(job: TrainingJob, data, val, threads: int) -> dict[str, Any]:
    """A worker's half: train without the cache and return the payload (CPU tensors)."""
    import torch

    from . import book_parts, train

    torch.set_num_threads(threads)
    _point_kernels_at_this_cluster(None)  # a loop's own heavy work (CMA-ES candidates) goes to Ray too
    if job.part in book_parts.PARTS:
        book_parts.recipes(job.part)  # registers the part's model families in this worker
    job = replace(job, data=data, val=val)
    return train.train_fresh(job.spec, job.objective, job.data, job.settings, desc=job.name,
                             progress=False, val=job.val, loop=job.loop)


def train_plan(jobs: list[TrainingJob], address: str | None = None, workers: int | None = None,
               retries: int = 2, progress: bool = True) -> PlanReport:
    """Train every uncached job of `jobs` on Ray and store each model on the driver.

    `workers`: parallel CPU tasks on a local Ray (default: the free cores); each gets
    `threads_per_process(workers)` threads."""
    from . import cache

    start = time.perf_counter()
    report = PlanReport()
    todo: dict[str, TrainingJob] = {}
    for job in jobs:
        key = job.key()
        if cache.path_of(key).exists() or key in todo:
            report.cached.append(job.label())
        else:
            todo[key] = job
    if not todo:
        report.seconds = time.perf_counter() - start
        return report
    if not cache.writable():
        raise EngineError(f"the model cache {cache.cache_dir()} is not writable: nothing could be stored")
    workers = workers or threads_per_process(1)
    ray = connect(address, num_cpus=workers if not address else None)
    gpus = int(ray.cluster_resources().get("GPU", 0))
    threads = 1 if gpus else max(1, threads_per_process(workers))
    task = ray.remote(_train_remote).options(
        num_gpus=1 if gpus else 0, num_cpus=1 if gpus else threads, max_retries=retries)
    shared: dict[int, Any] = {}  # one object-store copy per data set, however many jobs use it

    def ref(t):
        if t is None:
            return None
        if id(t) not in shared:
            shared[id(t)] = ray.put(t.to("cpu"))
        return shared[id(t)]

    pending = {task.remote(replace(job, data=None, val=None), ref(job.data), ref(job.val), threads): key
               for key, job in todo.items()}
    bar = tqdm(total=len(jobs), initial=len(report.cached), desc="training plan", disable=not progress)
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        key = pending.pop(done[0])
        job = todo[key]
        try:
            payload = ray.get(done[0])
        except Exception as err:  # a job that failed after its retries; the others go on
            report.failed[job.label()] = (f"{type(err).__name__}: {str(err).strip().splitlines()[-1]} "
                                          f"(model {json.dumps(job.spec, default=str)})")
        else:
            cache.save(key, payload)  # atomic: temporary file, then rename
            report.trained.append(job.label())
        bar.update()
        bar.set_postfix(failed=len(report.failed))
    bar.close()
    report.seconds = time.perf_counter() - start
    return report


def train_parts(parts: list[str], profile: str, address: str | None = None, workers: int | None = None,
                retries: int = 2, progress: bool = True, rounds: int = 4) -> PlanReport:
    """`train_plan` over the plans of `parts` under `profile`, in rounds: a plan may list a
    model only once the model it learns from is cached (an MSVAE's stage 2 trains on its stage
    1's reconstructions), so the plans are read again after each round until a round finds
    nothing new to train (at most `rounds`). One report for all rounds."""
    from .plans import part_plan

    total = PlanReport()
    start = time.perf_counter()
    attempted: set[str] = set()
    for _ in range(rounds):
        jobs = [job for part in parts for job in part_plan(part, profile)]
        fresh = [job for job in jobs if job.key() not in attempted]
        report = train_plan(fresh, address=address, workers=workers, retries=retries, progress=progress)
        attempted.update(job.key() for job in fresh)
        total.trained += report.trained
        total.failed.update(report.failed)
        total.cached += [label for label in report.cached if label not in total.cached]
        if not report.trained:
            break
    total.seconds = time.perf_counter() - start
    return total


def _run_part_remote(root: str | None, profile: str, notebooks: list[str], threads: int) -> dict[str, Any]:
    """A worker's half: run a part's notebooks in order into a scratch folder; return the
    executed copies and the result files they wrote, as bytes keyed by their path relative to
    the repository, or the first failure. `root` None: the worker's working directory (a
    cluster node gets the repository through Ray's `working_dir`)."""
    from . import runner
    from .results import result_path

    base = Path(root) if root else Path.cwd()
    os.environ["REPRO_THREADS"] = str(threads)
    _point_kernels_at_this_cluster(None if root else str(base))
    out: dict[str, Any] = {"files": {}, "error": ""}
    with tempfile.TemporaryDirectory(prefix="repro-ray-") as scratch:
        for nb in notebooks:
            target = Path(scratch) / nb
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                runner.execute_one(base / nb, target, {"profile": profile})
            except Exception as err:
                out["error"] = f"{nb}: {err}"
                break
            out["files"][str((runner.executed_dir(profile) / nb).relative_to(repo_root()))] = target.read_bytes()
            result = result_path(profile, Path(nb).parts[1], Path(nb).stem)
            if result.exists():
                out["files"][str(result.relative_to(repo_root()))] = result.read_bytes()
    return out


def _point_kernels_at_this_cluster(working_dir: str | None) -> None:
    """Let this Ray worker, and the kernels it starts, send `task_map` items to its cluster
    (nothing when called outside a Ray task, as a test does). Ray lends a task's CPUs back
    while it waits for the tasks it started, so a training task's loop cannot deadlock."""
    from . import tasks

    try:
        import ray
    except ImportError:
        return
    if ray.is_initialized() and ray.get_runtime_context().get_task_id() is not None:
        os.environ[tasks.ADDRESS_VARIABLE] = ray.get_runtime_context().gcs_address
        if working_dir:
            os.environ[tasks.WORKING_DIR_VARIABLE] = working_dir


def run_notebooks(profile: str, parts: list[str], address: str | None = None,
                  progress: bool = True) -> dict[str, str]:
    """Each part's notebooks as one Ray task, parts in parallel; files written on the driver.
    Returns {part: error} for the parts that failed (empty when all ran)."""
    from .runner import notebooks_of

    ray = connect(address, num_cpus=max(1, min(len(parts), threads_per_process(1))))
    slots = max(1, int(ray.cluster_resources().get("CPU", 1)))
    at_once = max(1, min(len(parts), slots))
    threads = max(1, slots // at_once)
    options: dict[str, Any] = {"num_cpus": 0, "max_retries": 1}
    if address:  # a cluster's nodes get this checkout, less what they rebuild or never read
        options["runtime_env"] = {"working_dir": str(repo_root()),
                                  "excludes": [".venv", ".cache", "_build", "results", ".git"]}
    task = ray.remote(_run_part_remote).options(**options)
    root = None if address else str(repo_root())
    waiting = list(parts)
    pending: dict[Any, str] = {}
    failures: dict[str, str] = {}
    bar = tqdm(total=len(parts), desc="parts", disable=not progress)
    while waiting or pending:
        while waiting and len(pending) < at_once:
            part = waiting.pop(0)
            pending[task.remote(root, profile, [str(nb) for nb in notebooks_of(part)], threads)] = part
        done, _ = ray.wait(list(pending), num_returns=1)
        part = pending.pop(done[0])
        try:
            out = ray.get(done[0])
        except Exception as err:
            out = {"files": {}, "error": f"{type(err).__name__}: {err}"}
        for relative, data in out["files"].items():
            path = repo_root() / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(path, data)
        if out["error"]:
            failures[part] = out["error"]
        bar.update()
    bar.close()
    return failures

"""Heavy loops that are not training (CMA-ES candidates, rollouts, genetic-algorithm fitness,
attack sweeps): one function mapped over items, on the book's engine when it is on.

    task_map(fn, items, shared=None, workers=None) -> [fn(shared, item) for item in items]

* Under `python -m repro_lib run --engine ray` the notebooks' kernels find the cluster's
  address in `REPRO_RAY_ADDRESS` (set by the engine) and every item runs as a Ray task of one
  CPU; `shared` (model weights, say) goes to Ray's object store once and each worker process
  fetches it once. A worker that dies is retried `retries` times by Ray.
* Otherwise `workers` local processes (default: the free cores), each given `shared` once
  when it starts; `workers=1` runs in this process without pickling anything.

`fn` must be importable (a module-level function: Ray and process pools send it by name), and
its results are returned in the order of `items`. Every worker runs torch with one thread, so
processes x threads stay within the cores. An item that fails raises `TaskError` naming it.
What `fn` builds from `shared` (models from their weights) it gets once per process through
`made_once(shared, build, what)`.
"""
from __future__ import annotations

import hashlib
import os
import pickle
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, Hashable, Sequence

from tqdm.auto import tqdm

from .threads import free_cores

ADDRESS_VARIABLE = "REPRO_RAY_ADDRESS"
"""Set by the engine in the processes it runs notebooks in: the Ray cluster to send items to."""
WORKING_DIR_VARIABLE = "REPRO_RAY_WORKING_DIR"
"""Set by the engine on a cluster: the checkout its tasks import `repro_lib` from."""

_SHARED: dict[str, Any] = {}  # token -> the shared object, per worker process
_TOKENS: dict[int, str] = {}  # id(shared object held in _SHARED) -> its token
_MADE: dict[tuple[str, Hashable], Any] = {}  # (token, what) -> made from that shared object, per process


class TaskError(RuntimeError):
    """An item of `task_map` failed (after Ray's retries where Ray ran it)."""


def token(shared: Any) -> str:
    """A stable name of `shared`'s content (a hash of its pickle), for memoising what a task
    builds from it; free for an object `task_map` handed to the task."""
    known = _TOKENS.get(id(shared))
    if known is not None and _SHARED.get(known) is shared:
        return known
    return hashlib.sha256(pickle.dumps(shared, protocol=4)).hexdigest()[:20]


def made_once(shared: Any, build: Callable[[], Any], what: Hashable = None) -> Any:
    """`build()`, made once per process for the shared object `shared` and `what` (a name of a
    part of it, e.g. one model of several); what was made from an earlier shared object is
    dropped."""
    name = token(shared)
    if any(made != name for made, _ in _MADE):
        _MADE.clear()
    if (name, what) not in _MADE:
        _MADE[(name, what)] = build()
    return _MADE[(name, what)]


def engine_address() -> str | None:
    """The Ray cluster of the engine this process runs under, or None."""
    return os.environ.get(ADDRESS_VARIABLE) or None


def _hold(name: str, shared: Any) -> Any:
    _SHARED.clear()  # one shared object per worker at a time
    _TOKENS.clear()
    _SHARED[name] = shared
    _TOKENS[id(shared)] = name
    return shared


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def _start_local_worker(name: str, shared: Any) -> None:
    _one_thread()
    _hold(name, shared)


def _run_local(fn: Callable, name: str, item: Any) -> Any:
    return fn(_SHARED[name], item)


def _run_on_ray(fn: Callable, name: str, boxed: list, item: Any) -> Any:
    """A Ray worker's half: fetch the shared object once per process (`boxed` holds its
    object reference inside a list, so Ray does not fetch it for every task)."""
    _one_thread()
    if name not in _SHARED:
        import ray

        _hold(name, ray.get(boxed[0]))
    return fn(_SHARED[name], item)


def task_map(fn: Callable[[Any, Any], Any], items: Sequence[Any], shared: Any = None,
             workers: int | None = None, desc: str = "tasks", progress: bool = True,
             retries: int = 2) -> list:
    """`[fn(shared, item) for item in items]`, spread over the engine's Ray cluster when the
    book runs under it, else over `workers` local processes (None: the free cores)."""
    items = list(items)
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1 (or None for the free cores), got {workers}")
    if not items:
        return []
    name = token(shared)
    address = engine_address()
    if address:
        return _map_on_ray(fn, items, shared, name, address, desc, progress, retries)
    workers = min(len(items), workers or free_cores())
    bar = tqdm(total=len(items), desc=desc, disable=not progress, leave=False)
    out: list = [None] * len(items)
    try:
        if workers == 1:
            _hold(name, shared)  # as a worker holds it: `token(shared)` is then free for `fn`
            for i, item in enumerate(items):
                out[i] = _call(i, fn, shared, item)
                bar.update()
        else:
            with ProcessPoolExecutor(workers, initializer=_start_local_worker, initargs=(name, shared)) as pool:
                futures = [pool.submit(_run_local, fn, name, item) for item in items]
                for i, future in enumerate(futures):
                    out[i] = _result(i, future.result)
                    bar.update()
    finally:
        bar.close()
    return out


def _call(i: int, fn: Callable, shared: Any, item: Any) -> Any:
    return _result(i, lambda: fn(shared, item))


def _result(i: int, get: Callable[[], Any]) -> Any:
    try:
        return get()
    except Exception as err:  # Ray's errors carry the worker's traceback: keep its last line
        lines = [line for line in str(err).strip().splitlines() if line.strip()]
        raise TaskError(f"item {i} failed: {type(err).__name__}: {lines[-1] if lines else ''}") from err


def _map_on_ray(fn, items, shared, name, address, desc, progress, retries) -> list:
    from .engine import connect

    working_dir = os.environ.get(WORKING_DIR_VARIABLE)
    ray = connect(address, runtime_env={"working_dir": working_dir} if working_dir else None)
    boxed = [ray.put(shared)]
    task = ray.remote(_run_on_ray).options(num_cpus=1, max_retries=retries)
    pending = {task.remote(fn, name, boxed, item): i for i, item in enumerate(items)}
    out: list = [None] * len(items)
    bar = tqdm(total=len(items), desc=f"{desc} (Ray)", disable=not progress, leave=False)
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            ref = done[0]
            i = pending.pop(ref)
            out[i] = _result(i, lambda: ray.get(ref))  # noqa: B023 (called at once)
            bar.update()
    finally:
        for ref in pending:
            ray.cancel(ref)
        bar.close()
    return out

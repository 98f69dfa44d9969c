"""How many threads a process the book starts may use, so that processes x threads stay within
the free cores.

Measured on a 2-core machine with another process busy on one core: 2-thread torch runs were
3x to 300x slower than 1-thread runs (the fire simulator: 71 against 20,921 layout evaluations
per second), because OpenMP threads spin waiting for a core that is taken.

* `free_cores()`: the cores this process may run on, less those busy with other work (the
  1-minute load average, rounded), at least 1.
* `threads_per_process(n)`: the free cores shared among `n` processes, at least 1.
* `REPRO_THREADS=<k>` fixes the answer of both (a cluster's scheduler knows better).
* `kernel_environment(n)`: OMP/MKL thread variables for a child process; a variable the user
  set is kept.
"""
from __future__ import annotations

import os

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _fixed() -> int | None:
    value = os.environ.get("REPRO_THREADS")
    if value is None:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"REPRO_THREADS={value!r} must be a whole number >= 1 (threads per process); "
                         "unset it to let the book choose from the free cores")
    return int(value)


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def free_cores(load: float | None = None) -> int:
    """Usable cores less the busy ones (`load`: default the 1-minute load average), >= 1."""
    fixed = _fixed()
    if fixed is not None:
        return fixed
    if load is None:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return max(1, usable_cores() - round(load))


def threads_per_process(processes: int = 1, load: float | None = None) -> int:
    """Threads for each of `processes` processes started now, >= 1."""
    if processes < 1:
        raise ValueError(f"processes must be >= 1, got {processes}")
    fixed = _fixed()
    if fixed is not None:
        return fixed
    return max(1, free_cores(load) // processes)


def kernel_environment(processes: int = 1, load: float | None = None) -> dict[str, str]:
    """Thread variables to give a child process: `threads_per_process`, unless set by the user."""
    n = str(threads_per_process(processes, load))
    return {var: os.environ.get(var, n) for var in THREAD_VARIABLES}


class children_threads:
    """Context manager: while open, child processes started by this one inherit
    `kernel_environment(processes)` (the variables the user set are left alone); `.threads`
    is the number chosen."""

    def __init__(self, processes: int = 1):
        self.env = kernel_environment(processes)
        self.threads = int(self.env["OMP_NUM_THREADS"])
        self._before: dict[str, str | None] = {}

    def __enter__(self) -> children_threads:
        self._before = {var: os.environ.get(var) for var in self.env}
        os.environ.update(self.env)
        return self

    def __exit__(self, *exc) -> None:
        for var, value in self._before.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value

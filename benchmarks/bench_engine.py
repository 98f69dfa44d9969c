"""Benchmark: a part's training plan trained serially in this process against the Ray engine
with `--workers` CPU workers (threads per worker set so workers x threads <= free cores).

Both runs start from an empty model cache of their own (temporary folders), in one process,
serial first; the ratio printed is serial seconds / Ray seconds (Ray's start-up included, and
shown separately). On 2 cores, 2 workers can at best halve the time of a plan whose jobs are
of similar length; Ray's start-up (~5-10 s) and one long job bound what a short plan gains.

    python benchmarks/bench_engine.py [--part ccvae_firebreak] [--profile smoke] [--workers 2]
                                      [--set epochs=1]

`--set KNOB=VALUE` overrides a profile knob (e.g. fewer epochs of the same sweep, so that a
`cpu` plan of an hour is timed in minutes: the ratio depends on the jobs' number and
relative length, not on how long each is).
"""
from __future__ import annotations

import argparse
import ast
import os
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from repro_lib import engine, plans  # noqa: E402
from repro_lib.threads import free_cores, threads_per_process  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", default="ccvae_firebreak")
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], metavar="KNOB=VALUE",
                        help="override a knob of the profile (a Python literal)")
    args = parser.parse_args()
    overrides = {}
    for item in args.set:
        knob, _, value = item.partition("=")
        overrides[knob] = ast.literal_eval(value)
    jobs = plans.part_plan(args.part, args.profile, **overrides)
    if not jobs:
        raise SystemExit(f"part {args.part!r} declares no training plan yet")
    print(f"{len(jobs)} jobs of {args.part} under {args.profile} {overrides or ''}; "
          f"free cores now: {free_cores()} (load {os.getloadavg()[0]:.2f})")

    with tempfile.TemporaryDirectory() as serial_cache, tempfile.TemporaryDirectory() as ray_cache:
        os.environ["REPRO_MODEL_CACHE"] = serial_cache
        torch.set_num_threads(threads_per_process(1))
        start = time.perf_counter()
        for job in jobs:
            job.fit(progress=False)
        serial = time.perf_counter() - start
        print(f"serial, {torch.get_num_threads()} thread(s): {serial:.1f} s")

        os.environ["REPRO_MODEL_CACHE"] = ray_cache
        start = time.perf_counter()
        engine.connect(None, num_cpus=args.workers)
        started = time.perf_counter() - start
        report = engine.train_plan(jobs, workers=args.workers, progress=False)
        parallel = time.perf_counter() - start
        print(f"ray, {args.workers} workers x {max(1, threads_per_process(args.workers))} thread(s): "
              f"{parallel:.1f} s (of which Ray start-up {started:.1f} s); {report.summary()}")
    print(f"ratio serial / ray: {serial / parallel:.2f}x "
          f"(without start-up: {serial / max(1e-9, parallel - started):.2f}x)")


if __name__ == "__main__":
    main()

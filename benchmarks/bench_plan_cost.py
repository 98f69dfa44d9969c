"""What a profile's training plans cost on this machine: for each job, the median seconds of
one training step at its batch size (on this process's device: run it on a GPU for GPU hours),
times its number of steps.

    python benchmarks/bench_plan_cost.py [--profile full] [--part ccvae_firebreak]
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from repro_lib import plans  # noqa: E402
from repro_lib.device import get_device  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="full")
    parser.add_argument("--part", action="append", help="default: every part with a plan")
    args = parser.parse_args()
    total = 0.0
    print(f"device: {get_device()}")
    timed: dict[str, float] = {}  # jobs that differ only in their seed are timed once
    untimed = 0
    for part in args.part or plans.parts_with_plans():
        part_hours = 0.0
        for job in plans.part_plan(part, args.profile):
            steps, shape = plans.steps_of(job), plans.shape_of(job)
            if steps is None or job.loop is not None:  # its loop's step is not the plain step timed here
                print(f"{job.label():40s} (its own training loop: not timed)")
                untimed += 1
                continue
            if shape not in timed:
                timed[shape] = plans.seconds_per_step(job)
            hours = steps * timed[shape] / 3600
            part_hours += hours
            print(f"{job.label():40s} {timed[shape] * 1000:8.1f} ms/step x {steps:>8,d} steps = {hours:7.2f} h")
        print(f"== {part}: {part_hours:.2f} h", flush=True)
        total += part_hours
    print(f"total: {total:.2f} h on {get_device()} (training only; the notebooks' own analysis is extra; "
          f"{untimed} jobs with their own loops not timed)")


if __name__ == "__main__":
    main()

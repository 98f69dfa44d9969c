"""For whoever has a GPU: one part's `full` plan through the Ray engine on it, against the CPU.

1. Each distinct model of the plan: median seconds of a training step at its batch size on
   the CPU and on the GPU (same process), and the ratio (GPU steps/s over CPU steps/s).
2. The plan's jobs trained through `engine.train_plan` on a local Ray (one GPU per task),
   each cut to `--epochs` epochs so the run fits the budget: wall time and steps/s.
3. What the whole `full` plan costs on this GPU (steps x measured seconds per step).

Prepared to fit one 10-minute device call (the CPU timings of large models dominate; lower
`--cpu-steps` if needed). Exits with a message on a machine without CUDA.

    python benchmarks/bench_gpu_plan.py [--part ccvae_firebreak] [--epochs 1] [--cpu-steps 2]
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from repro_lib import engine, plans  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", default="ccvae_firebreak")
    parser.add_argument("--epochs", type=int, default=1, help="epochs per job in the engine run")
    parser.add_argument("--cpu-steps", type=int, default=2, help="timed CPU steps per model")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device here: run this on a GPU machine (the CPU figures are in "
                         "bench_plan_cost.py)")
    jobs = plans.part_plan(args.part, "full")
    print(f"{args.part}: {len(jobs)} jobs under full; GPU {torch.cuda.get_device_name(0)}, "
          f"CPU threads {torch.get_num_threads()}")

    per_step: dict[str, float] = {}
    total_hours = 0.0
    for job in jobs:
        shape = plans.shape_of(job)
        if shape not in per_step:
            cpu = plans.seconds_per_step(job, args.cpu_steps, "cpu")
            gpu = plans.seconds_per_step(job, 5, "cuda")
            per_step[shape] = gpu
            print(f"{job.label():45s} cpu {cpu * 1000:9.1f} ms/step  gpu {gpu * 1000:7.1f} ms/step  "
                  f"ratio {cpu / gpu:6.1f}x")
        total_hours += (plans.steps_of(job) or 0) * per_step[shape] / 3600
    print(f"full plan on this GPU: {total_hours:.2f} GPU-hours of training (steps x measured step time)")

    short = [dataclasses.replace(job, settings=dataclasses.replace(job.settings, epochs=args.epochs))
             for job in jobs if hasattr(job.settings, "epochs")]
    with tempfile.TemporaryDirectory() as cache:
        os.environ["REPRO_MODEL_CACHE"] = cache
        start = time.perf_counter()
        report = engine.train_plan(short, progress=False)
        wall = time.perf_counter() - start
    steps = sum(plans.steps_of(job) or 0 for job in short)
    print(f"engine, {args.epochs} epoch(s) per job: {report.summary()}; {steps:,d} steps in {wall:.0f} s "
          f"= {steps / wall:.1f} steps/s (Ray start-up included)")


if __name__ == "__main__":
    main()

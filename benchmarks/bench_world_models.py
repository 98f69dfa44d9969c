"""Benchmark: World Models on CarRacing-v3, serial against parallel processes, in one run.

Both loops go through `repro_lib.tasks.task_map` (Ray tasks under `run --engine ray`; here,
without the engine, local worker processes), as the chapters run them:

1. Rollouts: Brownian-policy env steps per second with `--workers` processes against 1
   (`rollouts.generate`, process start-up included: what a user waits for).
2. CMA-ES: controller candidate evaluations per second (one real-environment episode of
   `--steps` steps each, through the untrained baseline VAE and an MDN-RNN) with `--workers`
   processes against 1 (`controller.ParallelEvaluator`, one call = one CMA-ES generation; the
   map starts its processes, each given the frozen V and M once, inside the timing, as every
   generation does). Also checks that both give the same returns.

Torch threads are set to 1 in every process. On a machine whose cores are shared with other
jobs the ratio reflects the contention; report it with the load.

    python benchmarks/bench_world_models.py [--workers 2] [--rollouts 4] [--steps 100] [--candidates 4]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from repro_lib.parts.dds.world_models import rollouts as R  # noqa: E402
from repro_lib.parts.dds.world_models.controller import ParallelEvaluator  # noqa: E402
from repro_lib.parts.dds.world_models.mdn_rnn import MDNRNN  # noqa: E402
from repro_lib.parts.dds.world_models.vision import WorldModelsVAE  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="processes of the parallel runs")
    ap.add_argument("--rollouts", type=int, default=4, help="rollouts per timing")
    ap.add_argument("--steps", type=int, default=100, help="steps per rollout / per candidate episode")
    ap.add_argument("--candidates", type=int, default=4, help="controller candidates per timing")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"{os.cpu_count()} cores, load average {' '.join(f'{v:.2f}' for v in os.getloadavg())} (1, 5, 15 min), "
          "torch threads 1")

    rates = {}
    for workers in (1, args.workers):
        seeds = range(100 * workers, 100 * workers + args.rollouts)  # fresh tracks, same lengths
        start = time.perf_counter()
        episodes = R.generate(seeds, args.steps, workers=workers, progress=False)
        rates[workers] = sum(len(e["frames"]) for e in episodes) / (time.perf_counter() - start)
        print(f"rollouts, {workers} process(es): {rates[workers]:7.1f} env steps/s")
    print(f"rollout speed-up {args.workers} processes / 1: {rates[args.workers] / rates[1]:.2f}x")

    torch.manual_seed(0)
    vision, mdn = WorldModelsVAE().eval(), MDNRNN().eval()
    specs = ({"family": "wm_vae", "latent": 32}, {"family": "wm_mdn_rnn"},
             {"family": "wm_controller", "latent": 32, "hidden": 256})
    candidates = np.random.default_rng(0).normal(0, 0.1, (args.candidates, 867))
    returns, evals = {}, {}
    for workers in (1, args.workers):
        with ParallelEvaluator(vision, specs[0], mdn, specs[1], specs[2], workers=workers) as evaluator:
            start = time.perf_counter()
            returns[workers] = evaluator(candidates, [1], args.steps)
            evals[workers] = len(candidates) / (time.perf_counter() - start)
        print(f"CMA-ES candidates, {workers} process(es): {evals[workers]:6.2f} evaluations/s "
              f"({args.steps}-step episodes)")
    same = np.allclose(returns[1], returns[args.workers])
    print(f"CMA-ES speed-up {args.workers} processes / 1: {evals[args.workers] / evals[1]:.2f}x; "
          f"same returns: {same}")
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())} (1, 5, 15 min)")


if __name__ == "__main__":
    main()

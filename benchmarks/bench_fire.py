"""Fire simulator speed: layout evaluations per second (K scenarios each), vectorised
against the per-cell Python breadth-first reference on the same scenarios, in one process.

    python benchmarks/bench_fire.py [--layouts 5000] [--reference-layouts 10] [--k 100]

Also times the weighted simulator (scenarios in blocks of 16 sharing a weight, as the
simulator calibrated against Cell2Fire uses them), checked against the reference.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from repro_lib.device import get_device
from repro_lib.parts.ccvae_firebreak import fire


def rate(fn, n, repeats=3):
    """Best of `repeats` (layouts per second) after one warm-up call."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return n / best, out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layouts", type=int, default=5000)
    parser.add_argument("--reference-layouts", type=int, default=10)
    parser.add_argument("--k", type=int, default=100)
    args = parser.parse_args()
    forest = fire.Forest(k=args.k)
    scen = forest.scenarios()
    layouts = fire.random_layouts(args.layouts, seed=0)
    device = get_device()
    print(f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} threads available; "
          f"K = {args.k} scenarios, {args.layouts} random 20-firebreak layouts")
    ref_layouts = layouts[: args.reference_layouts].numpy()
    ref_rate, ref_fit = rate(lambda: fire.reference_fitness(ref_layouts, scen), len(ref_layouts), 1)
    print(f"{'reference per-cell Python BFS':42s} {ref_rate:12,.1f} evals/s")
    rows = [("vectorised torch, 1 thread", dict(threads=1))]
    if device.type == "cpu" and torch.get_num_threads() > 1:
        rows.append((f"vectorised torch, {torch.get_num_threads()} threads", dict(threads=None)))
    for name, kwargs in rows:
        sim = fire.FireSimulator(scen, device=device, **kwargs)
        r, fit = rate(lambda sim=sim: sim.fitness(layouts).cpu(), len(layouts))
        agree = torch.equal(fit[: len(ref_layouts)], torch.as_tensor(ref_fit))
        print(f"{name:42s} {r:12,.0f} evals/s  {r / ref_rate:8,.0f}x reference; "
              f"agrees with reference: {agree}")
    weights = np.repeat(np.random.default_rng(0).dirichlet(np.ones(-(-args.k // 16))), 16)[: args.k]
    weights /= weights.sum()
    if args.k % 16 == 0:
        weighted = fire.scenarios_from(forest.landscape(), forest.params,
                                       fire.draw_randomness(forest.landscape(), forest.params, args.k, 1), weights)
        sim = fire.FireSimulator(weighted, device=device, threads=1)
        r, wfit = rate(lambda: sim.fitness(layouts).cpu(), len(layouts))
        ref_w = fire.reference_fitness(ref_layouts, weighted)
        agree = bool(np.allclose(wfit[: len(ref_layouts)].numpy(), ref_w, atol=1e-12))
        ref_rate_w, _ = rate(lambda: fire.reference_fitness(ref_layouts, weighted), len(ref_layouts), 1)
        print(f"{'weighted scenarios (blocks of 16), 1 thread':42s} {r:12,.0f} evals/s  {r / ref_rate_w:8,.0f}x "
              f"reference; agrees with reference: {agree}")
    print(f"fitness of the random layouts: mean {fit.mean():.4f}, std {fit.std():.4f}, "
          f"min {fit.min():.4f}, max {fit.max():.4f}")


if __name__ == "__main__":
    main()

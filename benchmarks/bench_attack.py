"""Benchmark: the batched latent attack (all pairs optimised together) vs attacking the
pairs one at a time, in the same process, on the book's device.

A fresh, seeded JointVAE (10 Gaussian + one 10-way latent, the thesis's MNIST net);
`--pairs` random MNIST-shaped (1, 32, 32) source/target images; `--steps` Adam steps per
attack. Prints attacks per second for both and their ratio; also checks that both give
the same x_adv up to round-off (the loss is a sum over pairs and Adam is elementwise).

    python benchmarks/bench_attack.py [--pairs 256] [--steps 20] [--serial-pairs 16]
    python benchmarks/bench_attack.py --sweep [--per-cell 2] [--steps 20] [--workers 2]

`--sweep` times the chapter's sweep instead (`recipes.run_attack_sweep`: one task per model,
radius and source digit through `repro_lib.tasks.task_map`) over two fresh models, serially
(workers=1) against `--workers` processes, and checks that both give the same attacks.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from repro_lib.device import get_device  # noqa: E402
from repro_lib.parts.adversarial_robustness.attacks import attack  # noqa: E402
from repro_lib.parts.adversarial_robustness.joint_vae import JointVAE  # noqa: E402


def sweep(args) -> None:
    """The attack sweep serially and on `args.workers` processes: seconds, ratio, equality."""
    from types import SimpleNamespace

    import numpy as np

    from repro_lib import models
    from repro_lib.parts.adversarial_robustness import recipes as ar

    torch.manual_seed(0)
    fits = {(kind, 0): models.build(ar.vae_spec()).eval() for kind in ("entangled", "disentangled")}
    judge = models.build(ar.CLASSIFIER_SPEC).eval()
    g = torch.Generator().manual_seed(1)
    n = 200
    x = torch.rand(n, 1, 32, 32, generator=g) * (torch.rand(n, 1, 32, 32, generator=g) < 0.3)
    data = ar.Mnist(None, None, x, torch.arange(n) % 10)
    s = SimpleNamespace(pairs_per_cell=args.per_cell, attack_steps=args.steps, attack_lr=2e-3)
    valid = {key: np.ones(n, bool) for key in fits}
    requests = [ar.AttackRequest(kind, 0) for kind, _ in fits]
    times, out = {}, {}
    for workers in (1, args.workers):
        t = time.perf_counter()
        out[workers] = ar.run_attack_sweep(fits, judge, data, s, requests, valid, workers=workers, progress=False)
        times[workers] = time.perf_counter() - t
    same = all(torch.equal(out[1][r].x_adv, out[args.workers][r].x_adv) for r in requests)
    attacks = sum(len(run.frame) for run in out[1].values())
    print(f"sweep of {attacks} attacks ({args.steps} steps, {len(requests) * 10} tasks): serial {times[1]:.1f} s, "
          f"{args.workers} workers {times[args.workers]:.1f} s, ratio {times[1] / times[args.workers]:.2f}x; "
          f"identical results: {same}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=256, help="pairs in the batched attack")
    ap.add_argument("--steps", type=int, default=20, help="Adam steps per attack")
    ap.add_argument("--serial-pairs", type=int, default=16,
                    help="pairs attacked one at a time (the reference; its rate is per pair)")
    ap.add_argument("--sweep", action="store_true", help="time the chapter's sweep: serial vs worker processes")
    ap.add_argument("--per-cell", type=int, default=2, help="--sweep: pairs per (source, target) cell")
    ap.add_argument("--workers", type=int, default=2, help="--sweep: worker processes")
    args = ap.parse_args()
    if args.sweep:
        sweep(args)
        return
    device = get_device()
    torch.manual_seed(0)
    model = JointVAE().to(device).eval()
    g = torch.Generator().manual_seed(0)
    shape = (args.pairs, 1, 32, 32)
    src = (torch.rand(shape, generator=g) * (torch.rand(shape, generator=g) < 0.2)).to(device)
    tgt = src.roll(1, 0)

    def run(n, batch):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        out = attack(model.posterior_params, src[:n], tgt[:n], steps=args.steps, batch_size=batch,
                     generator=torch.Generator().manual_seed(1))
        if device.type == "cuda":
            torch.cuda.synchronize()
        return out, time.perf_counter() - t

    run(min(8, args.pairs), None)  # warm-up
    batched, t_batched = run(args.pairs, None)
    serial, t_serial = run(args.serial_pairs, 1)
    diff = (batched.x_adv[:args.serial_pairs] - serial.x_adv).abs().max().item()
    rate_b, rate_s = args.pairs / t_batched, args.serial_pairs / t_serial
    print(f"device {device}, torch threads {torch.get_num_threads()}, {args.steps} Adam steps per attack")
    print(f"batched ({args.pairs} pairs at once): {rate_b:8.1f} attacks/s")
    print(f"one pair at a time ({args.serial_pairs} pairs): {rate_s:8.1f} attacks/s")
    print(f"speed-up: {rate_b / rate_s:.1f}x; max |x_adv batched - x_adv one at a time| = {diff:.2g} "
          "(float round-off of batched convolutions, amplified by Adam's normalisation)")
    print(f"full-length attacks (1000 steps), batched: {rate_b * args.steps / 1000:.2f} attacks/s")


if __name__ == "__main__":
    main()

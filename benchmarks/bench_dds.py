"""Benchmark: what DDS costs on top of the model it is attached to (document 000: "a minimal
increase in the computational cost"; memory "invariant to the maximum number of selected
features").

1. Overhead: one Adam training step of DDS + f (selector U-Net, C = --channels) over one step of
   f alone (the reconstruction U-Net, C = --f-channels), same batch of CIFAR-shaped images,
   same process; steps alternate between the two and the medians are compared.
2. Memory across M from 2% to 100% of F = 1024: on a GPU, the peak memory allocated during a
   step (torch.cuda.max_memory_allocated); on a CPU, the peak resident memory of a fresh process
   that builds the model and takes --memory-steps steps, minus that of one that builds it and
   takes none (medians of 3 processes each); and, on both, the bytes autograd keeps for the backward pass.

    python benchmarks/bench_dds.py [--batch 128] [--steps 10] [--channels 16] [--f-channels 16]
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from repro_lib.device import get_device  # noqa: E402
from repro_lib.parts.dds.model import DDSAutoencoder  # noqa: E402
from repro_lib.parts.dds.recipes import saved_activation_bytes  # noqa: E402

FRACTIONS = (0.02, 0.1, 0.25, 0.5, 1.0)


def _sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _step(model, optimiser, x) -> None:
    loss = F.mse_loss(model(x), x)
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()


def _batch(n: int, device) -> torch.Tensor:
    return torch.rand(n, 3, 32, 32, generator=torch.Generator().manual_seed(0)).to(device)


def overhead(args, device) -> tuple[float, float]:
    """Median seconds per training step of DDS + f and of f alone."""
    torch.manual_seed(0)
    dds = DDSAutoencoder(m=256, channels=args.channels, f_channels=args.f_channels).to(device).train()
    f = DDSAutoencoder(m=256, channels=args.channels, f_channels=args.f_channels).downstream.to(device).train()
    x = _batch(args.batch, device)
    models = {"dds": (dds, torch.optim.Adam(dds.parameters())), "f": (f, torch.optim.Adam(f.parameters()))}
    times = {"dds": [], "f": []}
    for model, opt in models.values():  # warm-up
        _step(model, opt, x)
    for _ in range(args.steps):
        for name, (model, opt) in models.items():
            _sync(device)
            start = time.perf_counter()
            _step(model, opt, x)
            _sync(device)
            times[name].append(time.perf_counter() - start)
    return statistics.median(times["dds"]), statistics.median(times["f"])


def child(m: int, args) -> None:
    """Build the model; take `--memory-steps` steps at M = m (none when m = 0); print peak RSS (KiB)."""
    device = get_device()
    torch.manual_seed(0)
    model = DDSAutoencoder(m=max(m, 1), channels=args.channels, f_channels=args.f_channels).to(device).train()
    opt = torch.optim.Adam(model.parameters())
    x = _batch(args.batch, device)
    for _ in range(args.memory_steps if m else 0):
        _step(model, opt, x)
    print(peak_rss_kib())


def peak_rss_kib() -> int:
    """This process's peak resident memory (KiB): VmHWM of /proc/self/status on Linux (getrusage's
    ru_maxrss would also count the high-water mark of the parent this process was forked from),
    else ru_maxrss."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def memory(args, device) -> list[tuple[int, float, int]]:
    """(M, peak bytes of a step, bytes saved for backward) per M in FRACTIONS of F."""
    rows = []
    torch.manual_seed(0)
    model = DDSAutoencoder(m=1, channels=args.channels, f_channels=args.f_channels).to(device)
    x = _batch(args.batch, device)
    baseline = None
    if device.type != "cuda":
        baseline = _child_rss(0, args)
    for frac in FRACTIONS:
        m = max(1, round(frac * 1024))
        model.m = m
        saved = saved_activation_bytes(model, x)
        if device.type == "cuda":
            opt = torch.optim.Adam(model.parameters())
            _step(model, opt, x)
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            before = torch.cuda.memory_allocated()
            _step(model, opt, x)
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated() - before
        else:
            peak = (_child_rss(m, args) - baseline) * 1024
        rows.append((m, float(peak), saved))
    return rows


def _child_rss(m: int, args, repeats: int = 3) -> int:
    """Median over `repeats` fresh processes of the peak RSS (KiB) of `child(m)`."""
    command = [sys.executable, os.path.abspath(__file__), "--child", str(m), "--batch", str(args.batch),
               "--channels", str(args.channels), "--f-channels", str(args.f_channels),
               "--memory-steps", str(args.memory_steps)]
    peaks = [int(subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
             for _ in range(repeats)]
    return int(statistics.median(peaks))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=128, help="images per step")
    ap.add_argument("--steps", type=int, default=10, help="timed steps per model")
    ap.add_argument("--channels", type=int, default=16, help="C of the selector U-Net (the document: 16)")
    ap.add_argument("--f-channels", type=int, default=16, help="C of the reconstruction U-Net f")
    ap.add_argument("--memory-steps", type=int, default=2, help="steps a memory process takes")
    ap.add_argument("--skip-memory", action="store_true", help="time the overhead only")
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        child(args.child, args)
        return
    device = get_device()
    t_dds, t_f = overhead(args, device)
    print(f"device {device}, torch threads {torch.get_num_threads()}, batch {args.batch}, "
          f"selector C = {args.channels}, f C = {args.f_channels}")
    print(f"training step: DDS + f {t_dds * 1000:.0f} ms, f alone {t_f * 1000:.0f} ms, "
          f"overhead ratio {t_dds / t_f:.2f}x (median of {args.steps} alternating steps)")
    if args.skip_memory:
        return
    rows = memory(args, device)
    what = "peak allocated during a step" if device.type == "cuda" else "peak RSS of a step process over a no-step one"
    print(f"memory across M ({what}; bytes autograd saves for backward):")
    for m, peak, saved in rows:
        print(f"  M = {m:4d} ({m / 1024:5.1%} of F): {peak / 2**20:8.1f} MiB; saved {saved / 2**20:8.1f} MiB")
    peaks = [r[1] for r in rows]
    saved = [r[2] for r in rows]
    print(f"largest / smallest over M: peak {max(peaks) / max(min(peaks), 1):.3f}, "
          f"saved {max(saved) / min(saved):.3f}")


if __name__ == "__main__":
    main()

"""Benchmark: Gradient SHAP of all latent units, captum (one call per target) vs ours.

A fresh, seeded BurgessVAE(3); 256 MNIST-shaped (1, 32, 32) random images (mostly
black, like MNIST digits); one all-black baseline; n_samples=10, stdevs=0.  Both draw
their random numbers independently for each latent unit (ours: one (K, ...) draw; captum:
one call per unit).  Times are medians over a few repeats in the same process (calls
interleaved), with torch's default number of threads; the last line is the ratio
captum / ours measured here.

    python benchmarks/bench_attribution.py [--repeats 5] [--batch 256] [--n-samples 10]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from captum.attr import GradientShap  # noqa: E402

from repro_lib.models.burgess import BurgessVAE  # noqa: E402
from repro_lib.parts.attribution_priors.attribution import captum_all_targets, captum_draws, gradient_shap  # noqa: E402


def mnist_like(batch: int, gen: torch.Generator) -> torch.Tensor:
    """(batch, 1, 32, 32) images in [0, 1], ~80% exactly-zero (black) pixels."""
    x = torch.rand(batch, 1, 32, 32, generator=gen)
    keep = torch.rand(batch, 1, 32, 32, generator=gen) < 0.2
    return x * keep


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--n-samples", type=int, default=10)
    ap.add_argument("--no-alternatives", action="store_true", help="skip the torch.func.vjp variant")
    args = ap.parse_args()

    torch.manual_seed(0)
    np.random.seed(0)
    vae = BurgessVAE(latent_dim=3).eval()
    f = vae.encode_mean
    x = mnist_like(args.batch, torch.Generator().manual_seed(0))
    baseline = torch.zeros(1, 1, 32, 32)
    K, n = vae.latent_dim, args.n_samples
    gs = GradientShap(f)
    fast = BurgessVAE(latent_dim=3).eval()
    fast.load_state_dict(vae.state_dict())
    fast = fast.to(memory_format=torch.channels_last)  # what recipes.saliency_maps evaluates on
    gs_fast = GradientShap(fast.encode_mean)

    def run_captum_channels_last():
        return torch.stack(
            [gs_fast.attribute(x, baseline, n_samples=n, stdevs=0.0, target=k) for k in range(K)]
        )

    def run_captum():
        return torch.stack(
            [gs.attribute(x, baseline, n_samples=n, stdevs=0.0, target=k) for k in range(K)]
        )

    def run_ours():
        return gradient_shap(f, x, baseline, n_samples=n)

    def run_ours_channels_last():
        return gradient_shap(fast.encode_mean, x, baseline, n_samples=n)

    def run_ours_graph():
        return gradient_shap(f, x, baseline, n_samples=n, create_graph=True)

    def run_ours_graph_backward():
        out = gradient_shap(f, x, baseline, n_samples=n, create_graph=True)
        out.abs().sum().backward()
        vae.zero_grad(set_to_none=True)

    def run_func_vjp():
        # Alternative: torch.func.vjp of all units' points at once, one draw per unit.
        N = x.shape[0] * n
        alphas = torch.rand(K, N)
        xn = x.repeat_interleave(n, 0)
        scaled = (alphas.view(K, N, 1, 1, 1) * xn).reshape(K * N, *x.shape[1:])
        _, vjp = torch.func.vjp(f, scaled)
        own = torch.nn.functional.one_hot(torch.arange(K).repeat_interleave(N), K).to(x.dtype)
        (grads,) = vjp(own)
        return (xn * grads.view(K, N, *x.shape[1:])).view(K, x.shape[0], n, *x.shape[1:]).mean(2)

    # Correctness check with captum's own random draws (one call per target, in sequence).
    B = x.shape[0]
    ref = captum_all_targets(f, x, baseline, n, 0.0, K, np_seed=1, torch_seed=2)
    idx, noise, alphas = captum_draws(B, n, 1, 0.0, tuple(x.shape[1:]), K, 1, 2)
    ours = gradient_shap(f, x, baseline, n, 0.0, alphas=alphas, baseline_idx=idx, noise=noise)
    err = (ours - ref).abs().max().item()
    print(f"max |ours - captum| with captum's draws: {err:.3g} (max |attr| {ref.abs().max().item():.3g})")

    cases = {
        "captum GradientShap, loop over 3 targets": run_captum,
        "ours gradient_shap (create_graph=False)": run_ours,
        "captum, channels-last model": run_captum_channels_last,
        "ours, channels-last model (as saliency_maps)": run_ours_channels_last,
        "ours gradient_shap (create_graph=True)": run_ours_graph,
        "ours create_graph=True + backward to params": run_ours_graph_backward,
    }
    if not args.no_alternatives:
        cases["alt: torch.func.vjp, own-unit cotangents"] = run_func_vjp
    times: dict[str, list[float]] = {name: [] for name in cases}
    for fn in cases.values():  # warm-up
        fn()
    for _ in range(args.repeats):
        for name, fn in cases.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)

    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"{B} images (1,32,32), K={K}, n_samples={n}, median of {args.repeats}"
    )
    med = {name: statistics.median(ts) for name, ts in times.items()}
    for name, t in med.items():
        print(f"  {name:<46s} {t * 1000:8.1f} ms")
    c = med["captum GradientShap, loop over 3 targets"]
    o = med["ours gradient_shap (create_graph=False)"]
    cf = med["captum, channels-last model"]
    fo = med["ours, channels-last model (as saliency_maps)"]
    print(f"speed-up captum/ours (create_graph=False): {c / o:.2f}x; both on the channels-last model: "
          f"{cf / fo:.2f}x; captum (default model) / ours (channels-last, as the book evaluates): {c / fo:.2f}x")


if __name__ == "__main__":
    main()

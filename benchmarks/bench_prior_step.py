"""One training step with an attribution prior, against a plain VAE step.

The document's settings: batch 300 of 32x32 images, 3 latent units, Gradient SHAP
with 5 samples and one black baseline, drawn independently for each latent unit (so
3 x 300 x 5 = 4,500 interpolation points per step). Prints the median seconds per step
of each variant and its ratio to the plain step measured in the same process.

    python benchmarks/bench_prior_step.py [--repeats 5] [--batch 300]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from repro_lib.models import BurgessVAE
from repro_lib.objectives import BetaVAE
from repro_lib.parts.attribution_priors.objectives import AttributionPrior


def seconds_per_step(objective, x, repeats):
    torch.manual_seed(0)
    model = BurgessVAE(3)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-5)
    times = []
    for i in range(repeats + 1):  # the first step warms up
        start = time.perf_counter()
        loss = objective(model, x)["loss"]
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if i:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=300)
    args = parser.parse_args()
    x = torch.rand(args.batch, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}")
    plain = seconds_per_step(BetaVAE(1.0), x, args.repeats)
    print(f"{'plain VAE step':40s} {plain * 1e3:8.1f} ms   1.0x")
    for prior in ("pearson", "entropy", "tv"):
        for path in ("faithful", "differentiable"):
            t = seconds_per_step(AttributionPrior(prior, 1.0, path=path), x, args.repeats)
            print(f"{f'{prior} prior, {path} path':40s} {t * 1e3:8.1f} ms {t / plain:5.1f}x")


if __name__ == "__main__":
    main()

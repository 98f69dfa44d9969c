"""MIG: the vectorised `repro_lib.parts.influential_factors.disentanglement.mig` against disentanglement_lib's loop.

The reference is disentanglement_lib's computation: `_histogram_discretize` (20 equal-width
bins per latent) and one `sklearn.metrics.mutual_info_score` per (latent, factor) pair and per
factor entropy. Both run on the same seeded 10,000 x 10 codes and 5 factors in one process;
prints the best of `--repeats` wall times of each, their ratio and the largest difference.

    python benchmarks/bench_mig.py [--repeats 7] [--n 10000]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import sklearn

from repro_lib.parts.influential_factors.disentanglement import (
    mig,
    mutual_information_matrix,
    reference_mig,
    reference_mutual_information_matrix,
)


def data(n: int) -> tuple[np.ndarray, np.ndarray]:
    """5 factors of dSprites' sizes (3, 6, 40, 32, 32) and 10 codes mixing them with noise."""
    rng = np.random.default_rng(0)
    factors = rng.integers(0, [3, 6, 40, 32, 32], size=(n, 5))
    mixing = np.eye(5, 10) + 0.3 * rng.normal(size=(5, 10))
    codes = (factors / factors.max(0)) @ mixing + 0.1 * rng.normal(size=(n, 10))
    return codes, factors


def best_seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--n", type=int, default=10000)
    args = parser.parse_args()
    codes, factors = data(args.n)
    print(f"numpy {np.__version__}, scikit-learn {sklearn.__version__}; codes {codes.shape}, "
          f"factors {factors.shape}, 20 bins, best of {args.repeats}")
    ref = best_seconds(lambda: reference_mig(codes, factors), args.repeats)
    fast = best_seconds(lambda: mig(codes, factors), args.repeats)
    print(f"{'sklearn loop (disentanglement_lib)':36s} {ref * 1e3:8.2f} ms")
    print(f"{'vectorised mig':36s} {fast * 1e3:8.2f} ms   {ref / fast:5.1f}x faster")
    mi_diff = np.abs(mutual_information_matrix(codes, factors)
                     - reference_mutual_information_matrix(codes, factors)).max()
    print(f"MIG {mig(codes, factors):.12f} vs {reference_mig(codes, factors):.12f}; "
          f"max |MIG diff| {abs(mig(codes, factors) - reference_mig(codes, factors)):.2e}, "
          f"max |MI diff| {mi_diff:.2e} nats")


if __name__ == "__main__":
    main()

"""The Frechet distance between two Gaussians, the quantity behind FID and FVD:

    d^2 = ||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^{1/2}).

`frechet_distance` computes Tr((S_1 S_2)^{1/2}) as the sum of the square roots of the
eigenvalues of S_1^{1/2} S_2 S_1^{1/2} (symmetric positive semi-definite, so real and >= 0;
negative round-off is clipped), which avoids scipy.linalg.sqrtm's complex round-off (pytorch-fid
calls sqrtm; the tests compare the two). `frechet_from_features` fits the Gaussians to two
feature sets (rows = samples; covariance with n - 1 as in pytorch-fid).

Which features are used decides the name: with Inception-v3 pool features it is FID, with
I3D clip features FVD; with any other network it is a Frechet distance on that network's
features, which a caller must name as such.
"""
from __future__ import annotations

import numpy as np


def _matrix(s, d: int, name: str) -> np.ndarray:
    s = np.atleast_2d(np.asarray(s, dtype=np.float64))
    if s.shape != (d, d):
        raise ValueError(f"{name} must be ({d}, {d}) for a {d}-dimensional mean, got {s.shape}")
    if not np.all(np.isfinite(s)):
        raise ValueError(f"{name} has non-finite entries")
    return (s + s.T) / 2


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(s)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Squared Frechet distance between N(mu1, sigma1) and N(mu2, sigma2) (d-dimensional)."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, dtype=np.float64)), np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    if mu1.shape != mu2.shape or mu1.ndim != 1:
        raise ValueError(f"means must be vectors of one length, got {mu1.shape} and {mu2.shape}")
    d = len(mu1)
    s1, s2 = _matrix(sigma1, d, "sigma1"), _matrix(sigma2, d, "sigma2")
    root1 = _psd_sqrt(s1)
    cross = np.linalg.eigvalsh(root1 @ s2 @ root1)
    trace_sqrt = float(np.sqrt(np.clip(cross, 0, None)).sum())
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * trace_sqrt)


def gaussian_of(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (n - 1 normalisation) of features (n, d), n >= 2."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"features must be (n >= 2, d), got shape {f.shape}")
    return f.mean(0), np.atleast_2d(np.cov(f, rowvar=False))


def frechet_from_features(a, b) -> float:
    """Frechet distance between Gaussians fitted to feature sets a (n, d) and b (m, d)."""
    mu1, s1 = gaussian_of(a)
    mu2, s2 = gaussian_of(b)
    return frechet_distance(mu1, s1, mu2, s2)

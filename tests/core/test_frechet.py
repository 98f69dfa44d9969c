"""The Frechet distance against closed forms and against scipy.linalg.sqrtm (pytorch-fid's route)."""
import numpy as np
import pytest
from scipy import linalg

from repro_lib.metrics.frechet import frechet_distance, frechet_from_features, gaussian_of


def _spd(rng, d):
    a = rng.standard_normal((d, d))
    return a @ a.T + 0.1 * np.eye(d)


def _scipy_reference(mu1, s1, mu2, s2):
    covmean = linalg.sqrtm(s1 @ s2)
    covmean = covmean.real if np.iscomplexobj(covmean) else covmean
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def test_identical_gaussians_are_at_distance_zero():
    rng = np.random.default_rng(0)
    mu, s = rng.standard_normal(6), _spd(rng, 6)
    assert frechet_distance(mu, s, mu, s) == pytest.approx(0.0, abs=1e-9)


def test_diagonal_covariances_match_the_closed_form():
    # d^2 = ||mu1 - mu2||^2 + sum_j (sqrt(a_j) - sqrt(b_j))^2 for diagonal covariances
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    a, b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-12)
    # one dimension: (m1 - m2)^2 + (s1 - s2)^2 with standard deviations s
    assert frechet_distance([2.0], [[4.0]], [-1.0], [[1.0]]) == pytest.approx(9.0 + 1.0)


def test_shifted_means_only_add_the_squared_distance():
    rng = np.random.default_rng(1)
    s = _spd(rng, 5)
    mu, shift = rng.standard_normal(5), rng.standard_normal(5)
    assert frechet_distance(mu, s, mu + shift, s) == pytest.approx((shift ** 2).sum(), rel=1e-9)


@pytest.mark.parametrize("d", [2, 7, 32])
def test_general_covariances_match_scipy_sqrtm(d):
    rng = np.random.default_rng(d)
    mu1, mu2, s1, s2 = rng.standard_normal(d), rng.standard_normal(d), _spd(rng, d), _spd(rng, d)
    ours = frechet_distance(mu1, s1, mu2, s2)
    assert ours == pytest.approx(_scipy_reference(mu1, s1, mu2, s2), rel=1e-7)
    assert ours == pytest.approx(frechet_distance(mu2, s2, mu1, s1), rel=1e-9)  # symmetric
    assert ours >= 0


def test_singular_covariances_stay_finite_and_non_negative():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((10, 3))
    s = a.T @ a  # rank 3 in 3 dimensions is fine; embed it in 6 to make it singular
    s1 = np.zeros((6, 6))
    s1[:3, :3] = s
    d = frechet_distance(np.zeros(6), s1, np.zeros(6), s1)
    assert np.isfinite(d) and abs(d) < 1e-9


def test_from_features_fits_mean_and_unbiased_covariance():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((200, 4)), 2.0 + 0.5 * rng.standard_normal((300, 4))
    mu, s = gaussian_of(a)
    assert np.allclose(mu, a.mean(0)) and np.allclose(s, np.cov(a.T, ddof=1))
    expected = _scipy_reference(*gaussian_of(a), *gaussian_of(b))
    assert frechet_from_features(a, b) == pytest.approx(expected, rel=1e-7)
    assert frechet_from_features(a, a) == pytest.approx(0.0, abs=1e-9)


def test_bad_shapes_are_refused_with_a_message():
    with pytest.raises(ValueError, match="means must be vectors"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match="sigma2 must be"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), np.eye(2))
    with pytest.raises(ValueError, match="n >= 2"):
        frechet_from_features(np.zeros((1, 3)), np.zeros((5, 3)))

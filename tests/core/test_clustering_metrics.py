"""Clustering metrics of core (`repro_lib.metrics.clustering`): ACC against brute force over
every one-to-one map of clusters to classes (also with more or fewer clusters than classes),
NMI and ARI against scikit-learn, and hand-computed cases."""
import itertools

import numpy as np
import pytest
import torch
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from repro_lib.metrics import adjusted_rand_index, cluster_accuracy, contingency, normalized_mutual_info


def brute_force_accuracy(y, c) -> float:
    """Best share of items right over every injective map between clusters and classes."""
    classes, clusters = np.unique(y), np.unique(c)
    best = 0
    if len(clusters) <= len(classes):
        for image in itertools.permutations(classes, len(clusters)):
            mapping = dict(zip(clusters, image))
            best = max(best, sum(mapping[ci] == yi for yi, ci in zip(y, c)))
    else:
        for chosen in itertools.permutations(clusters, len(classes)):
            mapping = dict(zip(chosen, classes))
            best = max(best, sum(mapping.get(ci, None) == yi for yi, ci in zip(y, c)))
    return best / len(y)


def _cases():
    rng = np.random.default_rng(0)
    for n, k_y, k_c in [(12, 3, 3), (20, 4, 4), (15, 3, 5), (15, 5, 3), (9, 2, 4), (30, 5, 5), (7, 1, 3)]:
        for _ in range(4):
            yield rng.integers(0, k_y, n), rng.integers(0, k_c, n)


@pytest.mark.parametrize("y, c", list(_cases()))
def test_accuracy_matches_brute_force(y, c):
    assert cluster_accuracy(y, c) == pytest.approx(brute_force_accuracy(y, c))


@pytest.mark.parametrize("y, c", list(_cases()))
def test_nmi_and_ari_match_scikit_learn(y, c):
    assert normalized_mutual_info(y, c) == pytest.approx(normalized_mutual_info_score(y, c), abs=1e-12)
    assert adjusted_rand_index(y, c) == pytest.approx(adjusted_rand_score(y, c), abs=1e-12)


def test_larger_random_cases_match_scikit_learn():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 10, 5000)
    c = np.where(rng.random(5000) < 0.6, (y + 3) % 10, rng.integers(0, 12, 5000))
    assert normalized_mutual_info(y, c) == pytest.approx(normalized_mutual_info_score(y, c), abs=1e-10)
    assert adjusted_rand_index(y, c) == pytest.approx(adjusted_rand_score(y, c), abs=1e-10)
    assert 0.6 <= cluster_accuracy(y, c) <= 0.7  # 60% mapped by (y + 3) % 10, plus chance hits


def test_hand_cases():
    y = [0, 0, 1, 1, 2, 2]
    assert cluster_accuracy(y, [5, 5, 7, 7, 9, 9]) == 1.0  # relabelled: perfect
    assert normalized_mutual_info(y, [5, 5, 7, 7, 9, 9]) == pytest.approx(1.0)
    assert adjusted_rand_index(y, [5, 5, 7, 7, 9, 9]) == pytest.approx(1.0)
    # one cluster for everything: ACC = largest class share, NMI 0, ARI 0
    assert cluster_accuracy(y, [0] * 6) == pytest.approx(2 / 6)
    assert normalized_mutual_info(y, [0] * 6) == 0.0 and adjusted_rand_index(y, [0] * 6) == 0.0
    # more clusters than classes: each class split in two, only 3 clusters can be matched
    assert cluster_accuracy(y, [0, 1, 2, 3, 4, 5]) == pytest.approx(0.5)
    # both constant: identical partitions
    assert normalized_mutual_info([1, 1], [4, 4]) == 1.0 and adjusted_rand_index([1, 1], [4, 4]) == 1.0


def test_contingency_and_inputs():
    table = contingency(np.array([2, 2, 7]), torch.tensor([1, 0, 0]))
    assert table.tolist() == [[1, 1], [1, 0]]
    assert cluster_accuracy(torch.tensor([0, 1, 1]), torch.tensor([1, 0, 0])) == 1.0
    assert cluster_accuracy(np.array([0.0, 1.0]), np.array([1.0, 0.0])) == 1.0  # integral floats
    with pytest.raises(ValueError, match="differ in length"):
        cluster_accuracy([0, 1], [0])
    with pytest.raises(ValueError, match="empty"):
        cluster_accuracy([], [])
    with pytest.raises(ValueError, match="1-D"):
        normalized_mutual_info(np.zeros((2, 2), int), np.zeros((2, 2), int))
    with pytest.raises(ValueError, match="integer labels"):
        adjusted_rand_index([0.5, 1.0], [0, 1])

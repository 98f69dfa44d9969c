"""Clustering scores against ground-truth classes: ACC, NMI and ARI.

* `cluster_accuracy` (ACC): the share of items whose cluster maps to their class under the best
  one-to-one map of clusters to classes (Hungarian matching, `scipy.optimize.linear_sum_assignment`
  on the contingency table). When there are more clusters than classes, the clusters left
  unmatched count as wrong for all their items; with fewer clusters, the classes left unmatched
  are wrong. This is the ACC of the deep-clustering literature (ProPos, SCAN, CC, ...), which
  evaluates with as many clusters as classes, where it is the usual definition.
* `normalized_mutual_info` (NMI): I(classes; clusters) / mean(H(classes), H(clusters)), the
  arithmetic-mean normalisation (scikit-learn's default); 1 when either labelling has a single
  value and both are identical partitions, 0 when one is constant and the other not.
* `adjusted_rand_index` (ARI): Hubert & Arabie's adjusted Rand index from the pair counts.

All take integer label vectors of one length (any values: they are re-coded), in numpy or torch.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.special import comb


def _labels(name: str, values) -> np.ndarray:
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D vector of labels, got shape {array.shape}")
    if array.size and not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.bool_)):
        if not np.all(np.equal(np.mod(array, 1), 0)):
            raise ValueError(f"{name} must hold integer labels, got {array.dtype} values such as {array[:3]}")
    return array


def contingency(classes, clusters) -> np.ndarray:
    """Counts n[i, j] of items of class i (rows, sorted class values) in cluster j (columns,
    sorted cluster values), int64 (number of classes, number of clusters)."""
    y, c = _labels("classes", classes), _labels("clusters", clusters)
    if len(y) != len(c):
        raise ValueError(f"classes and clusters differ in length: {len(y)} and {len(c)}")
    if len(y) == 0:
        raise ValueError("no items: classes and clusters are empty")
    _, yi = np.unique(y, return_inverse=True)
    _, ci = np.unique(c, return_inverse=True)
    table = np.zeros((yi.max() + 1, ci.max() + 1), dtype=np.int64)
    np.add.at(table, (yi, ci), 1)
    return table


def cluster_accuracy(classes, clusters) -> float:
    """ACC in [0, 1]: the best one-to-one matching of clusters to classes (see the module)."""
    table = contingency(classes, clusters)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / table.sum())


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def normalized_mutual_info(classes, clusters) -> float:
    """NMI in [0, 1] with the arithmetic mean of the two entropies (see the module)."""
    table = contingency(classes, clusters).astype(np.float64)
    n = table.sum()
    h_y, h_c = _entropy(table.sum(1)), _entropy(table.sum(0))
    if h_y == 0.0 or h_c == 0.0:  # a constant labelling: identical partitions score 1, else 0
        return 1.0 if h_y == h_c else 0.0
    nz = table > 0
    outer = np.outer(table.sum(1), table.sum(0))
    mi = float((table[nz] / n * np.log(table[nz] * n / outer[nz])).sum())
    return float(min(1.0, max(0.0, mi / ((h_y + h_c) / 2))))


def adjusted_rand_index(classes, clusters) -> float:
    """ARI (1 for identical partitions, about 0 for random ones, can be negative)."""
    table = contingency(classes, clusters)
    n = int(table.sum())
    pairs = float(comb(table, 2).sum())
    rows, cols = float(comb(table.sum(1), 2).sum()), float(comb(table.sum(0), 2).sum())
    total = float(comb(n, 2))
    expected = rows * cols / total if total else 0.0
    maximum = (rows + cols) / 2
    if maximum == expected:  # both partitions trivial (one cluster, or all singletons)
        return 1.0
    return float((pairs - expected) / (maximum - expected))

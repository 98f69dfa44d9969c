"""Chapter 5 disentanglement metrics of the MEng thesis on beta-TCVAEs: FactorVAE-style scores
and MIG (its KS fidelity test is `metrics.fidelity`).

Every number names its variant:

* :func:`thesis_factorvae` -- the thesis's own FactorVAE-style metric (its Listing C.3). It needs
  no ground-truth factors: one *latent* is fixed across a batch of codes, decoded and re-encoded
  with a *sampled* z. Its accuracies are not comparable with published FactorVAE scores.
* :func:`factorvae_score` -- Kim & Mnih (2018), "Disentangling by Factorising", as computed by
  disentanglement_lib (``evaluation/metrics/factor_vae.py`` with its study config: batch 64,
  10,000 train / 5,000 eval votes, 10,000 points for the global variances, dimensions with
  standard deviation < 0.05 pruned). One ground-truth *factor* is fixed; mean codes are used.
* :func:`mig` -- Chen et al. (2018) Mutual Information Gap as computed by disentanglement_lib
  (``evaluation/metrics/mig.py``, ``histogram_discretizer`` with 20 bins): each mean-code
  dimension is cut into equal-width bins over its own range, discrete MI in nats, gap between
  the two most informative latents of each factor divided by the factor's entropy, averaged.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np
import torch

__all__ = [
    "FactorVAEResult",
    "GroundTruthData",
    "factorvae_score",
    "mig",
    "mutual_information_matrix",
    "reference_mig",
    "reference_mutual_information_matrix",
    "thesis_factorvae",
]


# ------------------------------------------------------------------------------ helpers
def _as_array(x) -> np.ndarray:
    """`x` (ndarray, tensor or nested list) as a float64 numpy array, detached from autograd."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _checked_2d(x, name: str, *, rows: int | None = None) -> np.ndarray:
    """`x` as a finite float64 (N, D) array with N >= 1 (and N == rows when given)."""
    a = _as_array(x)
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D (samples, dimensions); got shape {a.shape}. "
                         f"Reshape a single column with x[:, None].")
    if a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"{name} is empty (shape {a.shape}).")
    if rows is not None and a.shape[0] != rows:
        raise ValueError(f"{name} has {a.shape[0]} rows but {rows} were expected: "
                         f"pass one row per sample, in the same order.")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or infinite values: drop or impute those rows first.")
    return a


@dataclass(frozen=True)
class FactorVAEResult:
    """Accuracies of the majority-vote classifier and the votes behind them.

    ``train_votes[i, j]`` (int, shape (n_fixed, n_latents)) counts votes whose fixed index i
    (a ground-truth factor, or for :func:`thesis_factorvae` a latent) gave latent j the lowest
    normalised variance. The classifier predicts, for each latent j, the fixed index with most
    training votes (lowest index on ties; index 0 for a latent with no training votes, as in
    disentanglement_lib). Accuracies are fractions of votes in [0, 1]. ``active_dims`` (bool,
    (n_latents,)) marks the latents that could receive votes.
    """

    train_accuracy: float
    eval_accuracy: float
    train_votes: np.ndarray
    eval_votes: np.ndarray
    active_dims: np.ndarray


def _majority_vote(train_votes: np.ndarray, eval_votes: np.ndarray,
                   active_dims: np.ndarray) -> FactorVAEResult:
    """Fit the majority-vote classifier on `train_votes`, score it on both vote tables."""
    classifier = np.argmax(train_votes, axis=0)
    columns = np.arange(train_votes.shape[1])

    def accuracy(votes: np.ndarray) -> float:
        return float(votes[classifier, columns].sum() / votes.sum())

    return FactorVAEResult(accuracy(train_votes), accuracy(eval_votes), train_votes, eval_votes,
                           active_dims)


def _check_votes(**counts: int) -> None:
    for name, value in counts.items():
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer; got {value!r}.")


# -------------------------------------------------------------- thesis FactorVAE variant
def thesis_factorvae(
    encode_sample: Callable,
    decode: Callable,
    codes,
    n_train_votes: int = 1000,
    n_eval_votes: int = 1000,
    seed: int = 0,
    rows_per_call: int = 65536,
) -> FactorVAEResult:
    """The thesis's FactorVAE-style metric (Listing C.3), "1000 runs", train and eval accuracy.

    Each vote: pick ``latent_idx`` uniformly in [0, L); copy ``codes`` (num_samp, L) and set its
    column ``latent_idx`` in every row to the value of one uniformly chosen row; ``decode`` the
    batch, re-encode it with ``encode_sample`` (a *sampled* z, as the listing's
    ``vae_model(observations)["z"]``); vote ``(latent_idx, argmin_j local_var_j / global_var_j)``
    where both variances use ddof=1 and ``global_var = var(codes, axis=0, ddof=1)``. The listing
    takes ``global_variances`` as an argument without showing where they come from; we use the
    variance of ``codes`` itself, so pass the same kind of codes the re-encoding produces
    (sampled z of the data). No dimension is pruned (the listing prunes none).

    Args:
        encode_sample: x -> z, (n, L) tensor or array; should sample z ~ q(z|x).
        decode: z -> x; receives a tensor of ``codes``' dtype and device when ``codes`` is a
            tensor, else a numpy array of ``codes``' dtype.
        codes: (num_samp, L) latent codes of the data, num_samp >= 2.
        n_train_votes, n_eval_votes: votes that fit and that score the classifier (the thesis
            reports 1000 runs without an eval count; 1000 each by default).
        seed: seeds the choice of latents and rows (numpy). The sampling inside
            ``encode_sample`` follows its own generator: seed torch for a repeatable score.
        rows_per_call: most rows given to one ``decode`` call; votes are stacked up to it.
            The result does not depend on it when ``encode_sample`` is deterministic.

    Returns:
        :class:`FactorVAEResult` with (L, L) vote tables (fixed latent x argmin latent).
    """
    _check_votes(n_train_votes=n_train_votes, n_eval_votes=n_eval_votes, rows_per_call=rows_per_call)
    z = _checked_2d(codes, "codes")
    num_samp, latent_dim = z.shape
    if num_samp < 2:
        raise ValueError("codes needs at least 2 rows to estimate variances (ddof=1).")
    global_var = z.var(axis=0, ddof=1)
    if (global_var == 0).any():
        raise ValueError(f"latents {np.flatnonzero(global_var == 0).tolist()} are constant in codes, "
                         f"so they cannot be normalised: pass sampled codes z (not means) or drop them.")
    if isinstance(codes, torch.Tensor):
        def to_model(a: np.ndarray):
            return torch.as_tensor(a, dtype=codes.dtype, device=codes.device)
    else:
        model_dtype = np.asarray(codes).dtype
        if not np.issubdtype(model_dtype, np.floating):
            model_dtype = np.float64

        def to_model(a: np.ndarray):
            return a.astype(model_dtype, copy=False)

    rng = np.random.default_rng(seed)
    per_call = max(1, rows_per_call // num_samp)

    def votes(n: int) -> np.ndarray:
        # All random choices are drawn up front, so batching does not change them.
        latent_idx = rng.integers(latent_dim, size=n)
        rows = rng.integers(num_samp, size=n)
        table = np.zeros((latent_dim, latent_dim), dtype=np.int64)
        for start in range(0, n, per_call):
            idx, row = latent_idx[start:start + per_call], rows[start:start + per_call]
            v = len(idx)
            batch = np.repeat(z[None], v, axis=0)                      # (v, num_samp, L)
            batch[np.arange(v), :, idx] = z[row, idx][:, None]
            with torch.no_grad():
                out = encode_sample(decode(to_model(batch.reshape(v * num_samp, latent_dim))))
            rep = _checked_2d(out, "encode_sample(decode(z))", rows=v * num_samp)
            if rep.shape[1] != latent_dim:
                raise ValueError(f"encode_sample returned {rep.shape[1]} latents; codes have {latent_dim}.")
            local_var = rep.reshape(v, num_samp, latent_dim).var(axis=1, ddof=1)
            np.add.at(table, (idx, np.argmin(local_var / global_var, axis=1)), 1)
        return table

    train = votes(n_train_votes)
    return _majority_vote(train, votes(n_eval_votes), np.ones(latent_dim, dtype=bool))


# ------------------------------------------------------------- standard FactorVAE score
class GroundTruthData(Protocol):
    """A data set generated from known discrete factors, e.g. :class:`repro_lib.data.DSpritesLike`."""

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, K) factor values drawn with `rng`."""

    def observations_from_factors(self, factors: np.ndarray):
        """Observations (n, ...) rendered from (n, K) factors."""


def factorvae_score(
    representation_fn: Callable,
    dataset: GroundTruthData,
    batch_size: int = 64,
    n_train_votes: int = 10000,
    n_eval_votes: int = 5000,
    n_variance: int = 10000,
    prune_threshold: float = 0.05,
    seed: int = 0,
    rows_per_call: int = 65536,
) -> FactorVAEResult:
    """Kim & Mnih (2018) FactorVAE score, disentanglement_lib's implementation and defaults.

    Global variances: ``var(representation_fn(x), ddof=1)`` over ``n_variance`` observations of
    random factors. Latents with standard deviation < ``prune_threshold`` (in representation
    units, hence *not* scale-invariant; 0 keeps every latent) are pruned as collapsed. Each vote
    fixes one uniformly chosen factor k across ``batch_size`` observations (other factors
    random), and votes ``(k, argmin_j var_j / global_var_j)`` over the active latents (ddof=1).
    If no latent is active both accuracies are 0, as in disentanglement_lib. Unlike
    disentanglement_lib, votes are recorded under the latent's own index (it recorded the
    position among active latents); accuracies are the same.

    Args:
        representation_fn: observations -> (n, L) codes; use the encoder means.
        dataset: a :class:`GroundTruthData`; its factors must be a 2-D (n, K) array.
        batch_size: observations per vote (>= 2).
        n_train_votes, n_eval_votes: votes that fit and that score the classifier.
        n_variance: observations for the global variances (>= 2).
        prune_threshold: minimum standard deviation of an active latent.
        seed: seeds every draw (numpy); the result is repeatable for a deterministic
            ``representation_fn`` and fixed ``rows_per_call``.
        rows_per_call: most observations rendered and encoded at once.

    Returns:
        :class:`FactorVAEResult` with (K, L) vote tables (fixed factor x argmin latent).
    """
    _check_votes(n_train_votes=n_train_votes, n_eval_votes=n_eval_votes, rows_per_call=rows_per_call)
    if int(batch_size) != batch_size or batch_size < 2 or int(n_variance) != n_variance or n_variance < 2:
        raise ValueError(f"batch_size and n_variance must be integers >= 2 (variances use ddof=1); "
                         f"got {batch_size!r} and {n_variance!r}.")
    rng = np.random.default_rng(seed)

    def represent(factors: np.ndarray) -> np.ndarray:
        out = []
        for start in range(0, len(factors), rows_per_call):
            chunk = factors[start:start + rows_per_call]
            with torch.no_grad():
                codes = representation_fn(dataset.observations_from_factors(chunk))
            out.append(_checked_2d(codes, "representation_fn(x)", rows=len(chunk)))
        return np.concatenate(out)

    factors = np.asarray(dataset.sample_factors(n_variance, rng))
    if factors.ndim != 2:
        raise ValueError(f"dataset.sample_factors must return (n, K) factors; got shape {factors.shape}.")
    num_factors = factors.shape[1]
    global_var = represent(factors).var(axis=0, ddof=1)
    active = np.sqrt(global_var) >= prune_threshold
    active_idx = np.flatnonzero(active)
    per_call = max(1, rows_per_call // batch_size)

    def votes(n: int) -> np.ndarray:
        table = np.zeros((num_factors, len(global_var)), dtype=np.int64)
        for start in range(0, n, per_call):
            v = min(per_call, n - start)
            k = rng.integers(num_factors, size=v)
            f = np.asarray(dataset.sample_factors(v * batch_size, rng)).reshape(v, batch_size, num_factors)
            f[np.arange(v), :, k] = f[np.arange(v), 0, k][:, None]
            local_var = represent(f.reshape(-1, num_factors)).reshape(v, batch_size, -1).var(axis=1, ddof=1)
            argmin = np.argmin(local_var[:, active] / global_var[active], axis=1)
            np.add.at(table, (k, active_idx[argmin]), 1)
        return table

    if not active.any():
        empty = np.zeros((num_factors, len(global_var)), dtype=np.int64)
        return FactorVAEResult(0.0, 0.0, empty, empty.copy(), active)
    train = votes(n_train_votes)
    return _majority_vote(train, votes(n_eval_votes), active)


# ------------------------------------------------------------------------------------ MIG
def _discretize(codes: np.ndarray, bins: int) -> np.ndarray:
    """disentanglement_lib's ``_histogram_discretize``: (N, L) codes -> (N, L) bin indices in
    [0, bins), ``np.digitize`` on each column's own ``np.histogram`` edges minus the last one."""
    out = np.empty(codes.shape, dtype=np.int64)
    for j in range(codes.shape[1]):
        edges = np.histogram_bin_edges(codes[:, j], bins)
        out[:, j] = np.digitize(codes[:, j], edges[:-1]) - 1
    return out


def _factor_labels(factors, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, K) discrete factors -> (N, K) labels 0..m_k-1 (np.unique's inverse) and sizes m_k."""
    f = _checked_2d(factors, "factors", rows=rows)
    if not np.array_equal(f, np.rint(f)):
        raise ValueError("factors must be discrete integer values (e.g. SEX in {1, 2}); "
                         "bin continuous factors into integers first.")
    labels = np.empty(f.shape, dtype=np.int64)
    sizes = np.empty(f.shape[1], dtype=np.int64)
    for k in range(f.shape[1]):
        values, labels[:, k] = np.unique(f[:, k], return_inverse=True)
        sizes[k] = len(values)
    return labels, sizes


def _mi_and_entropy(codes, factors, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Discrete MI (L, K) between binned codes and factors, and the factors' entropies (K,), nats."""
    if isinstance(bins, bool) or int(bins) != bins or bins < 2:
        raise ValueError(f"bins must be an integer >= 2 (disentanglement_lib uses 20); got {bins!r}.")
    bins = int(bins)
    z = _checked_2d(codes, "codes")
    n, num_latents = z.shape
    labels, sizes = _factor_labels(factors, n)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    width = int(sizes.sum())                      # all factors' values side by side
    flat_factor = labels + offsets                # (N, K) column of each (factor, value)
    base = (np.arange(num_latents) * bins + _discretize(z, bins)) * width    # (N, L)
    # Joint counts of every (latent, bin, factor value), accumulated in row chunks of bounded size.
    joint = np.zeros(num_latents * bins * width, dtype=np.int64)
    step = max(1, (1 << 22) // (num_latents * labels.shape[1]))
    for s in range(0, n, step):
        cells = base[s:s + step, :, None] + flat_factor[s:s + step, None, :]
        joint += np.bincount(cells.ravel(), minlength=joint.size)
    joint = joint.reshape(num_latents, bins, width).astype(np.float64)
    code_count = joint[:, :, :sizes[0]].sum(axis=2, keepdims=True)            # (L, bins, 1)
    value_count = np.bincount(flat_factor.ravel(), minlength=width).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):          # empty cells are masked below
        ratio = joint * n / (code_count * value_count)
    log_ratio = np.log(ratio, out=np.zeros_like(ratio), where=joint > 0)
    per_value = (joint / n * log_ratio).sum(axis=1)                          # (L, width)
    mi = np.maximum(np.add.reduceat(per_value, offsets, axis=1), 0.0)        # (L, K)
    p = value_count / n
    entropy = -np.add.reduceat(p * np.log(p), offsets)
    return mi, entropy


def mutual_information_matrix(codes, factors, bins: int = 20) -> np.ndarray:
    """Discrete mutual information I(z_j; v_k) in nats, shape (n_latents, n_factors).

    ``codes`` (N, L): pass the encoder means, as disentanglement_lib does. Each column is cut
    into ``bins`` equal-width bins over its own [min, max] (``np.histogram`` edges, then
    ``np.digitize``), so the value changes under non-affine monotone maps of a latent but not
    under positive affine ones. ``factors`` (N, K): discrete integer values of any range,
    relabelled by ``np.unique``. Equals ``sklearn.metrics.mutual_info_score`` on the same bins.
    """
    return _mi_and_entropy(codes, factors, bins)[0]


def mig(codes, factors, bins: int = 20) -> float:
    """Mutual Information Gap (Chen et al. 2018) as disentanglement_lib's ``discrete_mig``.

    ``mean_k (I_(1)k - I_(2)k) / H(v_k)`` with I_(1)k >= I_(2)k the two largest entries of factor
    k's column of :func:`mutual_information_matrix` (nats) and H(v_k) the factor's empirical
    entropy (nats); in [0, 1]. ``codes`` (N, L >= 2) should be mean codes; ``factors`` (N, K).
    """
    mi, entropy = _mi_and_entropy(codes, factors, bins)
    if mi.shape[0] < 2:
        raise ValueError("MIG needs at least 2 latents (it is a gap between the top two).")
    if (entropy == 0).any():
        raise ValueError(f"factors {np.flatnonzero(entropy == 0).tolist()} take a single value, so their "
                         f"entropy is 0 and the gap cannot be normalised: drop those factors.")
    top = -np.sort(-mi, axis=0)
    return float(np.mean((top[0] - top[1]) / entropy))


# ------------------------------------------------------------------ the slow reference
def reference_mutual_information_matrix(codes, factors, bins: int = 20) -> np.ndarray:
    """disentanglement_lib's own loop (utils._histogram_discretize + discrete_mutual_info):
    one `sklearn.metrics.mutual_info_score` per (latent, factor) pair. The yardstick that
    tests and `benchmarks/bench_mig.py` hold :func:`mutual_information_matrix` to."""
    import sklearn.metrics

    mus, ys = np.asarray(codes, dtype=np.float64).T, np.asarray(factors).T
    discretized = np.zeros_like(mus)
    for i in range(mus.shape[0]):
        discretized[i, :] = np.digitize(mus[i, :], np.histogram(mus[i, :], bins)[1][:-1])
    m = np.zeros([mus.shape[0], ys.shape[0]])
    for i in range(mus.shape[0]):
        for j in range(ys.shape[0]):
            m[i, j] = sklearn.metrics.mutual_info_score(ys[j, :], discretized[i, :])
    return m


def reference_mig(codes, factors, bins: int = 20) -> float:
    """disentanglement_lib's mig.compute_mig on the loop above (the yardstick for :func:`mig`)."""
    import sklearn.metrics

    m = reference_mutual_information_matrix(codes, factors, bins)
    entropy = np.array([sklearn.metrics.mutual_info_score(y, y) for y in np.asarray(factors).T])
    sorted_m = np.sort(m, axis=0)[::-1]
    return float(np.mean((sorted_m[0, :] - sorted_m[1, :]) / entropy))

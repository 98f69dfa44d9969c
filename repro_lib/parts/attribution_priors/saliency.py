"""Separation / smoothness metrics of latent saliency maps (Amad, Eqs. 2 and 5-9).

All functions are differentiable torch functions.  :func:`total_variation` and
:func:`attribution_entropy` serve both as training priors Omega(A(theta, x)) and as
evaluation metrics.  The Pearson correlation has two functions: the EVALUATION metric
:func:`pearson_correlation` is exactly the document's / lfxai's definition
(``np.corrcoef`` of the maps, off-diagonal mean; a unit with zero spread gives NaN, as in
numpy), and the TRAINING prior :func:`pearson_correlation_prior` adds a scale-relative
variance guard so that its value and gradient stay finite when a unit goes (nearly) dead;
that guard sets r to about 0 for a unit whose spread is below ~1e-4 of the largest one,
which is why it must not be used to score models.  Maps have shape (B, K, H, W) (B images,
K latent units); entropy and Pearson correlation also accept (B, K, *F) with any
feature shape F (e.g. (B, K, 1, 32, 32) from ``latent_saliency``), and total
variation any (..., H, W).

Conventions (checked against Crabbé & van der Schaar's reference code,
JonathanCrabbe/Label-Free-XAI, ``src/lfxai/utils/metrics.py`` and
``src/lfxai/explanations/features.py``):

* Saliency maps are ``|mu_j(x) * GS_j(x)|`` >= 0 (lfxai's ``attribute_individual_dim``
  returns ``np.abs(latents * attributions)``); the metrics themselves do not take
  absolute values, except :func:`attribution_entropy`, which applies Eq. 5's |.|
  (a no-op on saliency maps).
* ``entropy_saliency`` drops the (image, feature) pairs whose saliency sums to zero
  over the latents (``salient_pixels = saliency_reshaped.sum(1) > 0``) and averages
  ``scipy.stats.entropy`` over the remaining ones; under an all-black baseline every
  black pixel has zero attribution for every latent, so these features are common.
* ``pearson_saliency`` is ``np.corrcoef`` of the (K, B * #features) matrix over *all*
  (image, feature) pairs (zeros included), off-diagonal entries averaged over the
  K(K-1) ordered pairs.
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["total_variation", "attribution_entropy", "pearson_correlation", "pearson_correlation_prior"]


def total_variation(maps: Tensor) -> Tensor:
    """Anisotropic total variation (Eq. 2), averaged over maps.

    For each map a (H, W): ``sum_{i,j} |a[i+1, j] - a[i, j]| + |a[i, j+1] - a[i, j]|``
    (differences that would leave the map are omitted).  E.g. [[0, 1], [2, 3]] gives
    |2-0| + |3-1| + |1-0| + |3-2| = 6.

    Args:
        maps: (B, K, H, W) (any leading dims; the last two are the pixel grid).
    Returns:
        Scalar: the mean TV over the B * K maps (the metric the chapters report).
        Eq. 2 *sums* over images: as a training prior `AttributionPrior` multiplies
        this mean by the batch's number of maps, so lambda means what it means there.
    """
    if maps.dim() < 2:
        raise ValueError("maps must have at least 2 dims (..., H, W)")
    dv = (maps[..., 1:, :] - maps[..., :-1, :]).abs().sum(dim=(-2, -1))
    dh = (maps[..., :, 1:] - maps[..., :, :-1]).abs().sum(dim=(-2, -1))
    return (dv + dh).mean()


def attribution_entropy(maps: Tensor, eps: float = 0.0) -> Tensor:
    """Mean entropy over latents of the saliency share of each feature (Eqs. 5-7).

    ``p_j(i, x) = |a_ij| / sum_k |a_ik|``, ``S(i, x) = -sum_j p_j log p_j`` (natural
    log, 0 log 0 = 0), averaged over all (image, feature) pairs (i, x) whose total
    attribution ``sum_k |a_ik|`` exceeds ``eps``.

    Zero-attribution features: p is undefined where all K attributions are zero
    (e.g. black pixels under the all-black baseline).  Following lfxai's
    ``entropy_saliency`` (``salient_pixels = saliency_reshaped.sum(1) > 0``), these
    features are excluded from the average rather than given an arbitrary entropy
    (log K for a uniform split, or 0); with the default ``eps=0`` this is exactly
    lfxai's rule.  A positive ``eps`` also drops near-zero features, whose p has
    gradients of size ~1/total.  We use a threshold rather than an additive
    ``|a| / (sum + eps)``, which would break sum_j p_j = 1 and bias every feature.
    If no feature is salient, returns 0 (lfxai would return nan).

    Differentiability: masked denominators and ``p log p`` are computed with
    ``torch.where`` on safe values, so the value and its gradient are finite
    (no NaN) with all-zero features and zero entries; the feature count in the
    denominator is treated as a constant.

    Args:
        maps: (B, K, H, W) or (B, K, *F) attributions/saliency maps, K >= 1.
        eps: threshold on the total attribution of a feature.
    Returns:
        Scalar mean entropy, in [0, log K].
    """
    if maps.dim() < 2:
        raise ValueError("maps must have shape (B, K, *F)")
    a = maps.abs().flatten(start_dim=2)  # (B, K, P)
    total = a.sum(dim=1, keepdim=True)  # (B, 1, P)
    salient = total > eps
    p = a / torch.where(salient, total, torch.ones_like(total))
    plogp = p * torch.log(torch.where(p > 0, p, torch.ones_like(p)))
    ent = -plogp.sum(dim=1)  # (B, P)
    mask = salient.squeeze(1).to(ent.dtype)
    return (ent * mask).sum() / mask.sum().clamp_min(1.0)


def _centred_rows(maps: Tensor) -> Tensor:
    """(K, B * #features) values of each latent unit, centred."""
    if maps.dim() < 2 or maps.shape[1] < 2:
        raise ValueError("maps must have shape (B, K, *F) with K >= 2")
    K = maps.shape[1]
    v = maps.transpose(0, 1).reshape(K, -1)  # (K, B * P)
    return v - v.mean(dim=1, keepdim=True)


def _mean_off_diagonal(r: Tensor) -> Tensor:
    K = r.shape[0]
    return (r.sum() - torch.diagonal(r).sum()) / (K * (K - 1))


def pearson_correlation(maps: Tensor) -> Tensor:
    """EVALUATION metric: mean Pearson correlation between the saliency of different latents
    (Eqs. 8-9), exactly as the document and lfxai define it.

    ``r_ij = cov(a(mu_i), a(mu_j)) / (sigma_i sigma_j)`` over all B * #features
    (image, feature) pairs, then ``1 / (K (K - 1)) * sum_{i != j} r_ij``: lfxai's
    ``pearson_saliency``, i.e. ``np.corrcoef(saliency.swapaxes(0, 1).reshape(K, -1))``
    with its off-diagonal sum divided by K (K - 1).  Values are used as given (no |.|: pass
    saliency maps, which are >= 0) and all-zero features are kept.  Computed in float64
    (as numpy does) and returned in the maps' dtype.  No guard: a nearly dead unit (tiny but
    nonzero spread) is correlated like any other, and a unit with zero spread gives NaN, as
    ``np.corrcoef`` does.  Use :func:`pearson_correlation_prior` in a training loss.

    Args:
        maps: (B, K, H, W) or (B, K, *F), K >= 2.
    Returns:
        Scalar mean correlation in [-1, 1] (NaN if a unit's maps are constant).
    """
    c = _centred_rows(maps.double())
    cov = c @ c.T / c.shape[1]
    std = torch.sqrt(torch.diagonal(cov))
    r = cov / (std[:, None] * std[None, :])
    return _mean_off_diagonal(r).to(maps.dtype)


def pearson_correlation_prior(maps: Tensor, eps: float = 1e-8) -> Tensor:
    """TRAINING prior (the Pearson attribution prior's Omega): the mean Pearson correlation of
    :func:`pearson_correlation`, with a guard that keeps its value and gradient finite.

    Numerics: the centred values are divided by their (detached) largest absolute
    value over all latents, which leaves r and its gradient unchanged (r is scale
    invariant) but makes ``eps`` relative to the maps' scale (saliency values range
    over orders of magnitude during training); then ``sigma = sqrt(var + eps)``.
    A constant latent (sigma = 0, e.g. a dead unit) thus gets r = 0 with every other
    latent (numpy gives nan) and a finite, NaN-free gradient (``sqrt(var) + eps``
    would give inf * 0 = nan in the backward).  The value is biased towards 0 for a
    latent whose spread is below ~sqrt(eps) = 1e-4 of the largest one: fine for a
    gradient, wrong for scoring a collapsed model (on the author's checkpoint
    ``Entropy-vae_alpha5_run1`` it gave 0.005 where ``np.corrcoef`` gives 0.46), so models
    are scored with :func:`pearson_correlation`.

    Args:
        maps: (B, K, H, W) or (B, K, *F), K >= 2.
        eps: added to the variances of the scale-normalised values.
    Returns:
        Scalar mean correlation in [-1, 1].
    """
    c = _centred_rows(maps)
    scale = c.detach().abs().amax().clamp_min(torch.finfo(c.dtype).tiny)
    c = c / scale
    cov = c @ c.T / c.shape[1]  # (K, K)
    std = torch.sqrt(torch.diagonal(cov) + eps)
    r = cov / (std[:, None] * std[None, :])
    return _mean_off_diagonal(r)


def active_units_per_feature(maps: Tensor) -> Tensor:
    """Mean number of latent units whose share of a feature's saliency exceeds 1/K
    (lfxai's ``count_activated_neurons``, the "Active Neurons" column of the author's
    metrics files): over the (image, feature) pairs with nonzero total saliency, count the
    units j with ``|a_j| / sum_k |a_k| > 1 / K`` and average.  1 when every feature is
    dominated by one unit; it cannot reach K (shares above 1/K for all K units would sum
    to more than 1).  Not differentiable (a count).

    Args:
        maps: (B, K, H, W) or (B, K, *F).
    Returns:
        Scalar float tensor (NaN if no feature has nonzero saliency).
    """
    if maps.dim() < 2:
        raise ValueError("maps must have shape (B, K, *F)")
    K = maps.shape[1]
    a = maps.detach().abs().double().flatten(start_dim=2)  # (B, K, P)
    total = a.sum(dim=1)  # (B, P)
    salient = total > 0
    share = a / torch.where(salient, total, torch.ones_like(total)).unsqueeze(1)
    count = (share > 1.0 / K).sum(dim=1).double()  # (B, P)
    return (count[salient].mean() if salient.any() else torch.tensor(float("nan"))).to(maps.dtype)

"""Batched Gradient SHAP for every output unit at once, and latent saliency maps.

Gradient SHAP (Lundberg & Lee, 2017, as implemented by ``captum.attr.GradientShap``)
explains output unit ``k`` of ``f`` at input ``x`` by

    GS_k(x) = 1/n * sum_s (x + eps_ks - b_ks) * d f_k / d x  evaluated at
              x_ks = alpha_ks * (x + eps_ks) + (1 - alpha_ks) * b_ks,

with, for each of the ``n`` samples ``s``, a baseline ``b_ks`` drawn uniformly from
the baselines, ``alpha_ks ~ U(0, 1)`` and Gaussian noise ``eps_ks ~ N(0, stdevs^2)``.

Independent draws per unit.  Captum computes one target per call (``target=k``), and
each call draws its own baselines, noise and coefficients; the author (and lfxai's
``attribute_individual_dim``) call it once per latent unit, in sequence.  Each unit's map
is the same in distribution whether or not the units share their draws, but the
*correlation between* the units' maps, which the Pearson and entropy metrics measure, is
not: with one shared alpha per (image, sample) every unit's map is scaled by the same
random factors, which adds correlation (on the author's plain VAE ``Beta-vae_beta1_run1``,
all 10,000 test images: shared draws give Pearson 0.339 and entropy 0.737, independent draws
0.275 and 0.714, the author's captum calls per unit 0.282 and 0.715).
:func:`gradient_shap` therefore draws ``(K, B * n_samples)`` baseline indices, noises and
coefficients, one independent set per unit ``k``.

Batching.  Captum needs K forward and K backward passes over ``B * n_samples`` rows.
:func:`gradient_shap` stacks the K units' interpolated points into ``K * B * n_samples``
rows, evaluates ``f`` on them in chunks (one forward per chunk) and takes one backward
per chunk of ``sum_r f(x_r)[unit(r)]``, i.e. each row's gradient of its *own* unit
(rows must not interact in ``f``, as for any model in eval mode without batch
statistics; captum relies on the same).  The arithmetic equals captum's loop; the gain
is fewer, larger passes (see ``benchmarks/bench_attribution.py``, which prints the ratio
measured in the same process).

Matching captum's random draws (captum 0.9, ``GradientShap.attribute`` ->
``NoiseTunnel`` with ``nt_samples_batch_size=None`` -> ``InputBaselineXGradient``),
per call (per unit), in this order:

1. ``baseline_idx = np.random.choice(n_baselines, n_samples * B)`` (numpy RNG),
   drawn even when there is a single baseline;
2. ``noise = torch.normal(0, torch.tensor(stdevs).repeat((B * n_samples, *F)))``
   (torch RNG, float32), drawn even when ``stdevs == 0``; the noisy inputs are
   ``x.repeat_interleave(n_samples, 0) + noise``;
3. ``alphas = np.random.uniform(0, 1, B * n_samples)`` (numpy RNG), cast to x's dtype.

All three are laid out in ``repeat_interleave`` order: flat index ``b * n_samples + s``
is sample ``s`` of image ``b``.  The gradient is taken at
``alpha * (x + noise) + (1 - alpha) * baseline`` and multiplied by
``(x + noise) - baseline`` (noise included), then averaged over the samples.
:func:`captum_draws` returns what K captum calls in sequence draw, stacked as
``(K, B * n_samples)`` (and ``(K, B * n_samples, *F)`` for the noise); pass them as
``baseline_idx``, ``noise``, ``alphas`` to reproduce those K calls exactly.  When not
given they are drawn from ``generator`` (a ``torch.Generator``; the global torch RNG if
None) as whole ``(K, ...)`` tensors, in the order baseline indices, noise (only when
``stdevs != 0``), coefficients.
"""
from __future__ import annotations

from typing import Callable, Optional, Union

import numpy as np
import torch
from torch import Tensor

__all__ = ["gradient_shap", "latent_saliency", "captum_draws", "captum_all_targets", "compare_with_captum"]

DRAWS = "per_unit"
"""How :func:`gradient_shap` draws its random numbers: independently for each output unit."""


def _format_baselines(baselines: Union[Tensor, float, int], x: Tensor) -> Tensor:
    """Baselines as a (n_baselines, *F) tensor on x's device and dtype."""
    feat = tuple(x.shape[1:])
    if not isinstance(baselines, Tensor):
        return torch.full((1, *feat), float(baselines), dtype=x.dtype, device=x.device)
    b = baselines.to(device=x.device, dtype=x.dtype)
    if tuple(b.shape) == feat:
        b = b.unsqueeze(0)
    if tuple(b.shape[1:]) != feat:
        raise ValueError(f"baselines must have shape (n, {feat}) or {feat}, got {tuple(baselines.shape)}")
    return b


def _n_outputs(f: Callable[[Tensor], Tensor], x: Tensor, given: Optional[int], draws) -> int:
    """K: from `given`, else from the first dimension of an explicit draw, else from f(x[:1])."""
    if given is not None:
        return int(given)
    for d in draws:
        if d is not None:
            if torch.as_tensor(d).dim() < 2:
                raise ValueError(
                    "explicit draws must have one row per output unit, shape (K, B * n_samples) "
                    "(noise: (K, B * n_samples, *F)); got shape "
                    f"{tuple(torch.as_tensor(d).shape)}. Gradient SHAP draws independently for each unit "
                    "(as captum called once per target); to share draws, pass them expanded to (K, ...)")
            return int(torch.as_tensor(d).shape[0])
    with torch.no_grad():
        out = f(x[:1])
    if out.dim() != 2:
        raise ValueError(f"f must map (N, ...) to (N, K); got output shape {tuple(out.shape)}")
    return int(out.shape[1])


def gradient_shap(
    f: Callable[[Tensor], Tensor],
    x: Tensor,
    baselines: Union[Tensor, float, int],
    n_samples: int = 5,
    stdevs: float = 0.0,
    create_graph: bool = False,
    generator: Optional[torch.Generator] = None,
    alphas: Optional[Tensor] = None,
    baseline_idx: Optional[Tensor] = None,
    noise: Optional[Tensor] = None,
    chunk_size: int = 2048,
    n_outputs: Optional[int] = None,
) -> Tensor:
    """Gradient SHAP attributions of every output unit of ``f``, with independent draws per
    unit, in batched passes.

    Args:
        f: maps a batch (N, *F) to outputs (N, K); e.g. ``model.encode_mean``. Rows must not
            interact (no batch statistics).
        x: inputs, (B, *F).
        baselines: (n_baselines, *F) reference inputs (one is drawn per sample and unit),
            a single (*F) baseline, or a scalar (a constant baseline).
        n_samples: number of random samples per input and unit (captum's ``n_samples``).
        stdevs: standard deviation of the Gaussian noise added to the inputs.
        create_graph: if True the result keeps its graph (double backprop), so it is
            differentiable w.r.t. f's parameters and can be used in a training loss.
            If False the result is detached and no higher-order graph is built.
        generator: torch.Generator for the draws that are not passed explicitly.
        alphas: (K, B * n_samples) interpolation coefficients in [0, 1], row k for unit k.
        baseline_idx: (K, B * n_samples) integer indices into ``baselines``.
        noise: (K, B * n_samples, *F) noise added to the repeated inputs.
            (column ``b * n_samples + s`` is sample s of image b for all three.)
        chunk_size: interpolated points per forward/backward pass (the K * B * n_samples
            points of all units are cut into chunks of this many rows).
        n_outputs: K, if known (else read from the draws' first dimension, or from one
            forward pass on ``x[:1]``).

    Returns:
        (K, B, *F): ``out[k]`` equals
        ``captum.attr.GradientShap(f).attribute(x, baselines, n_samples=n_samples,
        stdevs=stdevs, target=k)`` given that call's draws (row k of the draws).
    """
    if n_samples < 1:
        raise ValueError("n_samples must be >= 1")
    if chunk_size < 1:
        raise ValueError("chunk_size must be >= 1")
    B = x.shape[0]
    feat = tuple(x.shape[1:])
    N = B * n_samples
    base = _format_baselines(baselines, x)
    dev = x.device
    K = _n_outputs(f, x, n_outputs, (alphas, baseline_idx, noise))

    def _checked(t: Tensor, shape: tuple, name: str) -> Tensor:
        if tuple(t.shape) != shape:
            raise ValueError(f"{name} must have shape {shape} (one row per output unit), got {tuple(t.shape)}")
        return t

    # Draws: baseline choice, noise, alphas; each (K, ...), one independent row per unit.
    if baseline_idx is None:
        baseline_idx = torch.randint(base.shape[0], (K, N), generator=generator, device=dev)
    else:
        baseline_idx = _checked(torch.as_tensor(baseline_idx, device=dev).long(), (K, N), "baseline_idx")
    if noise is None and stdevs != 0.0:
        noise = torch.randn((K, N, *feat), generator=generator, dtype=x.dtype, device=dev) * stdevs
    if noise is not None:
        noise = _checked(torch.as_tensor(noise, device=dev).to(x.dtype), (K, N, *feat), "noise")
    if alphas is None:
        alphas = torch.rand((K, N), generator=generator, dtype=x.dtype, device=dev)
    else:
        alphas = _checked(torch.as_tensor(alphas, device=dev).to(x.dtype), (K, N), "alphas")

    bl = base[baseline_idx] if base.shape[0] > 1 else base.expand(K, N, *feat)  # (K, N, *F)
    with torch.set_grad_enabled(create_graph and x.requires_grad):
        xn = x.repeat_interleave(n_samples, dim=0).unsqueeze(0).expand(K, N, *feat)
        if noise is not None:
            xn = xn + noise
        a = alphas.view(K, N, *([1] * len(feat)))
        scaled = (a * xn + (1.0 - a) * bl).reshape(K * N, *feat)
    if not scaled.requires_grad:
        scaled = scaled.detach().requires_grad_()
    unit = torch.arange(K, device=dev).repeat_interleave(N)  # row r explains unit r // N

    with torch.enable_grad():  # the chunks must stay in the graph, also under no_grad
        parts = scaled.split(chunk_size)
    units = unit.split(chunk_size)
    grads = torch.cat([_own_unit_gradients(f, part, u, K, create_graph) for part, u in zip(parts, units)])

    with torch.set_grad_enabled(create_graph):
        attr = (xn - bl) * grads.view(K, N, *feat)  # (K, N, *F)
        attr = attr.view(K, B, n_samples, *feat).sum(dim=2) * (1.0 / n_samples)
    return attr if create_graph else attr.detach()


def _own_unit_gradients(f: Callable[[Tensor], Tensor], x: Tensor, unit: Tensor, K: int,
                        create_graph: bool) -> Tensor:
    """d f(x_r)[unit_r] / d x_r for every row r, (N, *F): one forward and one backward."""
    with torch.enable_grad():
        out = f(x)
        if out.dim() != 2 or out.shape[0] != x.shape[0] or out.shape[1] != K:
            raise ValueError(f"f must map (N, ...) to (N, {K}); got output shape {tuple(out.shape)}")
        own = out.gather(1, unit.view(-1, 1)).sum()
        (grads,) = torch.autograd.grad(own, x, create_graph=create_graph)
    return grads


def latent_saliency(
    model_mean_fn: Callable[[Tensor], Tensor],
    x: Tensor,
    n_samples: int = 5,
    create_graph: bool = False,
    generator: Optional[torch.Generator] = None,
    mu: Optional[Tensor] = None,
    chunk_size: int = 2048,
) -> tuple[Tensor, Tensor]:
    """Latent means and their saliency maps |mu_j(x) * GS_j(x)|.

    Gradient SHAP with one all-black (zeros) baseline and no noise, as in the
    paper / Crabbé & van der Schaar's ``attribute_individual_dim``.

    Args:
        model_mean_fn: x (N, *F) -> mu(x) (N, K), e.g. ``vae.encode_mean``.
        x: images (B, *F), e.g. (B, 1, 32, 32).
        n_samples: Gradient SHAP samples per image.
        create_graph: False (paper-faithful, default): the Gradient SHAP factor is
            detached, so gradients of a prior on the saliency reach the parameters
            only through mu_j(x). True: both factors are differentiable (double
            backprop through the attribution).
        generator: torch.Generator for the interpolation coefficients (drawn
            independently for each latent unit, see :func:`gradient_shap`).
        mu: mu(x) if the caller has it already (e.g. from the ELBO's forward pass).
        chunk_size: see :func:`gradient_shap`.

    Returns:
        mu: (B, K), the given one or a forward pass at x (keeps its graph).
        saliency: (B, K, *F), ``saliency[b, j] = |mu[b, j] * GS_j(x_b)|`` (>= 0).
    """
    if mu is None:
        mu = model_mean_fn(x)
    baseline = torch.zeros((1, *x.shape[1:]), dtype=x.dtype, device=x.device)
    gs = gradient_shap(
        model_mean_fn, x, baseline, n_samples=n_samples, stdevs=0.0,
        create_graph=create_graph, generator=generator, chunk_size=chunk_size,
        n_outputs=mu.shape[1],
    )  # (K, B, *F)
    gs = gs.transpose(0, 1)  # (B, K, *F)
    mu_b = mu.view(*mu.shape, *([1] * (x.dim() - 1)))
    return mu, (mu_b * gs).abs()


def captum_draws(batch: int, n_samples: int, n_baselines: int, stdevs: float, feat: tuple,
                 n_outputs: int, np_seed: int, torch_seed: int) -> tuple[Tensor, Tensor, Tensor]:
    """The (baseline_idx, noise, alphas) that ``n_outputs`` calls of captum 0.9's GradientShap,
    one per target in sequence, draw after ``np.random.seed(np_seed); torch.manual_seed(torch_seed)``:
    per call baseline indices (numpy), noise (torch.normal), alphas (numpy uniform).
    Shapes (K, batch * n_samples), (K, batch * n_samples, *feat), (K, batch * n_samples)."""
    np.random.seed(np_seed)
    torch.manual_seed(torch_seed)
    idx, noise, alphas = [], [], []
    for _ in range(n_outputs):
        idx.append(torch.as_tensor(np.random.choice(n_baselines, n_samples * batch)))
        noise.append(torch.normal(0, torch.tensor(stdevs).repeat((batch * n_samples, *feat))))
        alphas.append(torch.from_numpy(np.random.uniform(0.0, 1.0, batch * n_samples)))
    return torch.stack(idx), torch.stack(noise), torch.stack(alphas)


def captum_all_targets(f: Callable[[Tensor], Tensor], x: Tensor, baselines: Tensor, n_samples: int,
                       stdevs: float, n_outputs: int, np_seed: int = 11, torch_seed: int = 22) -> Tensor:
    """captum's GradientShap for each output unit in turn, seeded once before the first call as
    the author's loop over targets (lfxai's ``attribute_individual_dim``), (K, B, *F)."""
    from captum.attr import GradientShap

    np.random.seed(np_seed)
    torch.manual_seed(torch_seed)
    explainer = GradientShap(f)
    outs = [explainer.attribute(x, baselines, n_samples=n_samples, stdevs=stdevs, target=k)
            for k in range(n_outputs)]
    return torch.stack(outs)


def compare_with_captum(f: Callable[[Tensor], Tensor], x: Tensor, n_samples: int = 5,
                        baselines: Optional[Tensor] = None, stdevs: float = 0.0) -> float:
    """Largest |ours - captum| over every output unit, input and feature, given the draws of
    captum's calls for all targets in sequence (all-black baseline unless ``baselines`` is given)."""
    if baselines is None:
        baselines = torch.zeros((1, *x.shape[1:]), dtype=x.dtype, device=x.device)
    with torch.no_grad():
        n_outputs = f(x[:1]).shape[1]
    ref = captum_all_targets(f, x, baselines, n_samples, stdevs, n_outputs)
    idx, noise, alphas = captum_draws(x.shape[0], n_samples, baselines.shape[0], stdevs,
                                      tuple(x.shape[1:]), n_outputs, 11, 22)
    ours = gradient_shap(f, x, baselines, n_samples=n_samples, stdevs=stdevs,
                         alphas=alphas, baseline_idx=idx, noise=noise)
    return float((ours - ref).abs().max())

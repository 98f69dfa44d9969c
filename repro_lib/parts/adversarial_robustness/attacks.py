"""Latent-space adversarial attacks on VAEs, batched: every (source, target) pair of a
batch is optimised together as one tensor on one device.

The attack (thesis 003, method from its author's public code): start from
clamp(source + N(0, noise_std^2), 0, 1); minimise, per pair,

    lam * ||x_adv - source||_2 + ||theta(x_adv) - theta(target)||_2,

theta = the flattened posterior parameters (means, log-variances, category logits), with
Adam (lr) for `steps` steps, projecting x_adv after every step onto the L-infinity ball of
`radius` around the source and onto [0, 1]. The loss of a batch is the *sum* over its pairs
and Adam is elementwise, so each pair follows exactly the path it would follow alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from tqdm.auto import tqdm


@dataclass
class AttackResult:
    """x_adv (N, ...) and, per pair, the final latent distance ||theta(x_adv) - theta(t)||_2
    and the perturbation's L2 and L-infinity norms."""

    x_adv: torch.Tensor
    latent_distance: torch.Tensor
    l2: torch.Tensor
    linf: torch.Tensor


def _flat_norm(t: torch.Tensor) -> torch.Tensor:
    return t.flatten(1).norm(dim=1)


def start_noise(shape, noise_std: float = 0.2, generator: torch.Generator | None = None) -> torch.Tensor:
    """The attack's start noise N(0, noise_std^2) of `shape`, drawn on the CPU (so a seeded
    `generator` gives the same noise on every device)."""
    return torch.randn(shape, generator=generator) * noise_std


def attack(theta: Callable[[torch.Tensor], torch.Tensor], source: torch.Tensor,
           target: torch.Tensor, *, radius: float = 0.1, steps: int = 1000, lr: float = 1e-3,
           lam: float = 1.0, noise_std: float = 0.2, batch_size: int | None = None,
           generator: torch.Generator | None = None, progress: bool = False,
           desc: str = "attack", noise: torch.Tensor | None = None) -> AttackResult:
    """Attack each source image toward its target (rows of `source` and `target` pair up).

    theta: x (B, ...) -> (B, P) posterior parameters (model in eval mode; gradients flow).
    radius: L-infinity bound on x_adv - source, in pixel units ([0, 1] images).
    steps, lr: Adam iterations and step size; lam: weight of the L2 distance to the source.
    noise_std: standard deviation of the Gaussian start noise.
    batch_size: pairs optimised together (all of them when None); the result does not
    depend on it except through the noise drawn (one draw for all pairs, up front).
    generator: seeds the start noise (on the CPU, then moved), so runs repeat exactly.
    noise: the start noise itself (source's shape, already scaled; `noise_std` and
    `generator` are then unused), so a set of pairs split into chunks starts each pair
    from the noise it would get in one call (see `start_noise`).
    """
    if source.shape != target.shape:
        raise ValueError(f"source {tuple(source.shape)} and target {tuple(target.shape)} differ")
    if radius <= 0 or steps < 0:
        raise ValueError(f"radius must be > 0 and steps >= 0, got {radius}, {steps}")
    if noise is None:
        noise = start_noise(source.shape, noise_std, generator)
    elif noise.shape != source.shape:
        raise ValueError(f"noise {tuple(noise.shape)} and source {tuple(source.shape)} differ")
    noise = noise.to(source.device)
    batch = batch_size or len(source)
    out = []
    bar = tqdm(total=steps * ((len(source) + batch - 1) // batch), desc=desc, disable=not progress,
               leave=False, mininterval=1.0)
    for start in range(0, len(source), batch):
        src = source[start:start + batch]
        with torch.no_grad():
            goal = theta(target[start:start + batch])
        low, high = (src - radius).clamp(0, 1), (src + radius).clamp(0, 1)
        x = (src + noise[start:start + batch]).clamp(0, 1).requires_grad_(True)
        opt = torch.optim.Adam([x], lr=lr)
        for _ in range(steps):
            loss = lam * _flat_norm(x - src) + _flat_norm(theta(x) - goal)
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            opt.step()
            with torch.no_grad():
                x.copy_(torch.maximum(torch.minimum(x, high), low))
            bar.update()
        with torch.no_grad():
            x = x.detach()
            out.append((x, _flat_norm(theta(x) - goal)))
    bar.close()
    x_adv = torch.cat([o[0] for o in out])
    delta = x_adv - source
    return AttackResult(x_adv, torch.cat([o[1] for o in out]), _flat_norm(delta),
                        delta.flatten(1).abs().amax(1))

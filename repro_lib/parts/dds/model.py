"""DDS (document 000, Section 3.1): a selector g prepended to a downstream model f,

    f(tau(g~(X) + delta) * Gamma_M * X)   (Eq. 2),

and the two models of Table 5 built from it, registered as model families.

`DDS` wraps any selector (x -> raw scores g~, one map per pixel or per element) and any
downstream module. In training mode the gate is Eq. 4 with noise kappa and the mask keeps all
F features for a share epsilon of the samples (Eq. 6); in eval mode the gate is Eq. 3
(kappa = 0) and every row keeps exactly M features. `select(x)` returns every intermediate
(scores, gate, mask, the masked input) for the figures and tests.

Mask granularity (not given in the document; a knob): "pixel" (our default) scores each of the
H x W positions once and keeps or drops all colour channels of a position together, so
F = H W = 1024 on CIFAR-10, which fits Table 5's largest M = 1024 ("all features"); "element"
scores each of the C H W numbers separately.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from ...models import register_family
from .networks import NaiveAE, UNet
from .selection import (
    BETA,
    DELTA,
    EPSILON,
    GAMMA,
    KAPPA_TRAIN,
    ZETA,
    dynamic_m,
    hard_concrete_gate,
    stochastic_gate,
    top_m_mask,
)

GRANULARITIES = ("pixel", "element")


class Selection(NamedTuple):
    """What the selector did to a batch: `scores` g~ (B, F), `gate` tau(g~ + delta) (B, F),
    `mask` Gamma_M (B, F) of 0/1, `counts` the features kept per row (B,), `masked` the input
    f receives (x's shape)."""

    scores: torch.Tensor
    gate: torch.Tensor
    mask: torch.Tensor
    counts: torch.Tensor
    masked: torch.Tensor

    @property
    def weights(self) -> torch.Tensor:
        """tau * Gamma_M (B, F): the factor each feature is multiplied by."""
        return self.gate * self.mask


class DDS(nn.Module):
    """f(tau(g~(X) + delta) * Gamma_M * X) around a `selector` and a `downstream` module."""

    def __init__(self, selector: nn.Module, downstream: nn.Module, m: int, granularity: str = "pixel",
                 beta: float = BETA, delta: float = DELTA, zeta: float = ZETA, gamma: float = GAMMA,
                 kappa: float = KAPPA_TRAIN, epsilon: float = EPSILON):
        super().__init__()
        if granularity not in GRANULARITIES:
            raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}")
        if m < 1:
            raise ValueError(f"m (features kept per sample) must be >= 1, got {m}")
        if not zeta > gamma:
            raise ValueError(f"the gate needs zeta > gamma, got zeta={zeta}, gamma={gamma}")
        self.selector, self.downstream = selector, downstream
        self.m, self.granularity = int(m), granularity
        self.beta, self.delta, self.zeta, self.gamma = beta, delta, zeta, gamma
        self.kappa, self.epsilon = kappa, epsilon
        self.generator: torch.Generator | None = None  # None: the global generator (seeded by fit)

    def features(self, x: torch.Tensor) -> int:
        """F: the number of selectable features of one sample of x (B, C, H, W)."""
        return x.shape[-2] * x.shape[-1] * (1 if self.granularity == "pixel" else x.shape[1])

    def select(self, x: torch.Tensor) -> Selection:
        """The masked input and how it came about (training: Eqs. 4 and 6; eval: Eq. 3, M)."""
        raw = self.selector(x)
        expected = (x.shape[0], 1 if self.granularity == "pixel" else x.shape[1], *x.shape[2:])
        if tuple(raw.shape) != expected:
            raise ValueError(f"the selector gives {tuple(raw.shape)}, a {self.granularity} mask needs {expected}")
        scores = raw.flatten(1)
        features = scores.shape[1]
        if self.m > features:
            raise ValueError(f"m = {self.m} exceeds the {features} features of a sample")
        if self.training:
            counts = dynamic_m(len(x), self.m, features, self.epsilon, self.generator, x.device)
            gate = stochastic_gate(scores + self.delta, self.kappa, self.beta, self.zeta, self.gamma,
                                   generator=self.generator)
        else:
            counts = torch.full((len(x),), self.m, dtype=torch.int64, device=x.device)
            gate = hard_concrete_gate(scores + self.delta, self.beta, self.zeta, self.gamma)
        mask = top_m_mask(scores, counts)
        masked = (gate * mask).view(raw.shape) * x
        return Selection(scores, gate, mask, counts, masked)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downstream(self.select(x).masked)


@register_family("dds_autoencoder")
class DDSAutoencoder(DDS):
    """Table 5's DDS: a U-Net selector (C = `channels`) and a U-Net reconstruction network f
    (`f_channels`, with or without its skip links) that reconstructs the whole image."""

    def __init__(self, m: int, channels: int = 16, f_channels: int = 16, depth: int = 3, f_skips: bool = True,
                 granularity: str = "pixel", image_channels: int = 3, beta: float = BETA, delta: float = DELTA,
                 zeta: float = ZETA, gamma: float = GAMMA, kappa: float = KAPPA_TRAIN, epsilon: float = EPSILON):
        selector = UNet(image_channels, 1 if granularity == "pixel" else image_channels, channels, depth)
        f = UNet(image_channels, image_channels, f_channels, depth, skips=f_skips, out_activation="sigmoid")
        super().__init__(selector, f, m, granularity, beta, delta, zeta, gamma, kappa, epsilon)


@register_family("naive_ae")
class NaiveAutoencoder(NaiveAE):
    """Table 5's naive autoencoder: a code of `latent` numbers (M)."""

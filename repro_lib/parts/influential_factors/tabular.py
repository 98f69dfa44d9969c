"""The thesis's MLP VAE for the credit-default table (document 002, Listings C.1-C.2).

Rows are (B, input_dim) min-max scaled features in [0, 1]. Encoder: Linear(input_dim, 512) and
512-256-128-64 with LeakyReLU (slope 0.01) between, then Linear(64, 2 latent_dim) cut into mu
and logvar, logvar clipped to [-20, 20] ("if var is 0 then logvar could become -inf"). Decoder:
Linear(latent_dim, 64) and 64-128-256-512-input_dim with LeakyReLU after each, then a Sigmoid.
The listing puts a LeakyReLU before the final Sigmoid; kept, so outputs below 0.5 need a strongly
negative pre-activation (sigmoid(0.01 a)). Weights initialised as disentanglement-pytorch does.
"""
from __future__ import annotations

import torch
from torch import nn

from ...models import register_family
from ...models.vae import GaussianVAE
from .abdi import init_abdi

LOGVAR_CLIP = 20.0


def _mlp(widths: list[int]) -> list[nn.Module]:
    """Linear layers through `widths`, a LeakyReLU after every one but the last."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(nn.LeakyReLU())
    return layers


class TabularEncoder(nn.Module):
    """Listing C.1 (`PadlessGaussianConvEncoder`): (B, input_dim) -> (mu, logvar), each
    (B, latent_dim), logvar clipped to [-20, 20]."""

    def __init__(self, latent_dim: int, input_dim: int):
        super().__init__()
        self.latent_dim = latent_dim
        self.main = nn.Sequential(*_mlp([input_dim, 512, 256, 128, 64, 2 * latent_dim]))
        init_abdi(self)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu_logvar = self.main(x)
        mu, logvar = mu_logvar[:, : self.latent_dim], mu_logvar[:, self.latent_dim :]
        return mu, logvar.clamp(-LOGVAR_CLIP, LOGVAR_CLIP)


class TabularDecoder(nn.Module):
    """Listing C.2 (`SimpleConvDecoder`): (B, latent_dim) -> (B, input_dim) in (0, 1)."""

    def __init__(self, latent_dim: int, input_dim: int):
        super().__init__()
        self.main = nn.Sequential(*_mlp([latent_dim, 64, 128, 256, 512, input_dim]),
                                  nn.LeakyReLU(), nn.Sigmoid())
        init_abdi(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


@register_family("tabular_vae")
class TabularVAE(GaussianVAE):
    """Listings C.1 + C.2 as one VAE; the `models.vae` interface."""

    def __init__(self, input_dim: int = 23, latent_dim: int = 5):
        super().__init__(TabularEncoder(latent_dim, input_dim),
                         TabularDecoder(latent_dim, input_dim), latent_dim)

"""The convolutional VAE for 64x64 CelebA faces that the thesis (document 002, Section 3.1) takes
from Abdi et al.'s disentanglement-pytorch: `SimpleGaussianConv64` and `SimpleConv64` decoder.

Encoder: six 4x4 stride-2 convolutions (32, 32, 64, 128, 256, 256 channels, ReLU after each;
64x64 -> 1x1), then Linear(256, 2 latent_dim) cut into mu and logvar (no clipping). Decoder: the
code as a 1x1 map, a 1x1 convolution to 256 channels, transposed convolutions 256-256-128-128-
64-64 (1 -> 2 -> 6 -> 14 -> 30 -> 62 pixels, ReLU after each) and a 3x3 one to the image
channels (64x64). The original emits logits for a BCE-with-logits loss; a Sigmoid here gives the
Bernoulli means that `repro_lib.objectives` expects, the same loss.
"""
from __future__ import annotations

import torch
from torch import nn

from ...models import register_family
from ...models.vae import GaussianVAE
from .abdi import init_abdi

_DOWN = dict(kernel_size=4, stride=2, padding=1)


class FaceEncoder(nn.Module):
    """(B, channels, 64, 64) -> (mu, logvar), each (B, latent_dim)."""

    def __init__(self, latent_dim: int, channels: int = 3):
        super().__init__()
        self.latent_dim = latent_dim
        widths = [channels, 32, 32, 64, 128, 256, 256]
        layers: list[nn.Module] = []
        for a, b in zip(widths, widths[1:]):
            layers += [nn.Conv2d(a, b, **_DOWN), nn.ReLU()]
        self.main = nn.Sequential(*layers, nn.Flatten(), nn.Linear(256, 2 * latent_dim))
        init_abdi(self)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.shape[-2:] != (64, 64):
            raise ValueError(f"FaceEncoder takes 64x64 images, got {tuple(x.shape)}")
        mu_logvar = self.main(x)
        return mu_logvar[:, : self.latent_dim], mu_logvar[:, self.latent_dim :]


class FaceDecoder(nn.Module):
    """(B, latent_dim) -> (B, channels, 64, 64) Bernoulli means in (0, 1)."""

    def __init__(self, latent_dim: int, channels: int = 3):
        super().__init__()
        self.main = nn.Sequential(
            nn.Unflatten(1, (latent_dim, 1, 1)),
            nn.Conv2d(latent_dim, 256, 1, 2), nn.ReLU(),
            nn.ConvTranspose2d(256, 256, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(256, 128, 4, 2), nn.ReLU(),
            nn.ConvTranspose2d(128, 128, 4, 2), nn.ReLU(),
            nn.ConvTranspose2d(128, 64, 4, 2), nn.ReLU(),
            nn.ConvTranspose2d(64, 64, 4, 2), nn.ReLU(),
            nn.ConvTranspose2d(64, channels, 3, 1), nn.Sigmoid(),
        )
        init_abdi(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


@register_family("face_vae")
class FaceVAE(GaussianVAE):
    """`FaceEncoder` + `FaceDecoder`; the `models.vae` interface."""

    def __init__(self, latent_dim: int = 20, channels: int = 3):
        super().__init__(FaceEncoder(latent_dim, channels), FaceDecoder(latent_dim, channels),
                         latent_dim)

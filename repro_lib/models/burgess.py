"""The Burgess et al. (2018) convolutional VAE, as used by Crabbé & van der Schaar.

Encoder: three 4x4 stride-2 convolutions of 32 channels (32x32 -> 4x4), two
dense layers of 256 units, a head giving the mean and log-variance of each
latent unit. The decoder mirrors it and ends in a sigmoid (Bernoulli means).
Input images are (B, C, 32, 32) in [0, 1].
"""
from __future__ import annotations

import torch
from torch import nn

from .vae import GaussianVAE


class BurgessEncoder(nn.Module):
    """(B, C, 32, 32) images -> (mu, logvar), each (B, latent_dim)."""

    def __init__(self, latent_dim: int = 3, channels: int = 1, hidden: int = 256, conv: int = 32):
        super().__init__()
        self.latent_dim = latent_dim
        kw = dict(kernel_size=4, stride=2, padding=1)
        self.convs = nn.Sequential(
            nn.Conv2d(channels, conv, **kw), nn.ReLU(),
            nn.Conv2d(conv, conv, **kw), nn.ReLU(),
            nn.Conv2d(conv, conv, **kw), nn.ReLU(),
            nn.Flatten(),
        )
        self.dense = nn.Sequential(
            nn.Linear(conv * 4 * 4, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
        )
        # Two heads rather than one 2K-unit layer cut in half: the same function
        # class, but mu alone (what saliency explains) needs no slicing, which keeps
        # double backpropagation through Gradient SHAP cheap.
        self.mu_head = nn.Linear(hidden, latent_dim)
        self.logvar_head = nn.Linear(hidden, latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.dense(self.convs(x))
        return self.mu_head(h), self.logvar_head(h)

    def mean(self, x: torch.Tensor) -> torch.Tensor:
        """mu(x) alone, (B, latent_dim)."""
        return self.mu_head(self.dense(self.convs(x)))


class BurgessDecoder(nn.Module):
    """(B, latent_dim) codes -> (B, C, 32, 32) Bernoulli means in (0, 1)."""

    def __init__(self, latent_dim: int = 3, channels: int = 1, hidden: int = 256, conv: int = 32):
        super().__init__()
        self.conv = conv
        kw = dict(kernel_size=4, stride=2, padding=1)
        self.dense = nn.Sequential(
            nn.Linear(latent_dim, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, conv * 4 * 4), nn.ReLU(),
        )
        self.deconvs = nn.Sequential(
            nn.ConvTranspose2d(conv, conv, **kw), nn.ReLU(),
            nn.ConvTranspose2d(conv, conv, **kw), nn.ReLU(),
            nn.ConvTranspose2d(conv, channels, **kw), nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.deconvs(self.dense(z).view(-1, self.conv, 4, 4))


class BurgessVAE(GaussianVAE):
    """`BurgessEncoder` + `BurgessDecoder` (the `vae` interface); `encode_mean(x)` computes
    mu(x) alone, the deterministic map that saliency methods explain."""

    def __init__(self, latent_dim: int = 3, channels: int = 1):
        super().__init__(BurgessEncoder(latent_dim, channels), BurgessDecoder(latent_dim, channels),
                         latent_dim)

    def encode_mean(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder.mean(x)

"""The VAE and the continuous-label CCVAE of the firebreak report (Gimó, Murray, Redon), and
their objective.

Input: (N, 1, 20, 20) firebreak layouts; the model concatenates the landscape's normalised
elevation, slope and aspect (a buffer: the Cell2Fire landscape of the authors' data with
`landscape="cell2fire"`, else our synthetic forest of `landscape_seed`) to make the 4x20x20
encoder input. Only the layout channel is reconstructed (sigmoid). Table 1 of the report:

    encoder  conv(4, 128) -> conv(128, 256) -> Linear(6400, 256) [mean; a twin for log-variance]
    decoder  Linear(256, 6400) -> t_conv(256, 128) -> t_conv(128, 1)
    head     Linear(128, 128) -> Linear(128, 64) -> Linear(64, 1), sigmoid  (CCVAE only)

Convolutions are 4x4, stride 2, padding 1 (20 -> 10 -> 5), with batch norm and ReLU, as in
the authors' code. The latent z (256) is split in two: the head reads the last half,
z_c (the characteristic latents); the first half is z_\\c.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...models import register_family
from ...models.vae import Posterior, VAEOutput, gaussian_kl, reparameterise
from ...objectives import bernoulli_nll
from .fire import make_landscape

LANDSCAPES = ("synthetic", "cell2fire")


def landscape_channels(landscape: str, landscape_seed: int, size: int) -> torch.Tensor:
    """(3, size, size): normalised elevation, slope and aspect of the model's landscape."""
    if landscape == "cell2fire":
        from . import cell2fire

        land = cell2fire.landscape(cell2fire.instance())
        if land.fuel.shape != (size, size):
            raise ValueError(f"the Cell2Fire landscape is {land.fuel.shape}, the model expects ({size}, {size})")
    elif landscape == "synthetic":
        land = make_landscape(landscape_seed, size)
    else:
        raise ValueError(f"unknown landscape {landscape!r}; choose one of {', '.join(LANDSCAPES)}")
    return torch.from_numpy(land.channels())


@register_family("fire_vae")
class FireVAE(nn.Module):
    """VAE over firebreak layouts; `head=True` adds the fitness regression head on z_c."""

    def __init__(self, latent_dim: int = 256, channels: int = 128, size: int = 20,
                 landscape_seed: int = 0, head: bool = False, landscape: str = "synthetic"):
        super().__init__()
        self.latent_dim, self.size = latent_dim, size
        self.split = latent_dim // 2
        side = size // 4
        land = landscape_channels(landscape, landscape_seed, size)
        self.register_buffer("landscape", land.unsqueeze(0))
        self.encoder = nn.Sequential(
            nn.Conv2d(4, channels, 4, 2, 1), nn.BatchNorm2d(channels), nn.ReLU(),
            nn.Conv2d(channels, 2 * channels, 4, 2, 1), nn.BatchNorm2d(2 * channels), nn.ReLU(),
            nn.Flatten())
        flat = 2 * channels * side * side
        self.mu_head = nn.Linear(flat, latent_dim)
        self.logvar_head = nn.Linear(flat, latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, flat), nn.Unflatten(1, (2 * channels, side, side)),
            nn.ConvTranspose2d(2 * channels, channels, 4, 2, 1), nn.BatchNorm2d(channels), nn.ReLU(),
            nn.ConvTranspose2d(channels, 1, 4, 2, 1), nn.Sigmoid())
        self.head = nn.Sequential(
            nn.Linear(latent_dim - self.split, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
            nn.Linear(64, 1), nn.Sigmoid()) if head else None

    def encode(self, x: torch.Tensor) -> Posterior:
        """q(z | layout, landscape): mean and log-variance, each (N, latent)."""
        inp = torch.cat([x, self.landscape.expand(len(x), -1, -1, -1)], dim=1)
        h = self.encoder(inp)
        return Posterior(self.mu_head(h), self.logvar_head(h))

    def encode_mean(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x).mu

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Firebreak probabilities (N, 1, 20, 20) of latents z (N, latent)."""
        return self.decoder(z)

    def predict(self, z: torch.Tensor) -> torch.Tensor:
        """Predicted fitness (N,) from the characteristic latents z_c = z[:, split:]."""
        if self.head is None:
            raise AttributeError("this model has no regression head (build it with head=True)")
        return self.head(z[:, self.split:]).squeeze(1)

    def forward(self, x: torch.Tensor) -> VAEOutput:
        """z is a reparameterised sample in training mode and the mean in eval mode (as in
        the authors' code)."""
        posterior = self.encode(x)
        z = reparameterise(posterior.mu, posterior.logvar, self.training)
        return VAEOutput(self.decode(z), posterior, z)


@register_family("fire_ccvae")
class FireCCVAE(FireVAE):
    """The CCVAE: a FireVAE with the regression head on z_c."""

    def __init__(self, latent_dim: int = 256, channels: int = 128, size: int = 20,
                 landscape_seed: int = 0, landscape: str = "synthetic"):
        super().__init__(latent_dim, channels, size, landscape_seed, head=True, landscape=landscape)


@dataclass(frozen=True)
class ContinuousCCVAELoss:
    """Eq. 2 with one continuous label, per layout: BCE(recon, x) summed over cells
    + beta * KL(q(z|x) || N(0, I)) + alpha * (y - f(z_c))^2, averaged over the batch.
    alpha = 0 gives the plain VAE's objective. The head gets its own Adam optimiser with
    learning rate `head_lr` (None: the training learning rate), as in the report."""

    beta: float = 0.1
    alpha: float = 0.0
    head_lr: float | None = None

    def __call__(self, model, batch):
        x, y = batch
        recon, posterior, z = model(x)
        bce, kl = bernoulli_nll(recon, x), gaussian_kl(*posterior[:2])
        terms = {"recon": bce, "kl": kl}
        loss = bce + self.beta * kl
        if self.alpha:
            mse = F.mse_loss(model.predict(z), y)
            terms["mse"] = mse
            loss = loss + self.alpha * mse
        return {"loss": loss, **terms}

    def param_groups(self, model, lr: float) -> list[dict]:
        """One optimiser per group: the VAE, and the regression head (when trained)."""
        head = list(model.head.parameters()) if (model.head is not None and self.alpha) else []
        ids = {id(p) for p in head}
        groups = [{"params": [p for p in model.parameters() if id(p) not in ids], "lr": lr}]
        if head:
            groups.append({"params": head, "lr": self.head_lr or lr})
        return groups

    def describe(self) -> dict:
        return {"objective": type(self).__name__, **asdict(self)}

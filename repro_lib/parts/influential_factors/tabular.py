"""The thesis's MLP VAE for the credit-default table (document 002, Listings C.1-C.2) and the
weighted reconstruction loss the book trains it with.

Rows are (B, input_dim) min-max scaled features in [0, 1]. Encoder: Linear(input_dim, 512) and
512-256-128-64 with LeakyReLU (slope 0.01) between, then Linear(64, 2 latent_dim) cut into mu
and logvar, logvar clipped to [-20, 20] ("if var is 0 then logvar could become -inf"). Decoder:
Linear(latent_dim, 64) and 64-128-256-512-input_dim with LeakyReLU after each hidden layer, then
a Sigmoid. Weights initialised as disentanglement-pytorch does.

Listing C.2 also puts a LeakyReLU between the last Linear and the Sigmoid (`final_leaky_relu=True`,
the listing). Then an output p < 0.5 needs the pre-activation 100 logit(p) (sigmoid(0.01 a)):
21 of the table's 23 column means are below 0.5 (PAY_AMT1-6 near 0.006, i.e. a = -510), and
such a decoder learns them about 100 times more slowly. Trained as the thesis says (lr 1e-4,
10 epochs) it reconstructed 1.13 nats per row worse than predicting every row by the column
means, at lr 1e-5 7.05 nats worse. The book's table models drop that LeakyReLU
(`final_leaky_relu=False`, said in chapter 3.2).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
    """Listing C.2 (`SimpleConvDecoder`): (B, latent_dim) -> (B, input_dim) in (0, 1); with
    `final_leaky_relu` (the listing) a LeakyReLU sits between the last Linear and the Sigmoid."""

    def __init__(self, latent_dim: int, input_dim: int, final_leaky_relu: bool = True):
        super().__init__()
        head = [nn.LeakyReLU()] if final_leaky_relu else []
        self.main = nn.Sequential(*_mlp([latent_dim, 64, 128, 256, 512, input_dim]), *head, nn.Sigmoid())
        init_abdi(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


@register_family("tabular_vae")
class TabularVAE(GaussianVAE):
    """Listings C.1 + C.2 as one VAE; the `models.vae` interface. `final_leaky_relu=True` is
    the listing's decoder head (see the module's docstring)."""

    def __init__(self, input_dim: int = 23, latent_dim: int = 5, final_leaky_relu: bool = True):
        super().__init__(TabularEncoder(latent_dim, input_dim),
                         TabularDecoder(latent_dim, input_dim, final_leaky_relu), latent_dim)


@dataclass(frozen=True)
class WeightedReconstruction:
    """An objective whose "recon" term counts `weight` times: loss = inner loss + (weight - 1)
    recon, every term of `inner` (e.g. `BetaTCVAE`: recon + MI + beta TC + dim-KL) reported
    unchanged. disentanglement-pytorch, which the thesis builds on, has this weight (`w_recon`).

    Why the table needs it: the Bernoulli cross-entropy of a [0, 1] target x against p is, near
    p = x, a Gaussian with variance p(1 - p); for the min-max scaled table that "noise" exceeds
    every column's own variance (var / p(1 - p) is 0.01-0.13 except SEX, 1.0), so no latent
    pays for its KL and the optimum at weight 1 is the collapsed posterior (see
    `recipes.whitened_eigenvalues`). Weighting the reconstruction by w divides that noise by w.
    """

    inner: Any
    weight: float

    def __post_init__(self):
        if not self.weight > 0:
            raise ValueError(f"weight must be > 0, got {self.weight!r}")

    def __call__(self, model, x):
        out = dict(self.inner(model, x))
        out["loss"] = out["loss"] + (self.weight - 1.0) * out["recon"]
        return out

    def describe(self) -> dict:
        return {"objective": type(self).__name__, "weight": float(self.weight), "inner": self.inner.describe()}

"""The multi-stage VAE (MSVAE, Srivastava et al. 2020) as the thesis (document 002, Sections 2.4,
3.4, 4.3) uses it, for 64x64 faces and for the credit table.

Stage 1 is a trained beta-TCVAE (`FaceVAE` / `TabularVAE` fitted with `BetaTCVAE`); y is its
reconstruction of x from z = mu, computed once with `models.vae.reconstructions`. Stage 2 is a VAE
on pairs (x, y): an encoder q(z | x - y) of the residual that the disentangled code missed and a
decoder p(x | y, z). It is trained with `MSVAEStage2ELBO` on the tuple data (x, y) through
`train.fit`. The thesis trains the residual encoder first and then the decoder, and gives
neither the stage-2 losses nor its layers beyond "convolutional"; here both parts are fitted
together as one ELBO, with the decoders described below (our choice). `MSVAE(stage1, stage2)`
reconstructs, and mixes the inputs of two examples (Section 4.3, `MIXUP_MODES`).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ...models import register_family
from ...models.vae import GaussianVAE, VAEOutput, evaluating, gaussian_kl, reparameterise
from ...objectives import bernoulli_nll, describe_fields
from .abdi import init_abdi
from .faces import FaceEncoder  # also registers face_vae
from .tabular import TabularDecoder, TabularEncoder  # also registers tabular_vae


class MSVAEStage2(GaussianVAE):
    """`encoder(residual)` -> (mu, logvar), each (B, latent_dim); `decoder(y, z)` -> x-shaped
    Bernoulli means. `forward((x, y))` returns `VAEOutput(recon, posterior, z)` with z sampled
    in training and z = mu in eval mode; `encode(r)` is the posterior of a residual r."""

    def decode(self, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(y, z)

    def forward(self, pair: tuple[torch.Tensor, torch.Tensor]) -> VAEOutput:
        x, y = pair
        posterior = self.encode(x - y)
        z = reparameterise(posterior.mu, posterior.logvar, self.training)
        return VAEOutput(self.decode(y, z), posterior, z)


class TablePairDecoder(TabularDecoder):
    """Listing C.2's MLP on [y, z]: (B, input_dim), (B, latent_dim) -> (B, input_dim) in (0, 1)."""

    def __init__(self, latent_dim: int, input_dim: int):
        super().__init__(latent_dim + input_dim, input_dim)

    def forward(self, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.main(torch.cat([y, z], 1))


class FacePairDecoder(nn.Module):
    """(B, C, H, W) y and (B, latent_dim) z -> (B, C, H, W) in (0, 1): two 3x3 convolutions
    (32 channels, ReLU) give features of y, z is copied to every pixel and concatenated, then
    3x3 convolutions of `width`, `width` and C channels (ReLU between) and a Sigmoid."""

    def __init__(self, latent_dim: int, channels: int = 3, width: int = 64):
        super().__init__()
        same = dict(kernel_size=3, padding=1)
        self.features = nn.Sequential(nn.Conv2d(channels, 32, **same), nn.ReLU(),
                                      nn.Conv2d(32, 32, **same), nn.ReLU())
        self.head = nn.Sequential(nn.Conv2d(32 + latent_dim, width, **same), nn.ReLU(),
                                  nn.Conv2d(width, width, **same), nn.ReLU(),
                                  nn.Conv2d(width, channels, **same), nn.Sigmoid())
        init_abdi(self)

    def forward(self, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        h = self.features(y)
        z_map = z[:, :, None, None].expand(-1, -1, *h.shape[-2:])
        return self.head(torch.cat([h, z_map], 1))


@register_family("msvae_tabular")
class TabularMSVAE(MSVAEStage2):
    """Stage 2 for (B, input_dim) rows: Listing C.1's encoder on x - y, `TablePairDecoder`."""

    def __init__(self, input_dim: int = 23, latent_dim: int = 5):
        super().__init__(TabularEncoder(latent_dim, input_dim),
                         TablePairDecoder(latent_dim, input_dim), latent_dim)


@register_family("msvae_faces")
class FaceMSVAE(MSVAEStage2):
    """Stage 2 for (B, channels, 64, 64) images: `FaceEncoder` on x - y, `FacePairDecoder`."""

    def __init__(self, latent_dim: int = 20, channels: int = 3, width: int = 64):
        super().__init__(FaceEncoder(latent_dim, channels),
                         FacePairDecoder(latent_dim, channels, width), latent_dim)


@dataclass(frozen=True)
class MSVAEStage2ELBO:
    """Negative ELBO of stage 2 on (x, y) batches: Bernoulli NLL of x under decode(y, z), plus
    beta KL(q(z | x - y) || N(0, I)); nats per example. Terms: loss, recon, kl."""

    beta: float = 1.0

    def __call__(self, model, batch):
        x, y = batch
        recon, posterior, _ = model((x, y))
        rec, kl = bernoulli_nll(recon, x), gaussian_kl(posterior.mu, posterior.logvar)
        return {"loss": rec + self.beta * kl, "recon": rec, "kl": kl}

    describe = describe_fields


# Section 4.3: y always comes from X_i; what the residual encoder reads comes from X_j.
MIXUP_MODES = {
    "xj-yj": "(X_i, X_j - Y_j): X_j's own residual",
    "xj": "(X_i, X_j): X_j itself",
    "xj-yi": "(X_i, X_j - Y_i): X_j minus X_i's stage-1 reconstruction",
}


def mixup_inputs(x_i, y_i, x_j, y_j, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Stage 2's (y, encoder input) for mixing example i with example j (`MIXUP_MODES`);
    with j = i, "xj-yj" and "xj-yi" give the ordinary (Y_i, X_i - Y_i)."""
    if mode not in MIXUP_MODES:
        raise ValueError(f"mode must be one of {list(MIXUP_MODES)}, got {mode!r}")
    if x_i.shape != x_j.shape:
        raise ValueError(f"x_i and x_j differ in shape: {tuple(x_i.shape)} vs {tuple(x_j.shape)}")
    encoder_input = {"xj-yj": lambda: x_j - y_j, "xj": lambda: x_j, "xj-yi": lambda: x_j - y_i}
    return y_i, encoder_input[mode]()


class MSVAE:
    """A trained stage 1 (any VAE of the `models.vae` interface) and stage 2
    (`MSVAEStage2`), for inference: eval mode, z = mu, no gradients. `history`: stage 2's
    per-step training terms, when known."""

    def __init__(self, stage1: nn.Module, stage2: MSVAEStage2, history: dict | None = None):
        self.stage1, self.stage2, self.history = stage1, stage2, history

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """x_hat = decode(Y, mu(X - Y)) with Y the stage-1 reconstruction of x."""
        return self.mixup(x, x, "xj-yj")

    def mixup(self, x_i: torch.Tensor, x_j: torch.Tensor, mode: str) -> torch.Tensor:
        """decode(Y_i, mu(input_j)): X_i's stage-1 reconstruction with the residual code of
        X_j taken as `mode` says (`MIXUP_MODES`). Same shape as x_i."""
        with evaluating(self.stage1, self.stage2):
            y_i = self.stage1(x_i).recon
            y_j = y_i if x_j is x_i else self.stage1(x_j).recon
            y, encoder_input = mixup_inputs(x_i, y_i, x_j, y_j, mode)
            return self.stage2.decode(y, self.stage2.encode_mean(encoder_input))

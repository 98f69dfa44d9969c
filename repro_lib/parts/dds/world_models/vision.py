"""The vision models of World Models on CarRacing (document 000, Section 4.2 and Figure 2).

**Baseline** (`WorldModelsVAE`, family "wm_vae"): Ha & Schmidhuber's conv VAE on 64x64x3
frames as ctallec/world-models' `VAE(3, 32)` (our code, same layers): encoder 4x4 stride-2
convolutions 3 -> 32 -> 64 -> 128 -> 256 (64 -> 31 -> 14 -> 6 -> 2), two linear heads
1024 -> 32 (mu and log sigma); decoder 32 -> 1024, transposed convolutions 1024 -> 128 (5x5),
128 -> 64 (5x5), 64 -> 32 (6x6), 32 -> 3 (6x6), all stride 2 (1 -> 5 -> 13 -> 30 -> 64),
sigmoid out. 4,348,547 parameters at z = 32, the number the document quotes.

**DDS vision** (Figure 2; the layer sizes are ours, the document gives only its total,
4,039,089):

    x_hat = f_unet(f_up(h_hat)),  h = f_down(tau * Gamma_M * x),  h_hat = VAE(h)

* g: the DDS selector of `..model.DDS` (a `..networks.UNet`, C = `selector_channels`, depth 3)
  scoring each of the 64 x 64 positions; M = round(`m_percent`% of 4,096) positions are kept.
* f_down: 4x4 stride-2 convolutions 3 -> w -> 2w (64 -> 32 -> 16), ReLU, and a 3x3
  convolution to h of `h_channels` x 16 x 16 (linear).
* f_up: three layers, whose outputs are Eq. 8's f_up(.)_k: 4x4 stride-2 transposed
  convolutions h_channels -> 2w -> w (16 -> 32 -> 64) with ReLU, a 3x3 convolution to 3
  channels (sigmoid): a coarse frame.
* f_unet: a `..networks.UNet` (C = `unet_channels`, depth 3) from the coarse frame to the
  final one (sigmoid).
* VAE on h (`HVAE`, family "wm_h_vae"): 4x4 stride-2 convolutions h_channels -> v -> 2v -> 4v
  (16 -> 8 -> 4 -> 2), linear heads 16v -> z (mu, log-variance); decoder z -> 16v, transposed
  convolutions back to h_channels x 16 x 16 (linear out).

Stage 1 (`DDSStage1`, family "wm_dds_stage1") trains g, f_down, f_up and f_unet with the pixel
MSE, h passed through unchanged; stage 2 freezes them and trains only the VAE on h with
`PerceptualFreeBits` (Eqs. 7 and 8). `DDSVision` (family "wm_dds_vision") joins the two.
At the defaults (w = 32, h_channels = 16, v = 96, C = 16 for g and f_unet) the whole DDS
vision model has 4,208,967 parameters, under the baseline's 4,348,547
(`tests/parts/dds/test_world_models_vision.py` checks both): selector g 483,441, f_down
43,632, f_up 50,115, f_unet 483,475, VAE on h 3,148,304.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ....models import register_family
from ....models.vae import GaussianVAE, Posterior, VAEOutput, gaussian_kl_per_dim, reparameterise
from ....objectives import describe_fields
from ..model import DDS
from ..networks import UNet

LATENT = 32
FRAME = 64
BASELINE_PARAMETERS = 4_348_547  # Ha & Schmidhuber's VAE, as the document quotes it
DOCUMENT_DDS_PARAMETERS = 4_039_089  # the document's DDS vision model (architecture not given)
ALPHA, LAMBDA = 1.0, 0.02  # Eq. 7's free-bits weight and budget
FREE_BITS_SCOPES = ("per_dim", "total")


# ----------------------------------------------------------------------------- baseline


class _HaEncoder(nn.Module):
    def __init__(self, channels: int, latent: int):
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(channels, 32, 4, stride=2), nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2), nn.ReLU(),
            nn.Conv2d(64, 128, 4, stride=2), nn.ReLU(),
            nn.Conv2d(128, 256, 4, stride=2), nn.ReLU(), nn.Flatten())
        self.fc_mu = nn.Linear(2 * 2 * 256, latent)
        self.fc_logsigma = nn.Linear(2 * 2 * 256, latent)

    def forward(self, x):
        hidden = self.convs(x)
        return self.fc_mu(hidden), 2.0 * self.fc_logsigma(hidden)  # (mu, logvar = 2 log sigma)


class _HaDecoder(nn.Module):
    def __init__(self, channels: int, latent: int):
        super().__init__()
        self.fc = nn.Linear(latent, 1024)
        self.deconvs = nn.Sequential(
            nn.ConvTranspose2d(1024, 128, 5, stride=2), nn.ReLU(),
            nn.ConvTranspose2d(128, 64, 5, stride=2), nn.ReLU(),
            nn.ConvTranspose2d(64, 32, 6, stride=2), nn.ReLU(),
            nn.ConvTranspose2d(32, channels, 6, stride=2), nn.Sigmoid())

    def forward(self, z):
        return self.deconvs(F.relu(self.fc(z))[:, :, None, None])


@register_family("wm_vae")
class WorldModelsVAE(GaussianVAE):
    """Ha & Schmidhuber's (ctallec's `VAE(3, 32)`) conv VAE on 64x64 frames."""

    def __init__(self, latent: int = LATENT, channels: int = 3):
        super().__init__(_HaEncoder(channels, latent), _HaDecoder(channels, latent), latent)


@dataclass(frozen=True)
class BaselineVAELoss:
    """ctallec's VAE loss: squared error summed over the pixels of a frame plus KL(q || N(0, I)),
    each averaged over the batch; `free_bits` (nats per unit, optional) floors each unit's KL as
    in `free_bits_kl` (None: the plain KL)."""

    free_bits: float | None = None

    def __call__(self, model, x):
        recon, posterior, _ = model(x)
        squared = (recon - x).pow(2).flatten(1).sum(1).mean()
        kl = (free_bits_kl(posterior.mu, posterior.logvar, self.free_bits) if self.free_bits
              else gaussian_kl_per_dim(posterior.mu, posterior.logvar).sum())
        return {"loss": squared + kl, "squared_error": squared, "kl": kl,
                "mse": squared / x[0].numel()}

    describe = describe_fields


# ----------------------------------------------------------------------------- Eqs. 7 and 8


def free_bits_kl(mu: torch.Tensor, logvar: torch.Tensor, lam: float = LAMBDA, scope: str = "per_dim"
                 ) -> torch.Tensor:
    """Eq. 7's max(lambda, KL): `per_dim` sum_j max(lambda, KL_j) with KL_j the unit's KL averaged
    over the batch (Kingma et al. 2016's free bits, one group per unit: the reading of "each
    dimension a small budget"), `total` max(lambda, sum_j KL_j) (Eq. 7 read literally). A KL
    below its floor gets no gradient."""
    if scope not in FREE_BITS_SCOPES:
        raise ValueError(f"free-bits scope must be one of {FREE_BITS_SCOPES}, got {scope!r}")
    per_dim = gaussian_kl_per_dim(mu, logvar)
    floor = torch.as_tensor(lam, dtype=per_dim.dtype, device=per_dim.device)
    return torch.maximum(per_dim, floor).sum() if scope == "per_dim" else torch.maximum(per_dim.sum(), floor)


def perceptual_loss(layers_hat: list[torch.Tensor], layers: list[torch.Tensor]) -> torch.Tensor:
    """Eq. 8: (1 / K) sum_k ||f_up(h_hat)_k - f_up(h)_k||^2, the squared norm over each sample's
    elements, averaged over the batch."""
    if len(layers_hat) != len(layers) or not layers:
        raise ValueError(f"need the same non-zero number of layers, got {len(layers_hat)} and {len(layers)}")
    return sum((a - b).pow(2).flatten(1).sum(1).mean() for a, b in zip(layers_hat, layers)) / len(layers)


# ----------------------------------------------------------------------------- DDS vision


def m_of(m_percent: float, frame: int = FRAME) -> int:
    """M: the number of the frame's frame x frame positions kept at `m_percent`% (at least 1)."""
    if not 0 < m_percent <= 100:
        raise ValueError(f"m_percent must lie in (0, 100], got {m_percent}")
    return max(1, round(frame * frame * m_percent / 100))


class DownUp(nn.Module):
    """DDS's downstream model in Figure 2: f_unet(f_up(f_down(masked))), h passed through."""

    def __init__(self, width: int = 32, h_channels: int = 16, unet_channels: int = 16, depth: int = 3):
        super().__init__()
        self.f_down = nn.Sequential(
            nn.Conv2d(3, width, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(2 * width, h_channels, 3, 1, 1))
        self.f_up = nn.ModuleList([
            nn.Sequential(nn.ConvTranspose2d(h_channels, 2 * width, 4, 2, 1), nn.ReLU()),
            nn.Sequential(nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.ReLU()),
            nn.Sequential(nn.Conv2d(width, 3, 3, 1, 1), nn.Sigmoid())])
        self.f_unet = UNet(3, 3, unet_channels, depth, out_activation="sigmoid")

    def up_layers(self, h: torch.Tensor) -> list[torch.Tensor]:
        """The output of each layer of f_up on h (Eq. 8's f_up(h)_k); the last is the coarse frame."""
        outputs = []
        for layer in self.f_up:
            h = layer(h)
            outputs.append(h)
        return outputs

    def decode_h(self, h: torch.Tensor) -> torch.Tensor:
        return self.f_unet(self.up_layers(h)[-1])

    def forward(self, masked: torch.Tensor) -> torch.Tensor:
        return self.decode_h(self.f_down(masked))


@register_family("wm_dds_stage1")
class DDSStage1(DDS):
    """Stage 1 of Figure 2: g, f_down, f_up, f_unet trained end to end on the pixel MSE."""

    def __init__(self, m_percent: float = 4.0, selector_channels: int = 16, width: int = 32,
                 h_channels: int = 16, unet_channels: int = 16, depth: int = 3, **gate):
        super().__init__(UNet(3, 1, selector_channels, depth), DownUp(width, h_channels, unet_channels, depth),
                         m_of(m_percent), "pixel", **gate)
        self.h_channels = h_channels

    def h(self, x: torch.Tensor) -> torch.Tensor:
        """h = f_down(tau * Gamma_M * x)."""
        return self.downstream.f_down(self.select(x).masked)


class _HEncoder(nn.Module):
    def __init__(self, h_channels: int, width: int, latent: int):
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(h_channels, width, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(2 * width, 4 * width, 4, 2, 1), nn.ReLU(), nn.Flatten())
        self.fc_mu = nn.Linear(16 * width, latent)
        self.fc_logvar = nn.Linear(16 * width, latent)

    def forward(self, h):
        hidden = self.convs(h)
        return self.fc_mu(hidden), self.fc_logvar(hidden)


class _HDecoder(nn.Module):
    def __init__(self, h_channels: int, width: int, latent: int):
        super().__init__()
        self.fc = nn.Linear(latent, 16 * width)
        self.deconvs = nn.Sequential(
            nn.Unflatten(1, (4 * width, 2, 2)), nn.ReLU(),
            nn.ConvTranspose2d(4 * width, 2 * width, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(width, h_channels, 4, 2, 1))

    def forward(self, z):
        return self.deconvs(self.fc(z))


@register_family("wm_h_vae")
class HVAE(GaussianVAE):
    """The VAE on h (h_channels x 16 x 16) -> z -> h_hat (unbounded, like h)."""

    def __init__(self, h_channels: int = 16, width: int = 96, latent: int = LATENT):
        super().__init__(_HEncoder(h_channels, width, latent), _HDecoder(h_channels, width, latent), latent)


@register_family("wm_dds_vision")
class DDSVision(nn.Module):
    """The whole DDS vision model: `stage1` (frozen in stage 2) and the VAE on h, with the VAE
    interface of `repro_lib.models.vae` (encode -> Posterior, decode -> frames, forward)."""

    def __init__(self, m_percent: float = 4.0, selector_channels: int = 16, width: int = 32, h_channels: int = 16,
                 unet_channels: int = 16, vae_width: int = 96, latent: int = LATENT, depth: int = 3):
        super().__init__()
        self.stage1 = DDSStage1(m_percent, selector_channels, width, h_channels, unet_channels, depth)
        self.vae = HVAE(h_channels, vae_width, latent)
        self.latent_dim = latent

    @classmethod
    def from_parts(cls, stage1: DDSStage1, vae: HVAE) -> DDSVision:
        model = cls.__new__(cls)
        nn.Module.__init__(model)
        model.stage1, model.vae, model.latent_dim = stage1, vae, vae.latent_dim
        return model.eval()

    def encode(self, x: torch.Tensor) -> Posterior:
        return self.vae.encode(self.stage1.h(x))

    def encode_mean(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x).mu

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.stage1.downstream.decode_h(self.vae.decode(z))

    def forward(self, x: torch.Tensor) -> VAEOutput:
        posterior = self.encode(x)
        z = reparameterise(posterior.mu, posterior.logvar, self.training)
        return VAEOutput(self.decode(z), posterior, z)


def all_parameters(module: nn.Module) -> int:
    """Every parameter of `module`, trainable or frozen (stage 2 freezes stage 1's)."""
    return sum(p.numel() for p in module.parameters())


def vision_parts(model: DDSVision) -> dict[str, int]:
    """Parameters of each block of a DDS vision model (frozen ones included) and their total."""
    s1 = model.stage1
    counts = {"selector g": all_parameters(s1.selector), "f_down": all_parameters(s1.downstream.f_down),
              "f_up": all_parameters(s1.downstream.f_up), "f_unet": all_parameters(s1.downstream.f_unet),
              "VAE on h": all_parameters(model.vae)}
    counts["total"] = sum(counts.values())
    return counts


# ----------------------------------------------------------------------------- objectives


@dataclass(frozen=True)
class PixelMSE:
    """Stage 1: mean squared error between the reconstruction and the whole frame."""

    def __call__(self, model, x):
        return {"loss": F.mse_loss(model(x), x)}

    describe = describe_fields


@dataclass(frozen=True)
class PerceptualFreeBits:
    """Stage 2 (Eqs. 7-8) for the VAE on h: perceptual loss through the frozen `stage1`'s f_up
    plus alpha * free-bits KL. `stage1_key` (its cache key) stands for the frozen model in the
    description, so a retrained stage 1 retrains stage 2."""

    stage1_key: str
    alpha: float = ALPHA
    lam: float = LAMBDA
    scope: str = "per_dim"
    stage1: nn.Module | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        if self.stage1 is None:
            raise ValueError("PerceptualFreeBits needs the trained stage-1 model")
        if self.scope not in FREE_BITS_SCOPES:
            raise ValueError(f"free-bits scope must be one of {FREE_BITS_SCOPES}, got {self.scope!r}")
        self.stage1.eval()
        for p in self.stage1.parameters():
            p.requires_grad_(False)

    def __call__(self, model, x):
        with torch.no_grad():
            h = self.stage1.h(x)
            target = self.stage1.downstream.up_layers(h)
        out = model(h)
        perceptual = perceptual_loss(self.stage1.downstream.up_layers(out.recon), target)
        kl = free_bits_kl(out.posterior.mu, out.posterior.logvar, self.lam, self.scope)
        return {"loss": perceptual + self.alpha * kl, "perceptual": perceptual, "kl": kl}

    def describe(self):
        return {"objective": "PerceptualFreeBits", "stage1": self.stage1_key, "alpha": self.alpha,
                "lambda": self.lam, "scope": self.scope}

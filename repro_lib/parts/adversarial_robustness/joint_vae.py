"""The JointVAE of Dupont (2018) as the thesis (document 003) uses it: a conv VAE whose
latent code is `cont` Gaussian units plus one `disc`-way categorical unit relaxed by a
Concrete (Gumbel-softmax) sample at `temperature`.

Encoder (from the thesis author's public code): 4x4 stride-2 convolutions with 32, 32, 64
channels (a fourth, 64 channels, for 64x64 images), ReLU, then two dense layers of 128 units;
heads give mu, logvar (cont each) and the category logits (disc). The decoder mirrors it and
ends in a sigmoid (Bernoulli means). `disc = 0` gives a plain Gaussian VAE of the same net.

It follows the `models.vae` interface: `forward(x)` returns `VAEOutput(recon, posterior, z)`,
the posterior carrying the logits; `posterior_params(x)` the flattened
(mu, logvar, logits) that the attack compares. In eval mode z = (mu, one-hot(argmax logits)).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...models import register_family
from ...models.vae import Posterior, VAEOutput, reparameterise

_KW = dict(kernel_size=4, stride=2, padding=1)


def gumbel_max(logits: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One-hot samples of Categorical(softmax(logits)) by the Gumbel-Max trick, (..., K)."""
    u = torch.rand(logits.shape, generator=generator, device=logits.device).clamp_(1e-10, 1 - 1e-10)
    index = (logits - torch.log(-torch.log(u))).argmax(-1)
    return F.one_hot(index, logits.shape[-1]).to(logits.dtype)


def concrete_sample(logits: torch.Tensor, temperature: float,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """Concrete / Gumbel-softmax relaxation (thesis Eq. 2.8): softmax((log alpha + G) / lambda).

    `logits` are log alpha (unnormalised log-probabilities, (..., K)); `temperature` is
    lambda > 0; as lambda -> 0 the sample tends to the Gumbel-Max one-hot vector drawn with
    the same noise. Differentiable in `logits`."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    u = torch.rand(logits.shape, generator=generator, device=logits.device).clamp_(1e-10, 1 - 1e-10)
    return torch.softmax((logits - torch.log(-torch.log(u))) / temperature, dim=-1)


def _conv_stack(channels: int, size: int) -> list[nn.Module]:
    widths = [32, 32, 64] + ([64] if size == 64 else [])
    layers, c = [], channels
    for w in widths:
        layers += [nn.Conv2d(c, w, **_KW), nn.ReLU()]
        c = w
    return layers


@register_family("joint_vae")
class JointVAE(nn.Module):
    """Conv VAE with `cont` Gaussian latents and one `disc`-way Concrete latent (0 = none).

    channels: image channels (1 MNIST, 3 CelebA); size: 32 or 64 pixels; hidden: dense width.
    """

    def __init__(self, cont: int = 10, disc: int = 10, temperature: float = 0.1,
                 channels: int = 1, size: int = 32, hidden: int = 128):
        super().__init__()
        if size not in (32, 64):
            raise ValueError(f"size must be 32 or 64 pixels, got {size}")
        self.cont, self.disc, self.temperature = cont, disc, temperature
        self.channels, self.size = channels, size
        self.encoder = nn.Sequential(*_conv_stack(channels, size), nn.Flatten(),
                                     nn.Linear(64 * 4 * 4, hidden), nn.ReLU(),
                                     nn.Linear(hidden, hidden), nn.ReLU())
        self.mu_head = nn.Linear(hidden, cont)
        self.logvar_head = nn.Linear(hidden, cont)
        self.logit_head = nn.Linear(hidden, disc) if disc else None
        self.decoder_dense = nn.Sequential(nn.Linear(cont + disc, hidden), nn.ReLU(),
                                           nn.Linear(hidden, 64 * 4 * 4), nn.ReLU())
        widths = ([64] if size == 64 else []) + [64, 32, 32]
        layers = []
        for a, b in zip(widths, widths[1:]):
            layers += [nn.ConvTranspose2d(a, b, **_KW), nn.ReLU()]
        layers += [nn.ConvTranspose2d(widths[-1], channels, **_KW), nn.Sigmoid()]
        self.deconvs = nn.Sequential(*layers)

    @property
    def latent_dim(self) -> int:
        return self.cont + self.disc

    def encode(self, x: torch.Tensor) -> Posterior:
        """q(z, c | x): Gaussian (mu, logvar) and category logits (None without a categorical latent)."""
        h = self.encoder(x)
        logits = self.logit_head(h) if self.logit_head is not None else None
        return Posterior(self.mu_head(h), self.logvar_head(h), logits)

    def encode_mean(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x).mu

    def posterior_params(self, x: torch.Tensor) -> torch.Tensor:
        """theta(x): means, log-variances and category logits, concatenated (B, 2 cont + disc)."""
        mu, logvar, logits = self.encode(x)
        return torch.cat([mu, logvar] + ([logits] if logits is not None else []), 1)

    def latent(self, mu, logvar, logits):
        """z: a reparameterised Gaussian + Concrete sample in training, (mu, one-hot) in eval."""
        if self.training:
            parts = [reparameterise(mu, logvar, True)]
            if logits is not None:
                parts.append(concrete_sample(logits, self.temperature))
        else:
            parts = [mu]
            if logits is not None:
                parts.append(F.one_hot(logits.argmax(1), self.disc).to(mu.dtype))
        return torch.cat(parts, 1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.deconvs(self.decoder_dense(z).view(-1, 64, 4, 4))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """The deterministic reconstruction decode(mu, one-hot(argmax)) whatever the mode."""
        mu, logvar, logits = self.encode(x)
        parts = [mu] + ([F.one_hot(logits.argmax(1), self.disc).to(mu.dtype)] if logits is not None else [])
        return self.decode(torch.cat(parts, 1))

    def forward(self, x: torch.Tensor) -> VAEOutput:
        posterior = self.encode(x)
        z = self.latent(*posterior)
        return VAEOutput(self.decode(z), posterior, z)


@register_family("small_cnn")
class SmallCNN(nn.Module):
    """The judges: a small CNN classifier of (B, channels, size, size) images (three 3x3 conv
    + batch-norm + 2x2 max-pool blocks of 32, 64, 64 channels, dropout, dense 128); `size` a
    multiple of 8.
    `forward(x)` returns `classes` logits: the MNIST digit judge (1 channel, 32 px, 10
    classes) and the CelebA attribute judge (3 channels, 64 px, 40 independent attributes)."""

    def __init__(self, channels: int = 1, classes: int = 10, size: int = 32):
        super().__init__()
        if size % 8:
            raise ValueError(f"size must be a multiple of 8, got {size}")
        self.net = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Dropout(0.25),
            nn.Linear(64 * (size // 8) ** 2, 128), nn.ReLU(), nn.Dropout(0.25),
            nn.Linear(128, classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

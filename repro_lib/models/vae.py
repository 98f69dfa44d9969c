"""The one interface of the book's VAE families, and the pieces every family shares.

A VAE here has
- `encode(x) -> Posterior` (mu and logvar, each (B, K); `logits` (B, L) for a categorical
  latent, else None),
- `decode(z) -> x-shaped Bernoulli means in (0, 1)`,
- `forward(x) -> VAEOutput(recon, posterior, z)`, with z sampled in training mode and z = mu
  (and the arg-max category) in eval mode,
- `encode_mean(x) -> mu (B, K)`, the deterministic map that saliency methods explain.

`reparameterise` is the one reparameterisation trick, `gaussian_kl` and `gaussian_kl_per_dim`
the one Gaussian KL, `evaluate_in_batches` the one "eval mode, no gradients, in batches" loop.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, NamedTuple

import torch
from torch import nn


class Posterior(NamedTuple):
    """q(z | x): Gaussian mean and log-variance (B, K); categorical logits (B, L) or None."""

    mu: torch.Tensor
    logvar: torch.Tensor
    logits: torch.Tensor | None = None


class VAEOutput(NamedTuple):
    """What `forward` returns: the reconstruction (x-shaped), the posterior and the code z."""

    recon: torch.Tensor
    posterior: Posterior
    z: torch.Tensor


def reparameterise(mu: torch.Tensor, logvar: torch.Tensor, training: bool) -> torch.Tensor:
    """z = mu + sigma * eps (eps ~ N(0, I)) in training, z = mu in evaluation."""
    return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if training else mu


def _kl_elements(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)) of every (image, unit), (B, K), nats."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) summed over units, mean over the batch (nats)."""
    return _kl_elements(mu, logvar).sum(1).mean()


def gaussian_kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu_j, exp(logvar_j)) || N(0, 1)) per latent unit j, mean over the batch, (K,)."""
    return _kl_elements(mu, logvar).mean(0)


class GaussianVAE(nn.Module):
    """A VAE around any `encoder(x) -> (mu, logvar)` and `decoder(z) -> x-shaped means`."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, latent_dim: int):
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder, self.decoder = encoder, decoder

    def encode(self, x: torch.Tensor) -> Posterior:
        return Posterior(*self.encoder(x))

    def encode_mean(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x).mu

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> VAEOutput:
        posterior = self.encode(x)
        z = reparameterise(posterior.mu, posterior.logvar, self.training)
        return VAEOutput(self.decode(z), posterior, z)


@contextmanager
def evaluating(*modules: nn.Module):
    """Eval mode and no gradients inside; the modules' modes are restored after."""
    modes = [m.training for m in modules]
    try:
        for m in modules:
            m.eval()
        with torch.no_grad():
            yield
    finally:
        for m, mode in zip(modules, modes):
            m.train(mode)


def evaluate_in_batches(model: nn.Module, x: torch.Tensor,
                        fn: Callable[[nn.Module, torch.Tensor], torch.Tensor],
                        batch_size: int = 500) -> torch.Tensor:
    """`fn(model, batch)` over the rows of `x` (images, codes, ...) in batches, in eval mode
    without gradients (the model's mode is restored after), concatenated on dim 0."""
    with evaluating(model):
        return torch.cat([fn(model, x[i : i + batch_size]) for i in range(0, len(x), batch_size)])


def reconstructions(model: nn.Module, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Reconstructions from z = mu (eval mode, no gradients), in batches; same shape as x."""
    return evaluate_in_batches(model, x, lambda m, xb: m(xb).recon, batch_size)


def posterior_means(model: nn.Module, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """mu(x) (N, K) in eval mode, in batches."""
    return evaluate_in_batches(model, x, lambda m, xb: m.encode(xb).mu, batch_size)

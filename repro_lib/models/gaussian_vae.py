"""The encoder-decoder shell of Abdi et al.'s disentanglement-pytorch [thesis ref. 1], which the
thesis (document 002) builds on: its weight initialisation and a Gaussian VAE around any
encoder x -> (mu, logvar) and decoder z -> Bernoulli means.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn


def init_abdi(module: nn.Module) -> None:
    """disentanglement-pytorch's `init_layers`: Xavier-normal weights for (transposed)
    convolutions, Kaiming-normal (fan-in, ReLU gain) for linear layers; biases keep PyTorch's."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_normal_(m.weight)
        elif isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight)


def reparameterise(mu: torch.Tensor, logvar: torch.Tensor, training: bool) -> torch.Tensor:
    """z = mu + sigma * eps (eps ~ N(0, I)) in training, z = mu in evaluation."""
    return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if training else mu


class GaussianVAE(nn.Module):
    """`encoder(x)` -> (mu, logvar), each (B, latent_dim); `decoder(z)` -> x-shaped means in (0, 1).

    `forward(x)` returns (reconstruction, mu, logvar, z), with z sampled in training mode and
    z = mu in eval mode (as `BurgessVAE`); `encode_mean(x)` is x -> mu(x).
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, latent_dim: int):
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder, self.decoder = encoder, decoder

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder(x)

    def encode_mean(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)[0]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def forward(self, x: torch.Tensor):
        mu, logvar = self.encoder(x)
        z = reparameterise(mu, logvar, self.training)
        return self.decoder(z), mu, logvar, z


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


def reconstructions(model: nn.Module, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """model(x)[0] with z = mu (eval mode, no gradients), in batches; same shape as x."""
    with evaluating(model):
        return torch.cat([model(x[i : i + batch_size])[0] for i in range(0, len(x), batch_size)])

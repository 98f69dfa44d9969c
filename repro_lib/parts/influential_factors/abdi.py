"""The weight initialisation of Abdi et al.'s disentanglement-pytorch [thesis ref. 1], which the
thesis (document 002) builds on; its Gaussian VAE shell is core's `models.vae.GaussianVAE`."""
from __future__ import annotations

from torch import nn


def init_abdi(module: nn.Module) -> None:
    """disentanglement-pytorch's `init_layers`: Xavier-normal weights for (transposed)
    convolutions, Kaiming-normal (fan-in, ReLU gain) for linear layers; biases keep PyTorch's."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_normal_(m.weight)
        elif isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight)

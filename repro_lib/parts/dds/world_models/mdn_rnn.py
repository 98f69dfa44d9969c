"""The memory model M of World Models: an MDN-RNN (document 000, Appendix A).

An LSTM with 256 units reads (z_t, a_t) and a linear head gives a mixture of 5 diagonal
Gaussians over z_{t+1}: per component k a weight pi_k, a mean mu_k in R^32 and scales sigma_k
in R^32 (as ctallec/world-models' MDRNN, one mixture over the whole vector; ours has no reward
or done head, which Ha's CarRacing agent does not use):

    p(z_{t+1} | z_t, a_t, h_t) = sum_k pi_k prod_j N(z_{t+1, j}; mu_kj, sigma_kj).

`mixture_nll` is minus the log of that density (log-sum-exp over k), per step; its test
compares it with `torch.distributions.MixtureSameFamily`. `sample_next` draws z_{t+1} at a
temperature tau (Ha & Schmidhuber: mixture logits / tau, sigmas * sqrt(tau)).
`MDNSequenceLoss` is the training objective on (mu, logvar, actions) sequences: each batch
samples z from the stored posteriors (Ha's recipe) and scores the prediction of z_{t+1} from
steps <= t; its "nll" is per latent unit (divided by 32).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ....models import register_family
from ....objectives import describe_fields

HIDDEN, GAUSSIANS, ACTIONS = 256, 5, 3
_LOG_2PI = math.log(2 * math.pi)


class Mixture(NamedTuple):
    """Mixture parameters (..., K) logits, (..., K, D) means and scales."""

    logits: torch.Tensor
    mu: torch.Tensor
    sigma: torch.Tensor


def mixture_nll(target: torch.Tensor, mixture: Mixture) -> torch.Tensor:
    """-log sum_k pi_k prod_j N(target_j; mu_kj, sigma_kj) for target (..., D): shape (...)."""
    z = target.unsqueeze(-2)
    log_normal = (-0.5 * ((z - mixture.mu) / mixture.sigma).pow(2) - mixture.sigma.log() - 0.5 * _LOG_2PI).sum(-1)
    return -torch.logsumexp(F.log_softmax(mixture.logits, -1) + log_normal, -1)


def sample_next(mixture: Mixture, temperature: float = 1.0, generator: torch.Generator | None = None
                ) -> torch.Tensor:
    """One draw of z (..., D) per row: a component from softmax(logits / tau), then
    mu + sigma sqrt(tau) eps. tau -> 0 gives the mean of the most likely component."""
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if temperature == 0:
        k = mixture.logits.argmax(-1)
        return torch.gather(mixture.mu, -2, k[..., None, None].expand(*k.shape, 1, mixture.mu.shape[-1])).squeeze(-2)
    probs = F.softmax(mixture.logits / temperature, -1)
    k = torch.multinomial(probs.reshape(-1, probs.shape[-1]), 1, generator=generator).reshape(probs.shape[:-1])
    index = k[..., None, None].expand(*k.shape, 1, mixture.mu.shape[-1])
    mu = torch.gather(mixture.mu, -2, index).squeeze(-2)
    sigma = torch.gather(mixture.sigma, -2, index).squeeze(-2)
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
    return mu + sigma * math.sqrt(temperature) * eps


@register_family("wm_mdn_rnn")
class MDNRNN(nn.Module):
    """LSTM(latent + actions -> hidden) and a head to a `gaussians`-component mixture over z."""

    def __init__(self, latent: int = 32, actions: int = ACTIONS, hidden: int = HIDDEN, gaussians: int = GAUSSIANS):
        super().__init__()
        self.latent, self.actions, self.hidden, self.gaussians = latent, actions, hidden, gaussians
        self.lstm = nn.LSTM(latent + actions, hidden, batch_first=True)
        self.head = nn.Linear(hidden, gaussians * (2 * latent + 1))

    def mixture(self, out: torch.Tensor) -> Mixture:
        k, d = self.gaussians, self.latent
        params = self.head(out)
        mu = params[..., : k * d].unflatten(-1, (k, d))
        sigma = params[..., k * d : 2 * k * d].unflatten(-1, (k, d)).clamp(-10.0, 5.0).exp()
        return Mixture(params[..., 2 * k * d :], mu, sigma)

    def forward(self, z: torch.Tensor, a: torch.Tensor, state=None) -> tuple[Mixture, tuple]:
        """z (B, T, latent), a (B, T, actions) -> the mixture over z_{t+1} at each t, and the
        LSTM state (h, c) after the last step."""
        out, state = self.lstm(torch.cat([z, a], -1), state)
        return self.mixture(out), state

    def step(self, z: torch.Tensor, a: torch.Tensor, state=None) -> tuple[Mixture, tuple]:
        """One step: z (B, latent), a (B, actions) -> mixture (B, ...) and the new state."""
        mixture, state = self(z[:, None], a[:, None], state)
        return Mixture(*(t[:, 0] for t in mixture)), state


@dataclass(frozen=True)
class MDNSequenceLoss:
    """Mean NLL of z_{t+1} under the mixture predicted from steps <= t, per latent unit; batches
    are (mu, logvar, actions), each (B, T, .), and z is drawn from N(mu, exp(logvar)) when
    `sample_z` (Ha's recipe), else z = mu."""

    sample_z: bool = True

    def __call__(self, model, batch):
        mu, logvar, actions = batch
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if self.sample_z and model.training else mu
        mixture, _ = model(z[:, :-1], actions[:, :-1])
        nll = mixture_nll(z[:, 1:], mixture).mean() / z.shape[-1]
        return {"loss": nll, "nll": nll}

    describe = describe_fields

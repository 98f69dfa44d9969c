"""Training objectives every part may use (a part's own live in its package).

Each is a frozen dataclass called as `objective(model, x)` returning a dict of scalar tensors:
"loss" (minimised) plus its named terms, all averaged over the batch (nats per image).
`describe()` gives the cache key part.

Conventions: reconstruction = Bernoulli negative log-likelihood summed over
pixels; KL against a standard-normal prior summed over latent units.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from .models.vae import evaluate_in_batches, gaussian_kl, gaussian_kl_per_dim  # noqa: F401  (the one KL)


def bernoulli_nll(recon: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """-log p(x|z) for Bernoulli pixels, summed per image, mean over the batch (nats).
    Non-finite reconstructions (a diverged model) raise FloatingPointError, which the training
    loop reports as its NaN guard, instead of the loss's "input should be between 0 and 1"."""
    if not torch.isfinite(recon).all():
        raise FloatingPointError("the reconstructions are not finite")
    return F.binary_cross_entropy(recon, x, reduction="sum") / x.shape[0]


def elbo_terms(recon, x, mu, logvar, beta: float) -> dict:
    """loss = recon + beta * KL, with both terms (nats per image)."""
    rec, kl = bernoulli_nll(recon, x), gaussian_kl(mu, logvar)
    return {"loss": rec + beta * kl, "recon": rec, "kl": kl}


def describe_fields(obj) -> dict:
    """Class name and fields; fields left at None are omitted, so adding an optional
    field does not change the cache keys of models trained before it existed."""
    return {"objective": type(obj).__name__,
            **{k: v for k, v in asdict(obj).items() if v is not None}}


@dataclass(frozen=True)
class BetaVAE:
    """Negative ELBO with the KL weighted by beta (beta = 1: the plain VAE)."""

    beta: float = 1.0

    def __call__(self, model, x):
        recon, posterior, _ = model(x)
        return elbo_terms(recon, x, posterior.mu, posterior.logvar, self.beta)

    describe = describe_fields


def _gaussian_log_density(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return -0.5 * (math.log(2 * math.pi) + logvar + (z - mu).pow(2) * torch.exp(-logvar))


def _log_importance_weights(batch: int, n_data: int, device) -> torch.Tensor:
    """Chen et al.'s minibatch-stratified-sampling weights, (batch, batch), log scale."""
    n, m = n_data, batch - 1
    w = torch.full((batch, batch), 1.0 / m, device=device)
    w.view(-1)[:: m + 1] = 1.0 / n
    w.view(-1)[1 :: m + 1] = (n - m) / (n * m)
    w[m - 1, 0] = (n - m) / (n * m)
    return w.log()


@dataclass(frozen=True)
class BetaTCVAE:
    """Chen et al. (2018): KL split into index-code MI, total correlation, dim-wise KL.

    loss = recon + alpha * MI + beta * TC + gamma * dimKL, with log q(z) estimated
    on the minibatch by minibatch-weighted ("mws") or -stratified ("mss") sampling.
    `n_data` is the training-set size N.
    """

    n_data: int
    beta: float = 6.0
    alpha: float = 1.0
    gamma: float = 1.0
    estimator: str = "mws"

    def __post_init__(self):
        if self.estimator not in ("mws", "mss"):
            raise ValueError(f"estimator must be 'mws' or 'mss', got {self.estimator!r}")

    def __call__(self, model, x):
        recon, (mu, logvar, _), z = model(x)
        batch = x.shape[0]
        rec = bernoulli_nll(recon, x)
        log_qz_x = _gaussian_log_density(z, mu, logvar).sum(1)
        log_pz = _gaussian_log_density(z, torch.zeros_like(z), torch.zeros_like(z)).sum(1)
        # pairwise[i, j, d] = log q(z_i,d | x_j)
        pairwise = _gaussian_log_density(z[:, None], mu[None], logvar[None])
        if self.estimator == "mws":
            offset = math.log(batch * self.n_data)
            log_qz = torch.logsumexp(pairwise.sum(2), 1) - offset
            log_qz_prod = (torch.logsumexp(pairwise, 1) - offset).sum(1)
        else:
            logw = _log_importance_weights(batch, self.n_data, x.device)
            log_qz = torch.logsumexp(logw + pairwise.sum(2), 1)
            log_qz_prod = torch.logsumexp(logw[:, :, None] + pairwise, 1).sum(1)
        mi = (log_qz_x - log_qz).mean()
        tc = (log_qz - log_qz_prod).mean()
        dim_kl = (log_qz_prod - log_pz).mean()
        loss = rec + self.alpha * mi + self.beta * tc + self.gamma * dim_kl
        return {"loss": loss, "recon": rec, "mi": mi, "tc": tc, "dim_kl": dim_kl,
                "kl": gaussian_kl(mu, logvar)}

    describe = describe_fields


def reconstruction_error(model, x: torch.Tensor, batch_size: int = 1000) -> float:
    """Mean Bernoulli NLL per image (nats) of reconstructions from z = mu (eval mode)."""
    sums = evaluate_in_batches(
        model, x, lambda m, xb: F.binary_cross_entropy(m(xb).recon, xb, reduction="sum").reshape(1), batch_size)
    return sum(sums.tolist()) / len(x)  # batch sums added in float64, in order

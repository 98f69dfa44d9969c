"""Training objectives. Each is a frozen dataclass called as `objective(model, x)`
returning a dict of scalar tensors: "loss" (minimised) plus its named terms, all
averaged over the batch (nats per image). `describe()` gives the cache key part.

Conventions: reconstruction = Bernoulli negative log-likelihood summed over
pixels; KL against a standard-normal prior summed over latent units.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from .attribution import latent_saliency
from .metrics.saliency import attribution_entropy, pearson_correlation, total_variation


def bernoulli_nll(recon: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """-log p(x|z) for Bernoulli pixels, summed per image, mean over the batch (nats)."""
    return F.binary_cross_entropy(recon, x, reduction="sum") / x.shape[0]


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) summed over units, mean over the batch (nats)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1).mean()


def _elbo_terms(recon, x, mu, logvar, beta: float) -> dict:
    rec, kl = bernoulli_nll(recon, x), gaussian_kl(mu, logvar)
    return {"loss": rec + beta * kl, "recon": rec, "kl": kl}


def _describe(obj) -> dict:
    """Class name and fields; fields left at None are omitted, so adding an optional
    field does not change the cache keys of models trained before it existed."""
    return {"objective": type(obj).__name__,
            **{k: v for k, v in asdict(obj).items() if v is not None}}


@dataclass(frozen=True)
class BetaVAE:
    """Negative ELBO with the KL weighted by beta (beta = 1: the plain VAE)."""

    beta: float = 1.0

    def __call__(self, model, x):
        recon, mu, logvar, _ = model(x)
        return _elbo_terms(recon, x, mu, logvar, self.beta)

    describe = _describe


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
        recon, mu, logvar, z = model(x)
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

    describe = _describe


SALIENCY_PRIORS = {
    "tv": total_variation,
    "entropy": attribution_entropy,
    "pearson": pearson_correlation,
}
GRADIENT_PATHS = ("faithful", "differentiable")


@dataclass(frozen=True)
class AttributionPrior:
    """A VAE's negative ELBO plus lambda * Omega(saliency maps of its latent means).

    Saliency of latent j for image x: |mu_j(x) * GradientSHAP_j(x)| with an all-black
    baseline and `n_samples` interpolation points (Amad; Crabbé & van der Schaar).
    `prior` picks Omega: "tv" (Eq. 2), "entropy" (Eqs. 5-7), "pearson" (Eqs. 8-9).
    `path`: "faithful" = the author's code, where the attributions carry no graph
    and the prior's gradient reaches the weights only through mu_j; "differentiable"
    = through the attributions too (double backpropagation). `prior_batch`: if set,
    Omega is estimated on the first `prior_batch` images of each (shuffled) batch
    instead of all of them, a cheaper estimate of the same expectation over images.
    """

    prior: str
    lam: float
    path: str = "faithful"
    n_samples: int = 5
    beta: float = 1.0
    prior_batch: int | None = None

    def __post_init__(self):
        if self.prior not in SALIENCY_PRIORS:
            raise ValueError(f"prior must be one of {sorted(SALIENCY_PRIORS)}, got {self.prior!r}")
        if self.path not in GRADIENT_PATHS:
            raise ValueError(f"path must be one of {GRADIENT_PATHS}, got {self.path!r}")
        if self.lam < 0:
            raise ValueError(f"lam must be >= 0, got {self.lam}")
        if self.prior_batch is not None and self.prior_batch < 2:
            raise ValueError(f"prior_batch must be >= 2 images (or None), got {self.prior_batch}")

    def __call__(self, model, x):
        recon, mu, logvar, _ = model(x)
        terms = _elbo_terms(recon, x, mu, logvar, self.beta)
        part = slice(None, self.prior_batch)
        _, sal = latent_saliency(model.encode_mean, x[part], n_samples=self.n_samples, mu=mu[part],
                                 create_graph=self.path == "differentiable")
        omega = SALIENCY_PRIORS[self.prior](sal.sum(2))  # (B, K, H, W): channels summed
        terms["prior"] = omega
        terms["loss"] = terms["loss"] + self.lam * omega
        return terms

    describe = _describe


@torch.no_grad()
def reconstruction_error(model, x: torch.Tensor, batch_size: int = 1000) -> float:
    """Mean Bernoulli NLL per image (nats) of reconstructions from z = mu (eval mode)."""
    was_training = model.training
    model.eval()
    total = 0.0
    for start in range(0, len(x), batch_size):
        xb = x[start : start + batch_size]
        recon = model(xb)[0]
        total += F.binary_cross_entropy(recon, xb, reduction="sum").item()
    model.train(was_training)
    return total / len(x)


# ------------------------------------------------------------------ JointVAE (document 003)

def gaussian_kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu_j, exp(logvar_j)) || N(0, 1)) per latent unit j, mean over the batch, (K,)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).mean(0)


def categorical_kl(logits: torch.Tensor) -> torch.Tensor:
    """Thesis Eq. 2.10: KL(Cat(softmax(logits)) || uniform over K) = sum_i q_i log(q_i K),
    summed over the categorical unit, mean over the batch (nats); at most log K."""
    log_q = torch.log_softmax(logits, dim=-1)
    return (log_q.exp() * (log_q + math.log(logits.shape[-1]))).sum(-1).mean()


def capacity(step: int, c_max: float, steps: int) -> float:
    """The controlled capacity C(t) of Burgess et al.: 0 at step 0, rising linearly to
    `c_max` nats at step `steps`, then held (thesis Eq. 2.13)."""
    if steps <= 0:
        raise ValueError(f"steps must be > 0, got {steps}")
    return float(c_max) * min(1.0, max(0, step) / steps)


def _joint_terms(model, x):
    recon, mu, logvar, logits, _ = model(x)
    terms = {"recon": bernoulli_nll(recon, x), "kl_cont": gaussian_kl(mu, logvar)}
    terms["kl_disc"] = categorical_kl(logits) if logits is not None else torch.zeros((), device=x.device)
    for j, value in enumerate(gaussian_kl_per_dim(mu, logvar).detach()):
        terms[f"kl_dim{j}"] = value
    return terms


@dataclass(frozen=True)
class JointELBO:
    """Negative ELBO of a `JointVAE` (Gaussian + categorical latents, Eqs. 2.5, 2.10), the KLs
    weighted by beta (beta = 1: the plain, "entangled" VAE; beta > 1: beta-VAE, Eq. 2.11).
    Terms: loss, recon, kl_cont, kl_disc, kl_dim<j> (per Gaussian unit, not optimised)."""

    beta: float = 1.0

    def __call__(self, model, x):
        terms = _joint_terms(model, x)
        terms["loss"] = terms["recon"] + self.beta * (terms["kl_cont"] + terms["kl_disc"])
        return terms

    describe = _describe


@dataclass(frozen=True)
class CapacityVAE:
    """Controlled capacity (Burgess et al., thesis Eq. 2.13) and JointVAE (Dupont, Eq. 2.14):

        loss = recon + gamma |KL_cont - C_cont(t)| + gamma |KL_disc - C_disc(t)|,

    C_cont rising from 0 to `cont_max` nats and C_disc from 0 to min(`disc_max`, log K) over
    `steps` training steps (JointVAE's public code caps the categorical capacity at log K,
    the most a K-way KL against a uniform prior can reach). Without a categorical latent the
    second term is absent (Eq. 2.13). Called by the training loop with `step`; without it
    (evaluation) the final capacities are used."""

    gamma: float = 30.0
    cont_max: float = 5.0
    disc_max: float = 5.0
    steps: int = 100_000

    wants_step: ClassVar[bool] = True

    def __call__(self, model, x, step: int | None = None):
        step = self.steps if step is None else step
        terms = _joint_terms(model, x)
        c_cont = capacity(step, self.cont_max, self.steps)
        loss = terms["recon"] + self.gamma * (terms["kl_cont"] - c_cont).abs()
        terms["c_cont"] = torch.tensor(c_cont)
        if getattr(model, "disc", 0):
            c_disc = capacity(step, min(self.disc_max, math.log(model.disc)), self.steps)
            loss = loss + self.gamma * (terms["kl_disc"] - c_disc).abs()
            terms["c_disc"] = torch.tensor(c_disc)
        terms["loss"] = loss
        return terms

    describe = _describe


@dataclass(frozen=True)
class CrossEntropy:
    """Classification: mean cross-entropy of `model(images)` logits on (images, labels)
    batches; also reports the batch accuracy."""

    def __call__(self, model, batch):
        x, y = batch
        logits = model(x)
        return {"loss": F.cross_entropy(logits, y),
                "accuracy": (logits.argmax(1) == y).float().mean().detach()}

    describe = _describe


@dataclass(frozen=True)
class MultiLabelBCE:
    """Independent binary labels: mean binary cross-entropy of `model(images)` logits
    (B, K) against (images, labels in {0, 1} as floats (B, K)) batches; also reports the
    mean per-label accuracy."""

    def __call__(self, model, batch):
        x, y = batch
        logits = model(x)
        return {"loss": F.binary_cross_entropy_with_logits(logits, y),
                "accuracy": ((logits > 0).float() == y).float().mean().detach()}

    describe = _describe

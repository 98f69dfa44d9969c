"""The objectives of document 003: JointVAE's ELBO, controlled capacity, and the judges' losses."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from ...models.vae import gaussian_kl, gaussian_kl_per_dim
from ...objectives import bernoulli_nll, describe_fields


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
    recon, (mu, logvar, logits), _ = model(x)
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

    describe = describe_fields


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

    describe = describe_fields


@dataclass(frozen=True)
class CrossEntropy:
    """Classification: mean cross-entropy of `model(images)` logits on (images, labels)
    batches; also reports the batch accuracy."""

    def __call__(self, model, batch):
        x, y = batch
        logits = model(x)
        return {"loss": F.cross_entropy(logits, y),
                "accuracy": (logits.argmax(1) == y).float().mean().detach()}

    describe = describe_fields


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

    describe = describe_fields

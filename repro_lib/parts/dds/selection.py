"""The pieces of DDS's selection (document 000, Section 3): the gate tau (Eq. 3), its training
noise (Eqs. 4-5), the top-M mask Gamma_M and the dynamic M (Eq. 6).

    X_masked = tau(g~(X) + delta) * Gamma_M * X

* `hard_concrete_gate` is Eq. 3, tau(x) = min(1, max(0, sigma(x / beta) (zeta - gamma) + gamma)),
  the hard-concrete gate of Louizos et al. (2018). With the document's defaults zeta = 1 and
  gamma = 0 it is a plain sigmoid sigma(x / beta): sigma lies in (0, 1), so the clamp never
  acts (in float32, sigma rounds to exactly 1 only for x / beta above about 17).
* `noisy_sigmoid` is Eq. 5, sigma~_u(x) = sigma((kappa (log u - log(1 - u)) + x) / beta), and
  `stochastic_gate` Eq. 4 with u ~ U(0, 1) drawn here; kappa = 0 gives Eq. 3 back.
* `prob_exact_zero` / `prob_exact_one`: closed forms of P(tau_u(x) = 0) and P(tau_u(x) = 1)
  under Eq. 4 (Louizos et al.'s Q(s <= 0) for kappa = 1, generalised to kappa > 0).
* `top_m_mask` is Gamma_M: ones at the M largest scores of each row, zeros elsewhere. Ties are
  broken by position (the earlier feature wins), so every row has exactly M ones; it is built
  from indices, so no gradient flows through it.
* `dynamic_m` is Eq. 6: per sample, M with probability 1 - epsilon, all F features otherwise.
"""
from __future__ import annotations

import math

import torch

# The document's hyper-parameters (Section 3.1-3.2).
BETA, DELTA, ZETA, GAMMA = 2.0 / 3.0, 1.0, 1.0, 0.0
KAPPA_TRAIN, KAPPA_TEST, EPSILON = 0.1, 0.0, 0.1
# Louizos et al.'s stretch, the ablation's "hard sigmoid" row (Table 5).
HARD_ZETA, HARD_GAMMA = 1.1, -0.1
_U_EPS = 1e-6  # u is drawn in [eps, 1 - eps] so that log u and log(1 - u) stay finite


def hard_concrete_gate(x: torch.Tensor, beta: float = BETA, zeta: float = ZETA, gamma: float = GAMMA
                       ) -> torch.Tensor:
    """Eq. 3: min(1, max(0, sigma(x / beta) (zeta - gamma) + gamma)), elementwise."""
    return torch.clamp(torch.sigmoid(x / beta) * (zeta - gamma) + gamma, 0.0, 1.0)


def logistic_noise(u: torch.Tensor) -> torch.Tensor:
    """log u - log(1 - u): a standard logistic variable for u ~ U(0, 1)."""
    return torch.log(u) - torch.log1p(-u)


def noisy_sigmoid(x: torch.Tensor, u: torch.Tensor, kappa: float, beta: float = BETA) -> torch.Tensor:
    """Eq. 5: sigma((kappa (log u - log(1 - u)) + x) / beta) for given u (same shape as x)."""
    return torch.sigmoid((kappa * logistic_noise(u) + x) / beta)


def uniform_like(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """u ~ U(eps, 1 - eps) of x's shape, dtype and device (the global generator when None)."""
    u = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device if generator is None
                   else generator.device)
    return (_U_EPS + (1 - 2 * _U_EPS) * u).to(x.device)


def stochastic_gate(x: torch.Tensor, kappa: float, beta: float = BETA, zeta: float = ZETA,
                    gamma: float = GAMMA, u: torch.Tensor | None = None,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """Eq. 4: min(1, max(0, sigma~_u(x) (zeta - gamma) + gamma)), u drawn here unless given;
    kappa = 0 is the deterministic gate of Eq. 3 (no noise is drawn)."""
    if kappa < 0:
        raise ValueError(f"kappa must be >= 0 (the document uses 0 < kappa <= 1), got {kappa}")
    if kappa == 0:
        return hard_concrete_gate(x, beta, zeta, gamma)
    u = uniform_like(x, generator) if u is None else u
    return torch.clamp(noisy_sigmoid(x, u, kappa, beta) * (zeta - gamma) + gamma, 0.0, 1.0)


def prob_exact_zero(x: torch.Tensor, kappa: float = 1.0, beta: float = BETA, zeta: float = ZETA,
                    gamma: float = GAMMA) -> torch.Tensor:
    """P(tau_u(x) = 0) under Eq. 4: sigma((beta log(-gamma / zeta) - x) / kappa) for gamma < 0
    (Louizos et al. 2018's closed form at kappa = 1), 0 when gamma >= 0."""
    if gamma >= 0:
        return torch.zeros_like(x)
    return torch.sigmoid((beta * math.log(-gamma / zeta) - x) / kappa)


def prob_exact_one(x: torch.Tensor, kappa: float = 1.0, beta: float = BETA, zeta: float = ZETA,
                   gamma: float = GAMMA) -> torch.Tensor:
    """P(tau_u(x) = 1) under Eq. 4: 1 - sigma((beta log((1 - gamma) / (zeta - 1)) - x) / kappa)
    for zeta > 1, 0 when zeta <= 1."""
    if zeta <= 1:
        return torch.zeros_like(x)
    return 1 - torch.sigmoid((beta * math.log((1 - gamma) / (zeta - 1)) - x) / kappa)


def top_m_mask(scores: torch.Tensor, m: int | torch.Tensor) -> torch.Tensor:
    """Gamma_M of scores (B, F): 1.0 at the `m` largest scores of each row (ties: the earlier
    feature first), 0.0 elsewhere; `m` is one int or a (B,) tensor of per-row counts in 0..F.
    Built without gradient."""
    if scores.dim() != 2:
        raise ValueError(f"scores must be (batch, features), got shape {tuple(scores.shape)}")
    batch, features = scores.shape
    with torch.no_grad():
        counts = torch.as_tensor(m, device=scores.device).expand(batch) if not torch.is_tensor(m) or m.dim() == 0 \
            else m.to(scores.device)
        if counts.shape != (batch,):
            raise ValueError(f"m must be one int or one count per row ({batch},), got shape {tuple(counts.shape)}")
        if bool((counts < 0).any()) or bool((counts > features).any()):
            raise ValueError(f"m must lie in 0..{features} (the number of features), got {counts.tolist()[:8]}")
        order = torch.argsort(scores.detach(), dim=1, descending=True, stable=True)
        ranks = torch.empty_like(order)
        ranks.scatter_(1, order, torch.arange(features, device=scores.device).expand(batch, features))
        return (ranks < counts[:, None]).to(scores.dtype)


def dynamic_m(batch: int, m: int, features: int, epsilon: float, generator: torch.Generator | None = None,
              device: torch.device | str = "cpu") -> torch.Tensor:
    """Eq. 6: per sample, M if p > epsilon else F, with p ~ U(0, 1); (batch,) int64."""
    if not 0 <= epsilon <= 1:
        raise ValueError(f"epsilon must lie in [0, 1], got {epsilon}")
    p = torch.rand(batch, generator=generator, device=generator.device if generator is not None else device)
    return torch.where(p > epsilon, m, features).to(device=device, dtype=torch.int64)

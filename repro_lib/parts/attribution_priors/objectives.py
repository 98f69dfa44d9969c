"""The attribution prior of document 001: a VAE's negative ELBO plus a penalty on its saliency maps."""
from __future__ import annotations

from dataclasses import dataclass

from ...objectives import describe_fields, elbo_terms
from .attribution import DRAWS, latent_saliency
from .saliency import attribution_entropy, pearson_correlation_prior, total_variation

# The training priors Omega. Pearson uses the guarded `pearson_correlation_prior` (finite
# gradient for a dead unit); models are scored with the unguarded `pearson_correlation`.
SALIENCY_PRIORS = {
    "tv": total_variation,
    "entropy": attribution_entropy,
    "pearson": pearson_correlation_prior,
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
    `gs_draws`: how Gradient SHAP draws its interpolation coefficients; "per_unit" (the
    only value) = independently for each latent unit, as captum called once per target.
    It is part of `describe()`, hence of the model cache key: models trained before the
    draws were made per unit (one draw shared by all units, no such field) are not loaded.
    `tv_batch_sum` (set for the TV prior, None otherwise): Omega is the *sum* of the maps'
    total variation over the batch's images and latent units, as Eq. 2 sums over training
    images and the author's code does (torchmetrics' `TotalVariation`, whose default
    reduction sums over the batch, added to a per-image ELBO); estimated on `prior_batch`
    images, it is scaled to the whole batch. Models trained before (the mean per map: a
    prior B x K times weaker at the same lambda, which left lambda = 0.01 without visible
    effect) have no such field and are not loaded.
    """

    prior: str
    lam: float
    path: str = "faithful"
    n_samples: int = 5
    beta: float = 1.0
    prior_batch: int | None = None
    gs_draws: str = DRAWS
    tv_batch_sum: bool | None = None

    def __post_init__(self):
        if self.prior == "tv" and self.tv_batch_sum is None:
            object.__setattr__(self, "tv_batch_sum", True)
        if self.tv_batch_sum is not None and (self.prior != "tv" or not self.tv_batch_sum):
            raise ValueError("tv_batch_sum is set by the TV prior itself (True); leave it at None")
        if self.prior not in SALIENCY_PRIORS:
            raise ValueError(f"prior must be one of {sorted(SALIENCY_PRIORS)}, got {self.prior!r}")
        if self.path not in GRADIENT_PATHS:
            raise ValueError(f"path must be one of {GRADIENT_PATHS}, got {self.path!r}")
        if self.lam < 0:
            raise ValueError(f"lam must be >= 0, got {self.lam}")
        if self.gs_draws != DRAWS:
            raise ValueError(f"gs_draws must be {DRAWS!r} (the only Gradient SHAP draws implemented), "
                             f"got {self.gs_draws!r}")
        if self.prior_batch is not None and self.prior_batch < 2:
            raise ValueError(f"prior_batch must be >= 2 images (or None), got {self.prior_batch}")

    def __call__(self, model, x):
        recon, (mu, logvar, _), _ = model(x)
        terms = elbo_terms(recon, x, mu, logvar, self.beta)
        part = slice(None, self.prior_batch)
        _, sal = latent_saliency(model.encode_mean, x[part], n_samples=self.n_samples, mu=mu[part],
                                 create_graph=self.path == "differentiable")
        omega = SALIENCY_PRIORS[self.prior](sal.sum(2))  # (B, K, H, W): channels summed
        if self.tv_batch_sum:  # the mean over maps, times the maps of the whole batch
            omega = omega * sal.shape[1] * len(x)
        terms["prior"] = omega
        terms["loss"] = terms["loss"] + self.lam * omega
        return terms

    describe = describe_fields

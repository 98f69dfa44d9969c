"""The run profiles (`smoke`, `cpu`, `full`), defined once for the whole book.

A profile gives, for each part of the book, the numbers its notebooks read:
how much data, how many epochs, seeds and grid points. A notebook never
branches on the profile's name; it calls :func:`settings` and reads numbers.

| profile | where | budget |
| --- | --- | --- |
| smoke | CI and `make test` | whole book in minutes on 2 CPU cores |
| cpu   | a laptop, default of `make book` | a part in about 30 min on 2 cores |
| full  | one GPU | the documents' own settings |
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping

PROFILE_NAMES = ("smoke", "cpu", "full")

# Knobs of the attribution-priors part (document 001). `full` is the author's
# setting: 60k images, 50 epochs, batch 300, 5 runs per lambda, the prior on the whole
# batch. `cpu` estimates the prior on 100 of each batch's 300 images, which buys
# 2.5x more training steps (350) in the same time.
_ATTRIBUTION_PRIORS = {
    "smoke": dict(
        n_train=600, n_test=300, epochs=1, batch_size=100,
        n_eval=64, runs_per_lambda=2, gs_samples=5,
        tv_lambdas=[0.01], entropy_lambdas=[1.0], pearson_lambdas=[10.0],
        path_entropy_lambdas=[1.0], path_pearson_lambdas=[10.0], path_runs=1,
        baseline_runs=1, prior_batch=50,
    ),
    "cpu": dict(
        n_train=21000, n_test=2000, epochs=5, batch_size=300,
        n_eval=500, runs_per_lambda=2, gs_samples=5,
        tv_lambdas=[0.01], entropy_lambdas=[0.5, 1.0, 5.0],
        pearson_lambdas=[1.0, 5.0, 10.0],
        path_entropy_lambdas=[1.0], path_pearson_lambdas=[10.0], path_runs=1,
        baseline_runs=2, prior_batch=100,
    ),
    "full": dict(
        n_train=60000, n_test=10000, epochs=50, batch_size=300,
        n_eval=1000, runs_per_lambda=5, gs_samples=5,
        tv_lambdas=[0.001, 0.01, 0.1, 0.5, 1.0, 5.0],
        entropy_lambdas=[0.5, 1.0, 5.0], pearson_lambdas=[1.0, 5.0, 10.0],
        path_entropy_lambdas=[0.5, 1.0, 5.0], path_pearson_lambdas=[1.0, 5.0, 10.0],
        path_runs=5, baseline_runs=5, prior_batch=300,
    ),
}

# Knobs of the CCVAE-firebreak part (document 004). `full` is the report's setting: 50,000
# layouts, 100 epochs, batch 16, Adam lr 1e-5, 128 conv channels, GA population 300.
# alpha is per layout (the report's 1e5 on sums over batches of 16, divided by 16).
_CCVAE_FIREBREAK = {
    "smoke": dict(
        n_data=1000, epochs=1, batch_size=64, lr=1e-3, alpha=6250.0, channels=8,
        calib_layouts=100, n_umap=200, n_interp=10, n_prior=200, rejection_pool=2000,
        threshold_quantiles=[0.5, 0.9], n_interventions=20, intervention_steps=4,
        intervention_step=0.5, ga_population=20, ga_iterations=2, ga_runs=2,
        ga_mutation_moves=2, ga_gd_steps=2,
    ),
    "cpu": dict(
        n_data=10000, epochs=12, batch_size=64, lr=1e-3, alpha=6250.0, channels=32,
        calib_layouts=500, n_umap=2000, n_interp=10, n_prior=1000, rejection_pool=50000,
        threshold_quantiles=[0.5, 0.9, 0.99], n_interventions=100, intervention_steps=30,
        intervention_step=0.5, ga_population=100, ga_iterations=20, ga_runs=8,
        ga_mutation_moves=2, ga_gd_steps=3,
    ),
    "full": dict(
        n_data=50000, epochs=100, batch_size=16, lr=1e-5, alpha=6250.0, channels=128,
        calib_layouts=1000, n_umap=10000, n_interp=10, n_prior=1000, rejection_pool=200000,
        threshold_quantiles=[0.5, 0.9, 0.99], n_interventions=100, intervention_steps=30,
        intervention_step=0.5, ga_population=300, ga_iterations=20, ga_runs=8,
        ga_mutation_moves=2, ga_gd_steps=3,
    ),
}

# Knobs of the adversarial-robustness part (document 003, Sootla). `full` is the author's
# public code: 100k Adam steps (lr 1e-4, batch 64) per VAE, attacks of 1000 Adam steps
# (lr 1e-3). `cpu` trains 1200 steps at lr 1e-3 (C still rises 0 -> 5 nats over the run),
# attacks with 100 steps at lr 2e-3 and 8 pairs per (source, target) cell, 3 seeds per model;
# CelebA: 25 epochs over 1,800 faces (fewer leave every face reconstructed as one template).
_ADVERSARIAL_ROBUSTNESS = {
    "smoke": dict(
        n_train=320, n_test=500, epochs=1, batch_size=64, lr=1e-3, gamma=30.0,
        weight_decay=1e-3, seeds=2, classifier_n_train=1000, classifier_epochs=1,
        pairs_per_cell=1, attack_steps=5, attack_lr=1e-3, radii=[0.05, 0.1, 0.2],
        mc_samples=20000, celeba_n=100, celeba_epochs=1, celeba_seeds=2, celeba_pairs=6,
        attribute_epochs=1,
    ),
    "cpu": dict(
        n_train=19200, n_test=10000, epochs=4, batch_size=64, lr=1e-3, gamma=30.0,
        weight_decay=1e-3, seeds=3, classifier_n_train=60000, classifier_epochs=4,
        pairs_per_cell=8, attack_steps=100, attack_lr=2e-3, radii=[0.05, 0.1, 0.2],
        mc_samples=200000, celeba_n=2000, celeba_epochs=25, celeba_seeds=3, celeba_pairs=100,
        attribute_epochs=15,
    ),
    "full": dict(
        n_train=60000, n_test=10000, epochs=107, batch_size=64, lr=1e-4, gamma=30.0,
        weight_decay=1e-3, seeds=5, classifier_n_train=60000, classifier_epochs=10,
        pairs_per_cell=100, attack_steps=1000, attack_lr=1e-3, radii=[0.05, 0.1, 0.2],
        mc_samples=1000000, celeba_n=2000, celeba_epochs=500, celeba_seeds=5, celeba_pairs=500,
        attribute_epochs=30,
    ),
}

# Knobs of the influential-factors part (document 002, MEng thesis on beta-TCVAE and MSVAE).
# `full` runs the thesis's sweeps (LD in {4, 5, 10, 20, 25}, lr in {1e-3, 1e-4, 1e-5}, beta in
# {1..5, 10, 20, ..., 100}); the thesis gives no epochs or batch size, so `full` trains the
# table 100 epochs and the faces 100 epochs at batch 64 (lr 1e-4). `cpu` keeps, for every table and
# figure, the settings that show its trend: Table 5.2 at LD {5, 10, 20} x lr {1e-3, 1e-4, 1e-5};
# the beta tables, MIG and KS at LD {4, 10} x lr {1e-4, 1e-5}; 12 epochs of MNIST 2-D; 10 epochs
# of the table and 4 of the faces (at lr 1e-3 for the chapter's main face model), and 100
# FactorVAE votes per face model (the conv decoder makes each vote cost ~0.2 s on a CPU).
_INFLUENTIAL_FACTORS = {
    "smoke": dict(
        mnist_n=2000, mnist_epochs=1, betas_2d=[1.0, 20.0],
        celeba_n=200, image_epochs=1, image_ld=20, image_lr=1e-3, image_beta=2.0, msvae_epochs=1,
        celeba_lds=[10, 25], celeba_lrs=[1e-3, 1e-4],
        table_n=3000, table_epochs=2, table_batch=128,
        table52_lds=[5, 10], table52_lrs=[1e-3],
        beta_lds=[4, 10], beta_lrs=[1e-4], betas=[2.0, 20.0],
        ks_lds=[4], ks_lrs=[1e-5], ks_betas=[1.0, 40.0, 100.0],
        traversal_betas=[1.0, 100.0], votes=50, face_votes=10, mig_n=2000,
        dsprites_n=2000, dsprites_epochs=1,
    ),
    "cpu": dict(
        mnist_n=20000, mnist_epochs=12, betas_2d=[1.0, 2.0, 5.0, 10.0, 50.0],
        celeba_n=2000, image_epochs=4, image_ld=20, image_lr=1e-3, image_beta=2.0, msvae_epochs=12,
        celeba_lds=[10, 20, 25], celeba_lrs=[1e-3, 1e-4],
        table_n=30000, table_epochs=10, table_batch=128,
        table52_lds=[5, 10, 20], table52_lrs=[1e-3, 1e-4, 1e-5],
        beta_lds=[4, 10], beta_lrs=[1e-4, 1e-5], betas=[2.0, 4.0, 10.0, 20.0],
        ks_lds=[4, 10], ks_lrs=[1e-4, 1e-5], ks_betas=[1.0, 2.0, 4.0, 10.0, 40.0, 70.0, 100.0],
        traversal_betas=[1.0, 2.0, 5.0, 20.0, 50.0, 100.0], votes=1000, face_votes=100, mig_n=30000,
        dsprites_n=20000, dsprites_epochs=3,
    ),
    "full": dict(
        mnist_n=60000, mnist_epochs=30, betas_2d=[1.0, 2.0, 5.0, 10.0, 20.0, 50.0],
        celeba_n=2000, image_epochs=100, image_ld=20, image_lr=1e-4, image_beta=2.0, msvae_epochs=100,
        celeba_lds=[10, 20, 25], celeba_lrs=[1e-3, 1e-4],
        table_n=30000, table_epochs=100, table_batch=64,
        table52_lds=[5, 10, 20], table52_lrs=[1e-3, 1e-4, 1e-5],
        beta_lds=[4, 5, 10], beta_lrs=[1e-4, 1e-5], betas=[2.0, 3.0, 4.0, 5.0, 10.0, 20.0],
        ks_lds=[4, 5, 10], ks_lrs=[1e-4, 1e-5],
        ks_betas=[1.0, 2.0, 3.0, 4.0, 5.0] + [float(b) for b in range(10, 101, 10)],
        traversal_betas=[1.0, 2.0, 5.0, 20.0, 50.0, 80.0, 100.0], votes=1000, face_votes=1000, mig_n=30000,
        dsprites_n=100000, dsprites_epochs=20,
    ),
}

PARTS: Mapping[str, Mapping[str, Mapping[str, Any]]] = MappingProxyType({
    "attribution_priors": _ATTRIBUTION_PRIORS,
    "ccvae_firebreak": _CCVAE_FIREBREAK,
    "adversarial_robustness": _ADVERSARIAL_ROBUSTNESS,
    "influential_factors": _INFLUENTIAL_FACTORS,
})


class Settings(dict):
    """A part's knobs under one profile; read them as attributes (`s.epochs`)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(
                f"no setting {name!r}; this part has: {', '.join(sorted(self))}"
            ) from None


def check_profile(profile: str) -> None:
    """Raise ValueError naming the allowed profiles if `profile` is unknown."""
    if profile not in PROFILE_NAMES:
        raise ValueError(
            f"unknown profile {profile!r}; choose one of: {', '.join(PROFILE_NAMES)}"
        )


def check_part(part: str) -> None:
    """Raise ValueError naming the known parts if `part` is unknown."""
    if part not in PARTS:
        raise ValueError(f"unknown part {part!r}; choose one of: {', '.join(PARTS)}")


def settings(part: str, profile: str, **overrides: Any) -> Settings:
    """The knobs of `part` under `profile`, with `overrides` (None = keep) applied.

    An unknown part, profile or knob, or a value of the wrong type, fails at
    once with the allowed values.
    """
    check_part(part)
    check_profile(profile)
    base = PARTS[part][profile]
    out = Settings(base)
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in base:
            raise ValueError(
                f"unknown setting {key!r} for part {part!r}; "
                f"allowed: {', '.join(sorted(base))}"
            )
        expected = type(base[key])
        if expected is float and isinstance(value, int):
            value = float(value)
        if not isinstance(value, expected) or isinstance(value, bool) != isinstance(base[key], bool):
            raise ValueError(
                f"setting {key!r} must be {expected.__name__}, got {value!r}"
            )
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value <= 0:
            raise ValueError(f"setting {key!r} must be positive, got {value!r}")
        out[key] = value
    return out

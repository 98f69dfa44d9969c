"""CCVAE firebreaks (document 004): its profile knobs.

The recipes (tested functions behind the notebooks and claims) are in `recipes`; the
models, losses, metrics and simulators only this part uses sit beside them.
"""
from ...profiles import Range

# Knobs of the CCVAE-firebreak part (document 004). `full` is the report's setting: 50,000
# layouts, 100 epochs, batch 16, Adam lr 1e-5, 128 conv channels, GA population 300.
# alpha is per layout (the report's 1e5 on sums over batches of 16, divided by 16).
PROFILES = {
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

# Knobs whose range is not "> 0" (see `profiles.settings`).
KNOB_RANGES = {
    "threshold_quantiles": Range(0.0, 1.0, high_inclusive=False),
}

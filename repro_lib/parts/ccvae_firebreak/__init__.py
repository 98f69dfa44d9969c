"""CCVAE firebreaks (document 004): its profile knobs.

The recipes (tested functions behind the notebooks and claims) are in `recipes`; the
models, losses, metrics and simulators only this part uses sit beside them.
"""
from ...profiles import Range

# Knobs of the CCVAE-firebreak part (document 004). `full` is the report's setting: the authors'
# 50,000 layouts (split 90/5/5), 100 epochs, batch 16, Adam lr 1e-5, 128 conv channels, GA
# population 300. alpha is per layout (the report's 1e5 on sums over batches of 16, divided by 16).
# data_source: "cell2fire" (the authors' layouts and Cell2Fire rewards, the first n_data rows of
# their file) or "simulated" (n_data random layouts scored by our simulator on a synthetic forest).
# calib_*: the calibration of our simulator against Cell2Fire (see calibration.py): its first
# calib_layouts layouts fit it, its last calib_holdout layouts judge it; calib_per_cell fires per
# ignition cell; differential evolution with calib_generations generations of calib_popsize x 5.
PROFILES = {
    "smoke": dict(
        data_source="cell2fire", n_data=1000, epochs=1, batch_size=64, lr=1e-3, alpha=6250.0, channels=8,
        calib_layouts=100, calib_holdout=100, calib_per_cell=2, calib_generations=1, calib_popsize=2,
        n_umap=200, n_interp=10, n_prior=200, rejection_pool=2000,
        threshold_quantiles=[0.5, 0.9], n_interventions=20, intervention_steps=4,
        intervention_step=0.5, ga_population=20, ga_iterations=2, ga_runs=2,
        ga_mutation_moves=2, ga_gd_steps=2,
    ),
    "cpu": dict(
        data_source="cell2fire", n_data=10000, epochs=12, batch_size=64, lr=1e-3, alpha=6250.0, channels=32,
        calib_layouts=1000, calib_holdout=2000, calib_per_cell=16, calib_generations=3, calib_popsize=5,
        n_umap=2000, n_interp=10, n_prior=1000, rejection_pool=50000,
        threshold_quantiles=[0.5, 0.9, 0.99], n_interventions=100, intervention_steps=30,
        intervention_step=0.5, ga_population=100, ga_iterations=20, ga_runs=8,
        ga_mutation_moves=2, ga_gd_steps=3,
    ),
    "full": dict(
        data_source="cell2fire", n_data=50000, epochs=100, batch_size=16, lr=1e-5, alpha=6250.0, channels=128,
        calib_layouts=5000, calib_holdout=2500, calib_per_cell=32, calib_generations=15, calib_popsize=10,
        n_umap=10000, n_interp=10, n_prior=1000, rejection_pool=200000,
        threshold_quantiles=[0.5, 0.9, 0.99], n_interventions=100, intervention_steps=30,
        intervention_step=0.5, ga_population=300, ga_iterations=20, ga_runs=8,
        ga_mutation_moves=2, ga_gd_steps=3,
    ),
}

# Knobs whose range is not "> 0" (see `profiles.settings`).
KNOB_RANGES = {
    "threshold_quantiles": Range(0.0, 1.0, high_inclusive=False),
}

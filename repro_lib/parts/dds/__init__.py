"""DDS, unsupervised dynamic feature selection (document 000): its profile knobs.

The recipes (tested functions behind the notebooks and claims) are in `recipes`; the gate,
mask and dynamic M in `selection`, the networks in `networks`, the DDS wrapper in `model`.
"""
from ...profiles import Range

# Knobs of the DDS part (document 000, "Using Unsupervised Dynamic Feature Selection to Enhance
# Latent Representations"). The document gives the gate's hyper-parameters, the selector (a
# U-Net with C = 16) and Table 5's M grid, nothing about Table 5's training (epochs, optimiser,
# f, the naive AE): `full` is our reading (Adam 1e-3, batch 128, 100 epochs of all 50,000
# CIFAR-10 training images, C = 16 for g and f). `cpu`: the 5,000-image subset, 8 epochs
# (312 steps), C = 8, M in {64, 256}; `smoke`: seconds per notebook.
# data_source: "auto" = full CIFAR-10 when its archive is on this machine, else the subset.
PROFILES = {
    "smoke": dict(
        n_train=256, n_test=100, epochs=1, batch_size=64, lr=1e-3, channels=4, f_channels=4, depth=3,
        ae_width=8, ms=[64, 256], figure_m=256, seeds=1, granularity="pixel", data_source="auto",
        mc_samples=20000, memory_fractions=[0.02, 0.25, 1.0], memory_batch=4,
    ),
    "cpu": dict(
        n_train=5000, n_test=1000, epochs=8, batch_size=128, lr=1e-3, channels=8, f_channels=8, depth=3,
        ae_width=32, ms=[64, 256], figure_m=256, seeds=1, granularity="pixel", data_source="auto",
        mc_samples=400000, memory_fractions=[0.02, 0.1, 0.25, 0.5, 1.0], memory_batch=32,
    ),
    "full": dict(
        n_train=50000, n_test=10000, epochs=100, batch_size=128, lr=1e-3, channels=16, f_channels=16, depth=3,
        ae_width=32, ms=[64, 128, 256, 512, 1024], figure_m=256, seeds=3, granularity="pixel",
        data_source="auto", mc_samples=1000000, memory_fractions=[0.02, 0.1, 0.25, 0.5, 1.0],
        memory_batch=128,
    ),
}

# Knobs whose range is not "> 0" (see `profiles.settings`); string knobs are checked by the recipes.
KNOB_RANGES = {
    "memory_fractions": Range(0.0, 1.0),
    "ms": Range(0.0, 4096.0),
    "depth": Range(0.0, 5.0),
}

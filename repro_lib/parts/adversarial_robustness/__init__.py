"""Adversarial robustness (document 003, Sootla): its profile knobs.

The recipes (tested functions behind the notebooks and claims) are in `recipes`; the
models, losses, metrics and simulators only this part uses sit beside them.
"""
from ...profiles import Range

# Knobs of the adversarial-robustness part (document 003, Sootla). `full` is the author's
# public code: 100k Adam steps (lr 1e-4, batch 64) per VAE with the capacity C rising over all
# of them, attacks of 1000 Adam steps (lr 1e-3). `cpu` trains 5 epochs of the 60,000 training
# digits (4,685 steps) at lr 1e-3: at 3 epochs (2,811 steps) the entangled models' clean
# reconstructions were read right for 88.9-91.5% of the test digits (their gate asks 90%),
# at 5 epochs seed 1 (the weakest) reached 92.2%. `capacity_epochs`: C rises over the first
# epoch and is then held (the author's schedule, rising over the whole run, left the
# Gaussian-only capacity model and one JointVAE seed at the mean-predictor loss, 272-274 nats,
# within 2,811 steps; rising over the first epoch the capacity model reached 189 nats).
# Attacks with 100 steps at lr 2e-3 and 8 pairs per (source, target) cell, 2 seeds per MNIST
# model (a t-interval over 2 seeds, t = 12.7, rarely decides: the direction claims are for
# `full`); the digit judge trains one epoch of the 60,000 digits (its gate asks 98% test
# accuracy); CelebA: 25 epochs over 1,800 faces (fewer leave every face reconstructed as one
# template), 2 seeds (no CelebA model passes its gate at this budget either way).
PROFILES = {
    "smoke": dict(
        n_train=320, n_test=500, epochs=1, capacity_epochs=1, batch_size=64, lr=1e-3, gamma=30.0,
        weight_decay=1e-3, seeds=2, classifier_n_train=1000, classifier_epochs=1,
        pairs_per_cell=1, attack_steps=5, attack_lr=1e-3, radii=[0.05, 0.1, 0.2],
        mc_samples=20000, celeba_n=100, celeba_epochs=1, celeba_seeds=2, celeba_pairs=6,
        attribute_epochs=1,
    ),
    "cpu": dict(
        n_train=60000, n_test=10000, epochs=5, capacity_epochs=1, batch_size=64, lr=1e-3, gamma=30.0,
        weight_decay=1e-3, seeds=2, classifier_n_train=60000, classifier_epochs=1,
        pairs_per_cell=8, attack_steps=100, attack_lr=2e-3, radii=[0.05, 0.1, 0.2],
        mc_samples=200000, celeba_n=2000, celeba_epochs=25, celeba_seeds=2, celeba_pairs=100,
        attribute_epochs=15,
    ),
    "full": dict(
        n_train=60000, n_test=10000, epochs=107, capacity_epochs=107, batch_size=64, lr=1e-4, gamma=30.0,
        weight_decay=1e-3, seeds=5, classifier_n_train=60000, classifier_epochs=10,
        pairs_per_cell=100, attack_steps=1000, attack_lr=1e-3, radii=[0.05, 0.1, 0.2],
        mc_samples=1000000, celeba_n=2000, celeba_epochs=500, celeba_seeds=5, celeba_pairs=500,
        attribute_epochs=30,
    ),
}

# Knobs whose range is not "> 0" (see `profiles.settings`).
KNOB_RANGES = {
    "weight_decay": Range(0.0, low_inclusive=True),
    "radii": Range(0.0, 1.0),  # L-inf radius in pixel units of [0, 1] images
}

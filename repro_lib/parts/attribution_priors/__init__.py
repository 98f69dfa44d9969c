"""Attribution priors (document 001, Amad): its profile knobs.

The recipes (tested functions behind the notebooks and claims) are in `recipes`; the
models, losses, metrics and simulators only this part uses sit beside them.
"""
from ...profiles import Range

# Knobs of the attribution-priors part (document 001). `full` is the author's
# setting: 60k images, 50 epochs, batch 300, 5 runs per lambda, the prior on the whole
# batch. `cpu` keeps the plain VAEs healthy (the part's gates: test loss within 15% of the
# author's, three active units, saliency not routed through one unit) and buys that with
# fewer models, not fewer steps: all 60k images for 5 epochs (1,000 steps of 300; measured:
# plain VAEs at 185-189 nats, 3 active units, largest unit share 0.35-0.39, where the former
# 350 steps on 21k images gave about 236 nats and one unit holding 98-99% of the saliency),
# one lambda per prior (the document's: TV 0.01, entropy 1, Pearson 10), 2 runs each and 2
# plain / beta-VAE / beta-TCVAE runs, and the prior estimated on 20 of each batch's 300
# images (an unbiased but noisier estimate of the same batch mean; a step then costs about
# 2x a plain one, against about 15x with the whole batch). `author_test_images`: the MNIST test images on which the
# author's 42 checkpoints are scored (7_author_models; the document and the author's
# metrics files use all 10,000).
PROFILES = {
    "smoke": dict(
        n_train=600, n_test=300, epochs=1, batch_size=100,
        n_eval=64, runs_per_lambda=2, gs_samples=5,
        tv_lambdas=[0.01], entropy_lambdas=[1.0], pearson_lambdas=[10.0],
        path_entropy_lambdas=[1.0], path_pearson_lambdas=[10.0], path_runs=1,
        baseline_runs=1, prior_batch=50, author_test_images=100,
    ),
    "cpu": dict(
        n_train=60000, n_test=10000, epochs=5, batch_size=300,
        n_eval=500, runs_per_lambda=2, gs_samples=5,
        tv_lambdas=[0.01], entropy_lambdas=[1.0], pearson_lambdas=[10.0],
        path_entropy_lambdas=[1.0], path_pearson_lambdas=[10.0], path_runs=1,
        baseline_runs=2, prior_batch=20, author_test_images=10000,
    ),
    "full": dict(
        n_train=60000, n_test=10000, epochs=50, batch_size=300,
        n_eval=1000, runs_per_lambda=5, gs_samples=5,
        tv_lambdas=[0.001, 0.01, 0.1, 0.5, 1.0, 5.0],
        entropy_lambdas=[0.5, 1.0, 5.0], pearson_lambdas=[1.0, 5.0, 10.0],
        path_entropy_lambdas=[0.5, 1.0, 5.0], path_pearson_lambdas=[1.0, 5.0, 10.0],
        path_runs=5, baseline_runs=5, prior_batch=300, author_test_images=10000,
    ),
}

# Knobs whose range is not "> 0" (see `profiles.settings`).
KNOB_RANGES = {
    "prior_batch": Range(2, low_inclusive=True),  # the prior needs two images to compare
    "author_test_images": Range(2, 10000, low_inclusive=True, high_inclusive=True),  # MNIST has 10,000
}

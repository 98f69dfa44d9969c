"""Attribution priors (document 001, Amad): its profile knobs.

The recipes (tested functions behind the notebooks and claims) are in `recipes`; the
models, losses, metrics and simulators only this part uses sit beside them.
"""
from ...profiles import Range

# Knobs of the attribution-priors part (document 001). `full` is the author's
# setting: 60k images, 50 epochs, batch 300, 5 runs per lambda, the prior on the whole
# batch. `cpu` estimates the prior on 100 of each batch's 300 images, which buys
# 2.5x more training steps (350) in the same time. `author_test_images`: the MNIST test
# images on which the author's 42 checkpoints are scored (7_author_models; the document and
# the author's metrics files use all 10,000).
PROFILES = {
    "smoke": dict(
        n_train=600, n_test=300, epochs=1, batch_size=100,
        n_eval=64, runs_per_lambda=2, gs_samples=5,
        tv_lambdas=[0.01], entropy_lambdas=[1.0], pearson_lambdas=[10.0],
        path_entropy_lambdas=[1.0], path_pearson_lambdas=[10.0], path_runs=1,
        baseline_runs=1, prior_batch=50, author_test_images=100,
    ),
    "cpu": dict(
        n_train=21000, n_test=2000, epochs=5, batch_size=300,
        n_eval=500, runs_per_lambda=2, gs_samples=5,
        tv_lambdas=[0.01], entropy_lambdas=[0.5, 1.0, 5.0],
        pearson_lambdas=[1.0, 5.0, 10.0],
        path_entropy_lambdas=[1.0], path_pearson_lambdas=[10.0], path_runs=1,
        baseline_runs=2, prior_batch=100, author_test_images=10000,
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

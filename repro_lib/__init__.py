"""repro_lib: the library behind the reproducible notebook book.

One module per idea: `data` (dataset registry), `models` (VAE families),
`objectives` (ELBO, beta-VAE, beta-TCVAE, attribution priors), `attribution`
(batched Gradient SHAP), `metrics` (saliency separation, ...), `train` (the one
training loop), `cache` (trained-model cache), `profiles` (smoke/cpu/full),
`results` (per-notebook result files), `scorecard` (paper vs ours),
`plots`, `widgets`, `runner` (papermill execution and book build).
"""
__version__ = "0.1.0"

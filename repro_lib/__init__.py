"""repro_lib: the library behind the reproducible notebook book.

Core (what more than one part uses): `data` (dataset registry and loaders), `models` (shared
VAE families and the one VAE interface, `models.vae`), `objectives` (ELBO, beta-VAE,
beta-TCVAE), `train` (the training loop behind the model cache), `cache`, `profiles`
(smoke/cpu/full), `chapters` (the one set-up call of a notebook: `repro_lib.chapter`),
`results` (per-notebook result files), `scorecard` (paper vs ours), `plots`, `widgets`,
`runner` (papermill execution and book build). Each paper is a package under `parts/`.
"""
__version__ = "0.1.0"


def __getattr__(name: str):
    # `repro_lib.chapter(...)` without importing torch for `python -m repro_lib list`.
    if name == "chapter":
        from .chapters import chapter
        return chapter
    raise AttributeError(f"module 'repro_lib' has no attribute {name!r}")

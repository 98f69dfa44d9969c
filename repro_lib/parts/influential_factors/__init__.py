"""Influential latent factors (document 002, MEng thesis): its profile knobs.

The recipes (tested functions behind the notebooks and claims) are in `recipes`; the
models, losses, metrics and simulators only this part uses sit beside them.
"""

# Knobs of the influential-factors part (document 002, MEng thesis on beta-TCVAE and MSVAE).
# `full` runs the thesis's sweeps (LD in {4, 5, 10, 20, 25}, lr in {1e-3, 1e-4, 1e-5}, beta in
# {1..5, 10, 20, ..., 100}); the thesis gives no epochs or batch size, so `full` trains the
# table 100 epochs and the faces 100 epochs at batch 64 (lr 1e-4). `cpu` keeps the epochs per
# model and cuts the grids (fewer points, not fewer steps): MNIST 2-D at five betas (20,000
# images, 8 epochs); faces 4 epochs at lr 1e-3 only (4 epochs at lr 1e-4 leave a face model
# barely trained), Table 5.1 at LD {10, 20}; the table 10 epochs per model, Table 5.2 at
# LD {5, 10} x lr {1e-3, 1e-4}, the beta tables and MIG at LD {4, 10}, lr 1e-4, beta {2, 20},
# KS at LD 4, lr 1e-5, beta {1, 40, 100}; 500 FactorVAE votes per table model and 100 per face
# model (the conv decoder makes each face vote cost ~0.2 s on a CPU); the MSVAE's stage 2 nine
# epochs (six left its loss still falling by 1.2% an epoch). The table models are trained with
# the decoder fixed and the reconstruction weighted (`recipes.TABLE_RECON_WEIGHT`, chapter 3.3):
# as the thesis writes them they learn nothing at any budget we tried; so weighted, 10 epochs
# at batch 128 leave every `cpu` table model with active latents, well below the mean
# predictor's loss.
PROFILES = {
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
        mnist_n=20000, mnist_epochs=8, betas_2d=[1.0, 2.0, 5.0, 20.0, 50.0],
        celeba_n=2000, image_epochs=4, image_ld=20, image_lr=1e-3, image_beta=2.0, msvae_epochs=9,
        celeba_lds=[10, 20], celeba_lrs=[1e-3],
        table_n=30000, table_epochs=10, table_batch=128,
        table52_lds=[5, 10], table52_lrs=[1e-3, 1e-4],
        beta_lds=[4, 10], beta_lrs=[1e-4], betas=[2.0, 20.0],
        ks_lds=[4], ks_lrs=[1e-5], ks_betas=[1.0, 40.0, 100.0],
        traversal_betas=[1.0, 2.0, 20.0, 100.0], votes=500, face_votes=100, mig_n=30000,
        dsprites_n=10000, dsprites_epochs=3,
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

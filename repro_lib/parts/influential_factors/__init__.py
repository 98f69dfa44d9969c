"""Influential latent factors (document 002, MEng thesis): its profile knobs.

The recipes (tested functions behind the notebooks and claims) are in `recipes`; the
models, losses, metrics and simulators only this part uses sit beside them.
"""

# Knobs of the influential-factors part (document 002, MEng thesis on beta-TCVAE and MSVAE).
# `full` runs the thesis's sweeps (LD in {4, 5, 10, 20, 25}, lr in {1e-3, 1e-4, 1e-5}, beta in
# {1..5, 10, 20, ..., 100}); the thesis gives no epochs or batch size, so `full` trains the
# table 100 epochs and the faces 100 epochs at batch 64 (lr 1e-4). `cpu` keeps, for every table and
# figure, the settings that show its trend: Table 5.2 at LD {5, 10, 20} x lr {1e-3, 1e-4, 1e-5};
# the beta tables, MIG and KS at LD {4, 10} x lr {1e-4, 1e-5}; 12 epochs of MNIST 2-D; 10 epochs
# of the table and 4 of the faces (at lr 1e-3 for the chapter's main face model), and 100
# FactorVAE votes per face model (the conv decoder makes each vote cost ~0.2 s on a CPU).
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

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
#
# Section 4.1 (`4_1_clustering`, knobs cl_*): ProPos and DDS + ProPos. `full` is the document's
# setting (ResNet-34 = blocks [3, 4, 6, 3] width 64, MLPs 4096 -> 256, 4,000 epochs, three seeds)
# with ProPos's CIFAR config for the rest (batch 512 = 128 x 4 GPUs, lr 0.05 per 256, weight decay
# 5e-4, 50 warm-up epochs, temperature 0.5, cluster weight 0.1, latent std 0.001, EMA 0.996); the
# document trains Tiny-ImageNet for 2,000 epochs with a ResNet-18 (set cl_epochs / cl_blocks).
# `cpu`: a narrow ResNet (one block per stage, width 16), MLPs 256 -> 64, 6 epochs on the 5,000
# CIFAR-10 subset images, one seed, C = 8 selector. cl_dds_fractions: M / (H W) of DDS(10%) and
# DDS(25%). cl_dds_target: the target branch sees the masked view too. cl_fig5_variants: "none" or
# a comma-separated list of Figure 5's DDS(10%) variants (default, epsilon_0, kappa_0).
#
# Section 4.2 (World Models, `4_2_*`, knobs wm_*): CarRacing-v3 rollouts of a Brownian random
# policy, Ha's VAE and DDS+VAE vision models (Figure 2), z in R^32. `full`: the default DDS layers
# (4,208,967 parameters against the baseline's 4,348,547), M in {2, 4, 8, 16, 32}%, 1,000 rollouts
# of 1,000 steps (the document's 10,000 would be 10 million frames, 123 GB as uint8 in memory),
# ctallec's batch 32, Eq. 7's alpha = 1 and lambda = 0.02; `cpu`: 16 rollouts of 250 steps, 10 epochs
# (stage 2: wm_stage2_epochs = 20), narrow DDS layers, M in {4, 16}%, alpha = 0.1 (below).
# wm_free_bits_scope: "per_dim" (sum_j max(lambda, KL_j), our reading) or "total" (Eq. 7 literally).
# wm_stage2_epochs: epochs of stage 2 (the VAE on h; cheaper per step than stage 1).
# cpu's wm_alpha = 0.1, not the document's 1: Eq. 8's scale is set by f_up's activations, which are
# our layers' (the document's f_up is not given). Ours are small: a constant h (the mean) scores only
# 16 to 23 per frame on Eq. 8 (mean over f_up's 3 layers), so at alpha = 1 each nat of KL costs as
# much as 1/16 of the whole reconstruction and the VAE on h collapsed (M = 4%, stage 1 of 10 epochs,
# 625 steps: 2 of 32 units with KL > 0.1 nats, total KL 2.9 nats, DDS+VAE test MSE 0.0077, worse
# than the mean frame's half, 0.0052). alpha = 0.1 (lambda unchanged, 0.02 nats per unit): KL 11
# nats, MSE 0.0053 after 625 steps and 0.0046 after 1,250 (20 epochs). Ha's own budget (lambda = 0.5
# per unit at alpha = 1) did about as well (0.0055 at 625 steps, all 32 units active). `full` keeps the
# document's alpha = 1: check its gate (wm_dds_reconstructs) before reading its Table 3.
# Memory, dreams and controller (`4_2_3`, `4_2_4`): wm_agent_m the DDS model the agent uses; MDN-RNN on
# wm_seq_len-step windows for wm_mdn_epochs; dreams: wm_dream_sequences test windows of wm_dream_length
# frames, recorded actions, temperature wm_temperature, clips of wm_clip frames, features of wm_feature_net
# ("random" conv net, "vae_encoder", or "inception" from $REPRO_INCEPTION_TORCHSCRIPT); CMA-ES: wm_popsize x
# wm_generations, wm_cma_rollouts tracks per candidate, episodes of wm_cma_max_steps steps, sigma wm_sigma0;
# wm_eval_episodes evaluation tracks. `full`: Ha's population 64 x 16 rollouts, 100 generations (ours),
# the document's 100 dreams of 1,000 frames and 100 evaluation episodes.
PROFILES = {
    "smoke": dict(
        # Section 4.2 (World Models on CarRacing-v3, `4_2_*`, knobs wm_*; see world_models/recipes.py)
        wm_rollouts=2, wm_test_rollouts=1, wm_max_steps=24, wm_workers=2, wm_epochs=1, wm_batch_size=16,
        wm_lr=1e-3, wm_m_percents=[4, 16], wm_selector_channels=2, wm_width=4, wm_h_channels=2,
        wm_unet_channels=2, wm_vae_width=4, wm_stage2_epochs=1, wm_alpha=1.0, wm_lambda=0.02,
        wm_free_bits_scope="per_dim",
        wm_agent_m=4, wm_seq_len=8, wm_mdn_epochs=1, wm_temperature=1.0, wm_dream_sequences=4, wm_dream_length=16,
        wm_clip=4, wm_feature_net="random", wm_popsize=4, wm_generations=2, wm_cma_rollouts=1, wm_cma_max_steps=20,
        wm_sigma0=0.1, wm_eval_episodes=3,
        n_train=256, n_test=100, epochs=1, batch_size=64, lr=1e-3, channels=4, f_channels=4, depth=3,
        ae_width=8, ms=[64, 256], figure_m=256, seeds=1, granularity="pixel", data_source="auto",
        mc_samples=20000, memory_fractions=[0.02, 0.25, 1.0], memory_batch=4,
        # Section 4.1 (clustering, `4_1_clustering`)
        cl_n_train=256, cl_n_test=128, cl_epochs=2, cl_warmup_epochs=1, cl_batch_size=64, cl_lr=0.05,
        cl_blocks=[1, 1, 1, 1], cl_width=4, cl_hidden=32, cl_feat_dim=16, cl_dds_channels=2, cl_seeds=1,
        cl_kmeans_n_init=1, cl_fig5_variants="none",
        cl_dds_fractions=[0.1, 0.25], cl_temperature=0.5, cl_cluster_weight=0.1,
        cl_latent_std=0.001, cl_ema=0.996, cl_weight_decay=5e-4, cl_dds_target=True,
        cl_datasets=["cifar10", "cifar20", "imagenet10", "imagenet_dogs", "tiny_imagenet"],
    ),
    "cpu": dict(
        wm_rollouts=16, wm_test_rollouts=4, wm_max_steps=250, wm_workers=2, wm_epochs=10, wm_batch_size=64,
        wm_lr=1e-3, wm_m_percents=[4, 16], wm_selector_channels=8, wm_width=16, wm_h_channels=8,
        wm_unet_channels=8, wm_vae_width=48, wm_stage2_epochs=20, wm_alpha=0.1, wm_lambda=0.02,
        wm_free_bits_scope="per_dim",
        wm_agent_m=4, wm_seq_len=32, wm_mdn_epochs=40, wm_temperature=1.0, wm_dream_sequences=16,
        wm_dream_length=64, wm_clip=16, wm_feature_net="random", wm_popsize=8, wm_generations=8,
        wm_cma_rollouts=1, wm_cma_max_steps=200, wm_sigma0=0.1, wm_eval_episodes=8,
        n_train=5000, n_test=1000, epochs=8, batch_size=128, lr=1e-3, channels=8, f_channels=8, depth=3,
        ae_width=32, ms=[64, 256], figure_m=256, seeds=1, granularity="pixel", data_source="auto",
        mc_samples=400000, memory_fractions=[0.02, 0.1, 0.25, 0.5, 1.0], memory_batch=32,
        cl_n_train=5000, cl_n_test=1000, cl_epochs=6, cl_warmup_epochs=1, cl_batch_size=128, cl_lr=0.05,
        cl_blocks=[1, 1, 1, 1], cl_width=16, cl_hidden=256, cl_feat_dim=64, cl_dds_channels=8, cl_seeds=1,
        cl_kmeans_n_init=3, cl_fig5_variants="none",
        cl_dds_fractions=[0.1, 0.25], cl_temperature=0.5, cl_cluster_weight=0.1,
        cl_latent_std=0.001, cl_ema=0.996, cl_weight_decay=5e-4, cl_dds_target=True,
        cl_datasets=["cifar10", "cifar20", "imagenet10", "imagenet_dogs", "tiny_imagenet"],
    ),
    "full": dict(
        wm_rollouts=1000, wm_test_rollouts=100, wm_max_steps=1000, wm_workers=16, wm_epochs=10,
        wm_batch_size=32, wm_lr=1e-3, wm_m_percents=[2, 4, 8, 16, 32], wm_selector_channels=16, wm_width=32,
        wm_h_channels=16, wm_unet_channels=16, wm_vae_width=96, wm_stage2_epochs=10, wm_alpha=1.0, wm_lambda=0.02,
        wm_free_bits_scope="per_dim",
        wm_agent_m=4, wm_seq_len=32, wm_mdn_epochs=30, wm_temperature=1.0, wm_dream_sequences=100,
        wm_dream_length=1000, wm_clip=16, wm_feature_net="random", wm_popsize=64, wm_generations=100,
        wm_cma_rollouts=16, wm_cma_max_steps=1000, wm_sigma0=0.1, wm_eval_episodes=100,
        n_train=50000, n_test=10000, epochs=100, batch_size=128, lr=1e-3, channels=16, f_channels=16, depth=3,
        ae_width=32, ms=[64, 128, 256, 512, 1024], figure_m=256, seeds=3, granularity="pixel",
        data_source="auto", mc_samples=1000000, memory_fractions=[0.02, 0.1, 0.25, 0.5, 1.0],
        memory_batch=128,
        cl_n_train=50000, cl_n_test=10000, cl_epochs=4000, cl_warmup_epochs=50, cl_batch_size=512,
        cl_lr=0.05, cl_blocks=[3, 4, 6, 3], cl_width=64, cl_hidden=4096, cl_feat_dim=256, cl_dds_channels=16,
        cl_seeds=3, cl_kmeans_n_init=3, cl_fig5_variants="default,epsilon_0,kappa_0",
        cl_dds_fractions=[0.1, 0.25], cl_temperature=0.5, cl_cluster_weight=0.1,
        cl_latent_std=0.001, cl_ema=0.996, cl_weight_decay=5e-4, cl_dds_target=True,
        cl_datasets=["cifar10", "cifar20", "imagenet10", "imagenet_dogs", "tiny_imagenet"],
    ),
}

# Knobs whose range is not "> 0" (see `profiles.settings`); string knobs are checked by the recipes.
KNOB_RANGES = {
    "memory_fractions": Range(0.0, 1.0),
    "ms": Range(0.0, 4096.0),
    "depth": Range(0.0, 5.0),
    "cl_dds_fractions": Range(0.0, 1.0),
    "cl_warmup_epochs": Range(0.0, low_inclusive=True),
    "cl_latent_std": Range(0.0, low_inclusive=True),
    "cl_cluster_weight": Range(0.0, low_inclusive=True),
    "cl_weight_decay": Range(0.0, low_inclusive=True),
    "cl_ema": Range(0.0, 1.0),
    "wm_m_percents": Range(0.0, 100.0),
}

"""Training each World Models component through `repro_lib.train.fit`, so every model is cached
by content (spec and layers, objective, data identity, loop, settings):

1. `train_baseline_vae`: Ha's VAE on the rollout frames (`vision.BaselineVAELoss`);
2. `train_dds_stage1`: g, f_down, f_up, f_unet on the pixel MSE (`vision.PixelMSE`), then their
   batch-norm statistics recomputed in eval-mode selection (`recalibrate_batchnorm`, ours);
3. `train_dds_stage2`: the VAE on h with Eqs. 7-8 through the frozen stage 1 (its cache key
   is part of the objective's description); `dds_vision` joins the two;
4. `encode_sequences` + `train_mdn_rnn`: the MDN-RNN on (mu, logvar, action) windows of the
   rollouts encoded by a vision model (the data's name says which model, by cache key);
5. `train_controller`: CMA-ES on real rollouts (`controller.cma_es_loop`), the track seeds as
   its data.

`arch` is the DDS vision model's layer sizes (keyword arguments of `vision.DDSVision` without
`m_percent`); an empty dict is the default architecture (4,208,967 parameters).

Each model is first described as a `repro_lib.plans.TrainingJob` (`baseline_job`, `stage1_job`,
`stage2_job`, `mdn_job`, `controller_job`) and the `train_*` functions train through
`job.fit()`, so the part's `training_plan` lists exactly the models the chapters train. A job
that needs an earlier model's weights (stage 2: the frozen stage 1; the MDN-RNN: frames encoded
by the vision model; the controller: both) takes that trained model (a `FitResult`), so a
plan can list it only once its dependency is trained or cached.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ....cache import key_of
from ....data import Tensors
from ....models.vae import evaluate_in_batches
from ....plans import TrainingJob
from ....train import FitResult, TrainSettings
from .controller import CMASettings, RealEnvReturn, cma_es_loop
from .mdn_rnn import MDNSequenceLoss
from .rollouts import Rollouts, frames_to_images
from .vision import LATENT, BaselineVAELoss, DDSVision, PerceptualFreeBits, PixelMSE

STAGE1_KEYS = ("selector_channels", "width", "h_channels", "unet_channels", "depth")


def baseline_spec(latent: int = LATENT) -> dict:
    return {"family": "wm_vae", "latent": latent}


def stage1_spec(m_percent: float, arch: dict) -> dict:
    return {"family": "wm_dds_stage1", "m_percent": float(m_percent),
            **{k: v for k, v in arch.items() if k in STAGE1_KEYS}}


def stage2_spec(arch: dict, latent: int = LATENT) -> dict:
    return {"family": "wm_h_vae", "h_channels": arch.get("h_channels", 16), "width": arch.get("vae_width", 96),
            "latent": latent}


def dds_vision_spec(m_percent: float, arch: dict, latent: int = LATENT) -> dict:
    return {"family": "wm_dds_vision", "m_percent": float(m_percent), "latent": latent, **arch}


PART = "dds"


def baseline_job(images: Tensors, settings: TrainSettings, free_bits: float | None = None) -> TrainingJob:
    return TrainingJob(PART, "WM baseline VAE", baseline_spec(), BaselineVAELoss(free_bits), images, settings)


def train_baseline_vae(images: Tensors, settings: TrainSettings, free_bits: float | None = None) -> FitResult:
    return baseline_job(images, settings, free_bits).fit()


BN_RECALIBRATION = "bn-recalibrated-v1"  # names the stage-1 post-processing in stage 2's cache key


def stage1_job(images: Tensors, m_percent: float, arch: dict, settings: TrainSettings) -> TrainingJob:
    return TrainingJob(PART, f"WM DDS stage 1 at {m_percent:g}%", stage1_spec(m_percent, arch), PixelMSE(), images,
                       settings)


def train_dds_stage1(images: Tensors, m_percent: float, arch: dict, settings: TrainSettings,
                     recalibrate: bool = True) -> FitResult:
    """Stage 1 (cached), then, with `recalibrate`, its batch-norm statistics recomputed on the
    training frames as the model sees them in use (`recalibrate_batchnorm`)."""
    result = stage1_job(images, m_percent, arch, settings).fit()
    if recalibrate:
        recalibrate_batchnorm(result.model, images.x)
        result.key = f"{result.key}+{BN_RECALIBRATION}"
    return result


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, images: torch.Tensor, batch: int = 256) -> None:
    """Recompute every batch-norm layer's running mean and variance as the plain average over
    `images` of the batch statistics, with the rest of the model in eval mode (for DDS: the
    deterministic gate and exactly M positions). Training batches differ from that in two ways:
    the dynamic M (Eq. 6) shows a share epsilon of frames whole, and in short runs the running
    averages (momentum 0.1) lag the fast-changing weights; both leave f_unet's eval-mode output
    far from its training-mode output. Deterministic given the weights and the images."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    device = next(model.parameters()).device
    model.eval()
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches below
        m.train()
    try:
        for start in range(0, len(images), batch):
            model(images[start:start + batch].to(device))
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        model.eval()


def stage2_job(images: Tensors, stage1: FitResult, arch: dict, settings: TrainSettings, alpha: float = 1.0,
               lam: float = 0.02, scope: str = "per_dim", m_percent: float | None = None) -> TrainingJob:
    """Stage 2 on the (batch-norm recalibrated) stage 1 of `train_dds_stage1`."""
    objective = PerceptualFreeBits(stage1.key, alpha, lam, scope, stage1=stage1.model)
    name = "WM DDS stage 2 (VAE on h)" + ("" if m_percent is None else f" at {m_percent:g}%")
    return TrainingJob(PART, name, stage2_spec(arch), objective, images, settings)


def train_dds_stage2(images: Tensors, stage1: FitResult, arch: dict, settings: TrainSettings,
                     alpha: float = 1.0, lam: float = 0.02, scope: str = "per_dim") -> FitResult:
    return stage2_job(images, stage1, arch, settings, alpha, lam, scope).fit()


def dds_vision(stage1: FitResult, stage2: FitResult) -> DDSVision:
    """The trained DDS vision model (eval mode) from its two stages."""
    return DDSVision.from_parts(stage1.model, stage2.model)


@dataclass
class TrainedVision:
    """A vision model with what a worker process needs to rebuild it: its spec and its key
    (the cache key of the one fit, or of the stage keys joined)."""

    model: nn.Module
    spec: dict
    key: str
    name: str


def baseline_vision(result: FitResult) -> TrainedVision:
    return TrainedVision(result.model, baseline_spec(), result.key, "VAE")


def dds_trained_vision(stage1: FitResult, stage2: FitResult, m_percent: float, arch: dict) -> TrainedVision:
    return TrainedVision(dds_vision(stage1, stage2), dds_vision_spec(m_percent, arch),
                         key_of({"stage1": stage1.key, "stage2": stage2.key}), f"DDS+VAE (M={m_percent:g}%)")


def encode_sequences(vision: TrainedVision, rollouts: Rollouts, length: int, batch: int = 256) -> Tensors:
    """Every non-overlapping `length`-step window of the rollouts as (mu, logvar, actions)
    (S, length, .), the frames encoded by `vision`; named by the rollouts and the model's key."""
    rows, _, _ = rollouts.sequences(length)

    device = next(vision.model.parameters()).device

    def encode(model, frames):
        posterior = model.encode(frames_to_images(frames).to(device))
        return torch.cat([posterior.mu, posterior.logvar], 1).cpu()

    stats = evaluate_in_batches(vision.model, rollouts.frames, encode, batch)
    mu, logvar = stats.chunk(2, 1)
    return Tensors((mu[rows], logvar[rows], rollouts.actions[rows].float()),
                   f"{rollouts.data_id}:windows{length}+encoded-by:{vision.key}")


def mdn_job(sequences: Tensors, settings: TrainSettings, hidden: int = 256, gaussians: int = 5,
            name: str = "MDN-RNN") -> TrainingJob:
    spec = {"family": "wm_mdn_rnn", "latent": sequences.tensors[0].shape[-1], "hidden": hidden,
            "gaussians": gaussians}
    return TrainingJob(PART, f"WM {name}", spec, MDNSequenceLoss(), sequences, settings)


def train_mdn_rnn(sequences: Tensors, settings: TrainSettings, hidden: int = 256, gaussians: int = 5,
                  name: str = "MDN-RNN") -> FitResult:
    return mdn_job(sequences, settings, hidden, gaussians, name).fit()


def mdn_spec_of(result: FitResult) -> dict:
    m = result.model
    return {"family": "wm_mdn_rnn", "latent": m.latent, "actions": m.actions, "hidden": m.hidden,
            "gaussians": m.gaussians}


def controller_job(vision: TrainedVision, mdn: FitResult, track_seeds, settings: CMASettings,
                   workers: int = 1) -> TrainingJob:
    seeds = torch.as_tensor([int(s) for s in track_seeds])
    data = Tensors((seeds,), f"carracing-tracks:{key_of({'seeds': seeds.tolist()})}")
    objective = RealEnvReturn(vision.spec, vision.key, mdn_spec_of(mdn), mdn.key, vision=vision.model,
                              mdn=mdn.model, workers=workers)
    spec = {"family": "wm_controller", "latent": vision.model.latent_dim, "hidden": mdn.model.hidden}
    return TrainingJob(PART, f"WM controller ({vision.name})", spec, objective, data, settings, loop=cma_es_loop)


def train_controller(vision: TrainedVision, mdn: FitResult, track_seeds, settings: CMASettings,
                     workers: int = 1) -> FitResult:
    """CMA-ES on real rollouts on the tracks of `track_seeds` (cached by content), candidates
    evaluated through `repro_lib.tasks.task_map` (`workers` processes, or the engine's tasks)."""
    return controller_job(vision, mdn, track_seeds, settings, workers).fit()


def reconstruction_mse(vision: nn.Module, images: torch.Tensor, batch: int = 256) -> float:
    """Table 3's measure: mean squared error per pixel and channel of the reconstructions from
    z = the posterior mean (eval mode: DDS keeps exactly M positions)."""
    device = next(vision.parameters()).device

    def squared_error(model, x):
        x = x.to(device)
        return (model(x).recon - x).pow(2).flatten(1).sum(1).cpu()

    squared = evaluate_in_batches(vision, images, squared_error, batch)
    return float(squared.sum() / images.numel())

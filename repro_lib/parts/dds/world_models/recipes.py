"""The tested functions behind the World Models chapters (`notebooks/dds/4_2_*`): data, parameter
counts, the vision models under a profile's knobs (`wm_*` in `repro_lib.parts.dds.PROFILES`),
their reconstructions and Figure 7's intermediate representations.

Knobs: wm_rollouts / wm_test_rollouts episodes (training tracks 0.., test tracks 10,000..) of at
most wm_max_steps steps, generated in wm_workers processes; wm_epochs, wm_batch_size, wm_lr for
every vision model (Adam); wm_m_percents the DDS models' M (percent of the 64 x 64 positions);
wm_selector_channels, wm_width, wm_h_channels, wm_unet_channels, wm_vae_width the DDS vision
layers (`vision` module); wm_alpha, wm_lambda, wm_free_bits_scope Eq. 7.
"""
from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from ....models.vae import evaluate_in_batches
from ..networks import parameter_count
from . import training as T
from .controller import Controller
from .mdn_rnn import MDNRNN
from .rollouts import Rollouts, frames_to_images, load_rollouts
from .vision import (
    BASELINE_PARAMETERS,
    DOCUMENT_DDS_PARAMETERS,
    DDSVision,
    WorldModelsVAE,
    all_parameters,
    vision_parts,
)

TEST_SEED_OFFSET = 10_000
PAPER_TABLE3 = {"VAE": {100: 0.00165}, "DDS+VAE": {2: 0.00134, 4: 0.00039, 8: 0.00042, 16: 0.00047, 32: 0.00051}}
ARCH_KNOBS = {"selector_channels": "wm_selector_channels", "width": "wm_width", "h_channels": "wm_h_channels",
              "unet_channels": "wm_unet_channels", "vae_width": "wm_vae_width"}


@dataclass
class WMData:
    """Training and test rollouts."""

    train: Rollouts
    test: Rollouts


def arch(s) -> dict:
    """The DDS vision model's layer sizes under settings `s`."""
    return {name: int(getattr(s, knob)) for name, knob in ARCH_KNOBS.items()}


def train_settings(s, seed: int = 0) -> T.TrainSettings:
    return T.TrainSettings(epochs=s.wm_epochs, batch_size=s.wm_batch_size, lr=s.wm_lr, seed=seed)


def load_data(s, progress: bool = True) -> WMData:
    """The training and test rollouts of settings `s` (cached; generated in wm_workers processes)."""
    train = load_rollouts(range(s.wm_rollouts), s.wm_max_steps, s.wm_workers, progress=progress)
    test = load_rollouts(range(TEST_SEED_OFFSET, TEST_SEED_OFFSET + s.wm_test_rollouts), s.wm_max_steps,
                         s.wm_workers, progress=progress)
    return WMData(train, test)


def describe(profile: str, s, data: WMData) -> str:
    return (f"profile {profile}: {len(data.train.lengths)} training episodes ({len(data.train.frames)} frames) and "
            f"{len(data.test.lengths)} test episodes ({len(data.test.frames)} frames) of CarRacing-v3, at most "
            f"{s.wm_max_steps} steps each, Brownian random policy; vision models: {s.wm_epochs} epochs of batch "
            f"{s.wm_batch_size} (Adam, lr {s.wm_lr:g}); DDS at M = {list(s.wm_m_percents)}% of 4,096 positions; "
            f"DDS layers {arch(s)}; Eq. 7 alpha = {s.wm_alpha:g}, lambda = {s.wm_lambda:g} "
            f"({s.wm_free_bits_scope})")


def rollout_summary(rollouts: Rollouts) -> pd.DataFrame:
    """One row per episode: its track seed, steps, summed reward, whether it ended early."""
    rows = []
    for i, seed in enumerate(rollouts.seeds.tolist()):
        e = rollouts.episode(i)
        rows.append({"seed": seed, "steps": len(e["frames"]), "return": float(e["rewards"].sum()),
                     "ended": bool(e["dones"][-1])})
    return pd.DataFrame(rows).set_index("seed")


def rollout_figure(rollouts: Rollouts, episodes: int = 3, frames: int = 8) -> plt.Figure:
    """`frames` evenly spaced 64x64 frames of the first `episodes` episodes, one row each."""
    episodes = min(episodes, len(rollouts.lengths))
    fig, axes = plt.subplots(episodes, frames, figsize=(1.3 * frames, 1.4 * episodes), squeeze=False)
    for i in range(episodes):
        e = rollouts.episode(i)
        steps = np.linspace(0, len(e["frames"]) - 1, frames).round().astype(int)
        for ax, t in zip(axes[i], steps):
            ax.imshow(e["frames"][t].numpy())
            ax.set_title(f"t = {t}", fontsize=7)
            ax.axis("off")
        axes[i, 0].text(-8, 32, f"seed {int(rollouts.seeds[i])}", rotation=90, va="center", fontsize=7)
    fig.tight_layout()
    return fig


def parameter_table(s) -> pd.DataFrame:
    """Parameters of every World Models component: the document's numbers beside ours (the DDS
    vision model at the default architecture and at this profile's)."""
    default = vision_parts(DDSVision())
    profile = vision_parts(DDSVision(**arch(s)))
    rows = [
        {"component": "V: VAE (Ha & Schmidhuber)", "ours": parameter_count(WorldModelsVAE()),
         "document": BASELINE_PARAMETERS},
        {"component": "V: DDS+VAE, default layers", "ours": default["total"], "document": DOCUMENT_DDS_PARAMETERS},
        {"component": "V: DDS+VAE, this profile's layers", "ours": profile["total"], "document": None},
        {"component": "M: MDN-RNN (LSTM 256, 5 Gaussians)", "ours": parameter_count(MDNRNN()), "document": None},
        {"component": "C: linear controller", "ours": parameter_count(Controller()), "document": 867},
    ]
    table = pd.DataFrame(rows).set_index("component")
    table["document"] = table["document"].astype("Int64")
    return table


def dds_breakdown(s) -> pd.DataFrame:
    """Parameters per block of the DDS vision model, default layers and this profile's."""
    return pd.DataFrame({"default layers": vision_parts(DDSVision()),
                         "this profile": vision_parts(DDSVision(**arch(s)))})


def train_vision_models(data: WMData, s, seed: int = 0) -> dict[str, T.TrainedVision]:
    """The baseline VAE and a DDS+VAE at each M of wm_m_percents, trained (or loaded) on the
    training frames; keys "VAE" and "DDS+VAE M=<m>%"."""
    images = data.train.images()
    settings = train_settings(s, seed)
    models = {"VAE": T.baseline_vision(T.train_baseline_vae(images, settings))}
    for m in s.wm_m_percents:
        stage1 = T.train_dds_stage1(images, float(m), arch(s), settings)
        stage2 = T.train_dds_stage2(images, stage1, arch(s), settings, s.wm_alpha, s.wm_lambda, s.wm_free_bits_scope)
        models[f"DDS+VAE M={m:g}%"] = T.dds_trained_vision(stage1, stage2, float(m), arch(s))
    return models


def stage1_mse(vision: DDSVision, images: torch.Tensor, batch: int = 256) -> float:
    """Reconstruction MSE of a DDS vision model's stage 1 alone (h passed through, no VAE)."""
    device = next(vision.parameters()).device

    def squared_error(model, x):
        x = x.to(device)
        return (model(x) - x).pow(2).flatten(1).sum(1).cpu()

    squared = evaluate_in_batches(vision.stage1, images, squared_error, batch)
    return float(squared.sum() / images.numel())


def reconstruction_table(models: dict[str, T.TrainedVision], test_images: torch.Tensor) -> pd.DataFrame:
    """Table 3's measure on the test frames: reconstruction MSE per pixel and channel from z = mu
    (and, for DDS, of stage 1 alone, h passed through), with the mean-frame predictor as floor."""
    rows = []
    for name, trained in models.items():
        rows.append({"model": name, "MSE (z = mu)": T.reconstruction_mse(trained.model, test_images),
                     "stage 1 MSE (h passed through)": (stage1_mse(trained.model, test_images)
                                                        if isinstance(trained.model, DDSVision) else float("nan")),
                     "parameters": all_parameters(trained.model)})
    return pd.DataFrame(rows).set_index("model")


def mean_frame_mse(train_images: torch.Tensor, test_images: torch.Tensor) -> float:
    """MSE of predicting every test frame by the mean training frame (what a model must beat)."""
    return float((test_images - train_images.mean(0, keepdim=True)).pow(2).mean())


@torch.no_grad()
def reconstruction_figure(models: dict[str, T.TrainedVision], images: torch.Tensor, n: int = 6) -> plt.Figure:
    """Figure 6: n test frames and each model's reconstruction (z = mu), one row per model."""
    n = min(n, len(images))
    picks = images[torch.linspace(0, len(images) - 1, n).long()]
    rows = [("frame", picks)] + [(name, t.model.eval()(picks.to(next(t.model.parameters()).device)).recon.cpu())
                                 for name, t in models.items()]
    fig, axes = plt.subplots(len(rows), n, figsize=(1.3 * n, 1.4 * len(rows)), squeeze=False)
    for r, (name, batch) in enumerate(rows):
        for c in range(n):
            axes[r, c].imshow(batch[c].permute(1, 2, 0).clamp(0, 1).numpy())
            axes[r, c].axis("off")
        axes[r, 0].set_title(name, fontsize=7, loc="left")
    fig.tight_layout()
    return fig


@torch.no_grad()
def intermediates(vision: DDSVision, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Figure 7's internal representations (eval mode): the kept positions (gate * mask), the
    masked frame, h (channel mean), f_up's coarse frame from h, and the final frame from h_hat."""
    vision.eval()
    images = images.to(next(vision.parameters()).device)
    selection = vision.stage1.select(images)
    h = vision.stage1.downstream.f_down(selection.masked)
    coarse = vision.stage1.downstream.up_layers(h)[-1]
    out = {"frame": images, "gate x mask": selection.weights.view(len(images), 1, 64, 64),
           "masked frame": selection.masked, "h (mean over channels)": h.mean(1, keepdim=True),
           "f_up(h)": coarse, "DDS+VAE output": vision(images).recon}
    return {name: t.cpu() for name, t in out.items()}


def intermediates_figure(vision: DDSVision, images: torch.Tensor, n: int = 4) -> plt.Figure:
    """Figure 7: one column per representation of `intermediates`, one row per frame."""
    parts = intermediates(vision, images[:n])
    fig, axes = plt.subplots(len(images[:n]), len(parts), figsize=(1.5 * len(parts), 1.5 * len(images[:n])),
                             squeeze=False)
    for c, (name, batch) in enumerate(parts.items()):
        for r in range(len(batch)):
            img = batch[r]
            shown = img[0].numpy() if img.shape[0] == 1 else img.permute(1, 2, 0).clamp(0, 1).numpy()
            axes[r, c].imshow(shown, cmap="viridis" if img.shape[0] == 1 else None)
            axes[r, c].axis("off")
        axes[0, c].set_title(name, fontsize=7)
    fig.tight_layout()
    return fig


def data_numbers(data: WMData) -> dict:
    """The data's size for the result file."""
    return {"train_episodes": len(data.train.lengths), "train_frames": len(data.train.frames),
            "test_episodes": len(data.test.lengths), "test_frames": len(data.test.frames),
            "train_mean_return": float(rollout_summary(data.train)["return"].mean())}


def model_numbers(table: pd.DataFrame, params: pd.DataFrame, mean_mse: float) -> dict:
    """Reconstruction MSEs and parameter counts for the result file (keys without spaces)."""
    out = {"mean_frame_mse": mean_mse}
    for name, row in table.iterrows():
        key = name.replace("DDS+VAE M=", "dds_m").replace("%", "").replace("VAE", "vae").replace(".", "_")
        out[f"{key}_mse"] = float(row["MSE (z = mu)"])
        if not np.isnan(row["stage 1 MSE (h passed through)"]):
            out[f"{key}_stage1_mse"] = float(row["stage 1 MSE (h passed through)"])
    out["params_vae"] = int(params.loc["V: VAE (Ha & Schmidhuber)", "ours"])
    out["params_dds_default"] = int(params.loc["V: DDS+VAE, default layers", "ours"])
    out["params_dds_profile"] = int(params.loc["V: DDS+VAE, this profile's layers", "ours"])
    out["params_mdn_rnn"] = int(params.loc["M: MDN-RNN (LSTM 256, 5 Gaussians)", "ours"])
    out["params_controller"] = int(params.loc["C: linear controller", "ours"])
    return out


def paper_table3() -> pd.DataFrame:
    """Table 3 as the document prints it (rows: models; columns: M in percent, 100 = no selection)."""
    return pd.DataFrame(PAPER_TABLE3).T


__all__ = ["WMData", "arch", "load_data", "describe", "rollout_summary", "rollout_figure", "parameter_table",
           "dds_breakdown", "train_vision_models", "stage1_mse", "reconstruction_table", "mean_frame_mse",
           "reconstruction_figure", "intermediates", "intermediates_figure", "data_numbers", "model_numbers",
           "paper_table3", "frames_to_images"]

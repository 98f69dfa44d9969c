"""The tested functions behind the World Models chapters (`notebooks/dds/4_2_*`): data, parameter
counts, the vision models under a profile's knobs (`wm_*` in `repro_lib.parts.dds.PROFILES`),
their reconstructions and Figure 7's intermediate representations.

Knobs: wm_rollouts / wm_test_rollouts episodes (training tracks 0.., test tracks 10,000..) of at
most wm_max_steps steps, generated in wm_workers processes; wm_epochs, wm_batch_size, wm_lr for
every vision model (Adam), wm_stage2_epochs for stage 2 (the VAE on h); wm_m_percents the DDS
models' M (percent of the 64 x 64 positions);
wm_selector_channels, wm_width, wm_h_channels, wm_unet_channels, wm_vae_width the DDS vision
layers (`vision` module); wm_alpha, wm_lambda, wm_free_bits_scope Eq. 7.
"""
from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import matplotlib.ticker
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


def stage2_settings(s, seed: int = 0) -> T.TrainSettings:
    """Stage 2 (the VAE on h): wm_stage2_epochs epochs, the other vision settings unchanged."""
    return T.TrainSettings(epochs=s.wm_stage2_epochs, batch_size=s.wm_batch_size, lr=s.wm_lr, seed=seed)


def load_data(s, progress: bool = True) -> WMData:
    """The training and test rollouts of settings `s` (cached; generated in wm_workers processes)."""
    train = load_rollouts(range(s.wm_rollouts), s.wm_max_steps, s.wm_workers, progress=progress)
    test = load_rollouts(range(TEST_SEED_OFFSET, TEST_SEED_OFFSET + s.wm_test_rollouts), s.wm_max_steps,
                         s.wm_workers, progress=progress)
    return WMData(train, test)


def describe(profile: str, s, data: WMData) -> str:
    return (f"profile {profile}: {len(data.train.lengths)} training episodes ({len(data.train.frames)} frames) and "
            f"{len(data.test.lengths)} test episodes ({len(data.test.frames)} frames) of CarRacing-v3, at most "
            f"{s.wm_max_steps} steps each, Brownian random policy; vision models: {s.wm_epochs} epochs (stage 2: "
            f"{s.wm_stage2_epochs}) of batch "
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


def data_cached(s) -> bool:
    """Whether the training and test rollouts of settings `s` are in the data cache."""
    from .rollouts import rollouts_path

    return (rollouts_path(range(s.wm_rollouts), s.wm_max_steps).exists()
            and rollouts_path(range(TEST_SEED_OFFSET, TEST_SEED_OFFSET + s.wm_test_rollouts), s.wm_max_steps).exists())


def plan_m_percents(s) -> list[float]:
    """Every M a chapter trains a DDS vision model at: Table 3's and the agent's."""
    ms = [float(m) for m in s.wm_m_percents]
    return ms + ([float(s.wm_agent_m)] if float(s.wm_agent_m) not in ms else [])


def training_jobs(s, seed: int = 0) -> list:
    """The World Models jobs of the part's training plan under settings `s`: every model the
    `4_2_*` chapters train that can be described now (`repro_lib.plans.TrainingJob`s).

    The vision models train on rollouts, which are generated data (CarRacing-v3 episodes, hours
    of simulation under `full`): the plan lists nothing until the rollouts are in the data cache
    (`4_2_1` or `load_data(s)` generates them, through `repro_lib.tasks.task_map`, so on the
    engine's workers under `run --engine ray`), and never generates them itself (a plan must be
    cheap to build: `plan --check` runs in `make test`). With the rollouts: the baseline VAE and
    stage 1 at each M (Table 3's and the agent's). A later model's job holds the earlier trained
    model its objective or data are computed from, so it is listed once that model is in the model
    cache (loaded, never trained here): stage 2 at M once stage 1 at M is cached; the two MDN-RNNs
    (on frames encoded by the agents' vision models) once both vision models are; the two
    controllers (CMA-ES through the frozen vision and memory) once the MDN-RNNs are. The engine
    reads the plan again after each round it trains (`engine.train_parts`), so its four rounds
    take the whole chain; what is still missing the chapters train themselves."""
    if not data_cached(s):
        return []
    data = load_data(s, progress=False)
    images = data.train.images()
    settings = train_settings(s, seed)
    baseline = T.baseline_job(images, settings)
    jobs = [baseline]
    stage1_jobs = {m: T.stage1_job(images, m, arch(s), settings) for m in plan_m_percents(s)}
    jobs += list(stage1_jobs.values())
    stage2 = {}
    for m, job in stage1_jobs.items():
        if job.cached():
            stage1 = T.train_dds_stage1(images, m, arch(s), settings)
            stage2[m] = (stage1, T.stage2_job(images, stage1, arch(s), stage2_settings(s, seed), s.wm_alpha,
                                              s.wm_lambda, s.wm_free_bits_scope, m))
            jobs.append(stage2[m][1])
    agent = float(s.wm_agent_m)
    if not (baseline.cached() and agent in stage2 and stage2[agent][1].cached()):
        return jobs
    visions = {"VAE": T.baseline_vision(baseline.fit(progress=False)),
               "DDS+VAE": T.dds_trained_vision(stage2[agent][0], stage2[agent][1].fit(progress=False), agent,
                                               arch(s))}
    mdn_jobs = {name: T.mdn_job(T.encode_sequences(v, data.train, s.wm_seq_len), mdn_settings(s, seed),
                                name=f"MDN-RNN ({name})") for name, v in visions.items()}
    jobs += list(mdn_jobs.values())
    if all(job.cached() for job in mdn_jobs.values()):
        memories = {name: job.fit(progress=False) for name, job in mdn_jobs.items()}
        jobs += [T.controller_job(visions[name], memories[name], controller_tracks(s), cma_settings(s, seed),
                                  workers=int(s.wm_workers)) for name in visions]
    return jobs


def train_vision_models(data: WMData, s, seed: int = 0) -> dict[str, T.TrainedVision]:
    """The baseline VAE and a DDS+VAE at each M of wm_m_percents, trained (or loaded) on the
    training frames; keys "VAE" and "DDS+VAE M=<m>%"."""
    images = data.train.images()
    settings = train_settings(s, seed)
    models = {"VAE": T.baseline_vision(T.train_baseline_vae(images, settings))}
    for m in s.wm_m_percents:
        stage1 = T.train_dds_stage1(images, float(m), arch(s), settings)
        stage2 = T.train_dds_stage2(images, stage1, arch(s), stage2_settings(s, seed), s.wm_alpha, s.wm_lambda,
                                    s.wm_free_bits_scope)
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


__all__ = ["WMData", "arch", "load_data", "data_cached", "plan_m_percents", "training_jobs",
           "describe", "rollout_summary", "rollout_figure", "parameter_table",
           "dds_breakdown", "train_vision_models", "stage1_mse", "reconstruction_table", "mean_frame_mse",
           "reconstruction_figure", "intermediates", "intermediates_figure", "data_numbers", "model_numbers",
           "paper_table3", "frames_to_images"]


# ============================================================================ 4_2_2: Table 3

PAPER_TABLE4 = {"FID": {"VAE": 59.46, "DDS+VAE": 25.35}, "FVD": {"VAE": 239.0, "DDS+VAE": 176.0}}
PAPER_REWARDS = {"VAE": (734.96, 162.75), "DDS+VAE": (818.58, 147.05)}  # mean +- (std, our reading), 100 episodes
PAPER_PARAMETERS = {"VAE": BASELINE_PARAMETERS, "DDS+VAE": DOCUMENT_DDS_PARAMETERS, "controller": 867}
CONTROLLER_SEED_OFFSET = 20_000  # CMA-ES training tracks
EVAL_SEED_OFFSET = 30_000  # evaluation tracks (and the random policy's episodes on them)
REFERENCE_WINDOW_SEED = 1  # the real reference windows for Table 4 (other tracks: the training rollouts)
FEATURE_NETS = ("random", "vae_encoder", "inception")


def m_key(m: float) -> str:
    """A result-file key for M: 4 -> "m4", 2.5 -> "m2_5"."""
    return f"m{m:g}".replace(".", "_")


def table3(table: pd.DataFrame, m_percents) -> pd.DataFrame:
    """Table 3's layout: rows VAE and DDS+VAE, columns M in percent (100 = no selection), ours
    (`reconstruction_table`'s "MSE (z = mu)") beside the document's, one row each."""
    ours = {"VAE": {100: float(table.loc["VAE", "MSE (z = mu)"])},
            "DDS+VAE": {float(m): float(table.loc[f"DDS+VAE M={m:g}%", "MSE (z = mu)"]) for m in m_percents}}
    rows = {}
    for model in ("VAE", "DDS+VAE"):
        rows[f"{model} (ours, test frames)"] = ours[model]
        rows[f"{model} (document)"] = {float(k): v for k, v in PAPER_TABLE3[model].items()}
    out = pd.DataFrame(rows).T
    return out[sorted(out.columns)]


def table3_numbers(table: pd.DataFrame, m_percents, mean_mse: float) -> dict:
    """Table 3's claims and gates: every model's MSE over the mean-frame predictor's (health),
    DDS over VAE at each M, the largest of those ratios, and MSE at the largest M run over M = the
    4% (the document: 0.00051 / 0.00039 from 4% to 32%; None unless 4% and a larger M are run)."""
    vae = float(table.loc["VAE", "MSE (z = mu)"])
    dds = {float(m): float(table.loc[f"DDS+VAE M={m:g}%", "MSE (z = mu)"]) for m in m_percents}
    out = {"mean_frame_mse": mean_mse, "vae_mse": vae, "vae_over_mean_frame": vae / mean_mse,
           "dds_over_mean_frame_max": max(v / mean_mse for v in dds.values())}
    for m, v in dds.items():
        out[f"dds_{m_key(m)}_mse"] = v
        out[f"dds_{m_key(m)}_over_vae"] = v / vae
    out["dds_over_vae_max"] = max(v / vae for v in dds.values())
    largest = max(dds)
    out["dds_largest_m_over_m4"] = dds[largest] / dds[4.0] if 4.0 in dds and largest > 4.0 else None
    return out


def paper_table3_ratios() -> dict:
    """The document's Table 3 as the ratios our claims read (DDS / VAE at each M)."""
    vae = PAPER_TABLE3["VAE"][100]
    return {m: v / vae for m, v in PAPER_TABLE3["DDS+VAE"].items()}


LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


@torch.no_grad()
def sharpness(images: torch.Tensor) -> float:
    """Mean absolute response of the 3x3 Laplacian (no padding), per channel, over images
    (N, C, H, W): the high-frequency detail a blurry reconstruction lacks."""
    c = images.shape[1]
    kernel = LAPLACIAN.to(images.dtype).expand(c, 1, 3, 3)
    return float(torch.nn.functional.conv2d(images, kernel, groups=c).abs().mean())


@torch.no_grad()
def detail_error(recon: torch.Tensor, frames: torch.Tensor) -> float:
    """Mean squared difference of the 3x3 Laplacian responses (no padding, per channel) of
    reconstructions and frames (N, C, H, W): 0 when every fine detail is reproduced; a blurry
    reconstruction scores the frames' own Laplacian energy, one with spurious detail more."""
    c = frames.shape[1]
    kernel = LAPLACIAN.to(frames.dtype).expand(c, 1, 3, 3)
    return float(torch.nn.functional.conv2d(recon - frames, kernel, groups=c).pow(2).mean())


@torch.no_grad()
def sharpness_numbers(models: dict[str, T.TrainedVision], images: torch.Tensor, batch: int = 256) -> dict:
    """Appendix B's "sharper image details", per model (keys "vae", "dds_m<m>"): its
    reconstructions' (z = mu) Laplacian energy over the test frames' own ("<key>_sharpness_ratio":
    > 1 means more high-frequency content than the frames, detail or artefact), and the error of
    that fine detail (`detail_error`, "<key>_detail_error"), with DDS+VAE's over the VAE's at each M
    ("dds_m<m>_over_vae_detail_error": below 1 when DDS reproduces the details better)."""
    chunks = [images[i:i + batch] for i in range(0, len(images), batch)]
    weights = np.array([len(c) for c in chunks], dtype=float) / len(images)
    frames = float(np.dot(weights, [sharpness(c) for c in chunks]))
    out = {}
    for name, trained in models.items():
        model = trained.model.eval()
        device = next(model.parameters()).device
        recons = [model(c.to(device)).recon.cpu() for c in chunks]
        key = "vae" if name == "VAE" else f"dds_{m_key(float(name.split('=')[1].rstrip('%')))}"
        out[f"{key}_sharpness_ratio"] = float(np.dot(weights, [sharpness(r) for r in recons])) / frames
        out[f"{key}_detail_error"] = float(np.dot(weights, [detail_error(r, c) for r, c in zip(recons, chunks)]))
    for key in [k[:-len("_detail_error")] for k in out if k.endswith("_detail_error") and k != "vae_detail_error"]:
        out[f"{key}_over_vae_detail_error"] = out[f"{key}_detail_error"] / out["vae_detail_error"]
    return out


@torch.no_grad()
def m_explorer_frames(models: dict[str, T.TrainedVision], images: torch.Tensor, n: int = 4
                      ) -> tuple[list[np.ndarray], list[str]]:
    """One image per DDS model (label "M = m%"): for `n` test frames, rows frame / kept
    positions / masked frame / DDS+VAE output / VAE output, as one RGB array (uint8) per model."""
    picks = images[torch.linspace(0, len(images) - 1, n).long()]
    vae = models["VAE"].model.eval()
    vae_out = vae(picks.to(next(vae.parameters()).device)).recon.cpu()
    frames, labels = [], []
    for name, trained in models.items():
        if not isinstance(trained.model, DDSVision):
            continue
        parts = intermediates(trained.model, picks)
        mask = parts["gate x mask"]
        mask = (mask / mask.flatten(1).amax(1).clamp_min(1e-8)[:, None, None, None]).repeat(1, 3, 1, 1)
        rows = [parts["frame"], mask, parts["masked frame"], parts["DDS+VAE output"], vae_out]
        frames.append(_tile(rows))
        labels.append(name.replace("DDS+VAE ", ""))
    return frames, labels


def _tile(rows: list[torch.Tensor], gap: int = 2) -> np.ndarray:
    """Rows of (n, 3, H, W) images in [0, 1] -> one (rows*(H+gap), n*(W+gap), 3) uint8 array."""
    n, _, h, w = rows[0].shape
    out = torch.ones(len(rows) * (h + gap), n * (w + gap), 3)
    for r, batch in enumerate(rows):
        for c in range(n):
            out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = batch[c].permute(1, 2, 0)
    return (out.clamp(0, 1) * 255).round().to(torch.uint8).numpy()


# ============================================================================ 4_2_3: memory and dreams


def describe_agent(s) -> str:
    """The memory, dream and controller settings of `s`, in words."""
    return (f"agents: DDS+VAE at M = {s.wm_agent_m:g}% and the baseline VAE; MDN-RNN (LSTM 256, 5 Gaussians) on "
            f"{s.wm_seq_len}-step windows of the training rollouts, {s.wm_mdn_epochs} epochs; dreams: "
            f"{s.wm_dream_sequences} test windows of {s.wm_dream_length} frames, recorded actions, temperature "
            f"{s.wm_temperature:g}, clips of {s.wm_clip} frames, features: {s.wm_feature_net}; CMA-ES: population "
            f"{s.wm_popsize}, {s.wm_generations} generations, {s.wm_cma_rollouts} track(s) per candidate, episodes "
            f"of at most {s.wm_cma_max_steps} steps, sigma0 {s.wm_sigma0:g}; evaluation on {s.wm_eval_episodes} "
            f"other tracks")


def agent_visions(data: WMData, s, seed: int = 0) -> dict[str, T.TrainedVision]:
    """The two vision models the agents use: "VAE" and "DDS+VAE" at M = wm_agent_m (trained or
    loaded from the cache: the same models as Table 3's when wm_agent_m is one of its M)."""
    images = data.train.images()
    settings = train_settings(s, seed)
    stage1 = T.train_dds_stage1(images, float(s.wm_agent_m), arch(s), settings)
    stage2 = T.train_dds_stage2(images, stage1, arch(s), stage2_settings(s, seed), s.wm_alpha, s.wm_lambda,
                                s.wm_free_bits_scope)
    return {"VAE": T.baseline_vision(T.train_baseline_vae(images, settings)),
            "DDS+VAE": T.dds_trained_vision(stage1, stage2, float(s.wm_agent_m), arch(s))}


def mdn_settings(s, seed: int = 0) -> T.TrainSettings:
    return T.TrainSettings(epochs=s.wm_mdn_epochs, batch_size=s.wm_batch_size, lr=s.wm_lr, seed=seed)


def train_memories(data: WMData, visions: dict[str, T.TrainedVision], s, seed: int = 0) -> dict:
    """One MDN-RNN per vision model, on wm_seq_len-step windows of the training rollouts encoded
    by that model (cached by content)."""
    return {name: T.train_mdn_rnn(T.encode_sequences(v, data.train, s.wm_seq_len), mdn_settings(s, seed),
                                  name=f"MDN-RNN ({name})") for name, v in visions.items()}


def sample_latents(sequences, seed: int = 0):
    """(mu, logvar, actions) windows with mu replaced by one seeded draw z ~ N(mu, exp(logvar)):
    the latents the MDN-RNN is trained to predict (Ha's recipe), for scoring it and its baseline."""
    from ....data import Tensors

    mu, logvar, actions = sequences.tensors
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(seed), dtype=mu.dtype)
    return Tensors((mu + eps * (0.5 * logvar).exp(), logvar, actions), f"{sequences.data_id}:sampled{seed}")


@torch.no_grad()
def mdn_test_nll(mdn: torch.nn.Module, sequences) -> float:
    """Mean NLL per latent unit of z_{t+1} under the MDN-RNN's mixture, on held-out windows
    (z, logvar, actions): z is the first tensor as given (`sample_latents` draws it)."""
    from .mdn_rnn import MDNSequenceLoss

    mdn.eval()
    device = next(mdn.parameters()).device
    batch = tuple(t.to(device) for t in sequences.tensors)
    return float(MDNSequenceLoss(sample_z=False)(mdn, batch)["nll"])


def gaussian_baseline_nll(train_sequences, test_sequences) -> float:
    """The MDN's floor: mean NLL per latent unit of the test z_{t+1} under one fixed diagonal
    Gaussian fitted (maximum likelihood) to all training z, ignoring the past and the actions."""
    z_train = train_sequences.tensors[0].reshape(-1, train_sequences.tensors[0].shape[-1]).double()
    mean, var = z_train.mean(0), z_train.var(0, unbiased=False).clamp_min(1e-12)
    target = test_sequences.tensors[0][:, 1:].double()
    nll = 0.5 * ((target - mean).pow(2) / var + var.log() + np.log(2 * np.pi))
    return float(nll.mean())


def memory_table(data: WMData, visions: dict[str, T.TrainedVision], memories: dict, s) -> pd.DataFrame:
    """Per vision model: the MDN-RNN's training loss at the end, its test NLL per unit and the
    fixed-Gaussian baseline's on the same test windows (lower is better), z drawn once from each
    frame's posterior (what the MDN-RNN is trained on; seeded) for both."""
    rows = {}
    for name, v in visions.items():
        train_seqs = sample_latents(T.encode_sequences(v, data.train, s.wm_seq_len), 0)
        test_seqs = sample_latents(T.encode_sequences(v, data.test, s.wm_seq_len), 1)
        history = memories[name].history.get("nll") or memories[name].history.get("loss") or [float("nan")]
        rows[name] = {"MDN train NLL / unit (last step)": float(history[-1]),
                      "MDN test NLL / unit": mdn_test_nll(memories[name].model, test_seqs),
                      "fixed Gaussian test NLL / unit": gaussian_baseline_nll(train_seqs, test_seqs),
                      "test windows": int(len(test_seqs.tensors[0]))}
    return pd.DataFrame(rows).T


def feature_network(s, visions: dict[str, T.TrainedVision] | None = None):
    """Table 4's feature network (wm_feature_net): "random" (a fixed random conv net, the offline
    default), "vae_encoder" (the baseline VAE's encoder: favours what that model sees) or
    "inception" (a user's TorchScript Inception-v3 from $REPRO_INCEPTION_TORCHSCRIPT: FID)."""
    from . import features as Fe

    if s.wm_feature_net == "random":
        return Fe.random_conv_network(0)
    if s.wm_feature_net == "vae_encoder":
        if not visions:
            raise ValueError("wm_feature_net='vae_encoder' needs the trained vision models")
        return Fe.encoder_network(visions["VAE"].model, "encoder of this profile's baseline VAE")
    if s.wm_feature_net == "inception":
        return Fe.torchscript_network(None, "inception")
    raise ValueError(f"wm_feature_net must be one of {FEATURE_NETS}, got {s.wm_feature_net!r}")


def make_dreams(data: WMData, visions: dict, memories: dict, s, seed: int = 0) -> dict:
    """Table 4's three sets: `real` (wm_dream_sequences windows of wm_dream_length test frames),
    each model's dreams from the windows' first frames under their recorded actions at
    temperature wm_temperature, and `reference` (as many real windows of the training tracks:
    what a perfect model would score at this sample size). Also `windows` (episode, start)."""
    from .dreams import dream_windows, real_windows

    length = int(s.wm_dream_length) - 1
    windows = real_windows(data.test, length, int(s.wm_dream_sequences), seed)
    reference = real_windows(data.train, length, int(s.wm_dream_sequences), seed + REFERENCE_WINDOW_SEED)
    dreams = {name: dream_windows(visions[name].model, memories[name].model, windows, s.wm_temperature, seed)
              for name in visions}
    return {"real": windows["frames"], "reference": reference["frames"], "dreams": dreams,
            "actions": windows["actions"], "episode": windows["episode"], "start": windows["start"]}


def sequence_features(sequences: torch.Tensor, network, clip: int) -> tuple[np.ndarray, np.ndarray]:
    """Per sequence (S, T, 3, 64, 64): frame features (S, T, d) and clip features (S, T // clip, 2d)
    (`features.clip_features`), so that sequences can be resampled without recomputing them."""
    from .features import clip_features

    s, t = sequences.shape[:2]
    frames = network.features(sequences.flatten(0, 1)).unflatten(0, (s, t)).numpy()
    clips = clip_features(sequences, network, clip).unflatten(0, (s, t // clip)).numpy()
    return frames, clips


def _fd(a: np.ndarray, b: np.ndarray) -> float:
    from ....metrics.frechet import frechet_from_features

    return frechet_from_features(a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1]))


def dream_distances(dreams: dict, network, clip: int, boot: int = 200, seed: int = 0) -> dict:
    """Table 4 on `network`: per set (each model's dreams and the real reference), the Frechet
    distance of its frames and of its clips to the real sequences; and the difference
    DDS+VAE minus VAE with a 95% percentile bootstrap interval over sequences (the same resampled
    sequences for the real set and both dream sets: they share first frames and actions)."""
    from .features import metric_name

    real_f, real_c = sequence_features(dreams["real"], network, clip)
    sets = {"real (other sequences)": dreams["reference"], **dreams["dreams"]}
    feats = {name: sequence_features(x, network, clip) for name, x in sets.items()}
    frame_name, clip_name = metric_name(network, video=False), metric_name(network, video=True)
    table = pd.DataFrame({name: {frame_name: _fd(real_f, f), clip_name: _fd(real_c, c)}
                          for name, (f, c) in feats.items()}).T
    rng = np.random.default_rng(seed)
    n = len(real_f)
    diffs = {"frame": [], "clip": []}
    (vf, vc), (df, dc) = feats["VAE"], feats["DDS+VAE"]
    for _ in range(boot):
        i = rng.integers(0, n, n)
        diffs["frame"].append(_fd(real_f[i], df[i]) - _fd(real_f[i], vf[i]))
        diffs["clip"].append(_fd(real_c[i], dc[i]) - _fd(real_c[i], vc[i]))
    out = {"table": table, "frame_metric": frame_name, "clip_metric": clip_name}
    for kind, name in (("frame", frame_name), ("clip", clip_name)):
        out[f"{kind}_dds_minus_vae"] = float(table.loc["DDS+VAE", name] - table.loc["VAE", name])
        low, high = np.percentile(diffs[kind], [2.5, 97.5]) if boot >= 20 else (None, None)
        out[f"{kind}_dds_minus_vae_ci"] = [None if low is None else float(low), None if high is None else float(high)]
    return out


def table4(distances: dict) -> pd.DataFrame:
    """Ours (named by the feature network) beside the document's FID and FVD."""
    t = distances["table"]
    rows = {distances["frame_metric"]: {"VAE": t.loc["VAE", distances["frame_metric"]],
                                        "DDS+VAE": t.loc["DDS+VAE", distances["frame_metric"]],
                                        "real (other sequences)": t.loc["real (other sequences)",
                                                                        distances["frame_metric"]]},
            distances["clip_metric"]: {"VAE": t.loc["VAE", distances["clip_metric"]],
                                       "DDS+VAE": t.loc["DDS+VAE", distances["clip_metric"]],
                                       "real (other sequences)": t.loc["real (other sequences)",
                                                                       distances["clip_metric"]]},
            "FID (document, Inception-v3)": {**PAPER_TABLE4["FID"], "real (other sequences)": None},
            "FVD (document, I3D)": {**PAPER_TABLE4["FVD"], "real (other sequences)": None}}
    return pd.DataFrame(rows).T


def dream_numbers(memory: pd.DataFrame, distances: dict) -> dict:
    """Table 4's claims and the gates they need (keys of the result file)."""
    t, fm, cm = distances["table"], distances["frame_metric"], distances["clip_metric"]
    out = {"mdn_minus_gaussian_nll_max": float((memory["MDN test NLL / unit"]
                                                - memory["fixed Gaussian test NLL / unit"]).max())}
    for name, key in (("VAE", "vae"), ("DDS+VAE", "dds")):
        out[f"mdn_test_nll_{key}"] = float(memory.loc[name, "MDN test NLL / unit"])
        out[f"gaussian_test_nll_{key}"] = float(memory.loc[name, "fixed Gaussian test NLL / unit"])
        out[f"frame_fd_{key}"] = float(t.loc[name, fm])
        out[f"clip_fd_{key}"] = float(t.loc[name, cm])
    out["frame_fd_reference"] = float(t.loc["real (other sequences)", fm])
    out["clip_fd_reference"] = float(t.loc["real (other sequences)", cm])
    worst = max(out["frame_fd_vae"], out["frame_fd_dds"])
    out["reference_over_worst_dream_frame_fd"] = out["frame_fd_reference"] / worst if worst > 0 else None
    for kind in ("frame", "clip"):
        out[f"{kind}_fd_dds_minus_vae"] = distances[f"{kind}_dds_minus_vae"]
        out[f"{kind}_fd_dds_minus_vae_ci"] = distances[f"{kind}_dds_minus_vae_ci"]
    out["feature_network"] = distances["frame_metric"]
    return out


def transition_mse(sequences: torch.Tensor) -> torch.Tensor:
    """Per sequence (S, T, C, H, W): the mean squared difference between consecutive frames,
    over steps, pixels and channels, (S,): how much a sequence jumps from frame to frame."""
    if sequences.dim() != 5 or sequences.shape[1] < 2:
        raise ValueError(f"need (S, T >= 2, C, H, W) sequences, got {tuple(sequences.shape)}")
    return (sequences[:, 1:] - sequences[:, :-1]).pow(2).flatten(1).mean(1)


def transition_numbers(dreams: dict, boot: int = 1000, seed: int = 0) -> dict:
    """Figure 3's "smoother transitions between frames": the mean frame-to-frame MSE
    (`transition_mse`) of the real windows and of each model's dreams, each over the real
    windows' ("<key>_transition_over_real"), and (DDS+VAE minus VAE) / real with a 95% percentile
    bootstrap interval over sequences (resampled together: the dreams share first frames and
    actions with the real windows). Below 0: DDS+VAE's dreams jump less from frame to frame.
    "min_transition_over_real", the stiller model's ratio, guards the reading: a dream that
    hardly moves (a collapsed model) is "smooth" too."""
    real = transition_mse(dreams["real"]).double().numpy()
    vae = transition_mse(dreams["dreams"]["VAE"]).double().numpy()
    dds = transition_mse(dreams["dreams"]["DDS+VAE"]).double().numpy()

    def stat(i):
        return (dds[i].mean() - vae[i].mean()) / real[i].mean()

    rng = np.random.default_rng(seed)
    n = len(real)
    samples = [stat(rng.integers(0, n, n)) for _ in range(boot)]
    low, high = np.percentile(samples, [2.5, 97.5]) if boot >= 20 else (None, None)
    return {"transition_mse_real": float(real.mean()), "transition_mse_vae": float(vae.mean()),
            "transition_mse_dds": float(dds.mean()), "vae_transition_over_real": float(vae.mean() / real.mean()),
            "dds_transition_over_real": float(dds.mean() / real.mean()),
            "min_transition_over_real": float(min(vae.mean(), dds.mean()) / real.mean()),
            "transition_dds_minus_vae_over_real": float(stat(np.arange(n))),
            "transition_dds_minus_vae_over_real_ci": [None if low is None else float(low),
                                                      None if high is None else float(high)]}


def intervals_table(numbers: dict, rows: dict[str, str]) -> pd.DataFrame:
    """Rows `label: key` of a result dict: the value of `key` and its interval `key`_ci (if any)."""
    out = {}
    for label, key in rows.items():
        low, high = numbers.get(f"{key}_ci") or (None, None)
        out[label] = {"value": numbers[key], "95% low": low, "95% high": high}
    return pd.DataFrame(out).T


def dream_strip(dreams: dict, index: int = 0, frames: int = 8) -> plt.Figure:
    """Figure 3: one sequence, `frames` evenly spaced steps; rows real / VAE dream / DDS+VAE dream."""
    rows = {"real": dreams["real"][index], **{f"{k} dream": v[index] for k, v in dreams["dreams"].items()}}
    t_total = rows["real"].shape[0]
    steps = np.linspace(0, t_total - 1, frames).round().astype(int)
    fig, axes = plt.subplots(len(rows), frames, figsize=(1.3 * frames, 1.45 * len(rows)), squeeze=False)
    for r, (name, seq) in enumerate(rows.items()):
        for c, t in enumerate(steps):
            axes[r, c].imshow(seq[t].permute(1, 2, 0).clamp(0, 1).numpy())
            axes[r, c].axis("off")
            if r == 0:
                axes[r, c].set_title(f"t = {t}", fontsize=7)
        axes[r, 0].text(-6, 32, name, rotation=90, va="center", ha="right", fontsize=7)
    fig.tight_layout()
    return fig


def dream_scrubber_frames(dreams: dict, index: int = 0, step: int = 1) -> tuple[list[np.ndarray], list[str]]:
    """One image per time step t (every `step`-th) of sequence `index`: real, VAE dream and DDS+VAE
    dream side by side (uint8 arrays for `repro_lib.widgets.image_explorer`), labels "t = ..."."""
    seqs = [dreams["real"][index], *[v[index] for v in dreams["dreams"].values()]]
    frames, labels = [], []
    for t in range(0, seqs[0].shape[0], step):
        frames.append(_tile([torch.stack([s[t] for s in seqs])]))
        labels.append(f"t = {t}")
    return frames, labels


# ============================================================================ 4_2_4: the controller


def cma_settings(s, seed: int = 0):
    from .controller import CMASettings

    return CMASettings(popsize=int(s.wm_popsize), generations=int(s.wm_generations), rollouts=int(s.wm_cma_rollouts),
                       max_steps=int(s.wm_cma_max_steps), sigma0=float(s.wm_sigma0), seed=seed)


def controller_tracks(s) -> list[int]:
    """CMA-ES's track seeds: a new set of wm_cma_rollouts tracks every generation."""
    n = int(s.wm_generations) * int(s.wm_cma_rollouts)
    return list(range(CONTROLLER_SEED_OFFSET, CONTROLLER_SEED_OFFSET + n))


def eval_tracks(s) -> list[int]:
    return list(range(EVAL_SEED_OFFSET, EVAL_SEED_OFFSET + int(s.wm_eval_episodes)))


def train_controllers(visions: dict, memories: dict, s, seed: int = 0) -> dict:
    """One controller per vision model, CMA-ES on the real environment (cached by content)."""
    return {name: T.train_controller(visions[name], memories[name], controller_tracks(s), cma_settings(s, seed),
                                     workers=int(s.wm_workers)) for name in visions}


def evaluate_controllers(visions: dict, memories: dict, controllers: dict, s) -> dict[str, np.ndarray]:
    """Each controller's return on the wm_eval_episodes evaluation tracks (at most wm_cma_max_steps
    steps), and "random policy": the Brownian policy's return on the same tracks."""
    from .controller import evaluate_controller

    out = {}
    for name in visions:
        out[name] = evaluate_controller(visions[name].model, visions[name].spec, memories[name].model,
                                        T.mdn_spec_of(memories[name]), controllers[name].model, eval_tracks(s),
                                        int(s.wm_cma_max_steps), int(s.wm_workers))
    random = load_rollouts(eval_tracks(s), int(s.wm_cma_max_steps), int(s.wm_workers), progress=False)
    out["random policy"] = rollout_summary(random)["return"].to_numpy()
    return out


def generations_to_fraction(best: list[float], fraction: float = 0.9) -> int:
    """The first generation (0-based) whose best-of-population reward reaches r_0 + fraction *
    (max - r_0), r_0 the first generation's: how fast a curve of Figure 4 rises."""
    b = np.asarray(best, dtype=float)
    if b.ndim != 1 or not len(b):
        raise ValueError("need a non-empty curve")
    target = b[0] + fraction * (b.max() - b[0])
    return int(np.argmax(b >= target - 1e-12))


def plateau_gain(best: list[float]) -> float | None:
    """(mean of the last quarter of a Figure 4 curve - mean of the quarter before) / the curve's
    range: near 0 once CMA-ES has stopped improving; None under 16 generations (quarters of fewer
    than 4 generations say nothing about a noisy curve)."""
    b = np.asarray(best, dtype=float)
    if len(b) < 16:
        return None
    q = len(b) // 4
    spread = float(b.max() - b.min())
    return float((b[-q:].mean() - b[-2 * q:-q].mean()) / spread) if spread > 0 else 0.0


def figure4(controllers: dict) -> plt.Figure:
    """Figure 4: best-of-population reward per generation (and the population's mean, dashed)."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for (name, result), color in zip(controllers.items(), ("tab:blue", "tab:orange")):
        h = result.history
        g = np.arange(1, len(h["best_reward"]) + 1)
        ax.plot(g, h["best_reward"], color=color, marker="o", ms=3, label=f"{name}: best of population")
        ax.plot(g, h["mean_reward"], color=color, ls="--", alpha=0.6, label=f"{name}: population mean")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("generation")
    ax.set_ylabel("reward (mean over the generation's tracks)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def reward_table(returns: dict[str, np.ndarray]) -> pd.DataFrame:
    """Mean, std, n and 95% interval of the returns per policy, with the document's mean +- std."""
    from .controller import reward_summary

    rows = {}
    for name, r in returns.items():
        rows[name] = reward_summary(r)
        paper = PAPER_REWARDS.get(name)
        rows[name].update({"document mean": paper[0] if paper else None, "document +-": paper[1] if paper else None})
    return pd.DataFrame(rows).T


def controller_numbers(controllers: dict, returns: dict[str, np.ndarray]) -> dict:
    """Figure 4's and the rewards' claims and gates (keys of the result file). The gate that the
    agents drive, "controllers_minus_random_low", is the lower end of the 95% Welch interval of
    (controller minus random policy) return, the worse of the two controllers."""
    from .controller import difference_interval, reward_summary

    out = {}
    for name, key in (("VAE", "vae"), ("DDS+VAE", "dds")):
        best = controllers[name].history["best_reward"]
        summary = reward_summary(returns[name])
        out.update({f"reward_{key}_mean": summary["mean"], f"reward_{key}_std": summary["std"],
                    f"reward_{key}_ci": [summary["ci_low"], summary["ci_high"]],
                    f"best_curve_{key}": [float(v) for v in best],
                    f"generations_to_90pct_{key}": generations_to_fraction(best),
                    f"plateau_gain_{key}": plateau_gain(best),
                    f"{key}_minus_random": float(np.mean(returns[name]) - np.mean(returns["random policy"]))})
    out["reward_random_mean"] = float(np.mean(returns["random policy"]))
    out["controllers_minus_random_min"] = min(out["vae_minus_random"], out["dds_minus_random"])
    for name, key in (("VAE", "vae"), ("DDS+VAE", "dds")):  # does the agent drive? (Welch, against random)
        versus = difference_interval(returns["random policy"], returns[name])
        out[f"{key}_minus_random_ci"] = [float(versus["ci_low"]), float(versus["ci_high"])]
    out["controllers_minus_random_low"] = min(out["vae_minus_random_ci"][0], out["dds_minus_random_ci"][0])
    gains = [out["plateau_gain_vae"], out["plateau_gain_dds"]]
    out["plateau_gain_max"] = None if None in gains else max(gains)
    diff = difference_interval(returns["VAE"], returns["DDS+VAE"])
    out["reward_dds_minus_vae"] = diff["difference"]
    out["reward_dds_minus_vae_ci"] = [diff["ci_low"], diff["ci_high"]]
    out["generations_to_90pct_dds_minus_vae"] = out["generations_to_90pct_dds"] - out["generations_to_90pct_vae"]
    out["eval_episodes"] = int(len(returns["VAE"]))
    return out


__all__ += ["describe_agent", "m_key", "sharpness", "detail_error", "sharpness_numbers", "table3", "table3_numbers",
            "paper_table3_ratios", "m_explorer_frames", "agent_visions", "train_memories", "sample_latents",
            "mdn_test_nll", "gaussian_baseline_nll", "memory_table", "feature_network", "make_dreams",
            "sequence_features", "dream_distances", "table4", "dream_numbers", "transition_mse",
            "transition_numbers", "intervals_table",
            "dream_strip", "dream_scrubber_frames", "cma_settings", "controller_tracks", "eval_tracks",
            "train_controllers", "evaluate_controllers", "generations_to_fraction", "plateau_gain", "figure4",
            "reward_table", "controller_numbers"]

"""Feature networks for Table 4's Frechet distances between real and dreamed sequences.

FID uses Inception-v3 pool features of frames, FVD I3D features of clips; both need weights
downloaded at run time, which this book never does. Offline, the same Frechet distance
(`repro_lib.metrics.frechet`) is computed on a proxy feature network, and every row that
shows it names the network: a proxy is never called FID or FVD (`metric_name`).

* `random_conv_network(seed)`: a fixed, seeded, untrained conv net on 64x64 frames (the same
  features on every machine with the same torch), the default proxy;
* `encoder_network(vision, label)`: the posterior mean of a trained vision model's encoder
  (e.g. the baseline VAE: a proxy that favours what that model sees);
* `torchscript_network(path, standard)`: a user's own TorchScript Inception-v3 ("inception",
  2048-d pool features, frames resized to 299x299, values in [0, 1] as pytorch-fid feeds them)
  or I3D ("i3d", clips) from `path` (e.g. `$REPRO_INCEPTION_TORCHSCRIPT`); we have not
  checked any such file against pytorch-fid's numbers here, so whether the resulting number is
  the standard FID depends on the file the user supplies;
* `clip_features(frames, network, clip)`: a clip proxy for FVD: per clip of `clip` frames the
  mean of the frame features and the mean of their frame-to-frame differences (what moves).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ....metrics.frechet import frechet_from_features

STANDARD = {"inception": ("FID", "REPRO_INCEPTION_TORCHSCRIPT"), "i3d": ("FVD", "REPRO_I3D_TORCHSCRIPT")}


@dataclass
class FeatureNetwork:
    """`features(x) -> (N, d)` for frames (N, 3, 64, 64) in [0, 1] (or clips for I3D), and
    `label`, the name shown on every row computed with it; `standard`: "inception", "i3d" or None."""

    features: Callable[[torch.Tensor], torch.Tensor]
    label: str
    standard: str | None = None


def metric_name(network: FeatureNetwork, video: bool) -> str:
    """"FID" / "FVD" only for the standard networks; otherwise a Frechet distance named by its
    network, e.g. "Frechet distance on clips (proxy: random conv net, seed 0)"."""
    if network.standard == ("i3d" if video else "inception"):
        return STANDARD[network.standard][0]
    return f"Frechet distance on {'clips' if video else 'frames'} (proxy: {network.label})"


def random_conv_network(seed: int = 0, width: int = 32, dim: int = 64) -> FeatureNetwork:
    """A fixed random conv net (4x4 stride-2 convolutions 3 -> w -> 2w -> 4w, ReLU, global
    average pool, a linear map to `dim`), He-initialised weights drawn from `seed`."""
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(3, width, 4, 2, 1), nn.ReLU(), nn.Conv2d(width, 2 * width, 4, 2, 1), nn.ReLU(),
                        nn.Conv2d(2 * width, 4 * width, 4, 2, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(4 * width, dim)).eval()
    for layer in net:
        if isinstance(layer, (nn.Conv2d, nn.Linear)):  # He initialisation: features of order 1
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)
    torch.random.set_rng_state(generator_state)
    return FeatureNetwork(_batched(net), f"random conv net, seed {seed}")


def encoder_network(vision: nn.Module, label: str) -> FeatureNetwork:
    """The posterior mean of `vision`'s encoder, named `label` (say which model and its training)."""
    return FeatureNetwork(_batched(lambda x: vision.eval().encode(x).mu), label)


def torchscript_network(path: str | os.PathLike | None, standard: str) -> FeatureNetwork:
    """A user's TorchScript Inception-v3 (`standard` "inception") or I3D ("i3d") at `path`, or at
    the path in `$REPRO_INCEPTION_TORCHSCRIPT` / `$REPRO_I3D_TORCHSCRIPT` when `path` is None."""
    if standard not in STANDARD:
        raise ValueError(f"standard must be one of {list(STANDARD)}, got {standard!r}")
    path = path or os.environ.get(STANDARD[standard][1])
    if not path or not Path(path).is_file():
        raise FileNotFoundError(
            f"no {standard} weights at {path!r}: set {STANDARD[standard][1]} to a TorchScript file of "
            f"the network (this book does not download them), or use a proxy feature network")
    net = torch.jit.load(str(path), map_location="cpu").eval()
    if standard == "inception":
        return FeatureNetwork(_batched(lambda x: net(F.interpolate(x, size=(299, 299), mode="bilinear",
                                                                    align_corners=False)).flatten(1)),
                              f"Inception-v3 from {Path(path).name}", "inception")
    return FeatureNetwork(_batched(lambda x: net(x).flatten(1)), f"I3D from {Path(path).name}", "i3d")


def _batched(fn, batch: int = 256):
    @torch.no_grad()
    def features(x: torch.Tensor) -> torch.Tensor:
        return torch.cat([fn(x[i:i + batch]).float() for i in range(0, len(x), batch)])
    return features


def clip_features(sequences: torch.Tensor, network: FeatureNetwork, clip: int = 16) -> torch.Tensor:
    """Sequences (S, T, 3, 64, 64) -> (S * (T // clip), 2d) clip features: per non-overlapping
    clip, the mean of its frames' features and the mean of their successive differences."""
    if sequences.dim() != 5 or sequences.shape[1] < clip or clip < 2:
        raise ValueError(f"need sequences (S, T >= clip, 3, H, W) and clip >= 2, got {tuple(sequences.shape)}, {clip}")
    s, t = sequences.shape[:2]
    n = t // clip
    frames = sequences[:, : n * clip].flatten(0, 1)
    f = network.features(frames).unflatten(0, (s * n, clip))
    return torch.cat([f.mean(1), (f[:, 1:] - f[:, :-1]).mean(1)], 1)


def frame_distance(real: torch.Tensor, generated: torch.Tensor, network: FeatureNetwork) -> dict:
    """Frechet distance between the feature Gaussians of two frame sets (N, 3, 64, 64), named."""
    value = frechet_from_features(network.features(real).numpy(), network.features(generated).numpy())
    return {"metric": metric_name(network, video=False), "value": value}


def clip_distance(real: torch.Tensor, generated: torch.Tensor, network: FeatureNetwork, clip: int = 16) -> dict:
    """Frechet distance between the clip-feature Gaussians of two sequence sets (S, T, 3, 64, 64)."""
    if network.standard == "i3d":
        raise NotImplementedError("I3D clips: pass the clips to network.features and frechet_from_features "
                                  "in the layout your I3D file expects")
    value = frechet_from_features(clip_features(real, network, clip).numpy(),
                                  clip_features(generated, network, clip).numpy())
    return {"metric": metric_name(network, video=True), "value": value}


def distance_table(real: torch.Tensor, generated: dict[str, torch.Tensor], network: FeatureNetwork,
                   clip: int = 16, reference: torch.Tensor | None = None) -> pd.DataFrame:
    """Table 4 on a feature network: per generated set (S, T, 3, 64, 64), the Frechet distance of
    its frames and of its clips to the real sequences; `reference` (other real sequences), when
    given, is the row a perfect model would reach at this sample size. Rows name the metric
    (a proxy's name, never "FID"/"FVD")."""
    sets = dict(generated)
    if reference is not None:
        sets = {"real (other sequences)": reference, **sets}
    frame_name, clip_name = metric_name(network, video=False), metric_name(network, video=True)
    rows = {}
    for name, seqs in sets.items():
        rows[name] = {frame_name: frame_distance(real.flatten(0, 1), seqs.flatten(0, 1), network)["value"],
                      clip_name: clip_distance(real, seqs, network, clip)["value"]}
    return pd.DataFrame(rows).T

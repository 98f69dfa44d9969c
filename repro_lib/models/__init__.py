"""Encoders, decoders and VAE families, built from a spec dict (`build`)."""
from __future__ import annotations

from typing import Any

from torch import nn

from .burgess import BurgessVAE
from .ccvae import FireCCVAE, FireVAE
from .faces import FaceVAE
from .joint_vae import JointVAE, SmallCNN
from .msvae import FaceMSVAE, TabularMSVAE
from .tabular import TabularVAE

FAMILIES: dict[str, type[nn.Module]] = {
    "burgess_vae": BurgessVAE,
    "fire_vae": FireVAE,
    "fire_ccvae": FireCCVAE,
    "joint_vae": JointVAE,
    "small_cnn": SmallCNN,
    "face_vae": FaceVAE,
    "tabular_vae": TabularVAE,
    "msvae_faces": FaceMSVAE,
    "msvae_tabular": TabularMSVAE,
}


def build(spec: dict[str, Any]) -> nn.Module:
    """A fresh model from `{"family": name, **kwargs}`, e.g. {"family": "burgess_vae", "latent_dim": 3}."""
    kwargs = dict(spec)
    family = kwargs.pop("family", None)
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r}; known: {', '.join(FAMILIES)}")
    return FAMILIES[family](**kwargs)


__all__ = ["BurgessVAE", "FAMILIES", "build"]

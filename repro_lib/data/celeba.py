"""CelebA faces as torch tensors, through the data registry.

The registered file is the 2,000-image subset `faces/celeba_subset.npz` (aligned images
000001-002000 at 64x64 RGB with the 40 binary attributes; ../shared/data/README.md, 4a).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .registry import fetch

_ARRAYS: dict[str, tuple[np.ndarray, np.ndarray, list[str]]] = {}


def _arrays() -> tuple[np.ndarray, np.ndarray, list[str]]:
    path = fetch("celeba_subset")["celeba_subset.npz"]
    key = str(path)
    if key not in _ARRAYS:
        with np.load(path, allow_pickle=False) as d:
            images, attributes = d["images_64"], d["attributes"]
            names = [str(n) for n in d["attribute_names"]]
        if images.shape[1:] != (64, 64, 3) or attributes.shape != (len(images), 40):
            raise ValueError(f"{path}: expected (N, 64, 64, 3) images and (N, 40) attributes, "
                             f"got {images.shape} and {attributes.shape}")
        _ARRAYS[key] = (images, attributes, names)
    return _ARRAYS[key]


def load_celeba(size: int = 64, limit: int | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Images float32 (N, 3, size, size) in [0, 1] (resized bilinearly unless size = 64),
    attributes int64 (N, 40) in {0, 1}, and the 40 attribute names (official order).
    ``limit`` keeps the first ``limit`` images (all 2,000 when None)."""
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    if limit is not None and (not isinstance(limit, (int, np.integer)) or limit < 0):
        raise ValueError(f"limit must be None or an int >= 0, got {limit!r}")
    images, attributes, names = _arrays()
    x = torch.from_numpy(images[:limit].astype(np.float32) / 255.0).permute(0, 3, 1, 2).contiguous()
    if size != 64:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).clamp_(0, 1)
    return x, torch.from_numpy(attributes[:limit].astype(np.int64)), names

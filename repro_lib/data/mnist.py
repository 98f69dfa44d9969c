"""MNIST and Fashion-MNIST as torch tensors, through the data registry."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .idx import read_idx
from .registry import fetch, fingerprint
from .tensors import Tensors

SPLITS = ("train", "test")
DATASETS = ("mnist", "fashion_mnist")
_PREFIX = {"train": "train", "test": "t10k"}

# Decoded uint8 (images, labels) per (images path, labels path); the arrays are read-only.
_ARRAYS: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}


def _arrays(split: str, dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """Verified uint8 images (N, 28, 28) and labels (N,) of one split, decoded once."""
    paths = fetch(dataset)
    img_path = paths[f"{_PREFIX[split]}-images-idx3-ubyte.gz"]
    lbl_path = paths[f"{_PREFIX[split]}-labels-idx1-ubyte.gz"]
    key = (str(img_path), str(lbl_path))
    if key not in _ARRAYS:
        images, labels = read_idx(img_path), read_idx(lbl_path)
        if images.ndim != 3 or labels.shape != images.shape[:1]:
            raise ValueError(
                f"{img_path} {images.shape} and {lbl_path} {labels.shape} are not "
                f"(N, H, W) images with N labels"
            )
        images.flags.writeable = False
        labels.flags.writeable = False
        _ARRAYS[key] = (images, labels)
    return _ARRAYS[key]


def load_mnist(
    split: str = "train", dataset: str = "mnist", size: int = 32, limit: int | None = None
) -> Tensors:
    """Images and labels of one split of MNIST or Fashion-MNIST, with their identity.

    Returns `Tensors((images, labels), data_id)`: images float32 (N, 1, size, size) with values
    in [0, 1] (pixel / 255, resized bilinearly from 28x28 unless ``size == 28``), labels int64
    (N,) in 0..9, and data_id `<dataset>:<fingerprint>:<split>[:limit]:<size>px`.
    ``split`` is "train" (60000) or "test" (10000); ``dataset`` is "mnist" or "fashion_mnist";
    ``limit`` keeps the first ``limit`` images (all when None).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    if limit is not None and (not isinstance(limit, (int, np.integer)) or limit < 0):
        raise ValueError(f"limit must be None or an int >= 0, got {limit!r}")
    images, labels = _arrays(split, dataset)
    x = torch.from_numpy(images[:limit].astype(np.float32)).div_(255.0).unsqueeze_(1)
    if size != x.shape[-1]:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        x = x.clamp_(0.0, 1.0)
    y = torch.from_numpy(labels[:limit].astype(np.int64))
    rows = "" if limit is None else limit
    return Tensors((x, y), f"{dataset}:{fingerprint(dataset)}:{split}[:{rows}]:{size}px")

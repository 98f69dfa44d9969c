"""CIFAR-10 (and CIFAR-100) as torch tensors: the full data sets where a user has them, else the
registered CIFAR-10 subset.

* ``"subset"``: `cifar10/cifar10_subset.npz` (../shared/data/README.md, 3), checksummed: the
  first 5,000 training images and the first 1,000 test images, both byte-exact. Its 10,000
  lossy JPEG test copies are not served (`split="test"` is the 1,000 lossless ones).
* ``"full"``: CIFAR's binary release `cifar-10-binary.tar.gz` (checksummed; downloaded from
  CIFAR's page unless REPRO_OFFLINE=1): 50,000 training and 10,000 test images. Read straight
  from the archive, no pickle involved.
* ``"auto"``: full when its archive is already on this machine, else the subset;
  `cifar10_source()` says which. Nothing is downloaded by "auto".

CIFAR-100 (`load_cifar100`) has only the full source; its coarse labels are the 20
superclasses the clustering literature calls CIFAR-20.
"""
from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import torch

from .registry import DataMissingError, fetch, fingerprint, get_spec, search_dirs
from .tensors import Tensors

SOURCES = ("subset", "full", "auto")
SPLITS = ("train", "test")
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SUBSET_SIZES = {"train": 5000, "test": 1000}
_CIFAR10_MEMBERS = {"train": [f"cifar-10-batches-bin/data_batch_{i}.bin" for i in range(1, 6)],
                    "test": ["cifar-10-batches-bin/test_batch.bin"]}
_CIFAR100_MEMBERS = {"train": ["cifar-100-binary/train.bin"], "test": ["cifar-100-binary/test.bin"]}
_IMAGE_BYTES = 3072

# Decoded uint8 (images (N, 32, 32, 3), labels (N, k)) per file and split; read-only arrays.
_ARRAYS: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}


def read_binary_records(data: bytes, label_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR binary records (`label_bytes` label bytes, then the red, green and blue 32x32 planes,
    row-major) -> images uint8 (N, 32, 32, 3) HWC and labels uint8 (N, label_bytes)."""
    size = label_bytes + _IMAGE_BYTES
    if len(data) % size:
        raise ValueError(f"{len(data)} bytes are not a whole number of {size}-byte CIFAR records")
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, size)
    images = records[:, label_bytes:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), records[:, :label_bytes].copy()


def read_binary_archive(path: Path, members: list[str], label_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """The records of `members` (in order) of a CIFAR binary .tar.gz, concatenated."""
    images, labels = [], []
    with tarfile.open(path, "r:gz") as archive:
        for name in members:
            try:
                member = archive.extractfile(name)
            except KeyError:
                member = None
            if member is None:
                raise DataMissingError(f"{path} holds no file {name}: not CIFAR's binary release; delete it "
                                       "(it is then downloaded again)")
            x, y = read_binary_records(member.read(), label_bytes)
            images.append(x)
            labels.append(y)
    return np.concatenate(images), np.concatenate(labels)


def _full_arrays(dataset: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    path = next(iter(fetch(dataset).values()))
    key = (str(path), split)
    if key not in _ARRAYS:
        members, label_bytes = ((_CIFAR10_MEMBERS, 1) if dataset == "cifar10" else (_CIFAR100_MEMBERS, 2))
        images, labels = read_binary_archive(path, members[split], label_bytes)
        images.flags.writeable = False
        labels.flags.writeable = False
        _ARRAYS[key] = (images, labels)
    return _ARRAYS[key]


def _subset_arrays(split: str) -> tuple[np.ndarray, np.ndarray]:
    path = fetch("cifar10_subset")["cifar10_subset.npz"]
    key = (str(path), split)
    if key not in _ARRAYS:
        names = {"train": ("x_train", "y_train"), "test": ("x_test_first1000_lossless", "y_test_first1000")}[split]
        with np.load(path, allow_pickle=False) as d:
            images, labels = d[names[0]], d[names[1]]
        if images.shape[1:] != (32, 32, 3) or labels.shape != images.shape[:1]:
            raise ValueError(f"{path}: expected (N, 32, 32, 3) images and N labels in {names}, "
                             f"got {images.shape} and {labels.shape}")
        images.flags.writeable = False
        labels = labels.reshape(-1, 1)
        labels.flags.writeable = False
        _ARRAYS[key] = (images, labels)
    return _ARRAYS[key]


def full_cifar10_present() -> bool:
    """Whether `cifar-10-binary.tar.gz` is in one of the registry's search folders."""
    spec = get_spec("cifar10")
    return any((d / spec.files[0].name).is_file() for d in search_dirs(spec))


def cifar10_source(source: str = "auto") -> str:
    """Which copy `load_cifar10(source=source)` reads: "full" or "subset"."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    if source == "auto":
        return "full" if full_cifar10_present() else "subset"
    return source


def _check(split: str, limit) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if limit is not None and (not isinstance(limit, (int, np.integer)) or limit < 0):
        raise ValueError(f"limit must be None or an int >= 0, got {limit!r}")


def _tensors(images: np.ndarray, labels: np.ndarray, limit, data_id: str) -> Tensors:
    x = torch.from_numpy(images[:limit].astype(np.float32) / 255.0).permute(0, 3, 1, 2).contiguous()
    return Tensors((x, torch.from_numpy(labels[:limit].astype(np.int64))), data_id)


def load_cifar10(split: str = "train", limit: int | None = None, source: str = "auto") -> Tensors:
    """`Tensors((images, labels), data_id)`: images float32 (N, 3, 32, 32) in [0, 1], labels
    int64 (N,) in 0..9 (`CLASS_NAMES` order), in CIFAR's original order. ``limit`` keeps the
    first ``limit`` images. The subset has 5,000 training and 1,000 (lossless) test images;
    the full set 50,000 and 10,000. data_id: `cifar10_<source>:<fingerprint>:<split>[:limit]`."""
    _check(split, limit)
    which = cifar10_source(source)
    dataset = "cifar10" if which == "full" else "cifar10_subset"
    images, labels = _full_arrays("cifar10", split) if which == "full" else _subset_arrays(split)
    rows = "" if limit is None else limit
    return _tensors(images, labels[:, 0], limit, f"{dataset}:{fingerprint(dataset)}:{split}[:{rows}]")


def load_cifar100(split: str = "train", limit: int | None = None, labels: str = "coarse") -> Tensors:
    """CIFAR-100 (full release only) as `Tensors((images, labels), data_id)`: images as in
    `load_cifar10`; labels int64 (N,): the 20 superclasses (``labels="coarse"``, CIFAR-20) or
    the 100 classes (``"fine"``)."""
    _check(split, limit)
    if labels not in ("coarse", "fine"):
        raise ValueError(f"labels must be 'coarse' or 'fine', got {labels!r}")
    images, both = _full_arrays("cifar100", split)
    rows = "" if limit is None else limit
    return _tensors(images, both[:, 0 if labels == "coarse" else 1], limit,
                    f"cifar100:{fingerprint('cifar100')}:{split}[:{rows}]:{labels}")


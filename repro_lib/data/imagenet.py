"""Tiny-ImageNet and the ImageNet class subsets of the clustering literature, as torch tensors.

None of these is on this machine: the registry knows their canonical files (`tiny_imagenet`,
`imagenet10`, `imagenet_dogs`) for users who have them, and `present(name)` lets a chapter
show an absent data set as absent.

* Tiny-ImageNet: `tiny-imagenet-200.zip`, read in place (no extraction): the 100,000 training
  images (64x64, 200 classes, the order of `wnids.txt`) or the 10,000 validation images with
  the labels of `val/val_annotations.txt`.
* ImageNet-10 and ImageNet-Dogs (Chang et al., ICCV 2017): the classes below, read from
  ILSVRC-2012's training archive (a tar of one tar per class), each image resized to
  `size` x `size` (bilinear, after a centre crop to a square). The papers differ on `size`
  (96 in DAC/PICA, 224 in ProPos); the caller states its choice.
"""
from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .registry import DataError, fetch, fingerprint
from .tensors import Tensors

# WordNet ids; the label of an image is the position of its class in these tuples.
IMAGENET10_WNIDS = (
    "n02056570", "n02085936", "n02128757", "n02690373", "n02692877",
    "n03095699", "n04254680", "n04285008", "n04467665", "n07747607",
)  # king penguin, Maltese, snow leopard, airliner, airship, container ship, soccer ball,
#    sports car, trailer truck, orange
IMAGENET_DOGS_WNIDS = (
    "n02085936", "n02086646", "n02088238", "n02091467", "n02097130",
    "n02099601", "n02101388", "n02101556", "n02102177", "n02105056",
    "n02105412", "n02105855", "n02107142", "n02110958", "n02112137",
)  # Maltese, Blenheim spaniel, basset, Norwegian elkhound, giant schnauzer, golden retriever,
#    Brittany spaniel, clumber, Welsh springer spaniel, groenendael, kelpie, Shetland sheepdog,
#    Doberman, pug, chow
SUBSETS = {"imagenet10": IMAGENET10_WNIDS, "imagenet_dogs": IMAGENET_DOGS_WNIDS}
_TINY = "tiny-imagenet-200/"


def present(name: str) -> bool:
    """Whether registered data set `name` is on this machine, verified (never downloads)."""
    try:
        fetch(name, download=False)
    except DataError:
        return False
    return True


def _decode(data: bytes, size: int | None) -> np.ndarray:
    """uint8 (H, W, 3) of a JPEG; with `size`, centre-cropped to a square and resized."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        img = img.convert("RGB")
        if size is not None:
            w, h = img.size
            side = min(w, h)
            left, top = (w - side) // 2, (h - side) // 2
            img = img.crop((left, top, left + side, top + side)).resize((size, size), Image.BILINEAR)
        return np.asarray(img, dtype=np.uint8)


def _as_tensors(images: list[np.ndarray], labels: list[int], data_id: str) -> Tensors:
    x = torch.from_numpy(np.stack(images).astype(np.float32) / 255.0).permute(0, 3, 1, 2).contiguous()
    return Tensors((x, torch.tensor(labels, dtype=torch.int64)), data_id)


def read_tiny_imagenet(path: Path, split: str = "train", limit: int | None = None) -> Tensors:
    """Tiny-ImageNet from its zip at `path`: images float32 (N, 3, 64, 64) in [0, 1], labels
    int64 (N,) in 0..199 (`wnids.txt` order), members in name order; `limit` keeps the first."""
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    with zipfile.ZipFile(path) as zf:
        wnids = zf.read(_TINY + "wnids.txt").decode().split()
        index = {w: i for i, w in enumerate(wnids)}
        if split == "train":
            names = sorted(n for n in zf.namelist()
                           if n.startswith(_TINY + "train/") and n.endswith(".JPEG"))
            labels = [index[n[len(_TINY + "train/"):].split("/")[0]] for n in names]
        else:
            rows = [line.split("\t") for line in zf.read(_TINY + "val/val_annotations.txt").decode().splitlines()
                    if line.strip()]
            rows.sort()
            names = [_TINY + "val/images/" + r[0] for r in rows]
            labels = [index[r[1]] for r in rows]
        names, labels = names[:limit], labels[:limit]
        images = [_decode(zf.read(n), None) for n in tqdm(names, desc=f"Tiny-ImageNet {split}", leave=False)]
    return _as_tensors(images, labels, f"tiny_imagenet:{fingerprint('tiny_imagenet')}:{split}[:{limit or ''}]")


def read_imagenet_subset(path: Path, name: str, size: int = 96, per_class: int | None = None) -> Tensors:
    """ImageNet-10 or ImageNet-Dogs from ILSVRC-2012's training tar at `path`: images float32
    (N, 3, size, size) in [0, 1], labels int64 (N,) (position in `SUBSETS[name]`), images in
    name order within a class; `per_class` keeps the first of each class."""
    if name not in SUBSETS:
        raise ValueError(f"name must be one of {sorted(SUBSETS)}, got {name!r}")
    images, labels = [], []
    with tarfile.open(path) as outer:
        members = {Path(m.name).stem: m for m in outer.getmembers() if m.name.endswith(".tar")}
        missing = [w for w in SUBSETS[name] if w not in members]
        if missing:
            raise DataError(f"{path} lacks the class archives {missing}: is it ILSVRC2012_img_train.tar?")
        for label, wnid in enumerate(tqdm(SUBSETS[name], desc=name, leave=False)):
            with tarfile.open(fileobj=outer.extractfile(members[wnid])) as inner:
                jpegs = sorted((m for m in inner.getmembers() if m.isfile()), key=lambda m: m.name)
                for m in jpegs[:per_class]:
                    images.append(_decode(inner.extractfile(m).read(), size))
                    labels.append(label)
    return _as_tensors(images, labels, f"{name}:{fingerprint(name)}:{size}px[:{per_class or ''}]")


def load_tiny_imagenet(split: str = "train", limit: int | None = None) -> Tensors:
    """`read_tiny_imagenet` of the registered file (DataMissingError saying how to get it)."""
    return read_tiny_imagenet(fetch("tiny_imagenet")["tiny-imagenet-200.zip"], split, limit)


def load_imagenet_subset(name: str, size: int = 96, per_class: int | None = None) -> Tensors:
    """`read_imagenet_subset` of the registered ILSVRC-2012 training archive."""
    if name not in SUBSETS:
        raise ValueError(f"name must be one of {sorted(SUBSETS)}, got {name!r}")
    return read_imagenet_subset(fetch(name)["ILSVRC2012_img_train.tar"], name, size, per_class)

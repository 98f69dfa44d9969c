"""CelebA faces as torch tensors: the full data set where a user has it, else the registered subset.

* ``"subset"``: the registered file `faces/celeba_subset.npz`, aligned images 000001-002000
  at 64x64 RGB with the 40 binary attributes (../shared/data/README.md, 4a), checksummed.
* ``"full"``: a local copy of CelebA's aligned images, a folder holding `img_align_celeba/`
  (000001.jpg ...) and `list_attr_celeba.txt` (official format), found in the registry's
  search folders for subdir `celeba` (e.g. `$REPRO_DATA/celeba/`). Not checksummed (202,599
  JPEGs); `celeba_data_id` names it by its attribute file's digest and the images taken.
  Each image is centre-cropped to a square (178x178 of 178x218) and resized to 64x64 with
  Lanczos, as the subset was made.
* ``"auto"``: full if found, else the subset; `celeba_source()` says which.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm.auto import tqdm

from .registry import DataMissingError, DatasetSpec, fetch, fingerprint, search_dirs
from .tensors import Tensors

SOURCES = ("subset", "full", "auto")
IMAGE_DIR = "img_align_celeba"
ATTR_FILE = "list_attr_celeba.txt"
FULL_CELEBA = DatasetSpec(
    name="celeba",
    subdir="celeba",
    files=(),
    citation=(
        "CelebA: Z. Liu, P. Luo, X. Wang, X. Tang, Deep Learning Face Attributes in the Wild, "
        "ICCV 2015, http://mmlab.ie.cuhk.edu.hk/projects/CelebA.html (img_align_celeba.zip, "
        "Anno/list_attr_celeba.txt). Non-commercial research use only (CelebA agreement)."
    ),
)

# Decoded uint8 (images (N, 64, 64, 3), attributes (N, 40), names), per file or folder + count.
_ARRAYS: dict[str, tuple[np.ndarray, np.ndarray, list[str]]] = {}


def find_full_celeba() -> Path | None:
    """The first search folder holding both `img_align_celeba/` and `list_attr_celeba.txt`."""
    return next((d for d in search_dirs(FULL_CELEBA)
                 if (d / IMAGE_DIR).is_dir() and (d / ATTR_FILE).is_file()), None)


def celeba_source(source: str = "auto") -> str:
    """Which copy `load_celeba(source=source)` reads: "full" or "subset"."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    if source == "auto":
        return "full" if find_full_celeba() is not None else "subset"
    return source


def _full_folder() -> Path:
    folder = find_full_celeba()
    if folder is None:
        dirs = "\n".join(f"  {d}" for d in search_dirs(FULL_CELEBA))
        raise DataMissingError(
            f"full CelebA not found: no folder holding {IMAGE_DIR}/ and {ATTR_FILE}. Searched:\n"
            f"{dirs}\nDownload img_align_celeba.zip (unzip it there) and {ATTR_FILE} from "
            f"http://mmlab.ie.cuhk.edu.hk/projects/CelebA.html, or use source='subset'."
        )
    return folder


def read_attributes(path: Path) -> tuple[list[str], np.ndarray, list[str]]:
    """An official `list_attr_celeba.txt` (count line, 40 names, then `file v1 .. v40` rows with
    v = -1 or 1): image file names, uint8 attributes (N, 40) in {0, 1}, attribute names."""
    lines = [line.split() for line in Path(path).read_text().splitlines() if line.strip()]
    if len(lines) < 2 or len(lines[0]) != 1 or not lines[0][0].isdigit() or len(lines[1]) != 40:
        raise ValueError(f"{path}: not the official format (a count line, then 40 attribute "
                         f"names, then one row per image)")
    count, names, rows = int(lines[0][0]), lines[1], lines[2:]
    if len(rows) != count:
        raise ValueError(f"{path}: the first line announces {count} images, {len(rows)} rows follow")
    bad = next((i for i, r in enumerate(rows) if len(r) != 41 or set(r[1:]) - {"-1", "1"}), None)
    if bad is not None:
        raise ValueError(f"{path}: row {bad + 3} is not a file name and 40 values of -1 or 1: "
                         f"{' '.join(rows[bad])}")
    values = np.array([r[1:] for r in rows], dtype=np.int8)
    return [r[0] for r in rows], (values > 0).astype(np.uint8), names


def _face_64(path: Path) -> np.ndarray:
    """One image: centre square crop, Lanczos resize to 64x64, uint8 (64, 64, 3)."""
    with Image.open(path) as img:
        img = img.convert("RGB")
        w, h = img.size
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        img = img.crop((left, top, left + side, top + side)).resize((64, 64), Image.LANCZOS)
        return np.asarray(img, dtype=np.uint8)


def _full_arrays(limit: int | None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    folder = _full_folder()
    files, attributes, names = read_attributes(folder / ATTR_FILE)
    files, attributes = files[:limit], attributes[:limit]
    key = f"{folder}:{len(files)}"
    if key not in _ARRAYS:
        images = np.empty((len(files), 64, 64, 3), dtype=np.uint8)
        for i, name in enumerate(tqdm(files, desc="CelebA", disable=len(files) < 1000)):
            path = folder / IMAGE_DIR / name
            if not path.is_file():
                raise DataMissingError(f"{path}: listed in {folder / ATTR_FILE} but missing")
            images[i] = _face_64(path)
        _ARRAYS[key] = (images, attributes, names)
    return _ARRAYS[key]


def _subset_arrays() -> tuple[np.ndarray, np.ndarray, list[str]]:
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


def _check(size, limit) -> None:
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    if limit is not None and (not isinstance(limit, (int, np.integer)) or limit < 0):
        raise ValueError(f"limit must be None or an int >= 0, got {limit!r}")


def load_celeba(size: int = 64, limit: int | None = None, source: str = "subset"
                ) -> tuple[Tensors, list[str]]:
    """`Tensors((images, attributes), data_id)` and the 40 attribute names (official order):
    images float32 (N, 3, size, size) in [0, 1] (resized bilinearly from 64x64 unless
    size = 64), attributes int64 (N, 40) in {0, 1}; data_id as `celeba_data_id` says.
    ``limit`` keeps the first ``limit`` images (all when None: 2,000 in the subset, every
    listed image in the full set). ``source``: "subset" (default), "full" or "auto"."""
    _check(size, limit)
    if celeba_source(source) == "full":
        images, attributes, names = _full_arrays(limit)
    else:
        images, attributes, names = _subset_arrays()
    x = torch.from_numpy(images[:limit].astype(np.float32) / 255.0).permute(0, 3, 1, 2).contiguous()
    if size != 64:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).clamp_(0, 1)
    faces = Tensors((x, torch.from_numpy(attributes[:limit].astype(np.int64))),
                    celeba_data_id(source, size, limit))
    return faces, names


def celeba_data_id(source: str = "auto", size: int = 64, limit: int | None = None) -> str:
    """A string naming the exact data `load_celeba(size, limit, source)` returns, for cache
    keys: the subset's registry fingerprint, or the full set's attribute-file sha256 (16 hex
    digits) and image count."""
    _check(size, limit)
    if celeba_source(source) == "subset":
        return f"celeba_subset:{fingerprint('celeba_subset')}:[:{limit}]:{size}px"
    attr = _full_folder() / ATTR_FILE
    digest = hashlib.sha256(attr.read_bytes()).hexdigest()[:16]
    n = len(read_attributes(attr)[0][:limit])
    return f"celeba_full:{digest}:{n}:{size}px"

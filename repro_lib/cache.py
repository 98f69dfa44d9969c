"""A content-addressed cache of trained models.

A model is stored under a key hashed from everything that determines it (model
spec, objective, data, training settings, seed). Files are written to a
temporary name and renamed, so an interrupted run never leaves a corrupt entry,
and are read with `torch.load(weights_only=True)`.

Location: `$REPRO_MODEL_CACHE`, else `<repo>/.cache/models`.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

from .paths import cache_folder, temporary_beside

CACHE_FORMAT = 1


def cache_dir() -> Path:
    """The folder that holds cached models (created on demand)."""
    return cache_folder("models", "REPRO_MODEL_CACHE")


def key_of(description: dict[str, Any]) -> str:
    """A 20-hex-digit key of a JSON-serialisable description (order-insensitive)."""
    blob = json.dumps({"format": CACHE_FORMAT, **description}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def path_of(key: str) -> Path:
    return cache_dir() / f"{key}.pt"


def load(key: str) -> dict[str, Any] | None:
    """The stored payload of `key`, or None if absent. A corrupt file is an error."""
    path = path_of(key)
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - re-raised with advice
        raise RuntimeError(
            f"cached model {path} cannot be read ({err}); delete it to retrain"
        ) from err


def save(key: str, payload: dict[str, Any]) -> Path:
    """Store `payload` (tensors, numbers, strings, lists, dicts) atomically under `key`."""
    return save_atomic(path_of(key), payload)


def save_atomic(path: Path, payload: dict[str, Any]) -> Path:
    """torch.save `payload` to `path` through a temporary file and a rename."""
    tmp = temporary_beside(path)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path

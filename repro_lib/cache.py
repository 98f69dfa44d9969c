"""Content-addressed stores of computed things: trained models and generated data sets.

A model is stored under a key hashed from everything that determines it (model spec,
objective, data, training loop and settings, seed). Every file is written to a temporary
name and renamed, so an interrupted run never leaves a half-written entry, and is read with
`torch.load(weights_only=True)`. Each file carries a sha256 of its content (tensors by their
bytes, everything else as JSON), checked on load: torch does not check its zip's CRCs, so a
flipped bit would otherwise load silently. A file that fails the check is refused like a
truncated one ("delete it to retrain"), and nothing is computed from it.

Location: `$REPRO_MODEL_CACHE`, else `<repo>/.cache/models`.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

import torch

from .paths import cache_folder, remove_stale_temporaries, temporary_beside

CACHE_FORMAT = 2  # 2: files carry a content digest
_DIGEST = "content_sha256"


class CorruptCacheError(RuntimeError):
    """A cached file that cannot be read or whose content does not match its checksum."""


def cache_dir(create: bool = False) -> Path:
    """The folder that holds cached models (created when `create`, else maybe absent)."""
    return cache_folder("models", "REPRO_MODEL_CACHE", create)


def key_of(description: dict[str, Any]) -> str:
    """A 20-hex-digit key of a JSON-serialisable description (order-insensitive)."""
    blob = json.dumps({"format": CACHE_FORMAT, **description}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def path_of(key: str) -> Path:
    return cache_dir() / f"{key}.pt"


def content_digest(payload: Any) -> str:
    """sha256 hex of a payload of tensors, numbers, strings, lists and dicts: tensors by
    dtype, shape and bytes, dict keys in sorted order."""
    digest = hashlib.sha256()

    def feed(obj: Any) -> None:
        if isinstance(obj, torch.Tensor):
            t = obj.detach().cpu().contiguous()
            digest.update(f"T{t.dtype}{tuple(t.shape)}".encode())
            digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        elif isinstance(obj, dict):
            digest.update(b"{")
            for k in sorted(obj, key=str):
                digest.update(json.dumps(str(k)).encode())
                feed(obj[k])
            digest.update(b"}")
        elif isinstance(obj, (list, tuple)):
            digest.update(b"[")
            for item in obj:
                feed(item)
            digest.update(b"]")
        else:
            digest.update(json.dumps(obj, sort_keys=True).encode())

    feed(payload)
    return digest.hexdigest()


def load(key: str) -> dict[str, Any] | None:
    """The stored payload of `key`, or None if absent. A corrupt file is an error."""
    path = path_of(key)
    return load_file(path) if path.exists() else None


def load_file(path: Path) -> dict[str, Any]:
    """A payload written by `save_atomic`, checked against its content digest."""
    advice = "delete it to retrain (or to regenerate the data)"
    try:
        stored = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - re-raised with advice
        raise CorruptCacheError(f"cached file {path} cannot be read ({err}); {advice}") from err
    if not isinstance(stored, dict) or _DIGEST not in stored or "payload" not in stored:
        raise CorruptCacheError(f"cached file {path} has no content checksum (an older or foreign "
                                f"file); {advice}")
    if content_digest(stored["payload"]) != stored[_DIGEST]:
        raise CorruptCacheError(f"cached file {path} does not match its content checksum "
                                f"(corrupted on disk); {advice}")
    return stored["payload"]


def save(key: str, payload: dict[str, Any]) -> Path:
    """Store `payload` (tensors, numbers, strings, lists, dicts) atomically under `key`."""
    return save_atomic(path_of(key), payload)


def save_atomic(path: Path, payload: dict[str, Any]) -> Path:
    """torch.save `payload` with its content digest to `path` through a temporary file and a
    rename; temporaries left by killed saves in that folder are removed first."""
    remove_stale_temporaries(path.parent)
    tmp = temporary_beside(path)
    try:
        torch.save({"payload": payload, _DIGEST: content_digest(payload)}, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def writable() -> bool:
    """Whether trained models can be stored; warns (once per call) when they cannot, so a
    run goes on with the model it trained instead of losing it after training."""
    try:
        folder = cache_dir(create=True)
        os.remove(temporary_beside(folder / "write-check"))
        return True
    except OSError as err:
        where = os.environ.get("REPRO_MODEL_CACHE") or "<repo>/.cache/models"
        warnings.warn(f"the model cache ({where}) cannot be written ({err}): models are trained and "
                      "used but not stored; set REPRO_MODEL_CACHE to a writable folder to keep them",
                      RuntimeWarning, stacklevel=2)
        return False

"""The compute device, chosen once per process: cuda, else mps, else cpu."""
from __future__ import annotations

import functools
import os

import torch


@functools.lru_cache(maxsize=1)
def get_device() -> torch.device:
    """The device every model and tensor of this process lives on.

    `REPRO_DEVICE=cpu` (or `cuda`, `mps`) forces a choice.
    """
    forced = os.environ.get("REPRO_DEVICE")
    if forced:
        try:
            device = torch.device(forced)
        except RuntimeError:
            raise ValueError(f"REPRO_DEVICE={forced!r} is not a device; use cpu, cuda, cuda:<n> or mps, "
                             "or unset it to choose automatically") from None
        available = {"cpu": True, "cuda": torch.cuda.is_available(),
                     "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()}
        if not available.get(device.type, False):
            raise ValueError(f"REPRO_DEVICE={forced!r}, but this machine has no {device.type} device; "
                             "unset REPRO_DEVICE to choose automatically")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")

"""Data with its identity: tensors that share their first dimension, and the name of exactly
these rows.

Loaders return `Tensors`; every subset or derived set names itself from its parent, so no
recipe writes a data identity by hand, and the model cache (which keys on `data_id`) cannot
confuse two data sets. A `Tensors` unpacks like a tuple: `x, y = load_mnist("test")`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch


@dataclass(frozen=True)
class Tensors:
    """`tensors`: one or more tensors with the same length N (images, labels, ...);
    `data_id`: what they are (source and its checksum fingerprint, split, rows, preprocessing)."""

    tensors: tuple[torch.Tensor, ...]
    data_id: str

    def __post_init__(self):
        if not isinstance(self.tensors, tuple) or not self.tensors:
            raise ValueError("Tensors needs a non-empty tuple of tensors")
        lengths = {len(t) for t in self.tensors}
        if len(lengths) != 1:
            raise ValueError(f"the tensors differ in length: {[len(t) for t in self.tensors]}")
        if not isinstance(self.data_id, str) or not self.data_id:
            raise ValueError(f"data_id must be a non-empty string, got {self.data_id!r}")

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __iter__(self) -> Iterator[torch.Tensor]:
        return iter(self.tensors)

    @property
    def x(self) -> torch.Tensor:
        """The first tensor (the inputs)."""
        return self.tensors[0]

    @property
    def batch_form(self) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """What an objective receives: the one tensor, or the tuple when there are several."""
        return self.tensors[0] if len(self.tensors) == 1 else self.tensors

    def rows(self, start: int | None = None, stop: int | None = None) -> Tensors:
        """Rows start:stop (Python slice rules), named `<data_id>[start:stop]`."""
        index = slice(start, stop)
        name = f"{'' if start is None else start}:{'' if stop is None else stop}"
        return Tensors(tuple(t[index] for t in self.tensors), f"{self.data_id}[{name}]")

    def select(self, *which: int) -> Tensors:
        """Only the tensors at positions `which` (e.g. `select(0)`: the images without labels)."""
        kept = tuple(self.tensors[i] for i in which)
        return Tensors(kept, self.data_id if which == tuple(range(len(self.tensors)))
                       else f"{self.data_id}{{{','.join(map(str, which))}}}")

    def to(self, device: torch.device | str) -> Tensors:
        """The same rows on `device` (same identity)."""
        return Tensors(tuple(t.to(device) for t in self.tensors), self.data_id)

    def derive(self, tag: str, *tensors: torch.Tensor) -> Tensors:
        """New tensors computed from these rows (e.g. a trained model's reconstructions),
        named `<data_id>+<tag>`; `tag` must say everything they depend on."""
        if not tag:
            raise ValueError("derive needs a tag that names what was computed")
        return Tensors(tuple(tensors), f"{self.data_id}+{tag}")

"""The one list of the book's parts (one per document), in reading order; core's only way to
a part.

Each part is a package `repro_lib.parts.<part>` whose `__init__` defines `PROFILES`
(its knobs under `smoke`, `cpu` and `full`); its `recipes` module holds the tested
functions its notebooks and claims call. The runner, the book and the scorecard read
this list; core modules import a part only through `package()`, never by name.
"""
from __future__ import annotations

import importlib
from types import ModuleType

PARTS: tuple[str, ...] = (
    "attribution_priors",
    "ccvae_firebreak",
    "adversarial_robustness",
    "influential_factors",
    "dds",
)


def check_part(part: str) -> None:
    """Raise ValueError naming the known parts if `part` is unknown."""
    if part not in PARTS:
        raise ValueError(f"unknown part {part!r}; choose one of: {', '.join(PARTS)}")


def package(part: str) -> ModuleType:
    """The part's package (light: its profile knobs, no models)."""
    check_part(part)
    return importlib.import_module(f"repro_lib.parts.{part}")


def recipes(part: str) -> ModuleType:
    """The part's recipes module (imports its models, so registers their families)."""
    check_part(part)
    return importlib.import_module(f"repro_lib.parts.{part}.recipes")

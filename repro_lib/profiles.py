"""The run profiles (`smoke`, `cpu`, `full`): their names, checks and settings.

Each part defines its own knobs per profile (`repro_lib.parts.<part>.PROFILES`);
a profile gives, for each part of the book, the numbers its notebooks read:
how much data, how many epochs, seeds and grid points. A notebook never
branches on the profile's name; it calls :func:`settings` and reads numbers.

| profile | where | budget |
| --- | --- | --- |
| smoke | CI and `make test` | whole book in minutes on 2 CPU cores |
| cpu   | a laptop, default of `make book` | a part in about 30 min on 2 cores |
| full  | one GPU | the documents' own settings |
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from . import book_parts as parts
from .book_parts import check_part

PROFILE_NAMES = ("smoke", "cpu", "full")


def knobs(part: str, profile: str) -> dict[str, Any]:
    """The knobs of `part` under `profile`, as the part's package defines them."""
    check_part(part)
    check_profile(profile)
    return parts.package(part).PROFILES[profile]


class Settings(dict):
    """A part's knobs under one profile; read them as attributes (`s.epochs`)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(
                f"no setting {name!r}; this part has: {', '.join(sorted(self))}"
            ) from None


def check_profile(profile: str) -> None:
    """Raise ValueError naming the allowed profiles if `profile` is unknown."""
    if profile not in PROFILE_NAMES:
        raise ValueError(
            f"unknown profile {profile!r}; choose one of: {', '.join(PROFILE_NAMES)}"
        )


@dataclass(frozen=True)
class Range:
    """The allowed values of a numeric knob (or of each element of a list knob)."""

    low: float = 0.0
    high: float = math.inf
    low_inclusive: bool = False
    high_inclusive: bool = True

    def __contains__(self, value: float) -> bool:
        above = value >= self.low if self.low_inclusive else value > self.low
        below = value <= self.high if self.high_inclusive else value < self.high
        return above and below

    def __str__(self) -> str:
        low = f"{'>=' if self.low_inclusive else '>'} {self.low:g}"
        if math.isinf(self.high):
            return low
        return f"{low} and {'<=' if self.high_inclusive else '<'} {self.high:g}"


POSITIVE = Range()


def knob_ranges(part: str) -> dict[str, Range]:
    """The part's `KNOB_RANGES` (knobs whose range is not "> 0")."""
    return dict(getattr(parts.package(part), "KNOB_RANGES", {}))


def settings(part: str, profile: str, **overrides: Any) -> Settings:
    """The knobs of `part` under `profile`, with `overrides` (None = keep) applied.

    An unknown part, profile or knob, a value of the wrong type, a non-finite number, an
    empty list or a number (list elements included) outside the knob's range (> 0 unless
    the part's `KNOB_RANGES` says otherwise) fails at once, saying what is allowed.
    """
    base = knobs(part, profile)
    ranges = knob_ranges(part)
    out = Settings(base)
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in base:
            raise ValueError(
                f"unknown setting {key!r} for part {part!r}; "
                f"allowed: {', '.join(sorted(base))}"
            )
        out[key] = _checked(key, value, base[key], ranges.get(key, POSITIVE))
    return out


def _checked(key: str, value: Any, reference: Any, allowed: Range) -> Any:
    """`value` converted like `reference` (an int is accepted for a float), or ValueError."""
    if isinstance(reference, list):
        kind = type(reference[0]).__name__
        if not isinstance(value, (list, tuple)) or not value:
            raise ValueError(f"setting {key!r} must be a non-empty list of {kind} ({allowed}), "
                             f"e.g. {reference}; got {value!r}")
        return [_checked(f"{key}[{i}]", v, reference[0], allowed) for i, v in enumerate(value)]
    expected = type(reference)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, expected) or isinstance(value, bool) != isinstance(reference, bool):
        raise ValueError(f"setting {key!r} must be {expected.__name__} ({allowed}), got {value!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ValueError(f"setting {key!r} must be a finite number ({allowed}), got {value!r}")
        if value not in allowed:
            raise ValueError(f"setting {key!r} must be {allowed}, got {value!r}")
    return value

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

from typing import Any

from . import parts
from .parts import check_part

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


def settings(part: str, profile: str, **overrides: Any) -> Settings:
    """The knobs of `part` under `profile`, with `overrides` (None = keep) applied.

    An unknown part, profile or knob, or a value of the wrong type, fails at
    once with the allowed values.
    """
    base = knobs(part, profile)
    out = Settings(base)
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in base:
            raise ValueError(
                f"unknown setting {key!r} for part {part!r}; "
                f"allowed: {', '.join(sorted(base))}"
            )
        expected = type(base[key])
        if expected is float and isinstance(value, int):
            value = float(value)
        if not isinstance(value, expected) or isinstance(value, bool) != isinstance(base[key], bool):
            raise ValueError(
                f"setting {key!r} must be {expected.__name__}, got {value!r}"
            )
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value <= 0:
            raise ValueError(f"setting {key!r} must be positive, got {value!r}")
        out[key] = value
    return out

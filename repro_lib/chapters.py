"""The one set-up call at the top of every chapter notebook.

    ch = chapter("attribution_priors", "4_1_pixel_prior", profile, epochs=epochs, n_train=n_train)
    s, record = ch.settings, ch.record

validates the profile and the knobs once (an unknown name or a bad value stops with the
allowed ones), silences library warnings that would clutter the book, and gives the part's
settings, the result recorder (which notes every knob that differs from the profile) and,
where the part defines `recipes.load_data(settings)`, its data (loaded on first use).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

from . import book_parts as parts
from .profiles import Settings, knobs, settings
from .results import Recorder


@dataclass
class Chapter:
    """A notebook's part, name, profile, settings and result recorder."""

    part: str
    name: str
    profile: str
    settings: Settings
    record: Recorder
    _data: Any = field(default=None, repr=False)

    @property
    def data(self) -> Any:
        """The part's data under these settings (`recipes.load_data`), loaded once."""
        if self._data is None:
            module = parts.recipes(self.part)
            if not hasattr(module, "load_data"):
                raise AttributeError(f"part {self.part!r} has no load_data(settings); "
                                     "call its loaders from the recipes module instead")
            self._data = module.load_data(self.settings)
        return self._data


def chapter(part: str, name: str, profile: str, **overrides: Any) -> Chapter:
    """Set up notebook `name` of `part` under `profile`; `overrides` left at None keep the
    profile's value (papermill parameters default to None)."""
    s = settings(part, profile, **overrides)
    base = knobs(part, profile)
    changed = {key: value for key, value in s.items() if value != base[key]}
    for category in (UserWarning, FutureWarning, DeprecationWarning):
        warnings.filterwarnings("ignore", category=category)
    return Chapter(part, name, profile, s, Recorder(part, name, profile, overrides=changed))

"""Model families built from a spec dict (`build`), and the shared VAE interface (`vae`).

Core registers the families more than one part uses (`burgess_vae`); each part registers its
own with `register_family` when its modules are imported (its recipes import them).
"""
from __future__ import annotations

from typing import Any, Callable

from torch import nn

from .burgess import BurgessVAE

FAMILIES: dict[str, type[nn.Module]] = {"burgess_vae": BurgessVAE}


def register_family(name: str) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator: `build({"family": name, ...})` makes this class. One class per name."""
    def add(cls: type[nn.Module]) -> type[nn.Module]:
        if FAMILIES.get(name, cls) is not cls:
            raise ValueError(f"model family {name!r} is already registered by {FAMILIES[name].__name__}")
        FAMILIES[name] = cls
        return cls
    return add


def build(spec: dict[str, Any]) -> nn.Module:
    """A fresh model from `{"family": name, **kwargs}`, e.g. {"family": "burgess_vae", "latent_dim": 3}."""
    kwargs = dict(spec)
    family = kwargs.pop("family", None)
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r}; known: {', '.join(FAMILIES)} "
                         "(a part's families are registered when its recipes are imported)")
    return FAMILIES[family](**kwargs)


__all__ = ["BurgessVAE", "FAMILIES", "build", "register_family"]

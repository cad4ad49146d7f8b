"""Models by name: ``build_model(name, cfg)`` for every stage, from an explicit registry.

A stage registers each architecture once, next to its class::

    @register_model("void_map")
    def _build_void_map(cfg: dict) -> nn.Module:
        return VoidMapNet(cfg["arch"], cfg["decoder_channels"])

and the trainer, the records and the tests then build it from its name and its config section.
"""

from __future__ import annotations

import importlib
from typing import Callable

from torch import nn

from ..errors import ConfigError
from ..registries import registrar

Builder = Callable[[dict], nn.Module]
_BUILDERS: dict[str, Builder] = {}
_register = registrar(_BUILDERS, "model")


def register_model(name: str) -> Callable[[Builder], Builder]:
    """Decorator that registers ``builder(cfg) -> nn.Module`` under ``name``.

    Raises
    ------
    ValueError
        If another builder already has that name.
    """

    return _register(name)


def model_names() -> list[str]:
    """Registered model names, sorted."""
    return sorted(_BUILDERS)


def registering_module(name: str) -> str:
    """The module that registered ``name`` (importing it registers the name again)."""
    if name not in _BUILDERS:
        raise ConfigError(f"model {name!r} is not registered; known models: {model_names()}")
    return _BUILDERS[name].__module__


def build_model(name: str, cfg: dict | None = None, module: str | None = None) -> nn.Module:
    """A new model of architecture ``name`` built from its config section ``cfg``.

    A stage registers its architectures when its ``models`` module is imported; ``module`` (as
    a model record stores it) is imported first when ``name`` is not registered yet, so that a
    record can be loaded without knowing which stage wrote it.

    Raises
    ------
    ConfigError
        If ``name`` is not registered; the message lists the registered names.
    """
    if name not in _BUILDERS and module:
        importlib.import_module(module)
    if name not in _BUILDERS:
        raise ConfigError(f"model {name!r} is not registered; known models: {model_names()}")
    return _BUILDERS[name](dict(cfg or {}))

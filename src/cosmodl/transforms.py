"""Input transforms by name: a model record stores the one its network was trained on.

A stage registers an input transform once, on a class whose ``params()`` returns the keyword
arguments that rebuild it::

    @register_transform("cm21_scale_clip")
    class ScaleClip:
        def __init__(self, scale_mk, clip=False): ...
        def __call__(self, x): ...                    # float32 batch (B, ...) -> same shape
        def params(self): return {"scale_mk": self.scale, "clip": self.clip}

:func:`cosmodl.records.save_model` stores :func:`transform_spec` of it, and
:func:`cosmodl.records.load_model` rebuilds it with :func:`build_transform` (importing the module
that registers it). Numpy only: the data steps that define transforms need no torch.
"""

from __future__ import annotations

import importlib

from .errors import ConfigError
from .registries import registrar

_TRANSFORMS: dict[str, type] = {}
_register = registrar(_TRANSFORMS, "transform")


def register_transform(name: str):
    """Class decorator: registers an input transform under ``name`` (rebuilt as ``cls(**obj.params())``).

    Raises
    ------
    ValueError
        If another class already has that name.
    """

    def decorate(cls: type) -> type:
        cls = _register(name)(cls)
        cls.transform_name = name
        return cls

    return decorate


def transform_spec(transform) -> dict | None:
    """What a record stores of an input transform: ``{"name", "module", "params"}``, or None for none.

    Raises
    ------
    ValueError
        If the transform's class is not registered (:func:`register_transform`).
    """
    if transform is None:
        return None
    name = getattr(type(transform), "transform_name", None)
    if _TRANSFORMS.get(name) is not type(transform):
        raise ValueError(f"{type(transform).__name__} is not a registered input transform (register_transform)")
    return {"name": name, "module": type(transform).__module__, "params": dict(transform.params())}


def build_transform(spec: dict | None):
    """The input transform a record's ``transform`` entry describes (None for none)."""
    if spec is None:
        return None
    if spec["name"] not in _TRANSFORMS:
        importlib.import_module(spec["module"])
    if spec["name"] not in _TRANSFORMS:
        raise ConfigError(f"input transform {spec['name']!r} is not registered by {spec['module']}")
    return _TRANSFORMS[spec["name"]](**spec["params"])

"""Name → object tables that stages fill with decorators (models, input transforms). Numpy- and torch-free."""

from __future__ import annotations

from typing import Callable


def registrar(table: dict, kind: str) -> Callable[[str], Callable]:
    """``register(name)``: a decorator that files its object in ``table`` under ``name``.

    Parameters
    ----------
    table : dict
        The registry, filled in place.
    kind : str
        What is registered, for the error message ("model", "transform").

    Raises
    ------
    ValueError
        (from the decorator) If another object already has that name.
    """

    def register(name: str) -> Callable:
        def decorate(obj):
            if name in table and table[name] is not obj:
                raise ValueError(f"{kind} name {name!r} is registered twice")
            table[name] = obj
            return obj

        return decorate

    return register

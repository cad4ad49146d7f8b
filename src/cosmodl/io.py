"""Atomic output helpers: every output is written to a temporary name and renamed when complete."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Iterator

import numpy as np


def temporary_path(path: str | os.PathLike) -> Path:
    """Return the hidden temporary name used while ``path`` is being written.

    The temporary file lives in the same directory, so the final ``os.replace`` is atomic,
    and keeps the suffix, so libraries that dispatch on it (astropy, numpy) still work.
    """
    path = Path(path)
    return path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; rename it to ``path`` only if the block succeeds.

    On any exception the temporary file is removed and ``path`` is left untouched,
    so a failed step never leaves a partial output behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_json(data: dict, path: str | os.PathLike) -> None:
    """Write ``data`` as indented, strict JSON (NaN and infinities become null), atomically."""
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(_finite(data), indent=2, sort_keys=False, default=_json_default,
                                  allow_nan=False) + "\n")


def _finite(value):
    """Replace non-finite floats by None, recursively (JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        return None
    return value


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def open_npy_for_writing(path: str | os.PathLike, shape: tuple[int, ...], dtype) -> np.memmap:
    """Create a ``.npy`` file of ``shape`` and ``dtype`` as a writable memory map.

    Use it inside :func:`atomic_output`, on the temporary path.
    """
    return np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)

"""Atomic output helpers: every output is written to a temporary name and renamed when complete."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Iterator

import numpy as np

log = logging.getLogger(__name__)


def temporary_path(path: str | os.PathLike) -> Path:
    """Return the hidden temporary name used while ``path`` is being written.

    The temporary file lives in the same directory, so the final ``os.replace`` is atomic,
    and keeps the suffix, so libraries that dispatch on it (astropy, numpy) still work.
    """
    path = Path(path)
    return path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Delete temporary files of ``path`` left by writers that were killed (SIGKILL, OOM, node loss).

    Only one job writes a given output at a time (Snakemake locks its working directory), so a
    temporary of ``path`` that is not this process's own belongs to a writer that died before it
    could clean up. Returns the files removed.
    """
    path = Path(path)
    own = temporary_path(path)
    removed = []
    for stale in path.parent.glob(f".{path.stem}.tmp-*{path.suffix}"):
        if stale != own and stale.name[len(path.stem) + 6:-len(path.suffix) or None].isdigit():
            stale.unlink(missing_ok=True)
            removed.append(stale)
            log.warning("removed %s, left by an interrupted writer of %s", stale.name, path.name)
    return removed


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; rename it to ``path`` only if the block succeeds.

    On any exception the temporary file is removed and ``path`` is left untouched,
    so a failed step never leaves a partial output behind. Temporaries of ``path`` left by a
    killed earlier writer are removed first (:func:`remove_stale_temporaries`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
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
        tmp.write_text(json.dumps(finite(data), indent=2, sort_keys=False, default=_json_default,
                                  allow_nan=False) + "\n")


def finite(value):
    """``value`` with non-finite floats replaced by None, recursively (JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
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


def file_digest(path: str | os.PathLike, chunk: int = 1 << 23) -> str:
    """BLAKE2b digest (hex, 32 characters) of a file's bytes, read in 8 MiB chunks (~1 GB/s)."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def digest(source) -> str:
    """BLAKE2b digest of a file (a path, read in chunks) or of an array's bytes; what a data fingerprint holds."""
    if isinstance(source, (str, os.PathLike)):
        return file_digest(source)
    return hashlib.blake2b(np.ascontiguousarray(source).tobytes(), digest_size=16).hexdigest()


def fingerprint(*parts) -> str:
    """Short stable hash (16 hex characters) of JSON-serialisable ``parts`` (dict keys sorted)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def load_array(path: str | os.PathLike, remade_by: str) -> np.ndarray:
    """A stored ``.npy`` product, memory-mapped; a damaged file is one error naming it and the rule that remakes it.

    Parameters
    ----------
    path : path
    remade_by : str
        The rule that writes the file (the error says ``snakemake --forcerun <rule>``).

    Raises
    ------
    ValueError
        If the file is missing, truncated or not an ``.npy`` array.
    """
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise ValueError(f"{path}: not a readable .npy array ({exc}); remake it (snakemake --forcerun {remade_by})") \
            from None


def load_npz(path: str | os.PathLike, remade_by: str) -> dict[str, np.ndarray]:
    """Every array of a stored ``.npz`` product, read in full; a damaged file is one error naming it and
    the rule that remakes it (as :func:`load_array`)."""
    import zipfile

    try:
        with np.load(path, allow_pickle=False) as stored:
            return {key: stored[key] for key in stored.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: not a readable .npz archive ({exc}); remake it (snakemake --forcerun {remade_by})") \
            from None

"""Read, validate and write galaxy and void catalogues.

Every catalogue inside cosmodl is a FITS binary table with float32 columns ``x, y, z``
(and ``radius`` for voids), comoving Mpc/h, in a periodic box ``[0, BOXSIZE)``.
Header keywords: ``BOXSIZE`` (Mpc/h), ``LENUNIT = 'Mpc/h'``, ``KIND`` (galaxies | voids),
``SOURCE`` (how it was made), ``NROWS``. FITS has no standard spelling of Mpc/h, so units live
in ``LENUNIT`` rather than in ``TUNITn`` (where 'Mpc/h' would be read back as Mpc per hour).

Readable formats (``fmt='auto'`` picks by file name):

========= ====================== ===========================================================
fmt       file names             layout
========= ====================== ===========================================================
fits      .fits .fit .fits.gz    table with columns x, y, z [, radius] (any case)
ecsv      .ecsv                  same columns
hdf5      .h5 .hdf5              dataset ``pos`` (N, 3) [+ ``radius``], or ``x``, ``y``, ``z``
ascii     anything else          whitespace columns: ``gal_list`` x y z ...; ``SO_list`` x y z R
========= ====================== ===========================================================
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from ..errors import CatalogueError
from ..io import atomic_output

log = logging.getLogger(__name__)

# The stage's array products (results/voids/subboxes/, :func:`cosmodl.voids.subboxes.build_subbox_products`):
# name -> (dtype, shape); n subboxes, S image pixels and m map pixels a side.
PRODUCTS = {"images": ("float32", ("n", "S", "S")), "void_fraction": ("float32", ("n", "m", "m")),
            "void_centres": ("float32", ("n", "m", "m"))}
COLUMNS = {"galaxies": ("x", "y", "z"), "voids": ("x", "y", "z", "radius")}
RADIUS_ALIASES = ("radius", "r", "reff", "r_eff")
ACCEPTED_UNITS = {"", "mpc/h", "mpc / littleh", "mpc littleh-1", "mpc/littleh", "h-1 mpc", "mpc h-1"}
FORMATS = ("auto", "fits", "ecsv", "hdf5", "ascii")


def detect_format(path: str | os.PathLike) -> str:
    """Format name of a catalogue file from its name (see module docstring)."""
    name = Path(path).name.lower()
    if name.endswith((".fits", ".fit", ".fits.gz", ".fit.gz")):
        return "fits"
    if name.endswith(".ecsv"):
        return "ecsv"
    if name.endswith((".h5", ".hdf5")):
        return "hdf5"
    return "ascii"


def read_catalogue(path: str | os.PathLike, kind: str, fmt: str = "auto",
                   position_scale: float = 1.0) -> dict[str, np.ndarray]:
    """Read a galaxy or void catalogue into float32 columns.

    Parameters
    ----------
    path : path-like
    kind : {'galaxies', 'voids'}
    fmt : {'auto', 'fits', 'ecsv', 'hdf5', 'ascii'}
    position_scale : float
        Mpc/h per file length unit; multiplies positions and radii (the 2019 ``gal_list`` is in
        grid cells).

    Returns
    -------
    dict of str -> ndarray, shape (N,), float32
        ``x, y, z`` [, ``radius``] in Mpc/h.

    Raises
    ------
    CatalogueError
        Unreadable file, unknown format, missing column (named), wrong unit.
    """
    if kind not in COLUMNS:
        raise ValueError(f"kind must be one of {sorted(COLUMNS)}, got {kind!r}")
    if fmt not in FORMATS:
        raise CatalogueError(f"{path}: format {fmt!r} is not one of {FORMATS}")
    path = Path(path)
    if not path.is_file():
        raise CatalogueError(f"{path}: catalogue file does not exist")
    fmt = detect_format(path) if fmt == "auto" else fmt
    reader = {"fits": _read_table, "ecsv": _read_table, "hdf5": _read_hdf5, "ascii": _read_ascii}[fmt]
    try:
        columns = reader(path, kind, fmt)
    except CatalogueError:
        raise
    except Exception as exc:  # any parser failure becomes one message naming the file
        raise CatalogueError(f"{path}: cannot read as {fmt} {kind} catalogue: {exc}") from exc
    return {name: (values * position_scale).astype(np.float32) for name, values in columns.items()}


def _pick(names: list[str], wanted: str, path: Path) -> str:
    lower = {n.lower(): n for n in names}
    candidates = RADIUS_ALIASES if wanted == "radius" else (wanted,)
    for cand in candidates:
        if cand in lower:
            return lower[cand]
    raise CatalogueError(f"{path}: missing column {wanted!r} (columns present: {', '.join(names) or 'none'})")


def _read_table(path: Path, kind: str, fmt: str) -> dict[str, np.ndarray]:
    from astropy.table import Table

    table = Table.read(path, format="fits" if fmt == "fits" else "ascii.ecsv")
    out = {}
    for wanted in COLUMNS[kind]:
        name = _pick(list(table.colnames), wanted, path)
        unit = "" if table[name].unit is None else str(table[name].unit).lower()
        if unit not in ACCEPTED_UNITS:
            raise CatalogueError(f"{path}: column {name!r} has unit {table[name].unit}; "
                                 "cosmodl expects comoving Mpc/h (convert, or drop the unit)")
        out[wanted] = np.asarray(table[name], dtype=np.float64)
    return out


def _read_hdf5(path: Path, kind: str, fmt: str) -> dict[str, np.ndarray]:
    import h5py

    with h5py.File(path, "r") as f:
        names = list(f.keys())
        out = {}
        if "pos" in f:
            pos = np.asarray(f["pos"], dtype=np.float64)
            if pos.ndim != 2 or pos.shape[1] != 3:
                raise CatalogueError(f"{path}: dataset 'pos' must have shape (N, 3), got {pos.shape}")
            out.update(x=pos[:, 0], y=pos[:, 1], z=pos[:, 2])
        for wanted in COLUMNS[kind]:
            if wanted not in out:
                out[wanted] = np.asarray(f[_pick(names, wanted, path)], dtype=np.float64).ravel()
    return out


def _read_ascii(path: Path, kind: str, fmt: str) -> dict[str, np.ndarray]:
    n_cols = len(COLUMNS[kind])
    try:
        data = np.loadtxt(path, comments="#", ndmin=2, usecols=range(n_cols), dtype=np.float64)
    except (ValueError, IndexError) as exc:
        raise CatalogueError(f"{path}: expected at least {n_cols} numeric whitespace-separated columns "
                             f"({' '.join(COLUMNS[kind])}): {exc}") from exc
    return {name: data[:, i] for i, name in enumerate(COLUMNS[kind])}


def validate_catalogue(columns: dict[str, np.ndarray], kind: str, box_size: float, where: str) -> None:
    """Check a catalogue before use; raise one CatalogueError naming the first problem.

    Checks: not empty; no NaN or infinity; positions inside ``[0, box_size)``; radii > 0.

    Parameters
    ----------
    columns : dict of str -> ndarray
        As returned by :func:`read_catalogue`.
    kind : {'galaxies', 'voids'}
    box_size : float, Mpc/h
    where : str
        File name or source used in messages.
    """
    n = len(columns["x"])
    if n == 0:
        raise CatalogueError(f"{where}: the {kind} catalogue is empty")
    for name in COLUMNS[kind]:
        values = columns[name]
        bad = ~np.isfinite(values)
        if bad.any():
            raise CatalogueError(f"{where}: column {name!r} has {int(bad.sum())} NaN/infinite value(s) "
                                 f"(first at row {int(np.argmax(bad))})")
    for name in ("x", "y", "z"):
        values = columns[name]
        outside = (values < 0) | (values >= box_size)
        if outside.any():
            raise CatalogueError(
                f"{where}: {int(outside.sum())} {kind} have {name} outside the box [0, {box_size}) Mpc/h "
                f"(range {float(values.min()):.6g} .. {float(values.max()):.6g}); check box_size and "
                "position_scale")
    if kind == "voids" and np.any(columns["radius"] <= 0):
        raise CatalogueError(f"{where}: {int(np.sum(columns['radius'] <= 0))} voids have radius <= 0")


def write_catalogue(columns: dict[str, np.ndarray], path: str | os.PathLike, kind: str, box_size: float,
                    source: str, extra_columns: dict[str, np.ndarray] | None = None,
                    meta: dict | None = None) -> None:
    """Write a validated catalogue as a FITS table, atomically (see module docstring for layout)."""
    from astropy.table import Table

    validate_catalogue(columns, kind, box_size, str(path))
    table = Table()
    for name in COLUMNS[kind]:
        table[name] = np.asarray(columns[name], dtype=np.float32)
        table[name].description = "comoving Mpc/h"
    for name, values in (extra_columns or {}).items():
        table[name] = values
    table.meta.update({"KIND": kind, "BOXSIZE": float(box_size), "LENUNIT": "Mpc/h",
                       "SOURCE": source, "NROWS": len(table)})
    table.meta.update({k.upper(): v for k, v in (meta or {}).items()})
    with atomic_output(path) as tmp:
        table.write(tmp, format="fits")
    log.info("wrote %d %s to %s", len(table), kind, path)


def load_catalogue(path: str | os.PathLike, kind: str) -> tuple[dict[str, np.ndarray], float]:
    """Read a catalogue written by :func:`write_catalogue`; return (columns, box_size)."""
    from astropy.table import Table

    table = Table.read(path, format="fits")
    if table.meta.get("KIND") != kind:
        raise CatalogueError(f"{path}: expected a cosmodl {kind} table, found KIND={table.meta.get('KIND')!r}")
    columns = {name: np.asarray(table[name], dtype=np.float32) for name in table.colnames}
    return columns, float(table.meta["BOXSIZE"])


def positions(columns: dict[str, np.ndarray]) -> np.ndarray:
    """Stack ``x, y, z`` columns into an (N, 3) float32 array, Mpc/h."""
    return np.ascontiguousarray(np.stack([columns["x"], columns["y"], columns["z"]], axis=1), dtype=np.float32)

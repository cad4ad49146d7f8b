"""The binary box format of 21cmFAST v2 (C version): file names, reading, writing, folders.

Layout
------
A box is raw little-endian float32 with no header, ``dim^3`` values in C order ``[x][y][z]``
(index ``z + dim * (y + dim * x)``), the line of sight on the last axis (``VELOCITY_COMPONENT 3``).
Read it as ``np.fromfile(f, "<f4").reshape(dim, dim, dim)``.

Names (the C format strings)
----------------------------
``delta_T_v%i_z%06.2f_nf%f_useTs%i_%i_%.0fMpc``
    21-cm brightness temperature offset in mK: velocity component, redshift, global
    (volume-averaged) neutral fraction, USE_TS_IN_21CM, HII_DIM, BOX_LEN in Mpc.
``updated_smoothed_deltax_z%06.2f_%i_%.0fMpc``
    Evolved density contrast on the same grid.

A folder holds one realization: one (f_esc, seed), every redshift. Files of other kinds
(velocities, ``Nrec``, ``xH_nohalos``...) may sit beside them and are ignored.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CosmodlError

DELTA_T = "delta_T"
DENSITY = "density"
_DELTA_T_RE = re.compile(r"^delta_T_v(\d)_z(\d{3}\.\d{2})_nf(-?\d+\.\d+)_useTs(\d)_(\d+)_(\d+)Mpc$")
_DENSITY_RE = re.compile(r"^updated_smoothed_deltax_z(\d{3}\.\d{2})_(\d+)_(\d+)Mpc$")


class BoxFormatError(CosmodlError, ValueError):
    """A box file or folder does not follow the 21cmFAST v2 layout (name, size or values)."""


@dataclass(frozen=True)
class BoxName:
    """What a box's file name says.

    Attributes
    ----------
    kind : {'delta_T', 'density'}
    redshift : float
    dim : int
        Cells per side.
    box_len : float
        Side in comoving Mpc.
    x_hi : float or None
        Global neutral fraction (``delta_T`` only).
    velocity_component, use_ts : int or None
        ``delta_T`` only.
    """

    kind: str
    redshift: float
    dim: int
    box_len: float
    x_hi: float | None = None
    velocity_component: int | None = None
    use_ts: int | None = None

    def filename(self) -> str:
        """The 21cmFAST file name of this box."""
        if self.kind == DELTA_T:
            return delta_t_name(self.redshift, self.x_hi, self.dim, self.box_len, self.velocity_component, self.use_ts)
        return density_name(self.redshift, self.dim, self.box_len)


def delta_t_name(redshift: float, x_hi: float, dim: int, box_len: float, velocity_component: int = 3,
                 use_ts: int = 0) -> str:
    """``delta_T_v3_z008.00_nf0.612527_useTs0_200_300Mpc`` for z 8, x_HI 0.612527, 200^3, 300 Mpc."""
    return f"delta_T_v{velocity_component:d}_z{redshift:06.2f}_nf{x_hi:f}_useTs{use_ts:d}_{dim:d}_{box_len:.0f}Mpc"


def density_name(redshift: float, dim: int, box_len: float) -> str:
    """``updated_smoothed_deltax_z006.50_200_300Mpc`` for z 6.5, 200^3, 300 Mpc."""
    return f"updated_smoothed_deltax_z{redshift:06.2f}_{dim:d}_{box_len:.0f}Mpc"


def parse_name(path: str | os.PathLike) -> BoxName:
    """What the file name of a ``delta_T`` or density box says.

    Raises
    ------
    BoxFormatError
        The name is of neither kind.
    """
    name = Path(path).name
    m = _DELTA_T_RE.match(name)
    if m:
        v, z, nf, ts, dim, length = m.groups()
        return BoxName(DELTA_T, float(z), int(dim), float(length), float(nf), int(v), int(ts))
    m = _DENSITY_RE.match(name)
    if m:
        z, dim, length = m.groups()
        return BoxName(DENSITY, float(z), int(dim), float(length))
    raise BoxFormatError(f"{path}: not a 21cmFAST v2 box name (expected delta_T_v<c>_z<zzz.zz>_nf<x_HI>_useTs<t>_"
                         f"<dim>_<len>Mpc or updated_smoothed_deltax_z<zzz.zz>_<dim>_<len>Mpc)")


def read_box(path: str | os.PathLike, dim: int | None = None) -> np.ndarray:
    """Read one box.

    Parameters
    ----------
    path : path
        A file named as :func:`parse_name` expects.
    dim : int, optional
        Cells per side; by default the one in the name.

    Returns
    -------
    ndarray (dim, dim, dim) float32, indexed [x, y, z] (line of sight last); mK for ``delta_T``.

    Raises
    ------
    BoxFormatError
        The name does not parse, the size is not ``4 dim^3`` bytes, a value is not finite, or values
        are out of the physical range (:func:`check_box_range`).
    """
    path = Path(path)
    name = parse_name(path)
    dim = name.dim if dim is None else int(dim)
    expected = 4 * dim**3
    size = path.stat().st_size
    if size != expected:
        raise BoxFormatError(f"{path}: {size} bytes, but a {dim}^3 float32 box has {expected}")
    box = np.fromfile(path, dtype="<f4").reshape(dim, dim, dim)
    bad = ~np.isfinite(box)
    if bad.any():
        x, y, z = np.argwhere(bad)[0]
        raise BoxFormatError(f"{path}: {int(bad.sum())} non-finite values (first at [x={x}, y={y}, z={z}])")
    check_box_range(path, name, box)
    return box.astype(np.float32, copy=False)


DELTA_T_MAX_MK = 2000.0  # |delta_T_b| above this is no 21-cm signal (peaks are ~30 mK x (1 + delta) at z < 30)
NEGATIVE_TOLERANCE_MK = 1e-3  # float32 round-off around zero


def check_box_range(path, name: BoxName, box: np.ndarray) -> None:
    """Refuse values no 21-cm box holds: a density contrast below -1; a brightness temperature
    below 0 where the spin temperature is neglected (``useTs0``: emission only), or beyond
    :data:`DELTA_T_MAX_MK` in size.

    Raises
    ------
    BoxFormatError
        Naming the file, the offending range and the bound.
    """
    lo, hi = float(box.min()), float(box.max())
    if name.kind == DENSITY:
        if lo < -1.0 - 1e-4:
            raise BoxFormatError(f"{path}: density contrast down to {lo:g}, below -1 (no negative mass)")
        return
    if name.use_ts == 0 and lo < -NEGATIVE_TOLERANCE_MK:
        raise BoxFormatError(f"{path}: delta_T_b down to {lo:g} mK, but a useTs0 box (spin temperature neglected) "
                             "holds emission only (>= 0)")
    if max(abs(lo), abs(hi)) > DELTA_T_MAX_MK:
        raise BoxFormatError(f"{path}: delta_T_b in [{lo:g}, {hi:g}] mK, beyond the +-{DELTA_T_MAX_MK:g} mK of any "
                             "21-cm signal (is the file in mK, and a brightness-temperature box?)")


def write_box(path: str | os.PathLike, box: np.ndarray) -> None:
    """Write ``box`` (dim, dim, dim), indexed [x, y, z], as raw little-endian float32 in C order."""
    box = np.asarray(box)
    if box.ndim != 3 or len(set(box.shape)) != 1:
        raise BoxFormatError(f"{path}: a box must be a cube, got shape {box.shape}")
    np.ascontiguousarray(box, dtype="<f4").tofile(path)


def scan_realization(folder: str | os.PathLike, redshifts=None) -> dict[float, dict[str, Path]]:
    """The ``delta_T`` and density boxes of one realization folder, by redshift.

    Parameters
    ----------
    folder : path
    redshifts : iterable of float, optional
        Redshifts that must be there (both kinds); by default every redshift found.

    Returns
    -------
    dict
        ``{z: {"delta_T": path, "density": path}}`` sorted by z.

    Raises
    ------
    BoxFormatError
        The folder is missing or empty, two files claim the same (kind, z), grids differ, or a
        required redshift lacks a file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise BoxFormatError(f"{folder}: no such realization folder")
    found: dict[float, dict[str, Path]] = {}
    grids = set()
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not (path.name.startswith("delta_T_") or
                                             path.name.startswith("updated_smoothed_deltax_")):
            continue
        name = parse_name(path)
        grids.add((name.dim, name.box_len))
        slot = found.setdefault(round(name.redshift, 2), {})
        if name.kind in slot:
            raise BoxFormatError(f"{folder}: two {name.kind} boxes at z = {name.redshift:.2f}: "
                                 f"{slot[name.kind].name} and {path.name}")
        slot[name.kind] = path
    if not found:
        raise BoxFormatError(f"{folder}: no delta_T or updated_smoothed_deltax boxes")
    if len(grids) > 1:
        raise BoxFormatError(f"{folder}: boxes of different grids {sorted(grids)}")
    wanted = sorted(found) if redshifts is None else [round(float(z), 2) for z in redshifts]
    for z in wanted:
        missing = [k for k in (DELTA_T, DENSITY) if k not in found.get(z, {})]
        if missing:
            raise BoxFormatError(f"{folder}: no {' or '.join(missing)} box at z = {z:.2f} "
                                 f"(found z = {', '.join(f'{r:.2f}' for r in sorted(found))})")
    return {z: found[z] for z in wanted}


def write_realization(folder: str | os.PathLike, boxes: dict[float, dict], box_len: float) -> None:
    """Write a realization folder atomically: into a hidden sibling, renamed when complete.

    Parameters
    ----------
    folder : path
    boxes : dict
        ``{z: {"delta_T": (dim,)*3 mK, "density": (dim,)*3, "x_hi": float}}``.
    box_len : float, comoving Mpc
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    for stale in folder.parent.glob(f".{folder.name}.tmp-*"):  # left by a killed writer
        shutil.rmtree(stale, ignore_errors=True)
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    tmp.mkdir()
    try:
        for z, b in boxes.items():
            dim = b["delta_T"].shape[0]
            write_box(tmp / delta_t_name(z, b["x_hi"], dim, box_len), b["delta_T"])
            write_box(tmp / density_name(z, dim, box_len), b["density"])
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def box_geometry(folder: str | os.PathLike) -> tuple[int, float]:
    """(cells per side, cell side in Mpc) of the boxes in a realization folder, from their names."""
    first = next(iter(scan_realization(folder).values()))
    name = parse_name(first[DELTA_T])
    return name.dim, name.box_len / name.dim

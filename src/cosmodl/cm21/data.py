"""Slices of 21-cm boxes, their labels, the leakage-free split and the learning tasks.

Data products (``results/cm21/data``)
-------------------------------------
``slices.npy``
    (N, S, S) float32, delta_T_b in mK: slices of every realization and redshift perpendicular
    to ``cm21.slices.axis`` (S = the box's cells per side), ``slices_per_box`` evenly spaced.
``slices.csv``
    One row per slice: ``seed, f_esc, zeta, z, position`` (cell index along the axis),
    ``x_hi`` (the box's global neutral fraction).
``cross_source/slices.npy``, ``cross_source/slices.csv``
    Slices of the other source the models are also scored on (``cm21.test_source``), cut to the
    training slice side S (m tiles); the table has a ``tile`` column beside :data:`COLUMNS`.
``split.json``
    Roles (:mod:`cosmodl.splits`): whole seeds apart when there are at least three (every
    f_esc of a seed shares its density field, so seeds, not realizations, are the groups);
    otherwise slabs along the slicing axis with a buffer of at least ``split.buffer`` Mpc
    between a training slice and any validation or test slice.

Patches (the PCA / fully connected baselines) are the ``(S // P)^2`` non-overlapping P x P
tiles of each slice, made in memory by :func:`patches_of`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..splits import TEST, TRAIN, VAL, group_split, split_record
from .boxes import DELTA_T, parse_name, read_box, scan_realization

log = logging.getLogger(__name__)

# The array product (``slices.npy``, :func:`collect_slices`): name -> (dtype, shape); n slices of S x S cells.
PRODUCTS = {"slices": ("float32", ("n", "S", "S")), "cross_slices": ("float32", ("m", "S", "S"))}
TASKS = ("z_fixed_fesc", "z_all", "fesc_fixed_z", "fesc_all", "zeta")
AXES = {"x": 0, "y": 1, "z": 2}
COLUMNS = ("seed", "f_esc", "zeta", "z", "position", "x_hi")


def realization_name(f_esc: float, seed: int) -> str:
    """Folder name of the realization (f_esc, seed), e.g. ``f0.070_s150``."""
    return f"f{f_esc:.3f}_s{seed:d}"


def parse_realization(name: str) -> tuple[float, int]:
    """(f_esc, seed) of a folder named by :func:`realization_name`."""
    try:
        f, s = Path(name).name.split("_")
        if not (f.startswith("f") and s.startswith("s")):
            raise ValueError
        return float(f[1:]), int(s[1:])
    except ValueError:
        raise ConfigError(f"{name}: a realization folder must be named f<f_esc>_s<seed>, e.g. f0.070_s150") from None


def slice_positions(dim: int, per_box: int) -> np.ndarray:
    """``per_box`` evenly spaced cell indices along an axis of ``dim`` cells."""
    if not 1 <= per_box <= dim:
        raise ConfigError(f"cm21.slices.per_box = {per_box}: must be between 1 and the box's {dim} cells")
    return np.unique(np.floor(np.arange(per_box) * dim / per_box).astype(int))


def take_slices(box: np.ndarray, axis: int, positions) -> np.ndarray:
    """Slices ``box[..., p, ...]`` perpendicular to ``axis``, (len(positions), S, S) float32.

    The remaining two axes keep their order (for axis 2, a slice is [x, y]).
    """
    return np.ascontiguousarray(np.moveaxis(box, axis, 0)[np.asarray(positions)], dtype=np.float32)


def collect_slices(folders, redshifts, axis: str, per_box: int, zeta_per_fesc: float):
    """Slices and their table from realization folders (any source: the format is the same).

    Parameters
    ----------
    folders : iterable of path
        Realization folders named ``f<f_esc>_s<seed>`` (:func:`realization_name`).
    redshifts : iterable of float
    axis : {'x', 'y', 'z'}
        The slicing axis; 'z' is the line of sight.
    per_box : int
    zeta_per_fesc : float
        zeta = zeta_per_fesc * f_esc (250 in MAIS 202).

    Returns
    -------
    slices : ndarray (N, S, S) float32, mK
    table : DataFrame with :data:`COLUMNS`
    """
    images, rows = [], []
    for folder in sorted(map(Path, folders)):
        f_esc, seed = parse_realization(folder.name)
        for z, files in scan_realization(folder, redshifts).items():
            name = files[DELTA_T]
            box = read_box(name)
            positions = slice_positions(box.shape[0], per_box)
            images.append(take_slices(box, AXES[axis], positions))
            x_hi = parse_name(name).x_hi
            rows += [{"seed": seed, "f_esc": f_esc, "zeta": zeta_per_fesc * f_esc, "z": z, "position": int(p),
                      "x_hi": x_hi} for p in positions]
    if not images:
        raise ConfigError("cm21: no realization folders to slice")
    return np.concatenate(images), pd.DataFrame(rows, columns=list(COLUMNS))


def split_slices(table: pd.DataFrame, dim: int, cell_mpc: float, split_cfg: dict) -> tuple[np.ndarray, dict]:
    """Roles of the slices and the split record.

    With three or more seeds, whole seeds go to train, validation and test
    (:func:`cosmodl.splits.group_split`). With fewer, the slicing axis is cut into contiguous
    periodic slabs of slice positions, and slices closer than ``split_cfg['buffer']`` Mpc to a
    slab of another role are dropped (from the training side).

    Returns
    -------
    roles : ndarray (N,) int8
    record : dict (:func:`cosmodl.splits.split_record`)
    """
    seeds = np.unique(table["seed"])
    fractions = (split_cfg["test_fraction"], split_cfg["val_fraction"])
    if len(seeds) >= 3:
        roles = group_split(table["seed"].to_numpy(), *fractions, seed=split_cfg["seed"])
        by_role = {name: sorted({int(s) for s in table["seed"][roles == r]})
                   for name, r in (("train", TRAIN), ("val", VAL), ("test", TEST))}
        method, params = "seeds", {"seeds": by_role}
    else:
        positions = np.unique(table["position"])
        spacing = dim / len(positions)
        buffer_slabs = int(np.ceil(split_cfg["buffer"] / (cell_mpc * spacing))) if split_cfg["buffer"] > 0 else 0
        slab_of = {int(p): i for i, p in enumerate(positions)}
        groups = table["position"].map(slab_of).to_numpy()
        roles = group_split(groups, *fractions, seed=split_cfg["seed"], contiguous=True, buffer=buffer_slabs)
        method, params = "slabs", {"buffer_mpc": split_cfg["buffer"], "buffer_slices": buffer_slabs,
                                   "slice_spacing_mpc": spacing * cell_mpc}
    # slabs of one box share its density field: without a buffer, structure straddles the faces
    leaky = method == "slabs" and split_cfg["buffer"] <= 0
    record = split_record(roles, method, {**split_cfg, **params}, leaky=leaky)
    return roles, record


def task_rows(table: pd.DataFrame, roles: np.ndarray, task: str, fixed_fesc: float, fixed_z: float) -> dict:
    """The slices of a task and their targets, by role.

    Tasks: ``z_fixed_fesc`` (redshift class at f_esc = fixed_fesc), ``z_all`` (redshift over
    every f_esc), ``fesc_fixed_z`` (f_esc class at z = fixed_z), ``fesc_all`` (f_esc over every z),
    ``zeta`` (zeta as a number, every slice).

    Returns
    -------
    dict
        ``rows``: {role name: slice indices}; ``targets``: (N,) int64 class index or float32
        zeta for every slice (meaningful on the task's rows); ``classes``: class values (empty
        for ``zeta``); ``kind``: 'classification' or 'regression'.
    """
    keep = task_mask(table, task, fixed_fesc, fixed_z)
    if not keep.any():
        what = f"f_esc = {fixed_fesc}" if task == "z_fixed_fesc" else f"z = {fixed_z}"
        raise ConfigError(f"cm21 task {task}: no slices with {what} (check cm21.tasks_fixed against f_esc/redshifts)")
    if task == "zeta":
        targets, classes, kind = table["zeta"].to_numpy(np.float32), [], "regression"
    else:
        column = target_column(task)
        classes = sorted(np.unique(table[column][keep]).tolist())
        targets = np.searchsorted(classes, table[column].to_numpy()).astype(np.int64)
        kind = "classification"
    rows = {name: np.flatnonzero(keep & (roles == r)) for name, r in (("train", TRAIN), ("val", VAL), ("test", TEST))}
    return {"rows": rows, "targets": targets, "classes": classes, "kind": kind}


def target_column(task: str) -> str:
    """The table column a task predicts: ``z``, ``f_esc`` or ``zeta``."""
    return "zeta" if task == "zeta" else "z" if task.startswith("z_") else "f_esc"


def task_mask(table: pd.DataFrame, task: str, fixed_fesc: float, fixed_z: float) -> np.ndarray:
    """(N,) bool: the slices of ``table`` that belong to ``task`` (:func:`task_rows`)."""
    if task not in TASKS:
        raise ConfigError(f"unknown cm21 task {task!r}; expected one of {TASKS}")
    if task == "z_fixed_fesc":
        return np.isclose(table["f_esc"], fixed_fesc)
    if task == "fesc_fixed_z":
        return np.isclose(table["z"], fixed_z)
    return np.ones(len(table), dtype=bool)


def class_index(values, classes) -> np.ndarray:
    """(N,) int64: the index of each value among ``classes`` (to 1e-6 relative), -1 where it is none of them."""
    values = np.asarray(values, dtype=float)
    out = np.full(len(values), -1, dtype=np.int64)
    for i, c in enumerate(classes):
        out[np.isclose(values, c, rtol=1e-6, atol=0.0)] = i
    return out


def box_ids(table: pd.DataFrame) -> np.ndarray:
    """(N,) int64: one id per box (seed, f_esc, z) of the slices in ``table``, numbered in sorted order."""
    keys = table[["seed", "f_esc", "z"]].to_records(index=False)
    _, ids = np.unique(keys, return_inverse=True)
    return ids.astype(np.int64).ravel()


def patches_of(slices: np.ndarray, patch: int) -> np.ndarray:
    """Non-overlapping ``patch`` x ``patch`` tiles of each slice, slice-major.

    Parameters
    ----------
    slices : ndarray (N, S, S)
    patch : int
        Tile side, at most S; a remainder at the far edges is dropped.

    Returns
    -------
    ndarray (N * (S // patch)^2, patch, patch); tile ``j`` comes from slice ``j // (S // patch)^2``.
    """
    n, s, _ = slices.shape
    t = s // patch
    if t < 1:
        raise ConfigError(f"cm21.slices.patch = {patch} is larger than the {s}-cell slices")
    tiles = slices[:, :t * patch, :t * patch].reshape(n, t, patch, t, patch).transpose(0, 1, 3, 2, 4)
    return np.ascontiguousarray(tiles.reshape(n * t * t, patch, patch))


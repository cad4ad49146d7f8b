"""Train / validation / test splits of subboxes that cannot leak.

``spatial`` (default): the box is cut along one axis into three periodic slabs, test
``[offset, offset + T)``, validation ``[.., .. + V)`` and training (the rest), with
``T = round(test_fraction n)`` and ``V = round(val_fraction n)`` cells. A subbox takes the role of
the slab that holds its whole extent along that axis; subboxes that straddle two slabs are dropped
as a buffer. Test, validation and training subboxes are then disjoint along the split axis, hence
share no volume, periodic images included.

``random``: the 2019 split (a seeded random permutation). Overlapping subboxes land on both sides,
so the test score is inflated; it is kept only for the leakage comparison and labelled ``leaky``.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .subboxes import SubboxLattice

TRAIN, VAL, TEST, DROPPED = 0, 1, 2, -1
ROLE_NAMES = {TRAIN: "train", VAL: "val", TEST: "test"}


def spatial_split(lattice: SubboxLattice, test_fraction: float, val_fraction: float, axis: int = 0,
                  offset_cells: int = 0) -> np.ndarray:
    """Assign each subbox a role by which slab along ``axis`` contains it.

    Parameters
    ----------
    lattice : SubboxLattice
    test_fraction, val_fraction : float
        Slab widths as fractions of the box (val may be 0).
    axis : int
        0, 1 or 2 for x, y, z.
    offset_cells : int
        Where the test slab starts, in cells.

    Returns
    -------
    roles : ndarray, shape (n_subboxes,), int8
        0 train, 1 val, 2 test, -1 dropped buffer.

    Raises
    ------
    ConfigError
        If a slab with non-zero fraction holds no subbox (it must be at least one subbox wide).
    """
    if axis not in (0, 1, 2):
        raise ConfigError(f"split.axis = {axis} must be 0, 1 or 2")
    if not (0 < test_fraction < 1 and 0 <= val_fraction < 1 and test_fraction + val_fraction < 1):
        raise ConfigError(f"split fractions test = {test_fraction}, val = {val_fraction} must be positive "
                          "and sum below 1")
    n = lattice.n_cells
    test_w = int(round(test_fraction * n))
    val_w = int(round(val_fraction * n))
    slabs = [(TEST, 0, test_w), (VAL, test_w, val_w), (TRAIN, test_w + val_w, n - test_w - val_w)]
    start_along = (lattice.origins()[:, axis] - offset_cells) % n
    roles = np.full(lattice.n_subboxes, DROPPED, dtype=np.int8)
    for role, start, width in slabs:
        inside = (start_along >= start) & (start_along + lattice.size <= start + width)
        roles[inside] = role
    for role, _, width in slabs:
        if (role != VAL or val_w > 0) and not np.any(roles == role):
            name = ROLE_NAMES[role]
            need = (lattice.size + lattice.stride - 1) / n
            raise ConfigError(f"split: the {name} slab ({width} cells) holds no whole subbox of {lattice.size} "
                              f"cells; raise its fraction to at least about {need:.3f}")
    return roles


def random_split(n_subboxes: int, test_fraction: float, val_fraction: float, seed: int) -> np.ndarray:
    """The 2019 random split (leaky: overlapping subboxes fall on both sides).

    Returns
    -------
    roles : ndarray, shape (n_subboxes,), int8; 0 train, 1 val, 2 test.
    """
    if not (0 < test_fraction < 1 and 0 <= val_fraction < 1 and test_fraction + val_fraction < 1):
        raise ConfigError(f"split fractions test = {test_fraction}, val = {val_fraction} must be positive "
                          "and sum below 1")
    order = np.random.default_rng(seed).permutation(n_subboxes)
    n_test = int(round(test_fraction * n_subboxes))
    n_val = int(round(val_fraction * n_subboxes))
    roles = np.full(n_subboxes, TRAIN, dtype=np.int8)
    roles[order[:n_test]] = TEST
    roles[order[n_test:n_test + n_val]] = VAL
    return roles


def overlap_cells(origin_a: np.ndarray, origin_b: np.ndarray, size: int, n_cells: int) -> np.ndarray:
    """Shared volume (cells^3) of cubic subboxes of ``size`` at integer origins in a periodic box.

    Parameters
    ----------
    origin_a, origin_b : ndarray, shape (..., 3), int
    size, n_cells : int

    Returns
    -------
    ndarray, shape (...), int64
    """
    d = (np.asarray(origin_b, dtype=np.int64) - np.asarray(origin_a, dtype=np.int64)) % n_cells
    # along one periodic axis, [0, S) and [d, d + S) overlap by S - d (d < S) plus d + S - n (wrap)
    along = np.maximum(0, size - d) + np.maximum(0, d + size - n_cells)
    along = np.minimum(along, size)
    return np.prod(along, axis=-1)


def split_record(roles: np.ndarray, method: str, params: dict) -> dict:
    """The split file's content: method, parameters, leak flag, counts and index lists."""
    record = {"method": method, "leaky": method == "random", "params": params,
              "counts": {name: int(np.sum(roles == role)) for role, name in ROLE_NAMES.items()}}
    record["counts"]["dropped_buffer"] = int(np.sum(roles == DROPPED))
    for role, name in ROLE_NAMES.items():
        record[name] = np.flatnonzero(roles == role).tolist()
    return record

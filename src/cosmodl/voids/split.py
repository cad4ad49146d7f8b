"""Splits of the voids subboxes that cannot leak, and how many voids still cross between sets.

``spatial`` (default): the box is cut along one axis into three periodic slabs (see
:func:`cosmodl.splits.slab_split`): test ``[offset, offset + T)``, validation the next ``V`` cells
and training the rest. A subbox takes the role of the slab that holds its whole extent along that
axis; subboxes that straddle two slabs are dropped as a buffer. Test, validation and training
subboxes are then disjoint along the split axis, hence share no volume, periodic images included.

Even with no shared volume, one void sphere can reach into a test subbox and a training subbox
across the face between their slabs, so part of one void sits in both sets' targets.
:func:`voids_crossing_faces` counts such voids; a gap of twice the largest void radius brings the
count to zero. ``split.buffer`` (Mpc/h) is that gap: ``auto`` (the default) takes twice the
largest radius in the void catalogue (:func:`resolve_buffer`); ``0`` is the 2019-style slab split
without a gap, kept for comparison.

``split.faces`` says where the gap goes. ``test_train`` (default): the training slab ends
``buffer`` before the test slab on both sides, and the validation slab stays next to the test
slab, unbuffered (it only picks the epoch; the void spheres it shares with either set are counted
in the split file). Three slabs that each hold a subbox plus one gap fit in a box of
``3 size + buffer`` cells (the embedded 512 Mpc/h box: 3 x 128 + 80). ``all``: the gap at every
face, so validation is leak-free too, which needs ``3 size + 3 buffer``.

``random``: the 2019 split (a seeded random permutation, :func:`cosmodl.splits.random_split`).
Overlapping subboxes land on both sides, so the test score is inflated; it is kept only for the
leakage comparison and recorded as ``leaky``.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError
from ..splits import ROLE_NAMES, TEST, TRAIN, VAL, occupancy, slab_bounds, slab_split, touches
from .subboxes import SubboxLattice


def buffer_cells(buffer_mpc: float, cell: float) -> int:
    """A buffer in Mpc/h as a whole number of cells, rounded up (never thinner than asked)."""
    return int(math.ceil(buffer_mpc / cell - 1e-9)) if buffer_mpc > 0 else 0


def resolve_buffer(buffer, radius_mpc) -> float:
    """``split.buffer`` in Mpc/h: a number as given, ``"auto"`` twice the largest void radius.

    Parameters
    ----------
    buffer : float or "auto"
    radius_mpc : array of float, shape (n_voids,)
        Void radii, Mpc/h (of the catalogue, or of the finder's radius grid before it has run).

    Returns
    -------
    float
        The gap, Mpc/h (0 for ``auto`` with no voids).
    """
    if buffer != "auto":
        return float(buffer)
    radius = np.asarray(radius_mpc, dtype=np.float64)
    return 2.0 * float(radius.max()) if radius.size else 0.0


def planned_buffer(voids_cfg: dict) -> float | None:
    """The gap the split step will take, Mpc/h, as far as the config alone tells.

    ``None`` for ``auto`` with a catalogue read from a file or URL: its largest radius is known
    only when the split step reads it.
    """
    buffer, catalogue = voids_cfg["split"]["buffer"], voids_cfg["catalogue"]
    if buffer == "auto" and catalogue["source"] != "find":
        return None
    return resolve_buffer(buffer, catalogue["find"]["radii"])


def spatial_split(lattice: SubboxLattice, test_fraction: float, val_fraction: float, axis: int = 0,
                  offset_cells: int = 0, buffer_mpc: float = 0.0, faces: str = "test_train") -> np.ndarray:
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
    buffer_mpc : float
        Gap in Mpc/h between training and test subboxes (``faces="test_train"``), or between
        subboxes of any two roles (``"all"``; the validation slab gives it up at the test face).
    faces : {"test_train", "all"}
        Where the gap is taken (:func:`cosmodl.splits.slab_bounds`).

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
    n = lattice.n_cells
    buffer = buffer_cells(buffer_mpc, lattice.cell)
    roles = slab_split(lattice.origins()[:, axis], lattice.size, n, test_fraction, val_fraction, offset_cells, buffer,
                       faces)
    bounds = slab_bounds(n, test_fraction, val_fraction, offset_cells, buffer, faces)
    widths = {role: hi - lo for role, lo, hi in bounds}
    for role in (TEST, VAL, TRAIN):
        if (role != VAL or round(val_fraction * n) > 0) and not np.any(roles == role):
            need = (lattice.size + lattice.stride - 1) / n
            remedy = (f"lower test_fraction + val_fraction (the training slab needs about {need:.3f} of the axis "
                      f"after the buffer)" if role == TRAIN else f"raise its fraction to at least about {need:.3f}")
            raise ConfigError(f"split: the {ROLE_NAMES[role]} slab ({widths.get(role, 0)} cells after a buffer of "
                              f"{buffer} cells = {buffer_mpc:g} Mpc/h, faces {faces}) holds no whole subbox of "
                              f"{lattice.size} cells; {remedy}, or lower split.buffer")
    return roles


def voids_crossing_faces(voids: dict, lattice: SubboxLattice, roles: np.ndarray, axis: int = 0) -> dict:
    """Number of void spheres that reach into subboxes of two different roles.

    Along the split axis, a sphere spans ``[c - R, c + R]`` (periodic); it crosses between two
    roles when that span meets cells covered by subboxes of both. The subboxes cover every
    position across the other two axes, so this is the number of voids that can appear, in part,
    in both sets' targets.

    Parameters
    ----------
    voids : dict
        Columns ``x``, ``y``, ``z``, ``radius`` in Mpc/h.
    lattice : SubboxLattice
    roles : ndarray, shape (n_subboxes,), int8
    axis : int

    Returns
    -------
    dict
        ``{"test|train": n, "val|train": n, "test|val": n}``.
    """
    centre = np.asarray(voids["xyz"[axis]], dtype=np.float64) / lattice.cell
    radius = np.asarray(voids["radius"], dtype=np.float64) / lattice.cell
    start = lattice.origins()[:, axis]
    reach = {role: touches(centre - radius, centre + radius,
                           occupancy(start[roles == role], lattice.size, lattice.n_cells))
             for role in (TRAIN, VAL, TEST)}
    pairs = {"test|train": (TEST, TRAIN), "val|train": (VAL, TRAIN), "test|val": (TEST, VAL)}
    return {name: int(np.sum(reach[a] & reach[b])) for name, (a, b) in pairs.items()}


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

"""Subboxes of a periodic box: galaxy images and void targets, without one 3-D grid per subbox.

Geometry
--------
The box (side ``L`` Mpc/h) is cut into ``n`` cells per side (``cell = L / n``). A subbox is
``S`` cells on a side; origins lie on a lattice of step ``stride`` cells along each axis:
``0, stride, ...`` up to ``n - S`` (``wrap=False``, the 2019 layout) or up to ``n - 1``
(``wrap=True``: subboxes wrap around the periodic box). Subbox ``id = (i na + j) na + k`` for
origin indices ``(i, j, k)`` along (x, y, z). Images are indexed [x, y] and look along z.

Products per subbox
-------------------
* ``images``: the CIC galaxy counts of the full box summed over the subbox's z cells, shape (S, S).
  Only ``na`` distinct z-ranges exist, so each is projected once over the whole box (a 2-D deposit
  with z-edge weights, :func:`cosmodl.gridding.cic_project_z_ranges`) and windows are cut from it.
* ``void_fraction``: at map size ``m`` (S divisible by m), the fraction of each pixel's sight line
  (through the subbox depth) that lies inside the union of the void spheres, averaged over the
  pixel area (``supersample^2`` sight lines per cell, then the mean over each block of S/m
  cells). Area-averaging keeps the void volume: ``mean(map) * (S cell)^3`` is the void volume
  inside the subbox, whatever ``m`` is.
* ``void_centres``: CIC of the void centres summed along z at cell resolution, then summed
  over blocks of S/m cells, so its total is the (CIC-weighted) number of centres in the subbox.
* Index table: id, origin (cells and Mpc/h), galaxy count, number of void centres inside,
  void volume inside (union of spheres, (Mpc/h)^3), and the 2019 definition ``sum 4/3 pi R^3``
  of voids whose centre is inside.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np

from ..errors import ConfigError
from ..gridding import cic_project_z_ranges, sort_by_x_cell
from ..io import atomic_output, open_npy_for_writing

log = logging.getLogger(__name__)

MAX_INTERVALS_PER_LINE = 64


@dataclass(frozen=True)
class SubboxLattice:
    """Lattice of cubic subboxes in a periodic box.

    Attributes
    ----------
    box_size : float
        Side of the periodic box, Mpc/h.
    n_cells : int
        Cells per side of the box (image pixel = box_size / n_cells).
    size : int
        Subbox side in cells.
    stride : int
        Step between subbox origins in cells.
    wrap : bool
        Let origins run to ``n_cells - 1`` with subboxes wrapping around the box.
    count : int or None
        Origins per axis; ``None`` takes all that fit. The 2019 data used 22 (origins 0..777 in a
        1050 box, although 814 also fits), which gives its 10,648 subboxes.
    """

    box_size: float
    n_cells: int
    size: int
    stride: int
    wrap: bool = False
    count: int | None = None

    def __post_init__(self):
        if not 1 <= self.size <= self.n_cells:
            raise ConfigError(f"subbox size = {self.size} cells must be in [1, n_cells = {self.n_cells}]")
        if self.stride < 1:
            raise ConfigError(f"subbox stride = {self.stride} must be >= 1")
        fit = len(self._all_origins())
        if self.count is not None and not 1 <= self.count <= fit:
            raise ConfigError(f"subbox count = {self.count} per axis must be in [1, {fit}] "
                              f"(that many subboxes of {self.size} at stride {self.stride} fit)")

    @classmethod
    def from_config(cls, voids: dict) -> "SubboxLattice":
        """The lattice of ``config['voids']`` (``box_size`` and the ``subboxes`` section)."""
        sub = voids["subboxes"]
        return cls(voids["box_size"], sub["n_cells"], sub["size"], sub["stride"], sub["wrap"], sub["count"])

    def _all_origins(self) -> np.ndarray:
        last = self.n_cells - 1 if self.wrap else self.n_cells - self.size
        return np.arange(0, last + 1, self.stride, dtype=np.int64)

    @property
    def cell(self) -> float:
        """Cell (pixel) size in Mpc/h."""
        return self.box_size / self.n_cells

    @functools.cached_property
    def origins_1d(self) -> np.ndarray:
        """Origins along one axis in cells, shape (na,), int64 (computed once; do not modify)."""
        return self._all_origins()[: self.count]

    @functools.cached_property
    def n_per_axis(self) -> int:
        return len(self.origins_1d)

    @property
    def n_subboxes(self) -> int:
        return self.n_per_axis**3

    def origins(self) -> np.ndarray:
        """Origins of all subboxes in cells, shape (n_subboxes, 3), ordered by id."""
        o = self.origins_1d
        grid = np.stack(np.meshgrid(o, o, o, indexing="ij"), axis=-1)
        return grid.reshape(-1, 3)

    def subbox_id(self, i: int, j: int, k: int) -> int:
        return (i * self.n_per_axis + j) * self.n_per_axis + k

    def window(self, origin: int) -> np.ndarray | slice:
        """Cell indices of a subbox along one axis (a slice unless it wraps)."""
        if origin + self.size <= self.n_cells:
            return slice(origin, origin + self.size)
        return (origin + np.arange(self.size)) % self.n_cells


def _cut_window(plane: np.ndarray, lattice: SubboxLattice, ox: int, oy: int) -> np.ndarray:
    rows = plane[lattice.window(ox)]
    return rows[:, lattice.window(oy)]


def _block_reduce(window: np.ndarray, factor: int, how: str) -> np.ndarray:
    m = window.shape[0] // factor
    blocks = window.reshape(m, factor, m, factor)
    return blocks.mean(axis=(1, 3)) if how == "mean" else blocks.sum(axis=(1, 3))


def project_per_z_range(pos: np.ndarray, lattice: SubboxLattice, weights=None) -> np.ndarray:
    """CIC counts summed over each subbox z-range, over the whole box.

    Returns
    -------
    ndarray, shape (na, n_cells, n_cells), float32, indexed [z-origin index, x, y]
    """
    if len(pos) == 0:
        return np.zeros((lattice.n_per_axis, lattice.n_cells, lattice.n_cells), dtype=np.float32)
    pos_sorted, w_sorted, _ = sort_by_x_cell(pos, lattice.box_size, lattice.n_cells, weights)
    return cic_project_z_ranges(pos_sorted, lattice.box_size, lattice.n_cells, lattice.origins_1d,
                                lattice.size, w_sorted)


# ----------------------------------------------------------------------------- void fraction
@numba.njit(cache=True)
def _union_length(lo, hi, count):
    """Total length of the union of intervals lo[:count], hi[:count] (insertion sort by lo)."""
    for a in range(1, count):
        l, h = lo[a], hi[a]
        b = a - 1
        while b >= 0 and lo[b] > l:
            lo[b + 1] = lo[b]
            hi[b + 1] = hi[b]
            b -= 1
        lo[b + 1] = l
        hi[b + 1] = h
    total = 0.0
    cur_lo = lo[0]
    cur_hi = hi[0]
    for a in range(1, count):
        if lo[a] > cur_hi:
            total += cur_hi - cur_lo
            cur_lo = lo[a]
            cur_hi = hi[a]
        elif hi[a] > cur_hi:
            cur_hi = hi[a]
    return total + cur_hi - cur_lo


@numba.njit(parallel=True, cache=True)
def _fraction_plane(vx, vy, vz, vr, row_start, row_voids, n_lines, spacing, z_lo, z_hi, out, overflow):
    """Void fraction of every sight line (x_r, y_c) over z in [z_lo, z_hi); flags rows that overflow."""
    depth = z_hi - z_lo
    for r in numba.prange(n_lines):
        xs = (r + 0.5) * spacing
        lo = np.empty((n_lines, MAX_INTERVALS_PER_LINE))
        hi = np.empty((n_lines, MAX_INTERVALS_PER_LINE))
        cnt = np.zeros(n_lines, dtype=np.int64)
        for e in range(row_start[r], row_start[r + 1]):
            v = row_voids[e]
            dx = xs - vx[v]
            rem = vr[v] * vr[v] - dx * dx
            if rem <= 0.0:
                continue
            hy = np.sqrt(rem)
            c0 = max(0, int(np.ceil((vy[v] - hy) / spacing - 0.5)))
            c1 = min(n_lines - 1, int(np.floor((vy[v] + hy) / spacing - 0.5)))
            for c in range(c0, c1 + 1):
                dy = (c + 0.5) * spacing - vy[v]
                rem2 = rem - dy * dy
                if rem2 <= 0.0:
                    continue
                hz = np.sqrt(rem2)
                a = max(vz[v] - hz, z_lo)
                b = min(vz[v] + hz, z_hi)
                if b > a:
                    k = cnt[c]
                    if k >= MAX_INTERVALS_PER_LINE:
                        overflow[r] = 1
                        continue
                    lo[c, k] = a
                    hi[c, k] = b
                    cnt[c] = k + 1
        for c in range(n_lines):
            if cnt[c] > 0:
                out[r, c] = _union_length(lo[c], hi[c], cnt[c]) / depth
            else:
                out[r, c] = 0.0


def _periodic_images(voids: dict, box_size: float, z_lo: float, z_hi: float):
    """Copies of the voids shifted by multiples of L that touch [0, L)^2 x [z_lo, z_hi)."""
    x, y, z, r = (np.asarray(voids[k], dtype=np.float64) for k in ("x", "y", "z", "radius"))
    parts = []
    for sx in (-1, 0, 1):
        for sy in (-1, 0, 1):
            for sz in (-1, 0, 1, 2):
                xs, ys, zs = x + sx * box_size, y + sy * box_size, z + sz * box_size
                keep = ((xs + r > 0) & (xs - r < box_size) & (ys + r > 0) & (ys - r < box_size)
                        & (zs + r > z_lo) & (zs - r < z_hi))
                if keep.any():
                    parts.append(np.stack([xs[keep], ys[keep], zs[keep], r[keep]]))
    if not parts:
        return np.zeros((4, 0))
    return np.concatenate(parts, axis=1)


def void_fraction_plane(voids: dict, box_size: float, n_cells: int, z_lo: float, depth: float,
                        supersample: int = 2) -> np.ndarray:
    """Area-averaged fraction of each cell's sight line through ``[z_lo, z_lo + depth)`` inside voids.

    Parameters
    ----------
    voids : dict with ``x, y, z, radius`` arrays, Mpc/h
    box_size : float, Mpc/h
    n_cells : int
    z_lo, depth : float, Mpc/h
        The z-range (periodic; ``z_lo + depth`` may exceed ``box_size``).
    supersample : int
        Sight lines per cell along each axis (the pixel average uses ``supersample^2`` lines).

    Returns
    -------
    ndarray, shape (n_cells, n_cells), float32, indexed [x, y], values in [0, 1]
    """
    n_lines = n_cells * supersample
    spacing = box_size / n_lines
    ghosts = _periodic_images(voids, box_size, z_lo, z_lo + depth)
    gx, gy, gz, gr = ghosts
    first = np.clip(np.ceil((gx - gr) / spacing - 0.5), 0, n_lines).astype(np.int64)
    last = np.clip(np.floor((gx + gr) / spacing - 0.5), -1, n_lines - 1).astype(np.int64)
    spans = np.maximum(last - first + 1, 0)
    row_start = np.zeros(n_lines + 1, dtype=np.int64)
    rows = np.repeat(first, spans) + (np.arange(spans.sum()) - np.repeat(np.cumsum(spans) - spans, spans))
    owner = np.repeat(np.arange(len(gx)), spans)
    order = np.argsort(rows, kind="stable")
    row_voids = owner[order]
    np.add.at(row_start, rows + 1, 1)
    row_start = np.cumsum(row_start)
    fine = np.empty((n_lines, n_lines), dtype=np.float64)
    overflow = np.zeros(n_lines, dtype=np.uint8)
    _fraction_plane(gx, gy, gz, gr, row_start, row_voids, n_lines, spacing, z_lo, z_lo + depth, fine, overflow)
    if overflow.any():
        raise ValueError(f"more than {MAX_INTERVALS_PER_LINE} void spheres cross one sight line; "
                         "the void catalogue overlaps heavily or the subbox is very deep")
    return _block_reduce(fine, supersample, "mean").astype(np.float32)


# ----------------------------------------------------------------------------- counts
@numba.njit(cache=True)
def _count_centres(x, y, z, r, origins, size_mpc, box, n_per_axis, counts, volumes):
    for v in range(x.shape[0]):
        ii = np.empty(n_per_axis, dtype=np.int64)
        jj = np.empty(n_per_axis, dtype=np.int64)
        kk = np.empty(n_per_axis, dtype=np.int64)
        ni = nj = nk = 0
        for a in range(n_per_axis):
            if (x[v] - origins[a]) % box < size_mpc:
                ii[ni] = a
                ni += 1
            if (y[v] - origins[a]) % box < size_mpc:
                jj[nj] = a
                nj += 1
            if (z[v] - origins[a]) % box < size_mpc:
                kk[nk] = a
                nk += 1
        vol = 4.0 / 3.0 * np.pi * r[v] ** 3
        for a in range(ni):
            for b in range(nj):
                for c in range(nk):
                    s = (ii[a] * n_per_axis + jj[b]) * n_per_axis + kk[c]
                    counts[s] += 1
                    volumes[s] += vol


def void_centre_counts(voids: dict, lattice: SubboxLattice) -> tuple[np.ndarray, np.ndarray]:
    """Number of void centres inside each subbox and the sum of their sphere volumes.

    Returns
    -------
    n_voids : ndarray, shape (n_subboxes,), int64
    volume : ndarray, shape (n_subboxes,), float64, (Mpc/h)^3 (the 2019 target ``sum 4/3 pi R^3``)
    """
    counts = np.zeros(lattice.n_subboxes, dtype=np.int64)
    volumes = np.zeros(lattice.n_subboxes, dtype=np.float64)
    cols = [np.asarray(voids[k], dtype=np.float64) for k in ("x", "y", "z", "radius")]
    _count_centres(*cols, lattice.origins_1d * lattice.cell, lattice.size * lattice.cell, lattice.box_size,
                   lattice.n_per_axis, counts, volumes)
    return counts, volumes


# ----------------------------------------------------------------------------- driver
PRODUCTS = ("images", "void_fraction", "void_centres", "index")


def build_subbox_products(galaxy_pos: np.ndarray, voids: dict, lattice: SubboxLattice, map_size: int,
                          supersample: int, outputs: dict[str, str | Path]) -> dict:
    """Write galaxy images, void targets and the index table of every subbox.

    Parameters
    ----------
    galaxy_pos : ndarray, shape (N, 3), Mpc/h
    voids : dict with ``x, y, z, radius`` arrays (N_void,), Mpc/h
    lattice : SubboxLattice
    map_size : int
        Side of the void maps in pixels; must divide ``lattice.size``.
    supersample : int
        Sight lines per cell per axis for the void fraction.
    outputs : dict
        Paths for ``images`` (.npy, (M, S, S) float32), ``void_fraction`` and ``void_centres``
        (.npy, (M, m, m) float32) and ``index`` (.fits). All are written atomically together.

    Returns
    -------
    dict
        Summary numbers (counts, mean galaxies and voids per subbox).
    """
    if lattice.size % map_size:
        raise ConfigError(f"map_size = {map_size} must divide the subbox size {lattice.size} "
                          "(so each map pixel is a whole block of image pixels)")
    missing = set(PRODUCTS) - set(outputs)
    if missing:
        raise ValueError(f"missing output paths: {sorted(missing)}")
    factor = lattice.size // map_size
    n_sub, size = lattice.n_subboxes, lattice.size
    origins_1d = lattice.origins_1d
    depth = size * lattice.cell

    log.info("projecting %d galaxies over %d z-ranges", len(galaxy_pos), len(origins_1d))
    galaxy_planes = project_per_z_range(galaxy_pos, lattice)
    centre_pos = np.stack([voids["x"], voids["y"], voids["z"]], axis=1).astype(np.float32)
    centre_planes = project_per_z_range(centre_pos, lattice)
    n_voids, volume_centres = void_centre_counts(voids, lattice)
    n_galaxies = np.zeros(n_sub, dtype=np.float64)
    void_volume = np.zeros(n_sub, dtype=np.float64)

    with contextlib.ExitStack() as stack:
        tmp = {name: stack.enter_context(atomic_output(outputs[name])) for name in PRODUCTS}
        images = open_npy_for_writing(tmp["images"], (n_sub, size, size), np.float32)
        fraction = open_npy_for_writing(tmp["void_fraction"], (n_sub, map_size, map_size), np.float32)
        centres = open_npy_for_writing(tmp["void_centres"], (n_sub, map_size, map_size), np.float32)
        for k, oz in enumerate(origins_1d):
            plane = void_fraction_plane(voids, lattice.box_size, lattice.n_cells, oz * lattice.cell, depth,
                                        supersample)
            for i, ox in enumerate(origins_1d):
                for j, oy in enumerate(origins_1d):
                    s = lattice.subbox_id(i, j, k)
                    image = _cut_window(galaxy_planes[k], lattice, ox, oy)
                    images[s] = image
                    n_galaxies[s] = image.sum(dtype=np.float64)
                    fraction_map = _block_reduce(_cut_window(plane, lattice, ox, oy), factor, "mean")
                    fraction[s] = fraction_map
                    void_volume[s] = fraction_map.mean(dtype=np.float64) * depth**3
                    centres[s] = _block_reduce(_cut_window(centre_planes[k], lattice, ox, oy), factor, "sum")
        for array in (images, fraction, centres):
            array.flush()
        del images, fraction, centres
        _write_index(tmp["index"], lattice, map_size, supersample, n_galaxies, n_voids, void_volume, volume_centres)
    summary = {"n_subboxes": n_sub, "per_axis": lattice.n_per_axis,
               "galaxies_per_subbox_mean": float(n_galaxies.mean()),
               "voids_per_subbox_mean": float(n_voids.mean()), "voids_per_subbox_std": float(n_voids.std()),
               "void_volume_fraction_mean": float(void_volume.mean() / depth**3)}
    log.info("subboxes: %s", summary)
    return summary


def _write_index(path, lattice, map_size, supersample, n_galaxies, n_voids, void_volume, volume_centres):
    from astropy.table import Table

    origins = lattice.origins()
    table = Table()
    table["id"] = np.arange(lattice.n_subboxes, dtype=np.int64)
    for a, name in enumerate("xyz"):
        table[f"i{name}"] = origins[:, a].astype(np.int32)
        table[f"{name}0"] = (origins[:, a] * lattice.cell).astype(np.float32)
        table[f"{name}0"].description = "subbox origin, Mpc/h"
    table["n_galaxies"] = n_galaxies.astype(np.float32)
    table["n_voids"] = n_voids.astype(np.int32)
    table["void_volume"] = void_volume.astype(np.float32)
    table["void_volume"].description = "volume of the union of void spheres inside the subbox, (Mpc/h)^3"
    table["void_volume_centres"] = volume_centres.astype(np.float32)
    table["void_volume_centres"].description = "sum of 4/3 pi R^3 of voids centred inside, (Mpc/h)^3"
    table.meta.update({"BOXSIZE": lattice.box_size, "NCELLS": lattice.n_cells, "SUBBOX": lattice.size,
                       "STRIDE": lattice.stride, "WRAP": lattice.wrap, "PERAXIS": lattice.n_per_axis,
                       "MAPSIZE": map_size,
                       "SUPERSMP": supersample, "LENUNIT": "Mpc/h"})
    table.write(path, format="fits")


def lattice_from_index(path) -> SubboxLattice:
    """Rebuild the :class:`SubboxLattice` recorded in an index table's header."""
    from astropy.table import Table

    meta = Table.read(path, format="fits").meta
    return SubboxLattice(float(meta["BOXSIZE"]), int(meta["NCELLS"]), int(meta["SUBBOX"]), int(meta["STRIDE"]),
                         bool(meta["WRAP"]), int(meta["PERAXIS"]))

"""Cloud-In-Cell (CIC) mass assignment on periodic grids, in numba.

Conventions
-----------
* The box ``[0, box_size)^3`` (Mpc/h) is cut into ``n`` cells per side of size
  ``cell = box_size / n``. Cell ``i`` covers ``[i, i+1) * cell``; its value belongs to the
  cell centre ``(i + 1/2) * cell``. A particle at ``x`` therefore gives weight ``1 - f`` to
  cell ``i0 = floor(x / cell - 1/2)`` and ``f`` to ``i0 + 1`` (both modulo ``n``), with
  ``f = x / cell - 1/2 - i0``. A particle at a cell centre lands wholly in that cell.
* Grids are indexed ``[x, y, z]``; a projected image is ``[x, y]``.
* Grids hold counts (sum of weights), not density contrast: ``grid.sum() == weights.sum()``.

Speed
-----
CIC is bound by memory latency when particles arrive in random order. :func:`cic_deposit_3d`
therefore first counting-sorts the particles by (x-slab, block of ``Y_BLOCK`` y-rows) (two
streaming passes, O(N + n^2)), then deposits slabs in parallel: threads own disjoint groups of
slabs, processed in phases (even groups, then odd groups, then a leftover group) so no two
threads write the same slab. Each slab is zeroed just before it is first written, so at 512^3
(where N < n^3 and the grid itself is the memory traffic) the grid crosses memory once.
"""

from __future__ import annotations

import numba
import numpy as np

from ..errors import CatalogueError

_NB = dict(cache=True, nogil=True, fastmath=False)
Y_BLOCK = 64  # y-rows per sort bucket inside an x-slab; see _counting_sort_by_cell


def _as_positions(pos: np.ndarray) -> np.ndarray:
    pos = np.ascontiguousarray(pos, dtype=np.float32)
    if pos.ndim != 2 or pos.shape[1] != 3:
        raise CatalogueError(f"positions must have shape (N, 3), got {pos.shape}")
    return pos


_NO_WEIGHTS = np.empty(0, dtype=np.float32)  # kernels read a zero-length weight array as "all 1"


def _as_weights(weights, n_part: int) -> np.ndarray:
    if weights is None:
        return np.ones(n_part, dtype=np.float32)
    weights = np.ascontiguousarray(weights, dtype=np.float32)
    if weights.shape != (n_part,):
        raise CatalogueError(f"weights must have shape ({n_part},), got {weights.shape}")
    return weights


@numba.njit(**_NB)
def _node(coord, inv_cell, n):
    """Lower CIC node index (wrapped into [0, n)) and the weight fraction of the upper node."""
    u = coord * inv_cell - 0.5
    if u >= -1.0:
        i0 = int(u + 1.0) - 1  # truncation of a positive number is floor, and much cheaper
    else:
        i0 = int(np.floor(u))
    f = u - i0
    if i0 < 0 or i0 >= n:
        i0 %= n
    return i0, f


@numba.njit(**_NB)
def _x_slab(x, inv_cell, n):
    i0, _ = _node(x, inv_cell, n)
    return i0


@numba.njit(**_NB)
def _cell_key(x, y, inv_cell, n, y_block):
    """Sort key of a particle: x-slab major, then block of ``y_block`` y-rows (lower CIC nodes)."""
    ix, _ = _node(x, inv_cell, n)
    iy, _ = _node(y, inv_cell, n)
    return ix * ((n + y_block - 1) // y_block) + iy // y_block


@numba.njit(parallel=True, **_NB)
def _counting_sort_by_cell(pos, weights, inv_cell, n, y_block, n_chunks):
    """Stable parallel counting sort by (x-slab, y-block); returns sorted copies and slab offsets.

    Each thread owns a contiguous chunk of particles: a histogram pass per chunk, an exclusive
    scan over (key, chunk), then a scatter pass in which every chunk writes its own cursors.
    Sorting by y-block within a slab keeps the deposit's working set to a few grid rows
    (``2 * (y_block + 1) * n`` floats) instead of two whole ``n^2`` planes.
    """
    n_part = pos.shape[0]
    n_yb = (n + y_block - 1) // y_block
    n_keys = n * n_yb
    chunk = (n_part + n_chunks - 1) // n_chunks
    counts = np.zeros((n_chunks, n_keys), dtype=np.int64)
    key = np.empty(n_part, dtype=np.int32)
    for c in numba.prange(n_chunks):
        for p in range(c * chunk, min((c + 1) * chunk, n_part)):
            k = _cell_key(pos[p, 0], pos[p, 1], inv_cell, n, y_block)
            key[p] = k
            counts[c, k] += 1
    offsets = np.zeros(n + 1, dtype=np.int64)
    cursor = np.empty((n_chunks, n_keys), dtype=np.int64)
    total = 0
    for k in range(n_keys):
        if k % n_yb == 0:
            offsets[k // n_yb] = total
        for c in range(n_chunks):
            cursor[c, k] = total
            total += counts[c, k]
    offsets[n] = total
    pos_sorted = np.empty_like(pos)
    w_sorted = np.empty_like(weights)  # zero-length weights mean unit weights: nothing to copy
    has_weights = weights.shape[0] > 0
    for c in numba.prange(n_chunks):
        for p in range(c * chunk, min((c + 1) * chunk, n_part)):
            k = key[p]
            q = cursor[c, k]
            cursor[c, k] = q + 1
            pos_sorted[q, 0] = pos[p, 0]
            pos_sorted[q, 1] = pos[p, 1]
            pos_sorted[q, 2] = pos[p, 2]
            if has_weights:
                w_sorted[q] = weights[p]
    return pos_sorted, w_sorted, offsets


@numba.njit(**_NB)
def _slab_offsets(pos, inv_cell, n):
    """Slab offsets of particles already sorted by x-slab; returns -1 in offsets[0] if unsorted."""
    offsets = np.zeros(n + 1, dtype=np.int64)
    previous = 0
    for p in range(pos.shape[0]):
        s = _x_slab(pos[p, 0], inv_cell, n)
        if s < previous:
            offsets[0] = -1
            return offsets
        previous = s
        offsets[s + 1] += 1
    for s in range(n):
        offsets[s + 1] += offsets[s]
    return offsets


@numba.njit(**_NB)
def _deposit_range(pos, weights, start, stop, inv_cell, n, flat):
    """Deposit particles ``start:stop`` into the flat ``n^3`` grid (serial kernel).

    ``weights`` of length 0 stands for unit weights (saves a stream of N floats).
    """
    nn = n * n
    has_weights = weights.shape[0] > 0
    for p in range(start, stop):
        ix, fx = _node(pos[p, 0], inv_cell, n)
        iy, fy = _node(pos[p, 1], inv_cell, n)
        iz, fz = _node(pos[p, 2], inv_cell, n)
        jx = ix + 1 if ix + 1 < n else 0
        jy = iy + 1 if iy + 1 < n else 0
        jz = iz + 1 if iz + 1 < n else 0
        w = weights[p] if has_weights else np.float32(1.0)
        gx = 1.0 - fx
        gy = 1.0 - fy
        gz = 1.0 - fz
        a = ix * nn
        b = jx * nn
        c = iy * n
        d = jy * n
        flat[a + c + iz] += w * gx * gy * gz
        flat[a + c + jz] += w * gx * gy * fz
        flat[a + d + iz] += w * gx * fy * gz
        flat[a + d + jz] += w * gx * fy * fz
        flat[b + c + iz] += w * fx * gy * gz
        flat[b + c + jz] += w * fx * gy * fz
        flat[b + d + iz] += w * fx * fy * gz
        flat[b + d + jz] += w * fx * fy * fz


@numba.njit(**_NB)
def _zero_slab(flat, slab, nn):
    for i in range(slab * nn, (slab + 1) * nn):
        flat[i] = 0.0


@numba.njit(**_NB)
def _deposit_group(pos, weights, offsets, inv_cell, n, flat, first, last):
    """Zero and fill slabs ``first+1 .. last-1`` of a group, slab by slab, while they are in cache.

    Particles of slab ``s`` write slabs ``s`` and ``s+1``; slab ``s+1`` is zeroed just before, so
    each slab is zeroed once and then deposited into while still cache-resident. Slab ``first``
    (which the previous group also writes) is zeroed beforehand by the caller.
    """
    nn = n * n
    for s in range(first, last):
        if s + 1 < last:
            _zero_slab(flat, s + 1, nn)
        _deposit_range(pos, weights, offsets[s], offsets[s + 1], inv_cell, n, flat)


@numba.njit(parallel=True, **_NB)
def _deposit_sorted_parallel(pos, weights, offsets, inv_cell, n, flat, group):
    """Zero ``flat`` and deposit x-sorted particles; slab groups run in race-free phases.

    Group ``g`` owns slabs ``g*group .. (g+1)*group - 1`` and also writes the next group's first
    slab: groups two apart never touch the same slab, so even groups run together, then odd ones.
    With an odd number of groups the last one also touches slab 0 (periodic) and runs alone in a
    third phase. The first slab of every group is zeroed before any deposit; the other slabs are
    zeroed by their own group just before use (see :func:`_deposit_group`).
    """
    nn = n * n
    n_groups = (n + group - 1) // group
    for g in numba.prange(n_groups):
        _zero_slab(flat, g * group, nn)
    n_paired = n_groups - (n_groups % 2) if n_groups > 1 else n_groups
    for phase in range(2):
        n_phase = (n_paired - phase + 1) // 2
        for g in numba.prange(n_phase):
            first = (2 * g + phase) * group
            last = min(first + group, n)
            _deposit_group(pos, weights, offsets, inv_cell, n, flat, first, last)
    if n_paired < n_groups:
        _deposit_group(pos, weights, offsets, inv_cell, n, flat, n_paired * group, n)


def sort_by_x_cell(pos: np.ndarray, box_size: float, n: int, weights=None):
    """Counting-sort particles by the x-slab of their lower CIC node, then by blocks of ``Y_BLOCK`` y-rows.

    Parameters
    ----------
    pos : ndarray, shape (N, 3), float32, Mpc/h
    box_size : float, Mpc/h
    n : int
        Cells per side.
    weights : ndarray, shape (N,), optional

    Returns
    -------
    pos_sorted : ndarray, shape (N, 3), float32
    weights_sorted : ndarray, shape (N,), float32
    offsets : ndarray, shape (n + 1,), int64
        Particles of slab ``s`` are ``offsets[s]:offsets[s+1]``.
    """
    pos = _as_positions(pos)
    weights = _as_weights(weights, len(pos))
    return _counting_sort_by_cell(pos, weights, n / box_size, n, Y_BLOCK, numba.get_num_threads())


def cic_deposit_3d(pos: np.ndarray, box_size: float, n: int, weights=None,
                   presorted: bool = False, out: np.ndarray | None = None) -> np.ndarray:
    """CIC-assign particles onto a periodic ``n^3`` grid.

    Parameters
    ----------
    pos : ndarray, shape (N, 3), Mpc/h
        Positions; values outside ``[0, box_size)`` are wrapped periodically.
    box_size : float
        Side of the periodic box, Mpc/h.
    n : int
        Cells per side.
    weights : ndarray, shape (N,), optional
        Particle weights (default 1).
    presorted : bool
        Skip the counting sort if ``pos`` is already ordered by x-slab (see :func:`sort_by_x_cell`).
    out : ndarray, shape (n, n, n), float32, C-contiguous, optional
        Grid to reuse (overwritten), which saves the page faults of a fresh ``n^3`` array.

    Returns
    -------
    grid : ndarray, shape (n, n, n), float32, indexed [x, y, z]
        Sum of CIC weights per cell; ``grid.sum() == weights.sum()`` to float32 rounding.

    Notes
    -----
    Cost O(N + n^3) time, ``n^3`` float32 memory plus one sorted copy of the particles.
    """
    pos = _as_positions(pos)
    weights = _NO_WEIGHTS if weights is None else _as_weights(weights, len(pos))
    inv_cell = n / box_size
    if presorted:
        offsets = _slab_offsets(pos, inv_cell, n)
        if offsets[0] < 0:
            raise ValueError("presorted=True but positions are not sorted by x-slab")
        pos_s, w_s = pos, weights
    else:
        pos_s, w_s, offsets = _counting_sort_by_cell(pos, weights, inv_cell, n, Y_BLOCK, numba.get_num_threads())
    if out is None:
        flat = np.empty(n * n * n, dtype=np.float32)  # zeroed slab by slab in the deposit
    else:
        if out.shape != (n, n, n) or out.dtype != np.float32 or not out.flags.c_contiguous:
            raise ValueError(f"out must be a C-contiguous float32 array of shape {(n, n, n)}")
        flat = out.reshape(-1)
    group = max(2, n // (4 * numba.get_num_threads()))
    _deposit_sorted_parallel(pos_s, w_s, offsets, inv_cell, n, flat, group)
    return flat.reshape(n, n, n)


@numba.njit(**_NB)
def cic_deposit_3d_reference(pos, weights, box_size, n):
    """Plain serial CIC in random order: the reference that benchmarks and tests compare with."""
    flat = np.zeros(n * n * n, dtype=np.float32)
    _deposit_range(pos, weights, 0, pos.shape[0], n / box_size, n, flat)
    return flat.reshape((n, n, n))


@numba.njit(**_NB)
def _z_weight(z, inv_cell, n, z_lo, n_z):
    """Fraction of a particle's CIC z-kernel that falls in cells ``z_lo .. z_lo+n_z-1`` (mod n)."""
    iz, fz = _node(z, inv_cell, n)
    jz = iz + 1 if iz + 1 < n else 0
    w = 0.0
    if (iz - z_lo) % n < n_z:
        w += 1.0 - fz
    if (jz - z_lo) % n < n_z:
        w += fz
    return w


@numba.njit(**_NB)
def _deposit_2d(x, y, w, inv_cell, n, image):
    ix, fx = _node(x, inv_cell, n)
    iy, fy = _node(y, inv_cell, n)
    jx = ix + 1 if ix + 1 < n else 0
    jy = iy + 1 if iy + 1 < n else 0
    image[ix, iy] += w * (1.0 - fx) * (1.0 - fy)
    image[ix, jy] += w * (1.0 - fx) * fy
    image[jx, iy] += w * fx * (1.0 - fy)
    image[jx, jy] += w * fx * fy


@numba.njit(parallel=True, **_NB)
def _project_ranges(pos, weights, inv_cell, n, z_los, n_z, images):
    for r in numba.prange(z_los.shape[0]):
        z_lo = z_los[r]
        image = images[r]
        for p in range(pos.shape[0]):
            wz = _z_weight(pos[p, 2], inv_cell, n, z_lo, n_z)
            if wz > 0.0:
                _deposit_2d(pos[p, 0], pos[p, 1], weights[p] * wz, inv_cell, n, image)


def cic_project_z_ranges(pos: np.ndarray, box_size: float, n: int, z_lo_cells, n_z_cells: int,
                         weights=None) -> np.ndarray:
    """Project the 3-D CIC field along z over several periodic z-ranges, without a 3-D grid.

    For range ``r`` the result equals ``cic_deposit_3d(pos, box_size, n)[:, :, cells].sum(axis=2)``
    with ``cells = (z_lo_cells[r] + arange(n_z_cells)) % n``: each particle is deposited in 2-D
    with the fraction of its z-kernel that falls inside the range.

    Parameters
    ----------
    pos : ndarray, shape (N, 3), Mpc/h
    box_size : float, Mpc/h
    n : int
        Cells per side of the full box.
    z_lo_cells : sequence of int, length R
        First z cell of each range.
    n_z_cells : int
        Depth of every range in cells (1 <= n_z_cells <= n).
    weights : ndarray, shape (N,), optional

    Returns
    -------
    images : ndarray, shape (R, n, n), float32, indexed [range, x, y]

    Notes
    -----
    Cost O(R N) cheap z-tests plus O(N n_z / n) 2-D deposits per range; memory R n^2 floats.
    Ranges run in parallel; sort the particles by x first (:func:`sort_by_x_cell`) for cache locality.
    """
    pos = _as_positions(pos)
    weights = _as_weights(weights, len(pos))
    if not 1 <= n_z_cells <= n:
        raise ValueError(f"n_z_cells = {n_z_cells} must be in [1, {n}]")
    z_los = np.asarray(z_lo_cells, dtype=np.int64) % n
    images = np.zeros((len(z_los), n, n), dtype=np.float32)
    _project_ranges(pos, weights, n / box_size, n, z_los, n_z_cells, images)
    return images


def cic_project_z(pos: np.ndarray, box_size: float, n: int, z_lo_cell: int = 0, n_z_cells: int | None = None,
                  weights=None) -> np.ndarray:
    """Project the CIC field along z over one periodic range of cells; see :func:`cic_project_z_ranges`.

    Returns
    -------
    image : ndarray, shape (n, n), float32, indexed [x, y]
    """
    depth = n if n_z_cells is None else n_z_cells
    return cic_project_z_ranges(pos, box_size, n, [z_lo_cell], depth, weights)[0]

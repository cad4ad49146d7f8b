"""Spherical void finder of Banerjee & Dalal (2016, JCAP 11, 015), as Pylians implements it.

Algorithm
---------
1. The galaxies are CIC-assigned to an ``n^3`` grid; ``delta = rho / mean(rho) - 1``.
2. For each trial radius ``R`` from the largest down, ``delta`` is smoothed with a spherical
   top-hat of radius ``R`` by FFT: ``delta_R = IFFT(FFT(delta) W(kR))``,
   ``W(x) = 3 (sin x - x cos x) / x^3``.
3. Cells with ``delta_R < threshold`` that are not yet inside a void become candidates, taken
   from the most underdense up.
4. A candidate becomes a void of radius ``R`` centred on its cell centre if its sphere overlaps
   no void found so far (centre distance ``>= R_old + R``, periodic; tested exactly with a hash
   of void centres). The cells strictly inside it are then marked as void cells; the marks only
   speed things up (a marked cell within ``R`` of a candidate proves an overlap).

The result is a set of non-overlapping spheres, largest first; each void's ``delta_in`` is the
top-hat mean contrast inside it. Positions are quantised to cell centres and radii to the trial
list. For an empty sphere of radius ``R0`` in a uniform field, the mean contrast inside ``R``
is ``-(R0/R)^3``, so the finder reports the largest trial ``R <= R0 (-threshold)^(-1/3)``
(1.126 R0 for the default threshold -0.7).

Complexity
----------
Time ``O(n_R n^3 log n)`` for the FFTs, plus ``O(N_cand k)`` overlap tests (``k`` = voids in the
27 neighbouring hash cells of side ``>= 2 R_max``), plus ``O(sum_voids (R / cell)^3)`` marking.
Memory about ``4 n^3`` float32 (256^3: 0.3 GB, 512^3: 2.2 GB).
"""

from __future__ import annotations

import logging

import numba
import numpy as np
import scipy.fft

from ..cosmology import tophat_window
from ..errors import ConfigError
from ..gridding import cic_deposit_3d

log = logging.getLogger(__name__)


@numba.njit(cache=True)
def _periodic_d2(dx, dy, dz, box):
    half = 0.5 * box
    if dx > half:
        dx -= box
    elif dx < -half:
        dx += box
    if dy > half:
        dy -= box
    elif dy < -half:
        dy += box
    if dz > half:
        dz -= box
    elif dz < -half:
        dz += box
    return dx * dx + dy * dy + dz * dz


@numba.njit(cache=True)
def _hash_cell(x, y, z, hash_size, n_hash):
    hx = min(int(x / hash_size), n_hash - 1)
    hy = min(int(y / hash_size), n_hash - 1)
    hz = min(int(z / hash_size), n_hash - 1)
    return hx, hy, hz


@numba.njit(cache=True)
def _overlaps(x, y, z, radius, vx, vy, vz, vr, head, nxt, hash_size, n_hash, box):
    """True if a sphere at (x, y, z) of ``radius`` overlaps any stored void."""
    hx, hy, hz = _hash_cell(x, y, z, hash_size, n_hash)
    span = 1 if n_hash >= 3 else 0
    for ax in range(-span, span + 1):
        for ay in range(-span, span + 1):
            for az in range(-span, span + 1):
                if n_hash >= 3:
                    h = (((hx + ax) % n_hash) * n_hash + (hy + ay) % n_hash) * n_hash + (hz + az) % n_hash
                else:
                    h = -1
                if h >= 0:
                    v = head[h]
                    while v >= 0:
                        reach = vr[v] + radius
                        if _periodic_d2(vx[v] - x, vy[v] - y, vz[v] - z, box) < reach * reach:
                            return True
                        v = nxt[v]
    if n_hash < 3:  # tiny box: every void is a neighbour
        v = head[0]
        while v >= 0:
            reach = vr[v] + radius
            if _periodic_d2(vx[v] - x, vy[v] - y, vz[v] - z, box) < reach * reach:
                return True
            v = nxt[v]
    return False


@numba.njit(cache=True)
def _marked_within(ix, iy, iz, m, r2_cells, n, in_void):
    """True if a void cell lies strictly within the trial radius: a sure overlap (fast reject).

    A marked cell centre p obeys |p - c_old| < R_old; if also |p - c| < R then |c - c_old| < R_old + R.
    """
    for ax in range(-m, m + 1):
        for ay in range(-m, m + 1):
            for az in range(-m, m + 1):
                if ax * ax + ay * ay + az * az < r2_cells:
                    j = (((ix + ax) % n) * n + (iy + ay) % n) * n + (iz + az) % n
                    if in_void[j]:
                        return True
    return False


@numba.njit(cache=True)
def _accept_candidates(candidates, delta_r, radius, n, box, in_void, vx, vy, vz, vr, vdelta,
                       count, head, nxt, hash_size, n_hash):
    """Walk candidate cells (most underdense first) and accept non-overlapping voids; return count."""
    cell = box / n
    m = int(np.ceil(radius / cell))
    r2_cells = (radius / cell) ** 2
    for c in candidates:
        if in_void[c]:
            continue
        ix = c // (n * n)
        iy = (c // n) % n
        iz = c % n
        x = (ix + 0.5) * cell
        y = (iy + 0.5) * cell
        z = (iz + 0.5) * cell
        if _marked_within(ix, iy, iz, m, r2_cells, n, in_void):
            continue
        if _overlaps(x, y, z, radius, vx, vy, vz, vr, head, nxt, hash_size, n_hash, box):
            continue
        if count >= vx.shape[0]:
            return -1
        vx[count] = x
        vy[count] = y
        vz[count] = z
        vr[count] = radius
        vdelta[count] = delta_r[c]
        if n_hash >= 3:
            hx, hy, hz = _hash_cell(x, y, z, hash_size, n_hash)
            h = (hx * n_hash + hy) * n_hash + hz
        else:
            h = 0
        nxt[count] = head[h]
        head[h] = count
        count += 1
        for ax in range(-m, m + 1):
            for ay in range(-m, m + 1):
                for az in range(-m, m + 1):
                    if ax * ax + ay * ay + az * az < r2_cells:
                        j = (((ix + ax) % n) * n + (iy + ay) % n) * n + (iz + az) % n
                        in_void[j] = 1
    return count


def _integer_k2_grid(n: int, box_size: float) -> tuple[np.ndarray, np.ndarray]:
    """``m = i^2 + j^2 + l^2`` of every rfftn mode and the |k| (h/Mpc) of each possible ``m``.

    Returns
    -------
    m : ndarray, shape (n, n, n // 2 + 1), int32
    k_of_m : ndarray, shape (max(m) + 1,), float64
    """
    i = np.fft.fftfreq(n, d=1.0 / n).astype(np.int32)
    l = np.arange(n // 2 + 1, dtype=np.int32)
    m = i[:, None, None] ** 2 + i[None, :, None] ** 2 + l[None, None, :] ** 2
    k_of_m = 2.0 * np.pi / box_size * np.sqrt(np.arange(int(m.max()) + 1, dtype=np.float64))
    return m, k_of_m


def density_contrast(pos: np.ndarray, box_size: float, n: int) -> np.ndarray:
    """CIC density contrast ``rho / mean(rho) - 1`` of particles.

    Parameters
    ----------
    pos : ndarray, shape (N, 3), Mpc/h
    box_size : float, Mpc/h
    n : int

    Returns
    -------
    ndarray, shape (n, n, n), float32, indexed [x, y, z]
    """
    grid = cic_deposit_3d(pos, box_size, n)
    grid *= np.float32(n**3 / len(pos))
    grid -= 1.0
    return grid


def find_voids(delta: np.ndarray, box_size: float, radii, threshold: float = -0.7) -> dict[str, np.ndarray]:
    """Find non-overlapping spherical voids in a periodic density-contrast grid.

    Parameters
    ----------
    delta : ndarray, shape (n, n, n), float
        Density contrast, indexed [x, y, z].
    box_size : float, Mpc/h
    radii : sequence of float, Mpc/h
        Trial radii; each must be at least one cell and below half the box.
    threshold : float
        A sphere is a void when its mean contrast is below this (in (-1, 0)).

    Returns
    -------
    dict with ndarrays of shape (N_void,), float32
        ``x, y, z`` (centre, Mpc/h, at cell centres), ``radius`` (Mpc/h), ``delta_in`` (mean
        contrast inside), ordered by decreasing radius then increasing ``delta_in``.
    """
    n = delta.shape[0]
    if delta.shape != (n, n, n):
        raise ValueError(f"delta must be a cubic grid, got shape {delta.shape}")
    radii = np.unique(np.asarray(radii, dtype=np.float64))[::-1]
    cell = box_size / n
    if len(radii) == 0 or radii[-1] < cell or radii[0] >= box_size / 2:
        raise ConfigError(f"void radii must lie in [cell = {cell:.4g}, box/2 = {box_size / 2:.4g}) Mpc/h, "
                          f"got {radii[::-1].tolist()}")
    if not -1.0 < threshold < 0.0:
        raise ConfigError(f"void threshold = {threshold} must lie in (-1, 0)")

    max_voids = int(0.75 * box_size**3 / (4.0 / 3.0 * np.pi * radii[-1] ** 3)) + 16
    vx, vy, vz, vr, vdelta = (np.zeros(max_voids, dtype=np.float64) for _ in range(5))
    nxt = np.full(max_voids, -1, dtype=np.int64)
    n_hash = max(1, int(box_size // (2.0 * radii[0])))
    hash_size = box_size / n_hash
    head = np.full(max(1, n_hash) ** 3, -1, dtype=np.int64)
    in_void = np.zeros(n**3, dtype=np.uint8)
    count = 0

    delta_k = scipy.fft.rfftn(np.asarray(delta, dtype=np.float32), workers=-1)
    k_index, k_values = _integer_k2_grid(n, box_size)
    for radius in radii:
        # |k| takes few distinct values: evaluate W on those and gather (exact, ~30x faster)
        window = tophat_window(k_values * radius).astype(np.float32)[k_index]
        delta_r = scipy.fft.irfftn(delta_k * window, s=(n, n, n), axes=(0, 1, 2), workers=-1).ravel()
        del window
        below = np.flatnonzero((delta_r < threshold) & (in_void == 0))
        candidates = below[np.argsort(delta_r[below], kind="stable")]
        found_before = count
        count = _accept_candidates(candidates, delta_r, radius, n, box_size, in_void, vx, vy, vz, vr, vdelta,
                                   count, head, nxt, hash_size, n_hash)
        if count < 0:  # cannot happen for non-overlapping spheres; guards the packing bound
            raise RuntimeError("void capacity exceeded")
        log.info("R = %6.2f Mpc/h: %8d candidates, %6d voids", radius, len(candidates), count - found_before)
    return {"x": vx[:count].astype(np.float32), "y": vy[:count].astype(np.float32),
            "z": vz[:count].astype(np.float32), "radius": vr[:count].astype(np.float32),
            "delta_in": vdelta[:count].astype(np.float32)}

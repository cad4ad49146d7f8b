"""Gaussian random fields and their Zel'dovich displacement on periodic grids (shared by the stages).

Units: box sizes and displacements in Mpc/h, wavenumbers in h/Mpc (as :mod:`cosmodl.cosmology`).
Fourier convention: ``scipy.fft.rfftn`` (unnormalised forward DFT), so ``irfftn(delta_k)`` is the
real-space field.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from .cosmology import Cosmology, linear_power


def fourier_grid(n: int, box_size: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Wavenumber components (h/Mpc) of an ``rfftn`` grid, shaped for broadcasting.

    Returns
    -------
    kx, ky : ndarray, shapes (n, 1, 1) and (1, n, 1), float32
    kz : ndarray, shape (1, 1, n // 2 + 1), float32
    """
    k = (2.0 * np.pi * np.fft.fftfreq(n, d=box_size / n)).astype(np.float32)
    kz = (2.0 * np.pi * np.fft.rfftfreq(n, d=box_size / n)).astype(np.float32)
    return k[:, None, None], k[None, :, None], kz[None, None, :]


def gaussian_density_k(n: int, box_size: float, cosmo: Cosmology, redshift: float,
                       rng: np.random.Generator, workers: int = -1) -> np.ndarray:
    """Fourier modes of a Gaussian linear density field with power spectrum ``P(k, z)``.

    Parameters
    ----------
    n : int
        Cells per side.
    box_size : float, Mpc/h
    cosmo : Cosmology
    redshift : float
    rng : numpy Generator
    workers : int
        Threads for scipy.fft (-1 = all).

    Returns
    -------
    delta_k : ndarray, shape (n, n, n // 2 + 1), complex64
        Unnormalised DFT (``scipy.fft.rfftn`` convention) of the real-space contrast, so that
        ``irfftn(delta_k)`` is ``delta(x)`` with ``<|delta_k|^2> = P(k) n^6 / V_box``.
    """
    cell_volume = (box_size / n) ** 3
    white = rng.standard_normal((n, n, n), dtype=np.float32)
    delta_k = scipy.fft.rfftn(white, workers=workers)
    del white
    kx, ky, kz = fourier_grid(n, box_size)
    k = np.sqrt(kx**2 + ky**2 + kz**2)
    amplitude = np.zeros_like(k)
    nonzero = k > 0
    amplitude[nonzero] = np.sqrt(linear_power(k[nonzero], cosmo, redshift) / cell_volume).astype(np.float32)
    delta_k *= amplitude
    delta_k[0, 0, 0] = 0.0
    return delta_k


def zeldovich_displacement(delta_k: np.ndarray, box_size: float, workers: int = -1) -> np.ndarray:
    """Zel'dovich displacement field ``Psi = IFFT(i k delta_k / k^2)``.

    Parameters
    ----------
    delta_k : ndarray, shape (n, n, n // 2 + 1), complex
    box_size : float, Mpc/h

    Returns
    -------
    psi : ndarray, shape (3, n, n, n), float32, Mpc/h, components [x, y, z]
    """
    n = delta_k.shape[0]
    kx, ky, kz = fourier_grid(n, box_size)
    k2 = kx**2 + ky**2 + kz**2
    k2[0, 0, 0] = 1.0
    psi = np.empty((3, n, n, n), dtype=np.float32)
    for axis, k_axis in enumerate((kx, ky, kz)):
        psi[axis] = scipy.fft.irfftn(1j * k_axis / k2 * delta_k, s=(n, n, n), axes=(0, 1, 2), workers=workers)
    return psi

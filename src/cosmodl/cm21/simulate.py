"""A light semi-numerical reionisation generator in the manner of 21cmFAST v2 (numpy + numba).

Recipe (note 21cm.md section 2), per realization (one seed, one ionising efficiency zeta):

1. Linear Gaussian density at z = 0 on ``dim^3`` cells with the EH98 no-wiggle P(k) normalised
   to sigma8 (:mod:`cosmodl.fields`); its Zel'dovich displacement ``Psi``.
2. For every redshift: particles on the Lagrangian cell centres move by ``D(z) Psi`` and are
   CIC-deposited back (:mod:`cosmodl.gridding`): the evolved density ``delta(z)``
   (21cmFAST's ``updated_smoothed_deltax``). Every redshift of a realization shares one field.
3. Excursion-set ionisation (21cmFAST's ``find_HII_bubbles``, "centre" algorithm): for R from
   ``R_max`` down by factors of 1.1 to the cell scale, filter ``delta`` with a sharp-k filter
   (modes with ``0.4136 k R <= 1``), take the collapsed fraction
   ``f_coll = erfc[(delta_c - delta_R) / (D(z) sqrt(2 (sigma^2(M_min) - sigma^2(M_R))))]``,
   rescale it so its box mean is the Sheth-Tormen (or Press-Schechter) mean at z, and mark a
   cell ionised where ``zeta f_coll >= 1`` at any R. At the cell scale, cells still neutral
   keep ``x_HI = 1 - zeta f_coll`` (partial ionisation).
4. ``delta_T_b = 27 x_HI (1 + delta) (Omega_b h^2 / 0.023) sqrt(0.15 / (Omega_m h^2) (1 + z) / 10)``
   mK, spin temperature >> T_CMB, no velocity term.

Units: box lengths and radii in comoving Mpc (as 21cmFAST), masses in Msun; the kit's field
and cosmology functions take Mpc/h, so lengths are multiplied by h on the way in.

Left out of 21cmFAST: the higher-resolution initial grid (DIM = 4 HII_DIM), 2LPT, the
velocity term of delta_T_b, inhomogeneous recombinations and Poisson halo scatter. They move
the statistics a little; the tests compare ours with the real boxes' figures within stated
tolerances (README).
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass

import numba
import numpy as np
import scipy.fft
import scipy.special

from ..cosmology import Cosmology, growth_factor, sigma_r
from ..errors import ConfigError
from ..fields import fourier_grid, gaussian_density_k, zeldovich_displacement
from ..gridding import cic_deposit_3d

log = logging.getLogger(__name__)

L_FACTOR = 0.620350491  # (4 pi / 3)^(-1/3): radius of the sphere of one cell's volume, in cell sides
SHARP_K = 0.413566994  # sharp-k filter: keep k R SHARP_K <= 1 (equal volume to the real-space top-hat)
RHO_CRIT_H2 = 2.77536627e11  # critical density today / h^2, Msun / Mpc^3
SHETH_TORMEN = (0.353, 0.73, 0.175)  # A, a, p: the Jenkins et al. (2001) refit 21cmFAST uses (SHETH_A, _a, _p)


@dataclass(frozen=True)
class Reionisation:
    """Parameters of one generator run (``cm21.simulate`` in the config).

    Attributes
    ----------
    dim : int
        Cells per side (HII_DIM).
    box_len : float
        Side in comoving Mpc (BOX_LEN).
    zeta : float
        Ionising efficiency (250 f_esc in the MAIS 202 boxes).
    m_min : float
        Minimum mass of ionising haloes, Msun (used when ``t_vir_min`` is None).
    t_vir_min : float or None
        Minimum virial temperature of ionising haloes, K; sets a redshift-dependent
        ``M_min(z)`` (:func:`mass_of_virial_temperature`) as 21cmFAST's ``ION_Tvir_MIN``.
    r_max : float
        Largest bubble radius, comoving Mpc (R_BUBBLE_MAX).
    delta_c : float
        Critical linear overdensity of collapse.
    mean_collapse : {'sheth_tormen', 'press_schechter'}
        Which mean collapsed fraction the box's f_coll is rescaled to.
    """

    dim: int
    box_len: float
    zeta: float
    m_min: float = 1e9
    r_max: float = 15.0
    delta_c: float = 1.68
    mean_collapse: str = "sheth_tormen"
    t_vir_min: float | None = None

    def __post_init__(self):
        if self.dim < 8:
            raise ConfigError(f"cm21.simulate.dim = {self.dim}: needs at least 8 cells per side")
        for key in ("box_len", "zeta", "m_min", "r_max", "delta_c"):
            if not getattr(self, key) > 0:
                raise ConfigError(f"cm21.simulate.{key} = {getattr(self, key)}: must be > 0")
        if self.mean_collapse not in ("sheth_tormen", "press_schechter"):
            raise ConfigError(f"cm21.simulate.mean_collapse = {self.mean_collapse!r}: "
                              "expected 'sheth_tormen' or 'press_schechter'")

        if self.t_vir_min is not None and not self.t_vir_min >= 1e4:
            raise ConfigError(f"cm21.simulate.t_vir_min = {self.t_vir_min}: must be >= 1e4 K (atomic cooling)")

    @property
    def cell(self) -> float:
        """Cell side, comoving Mpc."""
        return self.box_len / self.dim

    def min_mass(self, redshift: float, cosmo: Cosmology) -> float:
        """Minimum ionising halo mass at ``redshift``, Msun."""
        if self.t_vir_min is None:
            return self.m_min
        return mass_of_virial_temperature(self.t_vir_min, redshift, cosmo)


def mass_of_virial_temperature(t_vir: float, redshift: float, cosmo: Cosmology, mu: float = 0.6) -> float:
    """Halo mass (Msun) of virial temperature ``t_vir`` (K), Barkana & Loeb (2001) eq. 26.

    ``M = 1e8 / h (mu / 0.6)^-1.5 (Om / Om(z) Delta_c / (18 pi^2))^-0.5 (T / 1.98e4 K)^1.5 ((1 + z) / 10)^-1.5``
    with ``Delta_c = 18 pi^2 + 82 d - 39 d^2``, ``d = Om(z) - 1`` (flat).
    """
    a3 = (1.0 + redshift) ** 3
    om_z = cosmo.Om0 * a3 / (cosmo.Om0 * a3 + 1.0 - cosmo.Om0)
    d = om_z - 1.0
    delta_vir = 18 * np.pi**2 + 82 * d - 39 * d**2
    return float(1e8 / cosmo.h * (mu / 0.6) ** -1.5 * (cosmo.Om0 / om_z * delta_vir / (18 * np.pi**2)) ** -0.5
                 * (t_vir / 1.98e4) ** 1.5 * ((1.0 + redshift) / 10.0) ** -1.5)


def filter_radii(p: Reionisation) -> np.ndarray:
    """Radii (Mpc) of the excursion-set loop, largest first, ending at the cell scale.

    ``R_max`` is capped at ``L_FACTOR * box_len``; each step divides by 1.1 while above the cell
    scale ``L_FACTOR * cell``, which is the last radius.
    """
    r_cell = L_FACTOR * p.cell
    r = min(p.r_max, L_FACTOR * p.box_len)
    radii = []
    while r > r_cell:
        radii.append(r)
        r /= 1.1
    return np.array(radii + [r_cell])


def mass_of_radius(radius_mpc, cosmo: Cosmology):
    """Mean mass (Msun) in a sphere of comoving radius ``radius_mpc`` (Mpc)."""
    return 4.0 / 3.0 * np.pi * np.asarray(radius_mpc, dtype=np.float64) ** 3 * cosmo.Om0 * RHO_CRIT_H2 * cosmo.h**2


def radius_of_mass(mass, cosmo: Cosmology):
    """Comoving radius (Mpc) of the sphere holding ``mass`` (Msun) at the mean density."""
    return (3.0 * np.asarray(mass, dtype=np.float64) / (4.0 * np.pi * cosmo.Om0 * RHO_CRIT_H2 * cosmo.h**2)) ** (1 / 3)


@functools.lru_cache(maxsize=8)
def _sigma_table(cosmo: Cosmology) -> tuple[np.ndarray, np.ndarray]:
    log_r = np.linspace(np.log(0.01), np.log(300.0), 96)  # Mpc
    return log_r, np.log(sigma_r(np.exp(log_r) * cosmo.h, cosmo))


def sigma_of_mass(mass, cosmo: Cosmology) -> np.ndarray:
    """Linear rms contrast at z = 0 in top-hats of mass ``mass`` (Msun), log-log interpolated."""
    log_r, log_s = _sigma_table(cosmo)
    return np.exp(np.interp(np.log(radius_of_mass(mass, cosmo)), log_r, log_s))


def mean_collapsed_fraction(redshift: float, m_min: float, cosmo: Cosmology, delta_c: float = 1.68,
                            kind: str = "sheth_tormen") -> float:
    """Mass fraction in haloes above ``m_min`` (Msun) at ``redshift``.

    Press-Schechter: ``erfc(nu / sqrt 2)`` with ``nu = delta_c / (sigma(M_min) D(z))``.
    Sheth-Tormen: ``int_nu^inf A sqrt(2a/pi) (1 + (a x^2)^-p) exp(-a x^2 / 2) dx``.
    """
    nu = delta_c / (float(sigma_of_mass(m_min, cosmo)) * growth_factor(redshift, cosmo))
    if kind == "press_schechter":
        return float(math.erfc(nu / math.sqrt(2.0)))
    big_a, a, p = SHETH_TORMEN
    x = np.linspace(nu, nu + 40.0, 40001)
    integrand = big_a * np.sqrt(2 * a / np.pi) * (1 + (a * x**2) ** -p) * np.exp(-a * x**2 / 2)
    return float(np.trapezoid(integrand, x))


@numba.njit(parallel=True, cache=True)
def _mean_fcoll(delta_r, delta_c, scale):
    """Box mean of ``min(erfc((delta_c - max(delta_R, -1 + 1e-7)) / scale), 1)``."""
    flat = delta_r.ravel()
    total = 0.0
    for i in numba.prange(flat.size):
        d = max(flat[i], -1.0 + 1e-7)
        total += min(math.erfc((delta_c - d) / scale), 1.0)
    return total / flat.size


def density_at(psi: np.ndarray, growth: float, box_len_h: float, lagrangian: np.ndarray) -> np.ndarray:
    """Evolved density contrast: Lagrangian cell centres moved by ``growth * psi``, CIC-deposited.

    Parameters
    ----------
    psi : ndarray (3, n, n, n) float32, Mpc/h
        Zel'dovich displacement of the z = 0 linear field.
    growth : float
        D(z) / D(0).
    box_len_h : float, Mpc/h
    lagrangian : ndarray (n^3, 3) float32, Mpc/h
        Cell centres, [x, y, z] in C order.

    Returns
    -------
    delta : ndarray (n, n, n) float32, [x, y, z]
    """
    n = psi.shape[1]
    pos = lagrangian + np.float32(growth) * psi.reshape(3, -1).T
    grid = cic_deposit_3d(pos, box_len_h, n)
    return grid / np.float32(len(pos) / n**3) - np.float32(1.0)


def neutral_fraction(delta: np.ndarray, redshift: float, p: Reionisation, cosmo: Cosmology,
                     workers: int = 1) -> np.ndarray:
    """Neutral fraction per cell from the excursion set (module docstring, step 3).

    Parameters
    ----------
    delta : ndarray (n, n, n) float32
        Evolved density contrast at ``redshift``.

    Returns
    -------
    x_hi : ndarray (n, n, n) float32 in [0, 1]
    """
    n = delta.shape[0]
    growth = growth_factor(redshift, cosmo)
    m_min = p.min_mass(redshift, cosmo)
    target = mean_collapsed_fraction(redshift, m_min, cosmo, p.delta_c, p.mean_collapse)
    s2_min = float(sigma_of_mass(m_min, cosmo)) ** 2
    delta_k = scipy.fft.rfftn(delta, workers=workers)
    kx, ky, kz = fourier_grid(n, p.box_len)  # 1/Mpc, since box_len is in Mpc
    k = np.sqrt(kx**2 + ky**2 + kz**2)
    ionised = np.zeros(delta.shape, dtype=bool)
    radii = filter_radii(p)
    x_hi = np.ones(delta.shape, dtype=np.float32)
    for i, radius in enumerate(radii):
        last = i == len(radii) - 1
        s2_r = float(sigma_of_mass(mass_of_radius(radius, cosmo), cosmo)) ** 2
        if s2_r >= s2_min:  # the filter mass is below M_min: nothing can collapse at this scale
            continue
        if last:
            delta_r = delta
        else:
            delta_r = scipy.fft.irfftn(delta_k * (k * (radius * SHARP_K) <= 1.0), s=delta.shape, axes=(0, 1, 2),
                                       workers=workers)
        scale = growth * math.sqrt(2.0 * (s2_min - s2_r))
        box_mean = _mean_fcoll(np.ascontiguousarray(delta_r, dtype=np.float32), p.delta_c, scale)
        if box_mean <= 0:
            continue
        efficiency = p.zeta * target / box_mean  # zeta times the rescaling of f_coll
        if efficiency >= 1.0:  # zeta' f_coll >= 1  <=>  erfc(x) >= 1 / zeta'  <=>  delta_R >= threshold
            threshold = p.delta_c - scale * float(scipy.special.erfcinv(1.0 / efficiency))
            ionised |= delta_r >= threshold
        if last:
            fcoll = np.minimum(scipy.special.erfc((p.delta_c - np.maximum(delta_r, -1 + 1e-7)) / scale), 1.0)
            x_hi = np.clip(1.0 - efficiency * fcoll, 0.0, 1.0).astype(np.float32)
    x_hi[ionised] = 0.0
    return x_hi


def brightness_temperature(x_hi: np.ndarray, delta: np.ndarray, redshift: float, cosmo: Cosmology) -> np.ndarray:
    """21-cm brightness temperature offset, mK (T_S >> T_CMB, no velocity term); (n, n, n) float32."""
    h2 = cosmo.h**2
    prefactor = 27.0 * (cosmo.Ob0 * h2 / 0.023) * math.sqrt(0.15 / (cosmo.Om0 * h2) * (1 + redshift) / 10)
    return (np.float32(prefactor) * x_hi * (np.float32(1.0) + delta)).astype(np.float32)


def simulate_realization(p: Reionisation, redshifts, seed: int, cosmo: Cosmology, workers: int = 1) -> dict:
    """Boxes of one realization at every redshift.

    Parameters
    ----------
    p : Reionisation
    redshifts : iterable of float
    seed : int
        Seeds the initial density field only: realizations with the same seed and another zeta
        share their density (as the MAIS 202 boxes, all run with RNG 150).
    cosmo : Cosmology
    workers : int
        FFT threads.

    Returns
    -------
    dict
        ``{z: {"delta_T": (n,)*3 float32 mK, "density": (n,)*3 float32, "x_hi": float}}``; x_hi
        is the volume-averaged neutral fraction.
    """
    n, box_h = p.dim, p.box_len * cosmo.h
    rng = np.random.default_rng(seed)
    delta_k0 = gaussian_density_k(n, box_h, cosmo, 0.0, rng, workers=workers)
    psi = zeldovich_displacement(delta_k0, box_h, workers=workers)
    del delta_k0
    centres = (np.arange(n, dtype=np.float32) + np.float32(0.5)) * np.float32(box_h / n)
    lagrangian = np.stack(np.meshgrid(centres, centres, centres, indexing="ij"), axis=-1).reshape(-1, 3)
    out = {}
    for z in sorted({float(z) for z in redshifts}, reverse=True):
        delta = density_at(psi, growth_factor(z, cosmo), box_h, lagrangian)
        x_hi = neutral_fraction(delta, z, p, cosmo, workers)
        out[z] = {"delta_T": brightness_temperature(x_hi, delta, z, cosmo), "density": delta,
                  "x_hi": float(x_hi.mean())}
        log.info("z = %.2f: x_HI = %.4f, sigma(delta) = %.3f", z, out[z]["x_hi"], float(delta.std()))
    return dict(sorted(out.items()))

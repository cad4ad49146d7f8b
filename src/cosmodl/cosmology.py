"""Linear theory for the mocks: Eisenstein & Hu (1998) no-wiggle power spectrum and growth.

Units: wavenumbers ``k`` in h/Mpc, power spectra in (Mpc/h)^3, radii in Mpc/h.
The Fourier convention is ``delta(k) = int d^3x delta(x) exp(-i k.x)`` and
``<delta(k) delta*(k')> = (2 pi)^3 delta_D(k - k') P(k)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ConfigError


@dataclass(frozen=True)
class Cosmology:
    """Flat LambdaCDM parameters.

    Attributes
    ----------
    h : float
        H0 / (100 km/s/Mpc).
    Om0, Ob0 : float
        Matter and baryon density parameters today.
    Tcmb0 : float
        CMB temperature today in K.
    sigma8 : float
        rms of the linear density contrast in spheres of 8 Mpc/h at z = 0.
    n_s : float
        Primordial spectral index.
    """

    h: float
    Om0: float
    Ob0: float
    Tcmb0: float
    sigma8: float
    n_s: float

    def __post_init__(self):
        for name, low, high in [("h", 0.1, 2.0), ("Om0", 0.01, 1.0), ("Ob0", 0.0, 0.5),
                                ("Tcmb0", 0.1, 10.0), ("sigma8", 0.01, 5.0), ("n_s", 0.5, 1.5)]:
            value = getattr(self, name)
            if not low <= value <= high:
                raise ConfigError(f"cosmology.{name} = {value} is outside [{low}, {high}]")
        if self.Ob0 >= self.Om0:
            raise ConfigError(f"cosmology.Ob0 = {self.Ob0} must be below Om0 = {self.Om0}")


def planck18(**overrides) -> Cosmology:
    """Planck 2018 (TT,TE,EE+lowE+lensing+BAO) parameters from astropy, with optional overrides.

    Parameters
    ----------
    **overrides
        Any of ``h, Om0, Ob0, Tcmb0, sigma8, n_s``; ``None`` values are ignored.
    """
    from astropy.cosmology import Planck18

    values = dict(h=Planck18.H0.value / 100.0, Om0=float(Planck18.Om0), Ob0=float(Planck18.Ob0),
                  Tcmb0=float(Planck18.Tcmb0.value), sigma8=float(Planck18.meta["sigma8"]),
                  n_s=float(Planck18.meta["n"]))
    unknown = set(overrides) - set(values)
    if unknown:
        raise ConfigError(f"unknown cosmology parameter(s): {sorted(unknown)}; allowed: {sorted(values)}")
    values.update({k: float(v) for k, v in overrides.items() if v is not None})
    return Cosmology(**values)


def eh98_nowiggle_transfer(k: np.ndarray, cosmo: Cosmology) -> np.ndarray:
    """Eisenstein & Hu (1998) zero-baryon-oscillation transfer function, their eqs. 26-31.

    Parameters
    ----------
    k : ndarray, any shape
        Wavenumbers in h/Mpc (k >= 0).
    cosmo : Cosmology

    Returns
    -------
    ndarray, same shape as ``k``
        T(k), with T -> 1 as k -> 0.
    """
    k = np.asarray(k, dtype=np.float64)
    h = cosmo.h
    om_h2 = cosmo.Om0 * h**2
    ob_h2 = cosmo.Ob0 * h**2
    f_b = cosmo.Ob0 / cosmo.Om0
    theta = cosmo.Tcmb0 / 2.7
    s = 44.5 * np.log(9.83 / om_h2) / np.sqrt(1.0 + 10.0 * ob_h2**0.75)  # Mpc
    alpha = 1.0 - 0.328 * np.log(431.0 * om_h2) * f_b + 0.38 * np.log(22.3 * om_h2) * f_b**2
    gamma_eff = cosmo.Om0 * h * (alpha + (1.0 - alpha) / (1.0 + (0.43 * k * h * s) ** 4))
    q = k * theta**2 / gamma_eff
    big_l = np.log(2.0 * np.e + 1.8 * q)
    big_c = 14.2 + 731.0 / (1.0 + 62.5 * q)
    return big_l / (big_l + big_c * q**2)


def tophat_window(x: np.ndarray) -> np.ndarray:
    """Fourier transform of a normalised spherical top-hat, ``3 (sin x - x cos x) / x^3``.

    Uses the Taylor series ``1 - x^2/10`` below ``x = 1e-3`` to avoid cancellation.
    """
    x = np.asarray(x, dtype=np.float64)
    out = np.ones_like(x)
    big = x > 1e-3
    xb = x[big]
    out[big] = 3.0 * (np.sin(xb) - xb * np.cos(xb)) / xb**3
    small = ~big
    out[small] = 1.0 - x[small] ** 2 / 10.0
    return out


def _unnormalised_sigma_r(radius: float, cosmo: Cosmology) -> float:
    log_k = np.linspace(np.log(1e-5), np.log(1e3), 20001)
    k = np.exp(log_k)
    integrand = k**3 * k**cosmo.n_s * eh98_nowiggle_transfer(k, cosmo) ** 2 * tophat_window(k * radius) ** 2
    return float(np.sqrt(np.trapezoid(integrand, log_k) / (2.0 * np.pi**2)))


def sigma_r(radius, cosmo: Cosmology, redshift: float = 0.0) -> np.ndarray:
    """rms linear density contrast in spherical top-hats of ``radius`` (Mpc/h), normalised to sigma8.

    Parameters
    ----------
    radius : float or ndarray, Mpc/h
    cosmo : Cosmology
    redshift : float
        Scaled by :func:`growth_factor`.

    Returns
    -------
    ndarray, the shape of ``radius``
    """
    norm = cosmo.sigma8 / _unnormalised_sigma_r(8.0, cosmo)
    radii = np.atleast_1d(np.asarray(radius, dtype=np.float64))
    out = np.array([_unnormalised_sigma_r(float(r), cosmo) for r in radii.ravel()]).reshape(radii.shape)
    return (out * norm * growth_factor(redshift, cosmo)).reshape(np.shape(radius))


def linear_power(k: np.ndarray, cosmo: Cosmology, redshift: float = 0.0) -> np.ndarray:
    """Linear matter power spectrum ``P(k, z)`` in (Mpc/h)^3, normalised to ``cosmo.sigma8``.

    Parameters
    ----------
    k : ndarray
        Wavenumbers in h/Mpc.
    cosmo : Cosmology
    redshift : float
        The spectrum is scaled by ``D(z)^2`` with :func:`growth_factor`.
    """
    amplitude = (cosmo.sigma8 / _unnormalised_sigma_r(8.0, cosmo)) ** 2
    k = np.asarray(k, dtype=np.float64)
    pk = amplitude * k**cosmo.n_s * eh98_nowiggle_transfer(k, cosmo) ** 2
    return pk * growth_factor(redshift, cosmo) ** 2


def growth_factor(redshift: float, cosmo: Cosmology) -> float:
    """Linear growth factor ``D(z)`` of flat LambdaCDM, normalised to ``D(0) = 1``.

    Uses the Carroll, Press & Turner (1992) fit for flat models,
    ``g(Om) = 2.5 Om / (1/70 + Om (209 - Om) / 140 + Om^(4/7))`` and ``D = g(Om(z)) / (g(Om0) (1+z))``.
    """
    if redshift < 0:
        raise ConfigError(f"redshift = {redshift} must be >= 0")

    def g(om: float) -> float:
        return 2.5 * om / (1.0 / 70.0 + om * (209.0 - om) / 140.0 + om ** (4.0 / 7.0))

    a3 = (1.0 + redshift) ** 3
    om_z = cosmo.Om0 * a3 / (cosmo.Om0 * a3 + 1.0 - cosmo.Om0)
    return g(om_z) / (g(cosmo.Om0) * (1.0 + redshift))

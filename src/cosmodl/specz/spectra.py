"""Synthetic Euclid-like spectra from the kcorrect NMF templates (note specz.md, sections 5 and 6).

The recipe, step by step:

1. **Templates.** The 5 NMF basis SEDs of ``kcorrect-default-v4.fits`` (Blanton & Roweis 2007),
   read from the installed ``kcorrect`` wheel (no download), on their own grid uniform in
   ln(lambda) (d ln lambda = 8.58e-4). Each is split into a smooth continuum (a running median over
   :data:`CONTINUUM_WINDOW` samples) and its emission lines (the rest).
2. **Rest SED library.** ``n_sed`` non-negative mixtures, weights ~ Dirichlet(0.5 * 1_5); the
   lines of each SED scaled by 10^N(0, ``line_scatter_dex``); dust reddening with the Calzetti
   et al. (2000) curve, A_V ~ U[0, ``av_max``]; then convolved to the resolving power ``R``
   (a Gaussian of sigma = 1 / (2.3548 R) in ln lambda: constant R is a constant width in
   ln lambda, and redshifting is a shift in ln lambda, so the convolution is done once, at rest).
3. **A spectrum** of library SED ``j`` at redshift ``z``: the SED read at
   ln(lambda_obs) - ln(1 + z) by linear interpolation, on the observed grid
   ``linspace(lambda_min, lambda_max, n_pixels)`` (1780 samples over 11,000-20,000 A,
   about 5.06 A each); normalised to unit mean flux; plus white Gaussian noise of standard
   deviation 1 / SNR per pixel when a SNR is given (SNR per pixel, relative to the mean flux).
4. **Label:** ``floor((z - z_min) / dz)``, 800 classes of dz = 0.001 over [1, 1.8).

Spectra are pure functions of their draws: :class:`SpectrumMaker` turns (SED index, z, noise
draw) into a spectrum; :mod:`cosmodl.specz.data` decides the draws from (seed, set, position).
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.ndimage import gaussian_filter1d, median_filter

from ..errors import ConfigError

TEMPLATE_FILE = "data/templates/kcorrect-default-v4.fits"
CONTINUUM_WINDOW = 61      # template samples (ln-lambda width 0.052, ~340 A at H-alpha)
FWHM_PER_SIGMA = 2.3548
# rest-frame vacuum wavelengths (A) of the lines marked in figures
LINES = (("H$\\alpha$", 6564.6), ("[NII]", 6585.3), ("[SII]", 6725.0), ("H$\\beta$", 4862.7), ("[OIII]", 5008.2),
         ("[OII]", 3728.5), ("[SIII]", 9071.1), ("[SIII]", 9533.2))


def read_templates() -> tuple[np.ndarray, np.ndarray]:
    """The kcorrect NMF basis templates shipped in the installed ``kcorrect`` package.

    Returns
    -------
    wave : ndarray (K,) float64
        Rest wavelength in Angstrom, uniform in ln(lambda).
    flux : ndarray (5, K) float64
        Template flux densities (arbitrary units, per unit wavelength).
    """
    try:
        path = importlib.resources.files("kcorrect") / TEMPLATE_FILE
    except ModuleNotFoundError:
        raise ConfigError("the specz stage needs the kcorrect package (pip install kcorrect==5.1.9): "
                          "its templates ship inside the wheel") from None
    from astropy.io import fits

    with importlib.resources.as_file(path) as local, fits.open(local) as hdus:
        table = hdus["FLUX"].data
        return np.asarray(table["wave"][0], np.float64), np.asarray(table["flux"][0], np.float64)


def calzetti_k(wave_a: np.ndarray) -> np.ndarray:
    """Calzetti et al. (2000) starburst attenuation curve k(lambda) (R_V = 4.05).

    Parameters
    ----------
    wave_a : ndarray
        Rest wavelength, Angstrom (the formula holds over 1200 A - 2.2 um; it is extended
        linearly in 1/lambda beyond).

    Returns
    -------
    ndarray
        k(lambda); the attenuation in magnitudes is A_V k(lambda) / R_V.
    """
    x = 1e4 / np.asarray(wave_a, dtype=np.float64)  # 1 / micron
    blue = 2.659 * (-2.156 + 1.509 * x - 0.198 * x**2 + 0.011 * x**3) + 4.05
    red = 2.659 * (-1.857 + 1.040 * x) + 4.05
    return np.where(x >= 1.0 / 0.63, blue, red)


def split_continuum(flux: np.ndarray, window: int = CONTINUUM_WINDOW) -> tuple[np.ndarray, np.ndarray]:
    """Continuum (running median along the last axis) and lines (the non-negative rest) of templates.

    Parameters
    ----------
    flux : ndarray (..., K)
    window : int
        Median window in samples of the ln-lambda grid.

    Returns
    -------
    continuum, lines : ndarray (..., K)
        ``continuum + lines == flux`` wherever the flux lies above the median.
    """
    continuum = median_filter(flux, size=(1,) * (flux.ndim - 1) + (window,), mode="nearest")
    continuum = np.minimum(continuum, flux)
    return continuum, flux - continuum


@dataclass(frozen=True)
class SpectrumSettings:
    """The observed grid, the redshift classes and the library recipe (``config['specz']['spectra']``)."""

    lambda_min: float = 11000.0
    lambda_max: float = 20000.0
    n_pixels: int = 1780
    resolution: float = 250.0
    z_min: float = 1.0
    z_max: float = 1.8
    dz: float = 0.001
    n_sed: int = 13000
    av_max: float = 1.0
    line_scatter_dex: float = 0.3
    library_seed: int = 0

    def __post_init__(self):
        if not 0 < self.lambda_min < self.lambda_max:
            raise ConfigError(f"specz.spectra: lambda_min = {self.lambda_min} and lambda_max = {self.lambda_max} A "
                              "must satisfy 0 < lambda_min < lambda_max")
        if self.dz <= 0:
            raise ConfigError(f"specz.spectra.dz = {self.dz}: the redshift class width must be > 0")
        if not -1 < self.z_min < self.z_max:
            raise ConfigError(f"specz.spectra: z_min = {self.z_min} and z_max = {self.z_max} must satisfy "
                              "-1 < z_min < z_max")
        if self.resolution <= 0 or self.n_pixels < 2 or self.n_sed < 1:
            raise ConfigError(f"specz.spectra: resolution ({self.resolution}), n_pixels ({self.n_pixels}) and "
                              f"n_sed ({self.n_sed}) must be positive (n_pixels >= 2)")

    @property
    def n_classes(self) -> int:
        return int(round((self.z_max - self.z_min) / self.dz))

    @property
    def wave(self) -> np.ndarray:
        """Observed wavelengths (n_pixels,), Angstrom."""
        return np.linspace(self.lambda_min, self.lambda_max, self.n_pixels)

    def class_of(self, z) -> np.ndarray:
        """Redshift class floor((z - z_min) / dz), clipped to [0, n_classes - 1]."""
        c = np.floor((np.asarray(z, np.float64) - self.z_min) / self.dz + 1e-9).astype(np.int64)
        return np.clip(c, 0, self.n_classes - 1)

    def class_centres(self) -> np.ndarray:
        """Redshift at the middle of each class (n_classes,)."""
        return self.z_min + (np.arange(self.n_classes) + 0.5) * self.dz


class SpectrumMaker:
    """Rest SED library and the observed spectra made from it (module docstring).

    Parameters
    ----------
    settings : SpectrumSettings
    templates : (wave, flux), optional
        Defaults to :func:`read_templates`.
    """

    def __init__(self, settings: SpectrumSettings, templates=None):
        self.s = settings
        wave, flux = templates if templates is not None else read_templates()
        self.template_wave, self.template_flux = wave, flux
        self.ln_step = float(np.log(wave[1] / wave[0]))
        self.sigma_ln = 1.0 / (FWHM_PER_SIGMA * settings.resolution)
        margin = 6 * self.sigma_ln + 2 * self.ln_step
        lo = np.log(settings.lambda_min) - np.log1p(settings.z_max) - margin
        hi = np.log(settings.lambda_max) - np.log1p(settings.z_min) + margin
        ln_wave = np.log(wave)
        if lo < ln_wave[0] or hi > ln_wave[-1]:
            raise ConfigError(
                f"specz.spectra: z in [{settings.z_min}, {settings.z_max}) over {settings.lambda_min}-"
                f"{settings.lambda_max} A needs rest wavelengths {np.exp(lo):.0f}-{np.exp(hi):.0f} A; the kcorrect "
                f"templates cover {wave[0]:.0f}-{wave[-1]:.0f} A")
        # a wider window for the convolution, cropped to [lo, hi] after it
        pad = int(np.ceil(8 * self.sigma_ln / self.ln_step)) + CONTINUUM_WINDOW
        i0 = max(int(np.searchsorted(ln_wave, lo)) - 1, 0)
        i1 = min(int(np.searchsorted(ln_wave, hi)) + 1, len(wave) - 1)
        self._wide = slice(max(i0 - pad, 0), min(i1 + pad, len(wave) - 1) + 1)
        self._crop = slice(i0 - self._wide.start, i1 - self._wide.start + 1)
        self.rest_wave = wave[i0:i1 + 1]
        self.ln_rest0 = float(ln_wave[i0])
        self.ln_obs = np.log(settings.wave)

    @cached_property
    def library(self) -> np.ndarray:
        """Rest SEDs at resolution R (n_sed, K_rest) float32, each with unit mean over the rest window."""
        return self.build_library()

    @cached_property
    def library_params(self) -> dict:
        """Mixture weights (n_sed, 5), line scale (n_sed,) and A_V (n_sed,) of the library's SEDs."""
        rng = np.random.default_rng([self.s.library_seed, 7919])
        n, k = self.s.n_sed, self.template_flux.shape[0]
        weights = rng.dirichlet(np.full(k, 0.5), size=n)
        line_scale = 10.0 ** rng.normal(0.0, self.s.line_scatter_dex, size=n)
        av = rng.uniform(0.0, self.s.av_max, size=n)
        return {"weights": weights, "line_scale": line_scale, "av": av}

    def build_library(self) -> np.ndarray:
        """Mix, scale the lines, redden, convolve and crop the templates (:attr:`library`)."""
        p = self.library_params
        flux = self.template_flux[:, self._wide]
        continuum, lines = split_continuum(flux)
        seds = p["weights"] @ continuum + (p["weights"] * p["line_scale"][:, None]) @ lines
        k = calzetti_k(self.template_wave[self._wide])
        seds *= 10.0 ** (-0.4 * p["av"][:, None] * k[None, :] / 4.05)
        seds = self.convolve(seds)[:, self._crop]
        seds /= seds.mean(axis=1, keepdims=True)
        return seds.astype(np.float32)

    def convolve(self, flux: np.ndarray) -> np.ndarray:
        """Gaussian line-spread function of resolving power R along the ln-lambda axis (last)."""
        return gaussian_filter1d(flux, self.sigma_ln / self.ln_step, axis=-1, mode="nearest")

    def rest_templates(self) -> np.ndarray:
        """The 5 basis templates at resolution R on the rest window (5, K_rest) (cross-correlation)."""
        return self.convolve(self.template_flux[:, self._wide])[:, self._crop]

    def interpolation(self, z: np.ndarray, shift_a: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Left rest-grid index (B, n_pixels) and weight of the right neighbour for redshifts ``z`` (B,).

        ``shift_a`` (B,): a calibration error, A; pixel p then sees wavelength ``wave[p] + shift``.
        """
        ln_obs = self.ln_obs[None, :]
        if shift_a is not None:
            ln_obs = np.log(self.s.wave[None, :] + np.asarray(shift_a, np.float64)[:, None])
        x = (ln_obs - np.log1p(np.asarray(z, np.float64))[:, None] - self.ln_rest0) / self.ln_step
        i = np.floor(x).astype(np.int64)
        return i, (x - i).astype(np.float32)

    def observe(self, seds: np.ndarray, z: np.ndarray, shift_a: np.ndarray | None = None) -> np.ndarray:
        """Rest SEDs (B, K_rest) seen at redshifts ``z`` (B,) on the observed grid, unit mean flux.

        Returns
        -------
        ndarray (B, n_pixels) float32
        """
        i, w = self.interpolation(z, shift_a)
        rows = np.arange(len(seds))[:, None]
        flux = seds[rows, i] * (1 - w) + seds[rows, i + 1] * w
        return (flux / flux.mean(axis=1, keepdims=True)).astype(np.float32)

    kind = "templates"

    @property
    def pixel_sigma(self) -> np.ndarray:
        """Noise standard deviation per pixel (n_pixels,) in units of 1 / SNR: white, all ones."""
        return np.ones(self.s.n_pixels, np.float32)

    def observe_clean(self, sed_index, z, sample_seed=None) -> np.ndarray:
        """Noiseless spectra of library SEDs ``sed_index`` (B,) at ``z`` (B,), unit mean (B, n_pixels).

        ``sample_seed`` (B,) seeds what a set draws per spectrum besides the noise (none here).
        """
        return self.observe(self.library[np.asarray(sed_index)], z)

    def add_noise(self, clean: np.ndarray, sample_seed, gaussian: np.ndarray, snr: float) -> np.ndarray:
        """``clean + gaussian / snr``: white noise of SNR ``snr`` per pixel (B, n_pixels) float32."""
        if not snr > 0:
            raise ConfigError(f"specz: SNR = {snr}: must be > 0")
        return clean + gaussian.astype(np.float32) / np.float32(snr)

    def spectra(self, sed_index: np.ndarray, z: np.ndarray, noise: np.ndarray | None = None,
                snr: float | None = None, sample_seed=None) -> np.ndarray:
        """Observed spectra of library SEDs ``sed_index`` (B,) at ``z`` (B,).

        Parameters
        ----------
        noise : ndarray (B, n_pixels), optional
            Standard normal draws; added through :meth:`add_noise` when ``snr`` is given.
        snr : float, optional
            Signal-to-noise ratio per pixel (relative to the unit mean flux); None: clean.
        sample_seed : ndarray (B,) of int, optional
            Each spectrum's seed for the set's other per-spectrum draws (:mod:`cosmodl.specz.realistic`).

        Returns
        -------
        ndarray (B, n_pixels) float32
        """
        flux = self.observe_clean(sed_index, z, sample_seed)
        if snr is not None:
            flux = self.add_noise(flux, sample_seed, noise, snr)
        return flux

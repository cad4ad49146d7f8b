"""Spectra the 5-template fit does not already know (``specz.data: realistic``; issue 20).

On the ``templates`` set (:mod:`cosmodl.specz.spectra`) every spectrum is a mixture of the same
5 kcorrect templates that the least-squares fit uses, plus white noise: the fit is then the
maximum-likelihood answer and no network can beat it. The learned estimators of the literature
win where the templates are wrong or incomplete (note specz.md, section 7); this set draws
exactly that, each piece a key of ``specz.realistic``:

Galaxies (the rest-SED library, ``n_sed`` SEDs seeded by ``spectra.library_seed``)
    * **Continua** - Dirichlet mixtures of the 5 kcorrect continua (lines removed), times a smooth
      perturbation ``exp(sum_k a_k P_k(x))`` of Legendre orders 3 to 8 over the rest window
      (rms ``continuum_wiggle``), which a 5-template fit with a quadratic continuum cannot follow;
      a share ``passive_fraction`` are line-free galaxies with kcorrect's LRG continuum, which is
      not among the fit's templates.
    * **Emission lines** in families with independent strengths (:data:`LINE_LIST`): H-alpha +
      [NII], H-beta + [OIII], [OII], [SII], [SIII]. H-alpha's rest equivalent width is log-normal
      (``ew_halpha``, ``ew_halpha_dex``); each family's leader is scaled to H-alpha by its median
      ratio times ``10^N(0, line_ratio_dex)``, [NII] and [OIII] to their leader the same way, and
      doublet partners by their atomic ratio. H-beta / H-alpha has median 1 / 2.86 (case B at
      10^4 K). Below z = 1.26 H-beta and [OIII] fall blueward of
      11,000 A, so a spectrum whose [NII] and [SII] scatter low shows one line: ambiguous.
    * **Dust**: a law per galaxy from ``dust_laws`` (Calzetti et al. 2000; the SMC bar and the
      Milky Way R_V = 3.1 from ``dust-extinction``: Gordon et al. 2003, Gordon et al. 2023),
      A_V uniform in [0, ``spectra.av_max``] on the stars and A_V / 0.44 on the lines (Calzetti
      2000: nebular lines see more dust than the stellar continuum).

Instrument (per spectrum, a pure function of the sample's seed: hashes, as the set's own draws)
    * **Noise** of standard deviation ``s(lambda) / SNR`` with ``s`` proportional to
      ``1 / sqrt(T(lambda))``, ``T`` a Euclid-like grism throughput (a Gaussian in wavelength
      peaking at ``throughput_peak`` A, of width ``throughput_width``; a shape, not the NISP
      curve), scaled to mean 1 over the grid so that ``specz.snr`` stays the mean SNR per pixel.
    * **Sky residuals**: ``sky_lines`` fixed observed wavelengths (drawn once from the library
      seed), each a line of the instrument's width with a per-spectrum amplitude
      ``N(0, sky_residual)`` in units of the local noise; the positive ones look like emission.
    * **Cosmic-ray spikes**: Poisson(``spikes``) one-pixel spikes per spectrum, amplitudes uniform
      in ``spike_amplitude`` times the local noise.
    * **Wavelength-calibration jitter**: the whole spectrum shifted by U[-``jitter``, ``jitter``] A.

A *clean* realistic spectrum is the galaxy seen through the jittered calibration, with no noise,
sky residual or spike; a *noisy* one has all three. The template fit keeps the 5 kcorrect
templates, as a pipeline without the truth would; it knows the noise curve ``s(lambda)`` (an
instrument pipeline does) and nothing else.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..errors import ConfigError
from .data import hash64, unit_uniform
from .spectra import FWHM_PER_SIGMA, SpectrumMaker, SpectrumSettings, calzetti_k, split_continuum

LRG_FILE = "data/templates/kcorrect-lrg1-v4.fits"
LINE_DUST = 1 / 0.44   # A_V of the lines over A_V of the stars (Calzetti et al. 2000)
BALMER_DECREMENT = 2.86  # H-alpha / H-beta, case B recombination at T = 10^4 K, n_e = 100 cm^-3
# Emission lines, in an order where each line's reference comes before it: (name, rest vacuum
# wavelength in A, reference line, median ratio to it, scattered by 10^N(0, line_ratio_dex) or fixed).
# The families' leaders (H-beta, [OII], [SII], [SIII]) scatter against H-alpha independently, and
# [NII], [OIII] against their family's leader; doublet ratios fixed by atomic physics are not scattered.
LINE_LIST = (
    ("Halpha", 6564.6, None, 1.0, False),
    ("[NII]6585", 6585.3, "Halpha", 0.35, True),
    ("[NII]6550", 6549.9, "[NII]6585", 1 / 3.05, False),
    ("Hbeta", 4862.7, "Halpha", 1 / 2.86, True),            # case B, 10^4 K: H-alpha / H-beta = 2.86
    ("[OIII]5008", 5008.2, "Hbeta", 2.0, True),
    ("[OIII]4960", 4960.3, "[OIII]5008", 1 / 2.98, False),
    ("[OII]3728", 3728.5, "Halpha", 0.8, True),              # the unresolved 3726 + 3729 doublet
    ("[SII]6718", 6718.3, "Halpha", 0.15, True),
    ("[SII]6733", 6732.7, "[SII]6718", 0.75, False),
    ("[SIII]9533", 9533.2, "Halpha", 0.12, True),
    ("[SIII]9071", 9071.1, "[SIII]9533", 1 / 2.44, False),
)
DUST_LAWS = ("calzetti", "smc", "mw")


@dataclass(frozen=True)
class RealisticSettings:
    """The keys of ``config['specz']['realistic']`` (module docstring; wavelengths in A)."""

    passive_fraction: float = 0.1
    continuum_wiggle: float = 0.05
    ew_halpha: float = 100.0
    ew_halpha_dex: float = 0.35
    line_ratio_dex: float = 0.3
    dust_laws: tuple = DUST_LAWS
    throughput_peak: float = 16000.0
    throughput_width: float = 3500.0
    sky_lines: int = 20
    sky_residual: float = 1.0
    spikes: float = 1.0
    spike_amplitude: tuple = (5.0, 20.0)
    jitter: float = 3.0

    def __post_init__(self):
        object.__setattr__(self, "dust_laws", tuple(self.dust_laws))
        object.__setattr__(self, "spike_amplitude", tuple(float(a) for a in self.spike_amplitude))
        lo, hi = self.spike_amplitude
        if not 0 <= lo <= hi:
            raise ConfigError(f"specz.realistic.spike_amplitude = [{lo}, {hi}]: need 0 <= low <= high")
        unknown = sorted(set(self.dust_laws) - set(DUST_LAWS))
        if unknown or not self.dust_laws:
            raise ConfigError(f"specz.realistic.dust_laws = {list(self.dust_laws)}: choose one or more of "
                              f"{list(DUST_LAWS)}")
        if not 0 <= self.passive_fraction <= 1:
            raise ConfigError(f"specz.realistic.passive_fraction = {self.passive_fraction} must lie in [0, 1]")


def read_lrg_template() -> tuple[np.ndarray, np.ndarray]:
    """kcorrect's LRG template (``kcorrect-lrg1-v4.fits``): rest wavelength (K,) A and flux (K,)."""
    from astropy.io import fits

    path = importlib.resources.files("kcorrect") / LRG_FILE
    with importlib.resources.as_file(path) as local, fits.open(local) as hdus:
        table = hdus["FLUX"].data
        return np.asarray(table["wave"][0], np.float64), np.asarray(table["flux"][0], np.float64).reshape(-1)


def dust_curve(law: str, wave_a: np.ndarray) -> np.ndarray:
    """A(lambda) / A(V) of a dust law at rest wavelengths ``wave_a`` (A).

    ``calzetti``: :func:`cosmodl.specz.spectra.calzetti_k` / 4.05. ``smc``: the SMC bar average of
    Gordon et al. (2003), ``mw``: the Milky Way average of Gordon et al. (2023) at R_V = 3.1, both
    from ``dust-extinction`` (valid over 1,000 A - 3.3 um and 0.1 - 32 um).
    """
    wave_a = np.asarray(wave_a, np.float64)
    if law == "calzetti":
        return calzetti_k(wave_a) / 4.05
    try:
        import astropy.units as u
        from dust_extinction.averages import G03_SMCBar
        from dust_extinction.parameter_averages import G23
    except ModuleNotFoundError:
        raise ConfigError(f"specz.realistic.dust_laws: {law!r} needs the dust-extinction package "
                          "(pip install dust-extinction==1.7)") from None
    model = G03_SMCBar() if law == "smc" else G23(Rv=3.1) if law == "mw" else None
    if model is None:
        raise ConfigError(f"specz.realistic.dust_laws: unknown law {law!r}; choose from {list(DUST_LAWS)}")
    return np.asarray(model(wave_a * u.AA), np.float64)


def throughput_noise(s: SpectrumSettings, r: RealisticSettings) -> np.ndarray:
    """Noise shape s(lambda) (n_pixels,): proportional to 1 / sqrt(T), mean 1 over the grid."""
    t = np.exp(-0.5 * ((s.wave - r.throughput_peak) / r.throughput_width) ** 2)
    shape = 1.0 / np.sqrt(t)
    return shape / shape.mean()


def legendre_wiggle(x: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
    """``exp(sum_k a_k P_k(x))`` for orders 3 .. 3 + m - 1; ``coefficients`` (n, m), ``x`` (K,) in [-1, 1]."""
    m = coefficients.shape[1]
    vander = np.polynomial.legendre.legvander(x, 2 + m)[:, 3:]        # (K, m)
    return np.exp(coefficients @ vander.T)


class RealisticMaker(SpectrumMaker):
    """The ``realistic`` set: the library and instrument of the module docstring.

    Parameters
    ----------
    settings : SpectrumSettings
    realistic : RealisticSettings
    templates : (wave, flux), optional
        The 5 kcorrect templates (defaults to :func:`cosmodl.specz.spectra.read_templates`).
    """

    kind = "realistic"

    def __init__(self, settings: SpectrumSettings, realistic: RealisticSettings, templates=None):
        super().__init__(settings, templates)
        self.r = realistic
        self.noise_shape = throughput_noise(settings, realistic).astype(np.float32)
        rng = np.random.default_rng([settings.library_seed, 104729])
        self.sky_wave = np.sort(rng.uniform(settings.lambda_min, settings.lambda_max, realistic.sky_lines))

    @cached_property
    def library_params(self) -> dict:
        """Per SED: mixture weights (n, 5), wiggle coefficients (n, 6), passive flag, H-alpha EW (A),
        line-to-H-alpha ratios per line (dict of (n,)), dust law index and A_V (n,)."""
        return self._draw_library_params()

    def _draw_library_params(self) -> dict:
        s, r = self.s, self.r
        rng = np.random.default_rng([s.library_seed, 7927])
        n = s.n_sed
        params = {"weights": rng.dirichlet(np.full(self.template_flux.shape[0], 0.5), size=n),
                  "wiggle": rng.normal(0.0, r.continuum_wiggle / np.sqrt(6), size=(n, 6)),
                  "passive": rng.random(n) < r.passive_fraction,
                  "ew_halpha": r.ew_halpha * 10.0 ** rng.normal(0.0, r.ew_halpha_dex, size=n),
                  "law": rng.integers(0, len(r.dust_laws), size=n),
                  "av": rng.uniform(0.0, s.av_max, size=n)}
        ratios = {}
        for name, _, reference, median, scattered in LINE_LIST:
            base = ratios[reference] * median if reference else np.full(n, median)
            ratios[name] = base * 10.0 ** rng.normal(0.0, r.line_ratio_dex, size=n) if scattered else base
        params["ratios"] = ratios
        return params

    def build_library(self) -> np.ndarray:
        """Continua, dust, lines and the line-spread function (module docstring), unit mean (n_sed, K_rest)."""
        p = self.library_params
        wave = self.template_wave[self._wide]
        continuum, _ = split_continuum(self.template_flux[:, self._wide])
        seds = p["weights"] @ continuum                                       # (n, K)
        lrg_wave, lrg_flux = read_lrg_template()
        lrg = np.interp(wave, lrg_wave, lrg_flux)
        lrg *= (seds.mean() / lrg.mean())
        seds[p["passive"]] = lrg
        x = np.linspace(-1.0, 1.0, len(wave))
        seds *= legendre_wiggle(x, p["wiggle"])
        seds /= seds.mean(axis=1, keepdims=True)
        lines = self._lines(seds, wave, p)
        for i, law in enumerate(self.r.dust_laws):
            rows = p["law"] == i
            if rows.any():
                curve = dust_curve(law, wave)[None, :]
                seds[rows] *= 10.0 ** (-0.4 * p["av"][rows, None] * curve)
                lines[rows] *= 10.0 ** (-0.4 * LINE_DUST * p["av"][rows, None] * curve)
        seds = self.convolve(seds)[:, self._crop] + lines[:, self._crop]
        seds /= seds.mean(axis=1, keepdims=True)
        return seds.astype(np.float32)

    def _lines(self, seds: np.ndarray, wave: np.ndarray, p: dict) -> np.ndarray:
        """Emission lines (n, K) at the instrument's resolution; none for passive galaxies.

        A line of rest equivalent width W on a continuum C(lambda_0) has flux W C(lambda_0); it is
        drawn as a Gaussian in ln lambda of the line-spread function's width.
        """
        ln_wave = np.log(wave)
        halpha = p["ew_halpha"] * _continuum_at(seds, wave, 6564.6)            # (n,) flux
        lines = np.zeros_like(seds)
        for name, centre, *_ in LINE_LIST:
            flux = halpha * p["ratios"][name] * ~p["passive"]
            sigma_a = centre * self.sigma_ln
            profile = np.exp(-0.5 * ((ln_wave - np.log(centre)) / self.sigma_ln) ** 2) / (np.sqrt(2 * np.pi) * sigma_a)
            lines += flux[:, None] * profile[None, :]
        return lines

    def observe_clean(self, sed_index, z, sample_seed) -> np.ndarray:
        """Library SEDs at ``z`` seen through each sample's calibration jitter, unit mean (B, n_pixels)."""
        shift = self.draw_instrument(sample_seed, what="jitter")
        return self.observe(self.library[np.asarray(sed_index)], z, shift)

    def draw_instrument(self, sample_seed, what: str):
        """The per-sample instrument draws: hashes of (the sample's seed, purpose, index), vectorised.

        ``jitter`` (B,) A; ``sky`` (B, sky_lines) in noise units (Box-Muller normals); ``spikes`` a
        list of (pixel indices, amplitudes in noise units) per sample, the count Poisson by inverse
        CDF (truncated at :func:`spike_cap`, beyond which the probability is below 1e-12).
        """
        seeds = np.asarray(sample_seed, np.int64)
        if what == "jitter":
            return (2 * unit_uniform(hash64(seeds, 1)) - 1) * self.r.jitter
        if what == "sky":
            k = np.arange(self.r.sky_lines)[None, :]
            return self.r.sky_residual * _normal(seeds[:, None], 2, k)
        cap = spike_cap(self.r.spikes)
        counts = np.searchsorted(_poisson_cdf(self.r.spikes, cap), unit_uniform(hash64(seeds, 3)), side="right")
        k = np.arange(cap)[None, :]
        pixels = (unit_uniform(hash64(seeds[:, None], 4, k)) * self.s.n_pixels).astype(np.int64)
        low, high = self.r.spike_amplitude
        heights = low + (high - low) * unit_uniform(hash64(seeds[:, None], 5, k))
        return [(pixels[b, :n], heights[b, :n]) for b, n in enumerate(np.minimum(counts, cap))]

    @cached_property
    def sky_profiles(self) -> np.ndarray:
        """Unit-peak line profiles (sky_lines, n_pixels) float32 at the fixed sky wavelengths."""
        sigma_a = self.sky_wave[:, None] / (FWHM_PER_SIGMA * self.s.resolution)
        return np.exp(-0.5 * ((self.s.wave[None, :] - self.sky_wave[:, None]) / sigma_a) ** 2).astype(np.float32)

    def add_noise(self, clean: np.ndarray, sample_seed, gaussian: np.ndarray, snr: float) -> np.ndarray:
        """Noisy spectra: ``clean + s(lambda) (gaussian + sky + spikes) / snr`` (B, n_pixels) float32."""
        sigma = self.noise_shape[None, :] / np.float32(snr)
        sky = self.draw_instrument(sample_seed, "sky").astype(np.float32)
        # a broadcast sum, not a matrix product: BLAS threads next to torch's in a training process
        # contend for the cores (a 64 x 20 x 1780 product cost 60 ms a batch that way, 1 ms this way)
        extra = (sky[:, :, None] * self.sky_profiles[None]).sum(axis=1)
        for b, (pixels, amplitude) in enumerate(self.draw_instrument(sample_seed, "spikes")):
            np.add.at(extra[b], pixels, amplitude.astype(np.float32))
        return (clean + sigma * (gaussian.astype(np.float32) + extra)).astype(np.float32)

    @property
    def pixel_sigma(self) -> np.ndarray:
        """The noise curve a pipeline knows (n_pixels,), in units of 1 / SNR."""
        return self.noise_shape


def spike_cap(mean: float) -> int:
    """Most spikes a spectrum can get: far enough in the Poisson tail that it never binds."""
    return int(np.ceil(mean + 10 * np.sqrt(mean) + 10))


def _poisson_cdf(mean: float, cap: int) -> np.ndarray:
    k = np.arange(cap + 1)
    if mean <= 0:
        return np.ones(cap + 1)
    log_pmf = k * np.log(mean) - mean - np.cumsum(np.log(np.maximum(k, 1)))
    return np.cumsum(np.exp(log_pmf))


def _normal(*keys) -> np.ndarray:
    """Standard normals from hashed uniforms (Box-Muller), one per broadcast key."""
    u1, u2 = (unit_uniform(hash64(*keys, j)) for j in (0, 1))
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2 * np.pi * u2)


def _continuum_at(seds: np.ndarray, wave: np.ndarray, centre: float) -> np.ndarray:
    """Each SED's continuum at ``centre`` A (n,), by linear interpolation."""
    i = int(np.clip(np.searchsorted(wave, centre), 1, len(wave) - 1))
    w = (centre - wave[i - 1]) / (wave[i] - wave[i - 1])
    return seds[:, i - 1] * (1 - w) + seds[:, i] * w

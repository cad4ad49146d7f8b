"""Slices as an interferometer would see them (``cm21.telescope``): a beam, thermal noise, no mean.

An observed slice is the true delta_T_b (mK) smoothed by a Gaussian synthesised beam of comoving
FWHM ``beam_mpc`` (or of angle ``beam_arcmin``: comoving FWHM = D_c(z) x angle in the boxes'
cosmology, which grows with z - the smoothing scale then tells the redshift by itself, so the
checks refuse it for the redshift tasks), plus thermal noise of
rms ``noise_mk`` per cell, minus its own mean (an interferometer has no zero-spacing baseline, so
it does not see k = 0). The noise is white noise smoothed by the same beam and scaled to the rms
asked for: the noise of an interferometric image is correlated on the beam's scale, not from cell
to cell. Its draws are a function of (``cm21.seed``, slice row) only, and the same field is scaled
for every noise level, so the levels of a curve differ by the noise amplitude alone.

The model is deliberately simple. ``tools21cm.noise_map`` builds SKA-Low noise from the array's uv
coverage (a uv map per redshift, minutes each, and a noise rms that follows from the integration
time and bandwidth); the rms here is the free parameter the accuracy-against-noise curve runs over,
and its value at a given integration time is what that tool (or a sensitivity calculator) gives.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ..io import atomic_output, load_array

log = logging.getLogger(__name__)

FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))
CHUNK = 256  # slices observed at a time (the stack is read as a memory map)


def level_name(noise_mk: float) -> str:
    """The folder of one noise level: ``noise<rms>`` (``noise2.5``)."""
    return f"noise{noise_mk:g}"


def beam_fwhm_mpc(z: np.ndarray, beam_arcmin: float, cosmo) -> np.ndarray:
    """Comoving FWHM (Mpc) of a beam of ``beam_arcmin`` at redshifts ``z``: D_c(z) x angle.

    Parameters
    ----------
    z : ndarray (M,)
    beam_arcmin : float
    cosmo : cosmodl.cosmology.Cosmology
    """
    from astropy.cosmology import FlatLambdaCDM

    model = FlatLambdaCDM(H0=100.0 * cosmo.h, Om0=cosmo.Om0, Ob0=cosmo.Ob0, Tcmb0=cosmo.Tcmb0)
    return model.comoving_distance(np.asarray(z, dtype=float)).value * np.radians(beam_arcmin / 60.0)


def beam_transfer(side: int, sigma_cells: float) -> np.ndarray:
    """(S, S // 2 + 1) Fourier transfer function (rfft2 layout) of a periodic Gaussian of ``sigma_cells``."""
    kx = 2 * np.pi * np.fft.fftfreq(side)
    ky = 2 * np.pi * np.fft.rfftfreq(side)
    return np.exp(-0.5 * sigma_cells**2 * (kx[:, None] ** 2 + ky[None, :] ** 2))


def smooth(slices: np.ndarray, sigma_cells: float) -> np.ndarray:
    """Slices (N, S, S) convolved with a periodic Gaussian of standard deviation ``sigma_cells``."""
    side = slices.shape[-1]
    return np.fft.irfft2(np.fft.rfft2(slices) * beam_transfer(side, sigma_cells), s=(side, side))


def noise_fields(rows: np.ndarray, side: int, seed: int, sigma_cells: float | None) -> np.ndarray:
    """(N, S, S) noise of unit rms for the slices ``rows``: white, smoothed by the beam when there is one.

    Each slice's field is drawn from ``default_rng([seed, row])``: a function of (seed, row) only.
    """
    out = np.stack([np.random.default_rng([seed, int(r)]).standard_normal((side, side)) for r in rows])
    if sigma_cells:
        # Parseval: smoothed unit white noise has the variance mean(|transfer|^2) over every mode
        k2 = (2 * np.pi * np.fft.fftfreq(side)) ** 2
        transfer = np.exp(-0.5 * sigma_cells**2 * (k2[:, None] + k2[None, :]))
        out = smooth(out, sigma_cells) / np.sqrt(np.mean(transfer**2))
    return out


def observe(slices: np.ndarray, z: np.ndarray, rows: np.ndarray, cell_mpc: float, noise_mk: float, tel: dict,
            cosmo, seed: int) -> np.ndarray:
    """The slices as the telescope sees them.

    Parameters
    ----------
    slices : ndarray (N, S, S), mK
    z : ndarray (N,)
        Redshift of each slice (the beam's comoving width depends on it).
    rows : ndarray (N,) int
        Row of each slice in its set (seeds its noise).
    cell_mpc : float
    noise_mk : float
        rms of the noise per cell of the observed map, mK.
    tel : dict
        ``config['cm21']['telescope']`` (``beam_mpc`` or ``beam_arcmin``, ``remove_mean``).
    cosmo : cosmodl.cosmology.Cosmology
    seed : int

    Returns
    -------
    ndarray (N, S, S) float32, mK
    """
    out = np.array(slices, dtype=np.float64)
    side = out.shape[-1]
    sigmas = np.zeros(len(out))
    if tel["beam_mpc"]:
        sigmas[:] = tel["beam_mpc"] / cell_mpc / FWHM_PER_SIGMA
    elif tel["beam_arcmin"]:
        zs = np.unique(z)
        widths = dict(zip(zs, beam_fwhm_mpc(zs, tel["beam_arcmin"], cosmo) / cell_mpc / FWHM_PER_SIGMA))
        sigmas = np.array([widths[v] for v in z])
    for sigma in np.unique(sigmas):
        at = np.flatnonzero(sigmas == sigma)
        if sigma > 0:
            out[at] = smooth(out[at], sigma)
        if noise_mk > 0:
            out[at] += noise_mk * noise_fields(rows[at], side, seed, sigma or None)
    if tel["remove_mean"]:
        out -= out.mean(axis=(1, 2), keepdims=True)
    return out.astype(np.float32)


def make_observed(cfg: dict, noise_mk: float, slices_path, table_path, split_path, out_path) -> None:
    """Rule ``cm21_observe``: the slice stack as observed at one noise level (same rows, table and split)."""
    from .stage import cosmology_of, grid_of

    slices = load_array(slices_path, "cm21_slices")  # a memory map, observed in chunks of CHUNK slices
    z = pd.read_csv(table_path)["z"].to_numpy(float)
    _, cell = grid_of(split_path)
    cosmo = cosmology_of(cfg)
    with atomic_output(out_path) as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=slices.shape)
        for start in range(0, len(slices), CHUNK):
            rows = np.arange(start, min(start + CHUNK, len(slices)))
            out[rows] = observe(slices[rows], z[rows], rows, cell, noise_mk, cfg["telescope"], cosmo, cfg["seed"])
        out.flush()
        del out
    tel = cfg["telescope"]
    log.info("observed %d slices: noise %g mK, beam %s Mpc / %s arcmin, mean removed %s", len(slices), noise_mk,
             tel["beam_mpc"], tel["beam_arcmin"], tel["remove_mean"])


def telescope_curve(cfg: dict, evaluations: dict, slices_path, out_path) -> dict:
    """Rule ``cm21_telescope``: accuracy (or zeta RMSE) of each method against the noise level.

    Parameters
    ----------
    cfg : dict
        ``config['cm21']``.
    evaluations : dict
        noise rms (mK) -> path of that level's evaluation (:func:`cosmodl.cm21.evaluate.evaluate_task`).
    slices_path : path
        The true slices, for the signal's rms (the fluctuations: each slice's mean removed).
    out_path : path
        ``telescope.json``.

    Returns
    -------
    dict
        ``task``, ``metric``, ``beam_mpc``, ``beam_arcmin``, ``remove_mean``, ``signal_rms_mk``, ``chance`` and
        ``levels``: per noise rms (increasing), each method's score on the test slices and per box.
    """
    import json

    from ..io import write_json

    slices = load_array(slices_path, "cm21_slices")
    fluctuation = float(np.sqrt(np.mean([np.var(s) for s in slices])))
    levels, metric, chance = [], None, None
    for noise in sorted(evaluations):
        doc = json.loads(open(evaluations[noise]).read())
        metric = "accuracy" if doc["kind"] == "classification" else "rmse"
        first = next(iter(doc["methods"].values()))
        chance = first.get("chance") if metric == "accuracy" else first.get("rmse_train_mean")
        levels.append({"noise_mk": float(noise),
                       "methods": {name: {metric: m.get(metric), "per_box": m["per_box"].get(metric)}
                                   for name, m in doc["methods"].items()}})
    tel = cfg["telescope"]
    out = {"task": tel["task"], "metric": metric, "beam_mpc": tel["beam_mpc"], "beam_arcmin": tel["beam_arcmin"],
           "remove_mean": tel["remove_mean"], "signal_rms_mk": fluctuation, "chance": chance, "levels": levels}
    write_json(out, out_path)
    return out

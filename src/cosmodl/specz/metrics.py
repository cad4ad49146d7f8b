"""Redshift metrics of the specz stage: class accuracy, photo-z style scatter and outliers, calibration.

Conventions: dz = (z_pred - z_true) / (1 + z_true); sigma_NMAD = 1.4826 median(|dz - median(dz)|);
an outlier has |dz| above a threshold (0.15, the photo-z convention, and 0.01, which matters at
spectroscopic precision: 0.01 is about 25 classes at z = 1.4).
"""

from __future__ import annotations

import numpy as np

OUTLIER_THRESHOLDS = (0.15, 0.01)


def sigma_nmad(dz: np.ndarray) -> float:
    """Normalised median absolute deviation 1.4826 median(|dz - median(dz)|)."""
    dz = np.asarray(dz, np.float64)
    return float(1.4826 * np.median(np.abs(dz - np.median(dz)))) if dz.size else float("nan")


def redshift_metrics(z_true, z_pred, class_true, class_pred) -> dict:
    """Class accuracy, accuracy within 1 and 5 classes, sigma_NMAD and outlier fractions.

    Parameters
    ----------
    z_true, z_pred : ndarray (N,)
        True redshift and the point estimate.
    class_true, class_pred : ndarray (N,) int
    """
    z_true, z_pred = np.asarray(z_true, np.float64), np.asarray(z_pred, np.float64)
    off = np.abs(np.asarray(class_pred) - np.asarray(class_true))
    dz = (z_pred - z_true) / (1 + z_true)
    out = {"n": int(len(z_true)), "accuracy": float(np.mean(off == 0)), "within_1": float(np.mean(off <= 1)),
           "within_5": float(np.mean(off <= 5)), "sigma_nmad": sigma_nmad(dz)}
    for t in OUTLIER_THRESHOLDS:
        out[f"outliers_{t:g}"] = float(np.mean(np.abs(dz) > t))
    return out


def softmax_estimates(prob: np.ndarray, centres: np.ndarray) -> dict:
    """Point estimates and a 68 % interval from class probabilities (B, C) over class centres (C,).

    Returns
    -------
    dict of (B,) arrays
        ``mode`` (centre of the most probable class), ``mean`` (expectation), ``lo``/``hi``
        (16th and 84th percentiles of the distribution, uniform within each class).
    """
    prob = np.asarray(prob, np.float64)
    prob = prob / prob.sum(axis=1, keepdims=True)
    width = centres[1] - centres[0] if len(centres) > 1 else 1.0
    cdf = np.cumsum(prob, axis=1)
    return {"mode": centres[np.argmax(prob, axis=1)], "mean": prob @ centres,
            "lo": _quantile(cdf, centres, width, 0.16), "hi": _quantile(cdf, centres, width, 0.84)}


def _quantile(cdf: np.ndarray, centres: np.ndarray, width: float, q: float) -> np.ndarray:
    """The redshift where a piecewise-uniform distribution's CDF reaches q (per row)."""
    k = np.minimum((cdf < q).sum(axis=1), cdf.shape[1] - 1)      # first class whose CDF reaches q
    rows = np.arange(len(cdf))
    below = np.where(k > 0, cdf[rows, np.maximum(k - 1, 0)], 0.0)
    inside = cdf[rows, k] - below
    frac = np.clip((q - below) / np.where(inside > 0, inside, 1.0), 0.0, 1.0)
    return centres[k] - width / 2 + frac * width


def pit(prob: np.ndarray, centres: np.ndarray, z_true: np.ndarray) -> np.ndarray:
    """Probability integral transform: each distribution's CDF at the true z (uniform if calibrated)."""
    prob = np.asarray(prob, np.float64)
    prob = prob / prob.sum(axis=1, keepdims=True)
    width = centres[1] - centres[0] if len(centres) > 1 else 1.0
    edges = centres - width / 2
    k = np.clip(np.searchsorted(edges, z_true, side="right") - 1, 0, len(centres) - 1)
    cdf = np.cumsum(prob, axis=1)
    rows = np.arange(len(prob))
    below = np.where(k > 0, cdf[rows, np.maximum(k - 1, 0)], 0.0)
    frac = np.clip((z_true - edges[k]) / width, 0.0, 1.0)
    return below + frac * prob[rows, k]


def calibration(prob: np.ndarray, centres: np.ndarray, z_true: np.ndarray, n_bins: int = 10) -> dict:
    """Coverage of the 68 % interval and the PIT histogram (density per bin; 1 everywhere if calibrated)."""
    est = softmax_estimates(prob, centres)
    values = pit(prob, centres, z_true)
    hist, _ = np.histogram(values, bins=n_bins, range=(0, 1))
    return {"coverage_68": float(np.mean((z_true >= est["lo"]) & (z_true <= est["hi"]))),
            "median_interval": float(np.median(est["hi"] - est["lo"])),
            "pit_histogram": (hist / max(len(values), 1) * n_bins).tolist()}


def all_metrics(prob: np.ndarray, centres: np.ndarray, z_true: np.ndarray, class_true: np.ndarray,
                z_min: float, dz: float) -> dict:
    """Metrics of the mode (the class) and of the softmax mean, and the calibration, of one method."""
    est = softmax_estimates(prob, centres)
    class_pred = np.argmax(prob, axis=1)
    class_mean = np.clip(np.floor((est["mean"] - z_min) / dz), 0, len(centres) - 1).astype(int)
    return {"mode": redshift_metrics(z_true, est["mode"], class_true, class_pred),
            "mean": redshift_metrics(z_true, est["mean"], class_true, class_mean),
            "calibration": calibration(prob, centres, z_true)}

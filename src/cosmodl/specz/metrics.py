"""Redshift metrics of the specz stage: class accuracy, photo-z style scatter and outliers, calibration.

Conventions: dz = (z_pred - z_true) / (1 + z_true); sigma_NMAD = 1.4826 median(|dz - median(dz)|);
a *catastrophic* redshift has |dz| > 0.003 (Frontera-Pons et al. 2019, the seed group's criterion:
about 3 to 8 classes of 0.001 over 1 <= z < 1.8); outliers at 0.15 (the photo-z convention) and
0.01 are kept beside it. A method's confidence (its softmax peak, or a template fit's chi^2 gap)
orders its answers: keeping the most confident share c of the test set (completeness) leaves a
share p of them not catastrophic (purity); ``completeness_at_99_purity`` is the largest c with
p >= 0.99 (what a survey could keep at a 1 % failure budget).
"""

from __future__ import annotations

import numpy as np

OUTLIER_THRESHOLDS = (0.15, 0.01)
CATASTROPHIC = 0.003


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
    out["catastrophic"] = float(np.mean(is_catastrophic(z_true, z_pred)))
    for t in OUTLIER_THRESHOLDS:
        out[f"outliers_{t:g}"] = float(np.mean(np.abs(dz) > t))
    return out


def is_catastrophic(z_true, z_pred) -> np.ndarray:
    """|z_pred - z_true| / (1 + z_true) > 0.003, per spectrum (N,) bool."""
    z_true = np.asarray(z_true, np.float64)
    return np.abs(np.asarray(z_pred, np.float64) - z_true) / (1 + z_true) > CATASTROPHIC


def purity_completeness(confidence, catastrophic, purity_target: float = 0.99, n_points: int = 21) -> dict:
    """Purity against completeness when only the most confident answers are kept.

    Parameters
    ----------
    confidence : ndarray (N,)
        Higher is surer; answers of equal confidence are kept or dropped together.
    catastrophic : ndarray (N,) bool
    purity_target : float
    n_points : int
        Completeness values at which the curve is stored (evenly spaced in (0, 1]).

    Returns
    -------
    dict
        ``completeness_at_99_purity`` (the largest completeness whose purity reaches
        ``purity_target``; 0 when even the surest answer fails), and ``curve``: ``completeness``
        and ``purity`` lists.
    """
    confidence = np.asarray(confidence, np.float64)
    bad = np.asarray(catastrophic, bool)
    n = len(bad)
    order = np.argsort(-confidence, kind="stable")
    kept = np.arange(1, n + 1)
    purity = 1.0 - np.cumsum(bad[order]) / kept
    # a cut can only fall between different confidences: keep the last index of each tie group
    ends = np.r_[np.flatnonzero(np.diff(confidence[order]) != 0), n - 1]
    completeness = kept[ends] / n
    purity = purity[ends]
    ok = purity >= purity_target
    best = float(completeness[ok].max()) if ok.any() else 0.0
    grid = np.linspace(1.0 / (n_points - 1), 1.0, n_points - 1)
    at = np.minimum(np.searchsorted(completeness, grid - 1e-12), len(completeness) - 1)
    return {"completeness_at_99_purity": best,
            "curve": {"completeness": [float(c) for c in completeness[at]],
                      "purity": [float(v) for v in purity[at]]}}


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
                z_min: float, dz: float, confidence: np.ndarray | None = None) -> dict:
    """Metrics of the mode (the class) and of the softmax mean, the calibration, and the purity
    against completeness of the mode ordered by ``confidence`` (default: the probability peak)."""
    est = softmax_estimates(prob, centres)
    class_pred = np.argmax(prob, axis=1)
    class_mean = np.clip(np.floor((est["mean"] - z_min) / dz), 0, len(centres) - 1).astype(int)
    if confidence is None:
        confidence = np.max(prob, axis=1)
    return {"mode": redshift_metrics(z_true, est["mode"], class_true, class_pred),
            "mean": redshift_metrics(z_true, est["mean"], class_true, class_mean),
            "calibration": calibration(prob, centres, z_true),
            "purity": purity_completeness(confidence, is_catastrophic(z_true, est["mode"]))}

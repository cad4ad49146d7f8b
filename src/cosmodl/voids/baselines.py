"""No-learning baselines that every model is reported against."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from ..evaluation.metrics import roc_auc


def underdensity_score(images: np.ndarray, sigma_px: float, map_size: int) -> np.ndarray:
    """Void score of each map pixel: minus the Gaussian-smoothed galaxy image, area-averaged to the map.

    Parameters
    ----------
    images : ndarray, shape (N, S, S)
        Projected galaxy counts.
    sigma_px : float
        Smoothing scale in image pixels (edges reflected, subboxes are not periodic).
    map_size : int
        Side of the map; ``S`` must be a multiple of it.

    Returns
    -------
    ndarray, shape (N, map_size, map_size), float64; larger means emptier.
    """
    images = np.asarray(images, dtype=np.float64)
    n, side = images.shape[0], images.shape[1]
    if side % map_size:
        raise ValueError(f"image side {side} is not a multiple of map size {map_size}")
    smooth = gaussian_filter(images, sigma=(0, sigma_px, sigma_px), mode="reflect")
    f = side // map_size
    return -smooth.reshape(n, map_size, f, map_size, f).mean(axis=(2, 4))


MAX_FIT_IMAGES = 2000  # the underdensity baseline is fitted on at most this many training images


class UnderdensityBaseline:
    """Void probability from the smoothed local galaxy underdensity, ranked and calibrated.

    ``fit`` picks the smoothing scale with the best pixel ROC-AUC on the training maps, then
    maps the score to a probability by its rank: the mean true void fraction of the training
    pixels in each of ``n_bins`` score quantiles (a monotone, binned isotonic calibration).
    """

    def __init__(self, sigmas=(1, 2, 4, 8), threshold: float = 0.5, n_bins: int = 50):
        self.sigmas, self.threshold, self.n_bins = list(sigmas), threshold, n_bins
        self.sigma_px = None
        self.edges = self.values = None

    def fit(self, images: np.ndarray, truth: np.ndarray) -> "UnderdensityBaseline":
        """images (N, S, S), truth (N, m, m) void fractions of the training subboxes."""
        m = truth.shape[-1]
        labels = truth >= self.threshold
        aucs = [roc_auc(labels, underdensity_score(images, s, m)) for s in self.sigmas]
        self.sigma_px = float(self.sigmas[int(np.nanargmax(aucs))])
        self.train_aucs = dict(zip(map(float, self.sigmas), aucs))
        score = underdensity_score(images, self.sigma_px, m).ravel()
        self.edges = np.quantile(score, np.linspace(0, 1, self.n_bins + 1))
        which = self._bin(score)
        sums = np.bincount(which, weights=truth.ravel(), minlength=self.n_bins)
        counts = np.bincount(which, minlength=self.n_bins)
        # mean truth per bin (0 for an empty bin), made monotone in the score
        self.values = np.maximum.accumulate(sums / np.maximum(counts, 1))
        return self

    def _bin(self, score: np.ndarray) -> np.ndarray:
        """Index of the training-set score quantile bin of each score."""
        return np.clip(np.searchsorted(self.edges, score, side="right") - 1, 0, self.n_bins - 1)

    def predict(self, images: np.ndarray, map_size: int) -> np.ndarray:
        """Void probability, shape (N, map_size, map_size)."""
        return self.values[self._bin(underdensity_score(images, self.sigma_px, map_size))]


def counts_baselines(train_targets: np.ndarray, test_targets_shape: tuple, train_galaxies: np.ndarray,
                     test_galaxies: np.ndarray) -> dict:
    """Two baselines for per-subbox targets (N, T): the training mean, and a linear fit on galaxy count.

    Returns
    -------
    dict
        ``training_mean`` and ``linear_in_galaxy_count``: predictions of shape ``test_targets_shape``,
        and ``coefficients`` (T, 2) = (intercept, slope per galaxy) of the linear fit.
    """
    mean = train_targets.mean(axis=0)
    design = np.stack([np.ones_like(train_galaxies, dtype=np.float64), train_galaxies.astype(np.float64)], axis=1)
    coef, *_ = np.linalg.lstsq(design, train_targets.astype(np.float64), rcond=None)  # (2, T)
    test_design = np.stack([np.ones_like(test_galaxies, dtype=np.float64), test_galaxies.astype(np.float64)], axis=1)
    return {"training_mean": np.broadcast_to(mean, test_targets_shape).copy(),
            "linear_in_galaxy_count": test_design @ coef, "coefficients": coef.T}

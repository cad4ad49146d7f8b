"""Baselines without deep learning: summary statistics a cosmologist would try first, and the seed's PCA + k-NN.

* **physics**: per slice, the mean and variance of delta_T_b, the ionised fraction (cells with
  delta_T_b = 0) and the azimuthally averaged 2-D power spectrum in ``n_k`` logarithmic
  k-bins, then a logistic regression (standardised features) and a gradient-boosted tree
  ensemble (scikit-learn's HistGradientBoosting); ridge and boosting regressors for zeta.
* **pca_knn**: PCA (``n_components``) fitted on the training patches, then Euclidean k-nearest
  neighbours on the projections (MAIS 202: 50 components, 33 % on 17 redshifts).
"""

from __future__ import annotations

import numpy as np


def power_spectrum_2d(slices: np.ndarray, cell_mpc: float, n_k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Azimuthally averaged 2-D power spectra of slices.

    Parameters
    ----------
    slices : ndarray (N, S, S), mK
    cell_mpc : float
        Cell side, comoving Mpc.
    n_k : int
        Logarithmic bins between the fundamental mode and the Nyquist frequency.

    Returns
    -------
    k : ndarray (n_k,), 1/Mpc, bin centres (geometric)
    power : ndarray (N, n_k), mK^2 Mpc^2; ``P(k) = |FFT|^2 cell^2 / S^2`` averaged over the
        modes in each bin (the convention of a continuous field's 2-D power spectrum).
    """
    n, s, _ = slices.shape
    side = s * cell_mpc
    ft = np.fft.rfft2(slices - slices.mean(axis=(1, 2), keepdims=True))
    kx = 2 * np.pi * np.fft.fftfreq(s, d=cell_mpc)
    ky = 2 * np.pi * np.fft.rfftfreq(s, d=cell_mpc)
    kmag = np.sqrt(kx[:, None] ** 2 + ky[None, :] ** 2)
    # rfft2 keeps half the plane: the modes with ky > 0 stand for two, the ky = 0 (and Nyquist) column for one
    weight = np.full(kmag.shape, 2.0)
    weight[:, 0] = 1.0
    if s % 2 == 0:
        weight[:, -1] = 1.0
    edges = np.geomspace(2 * np.pi / side, np.pi / cell_mpc, n_k + 1)
    which = np.digitize(kmag, edges) - 1
    power = np.abs(ft) ** 2 * cell_mpc**2 / s**2
    out = np.zeros((n, n_k))
    for b in range(n_k):
        m = which == b
        w = weight[m]
        out[:, b] = (power[:, m] * w).sum(axis=1) / max(w.sum(), 1e-30)
    return np.sqrt(edges[:-1] * edges[1:]), out


def physics_features(slices: np.ndarray, cell_mpc: float, n_k: int = 10) -> np.ndarray:
    """Summary statistics of each slice: (N, 3 + n_k) = mean, variance, ionised fraction, log10 P(k)."""
    _, power = power_spectrum_2d(slices, cell_mpc, n_k)
    mean = slices.mean(axis=(1, 2))
    var = slices.var(axis=(1, 2))
    ionised = (slices <= 0).mean(axis=(1, 2))
    return np.column_stack([mean, var, ionised, np.log10(power + 1e-6)])


def physics_models(kind: str, seed: int = 0) -> dict:
    """The physics baseline's estimators by name: logistic/ridge and gradient boosting."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "classification":
        return {"physics_logistic": make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=10.0)),
                "physics_boosting": HistGradientBoostingClassifier(random_state=seed)}
    return {"physics_ridge": make_pipeline(StandardScaler(), Ridge(alpha=1.0)),
            "physics_boosting": HistGradientBoostingRegressor(random_state=seed)}


def pca_knn(kind: str, n_components: int, n_neighbors: int):
    """PCA(n_components) then Euclidean k-NN (classifier or regressor), as one scikit-learn pipeline."""
    from sklearn.decomposition import PCA
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
    from sklearn.pipeline import make_pipeline

    knn = KNeighborsClassifier if kind == "classification" else KNeighborsRegressor
    return make_pipeline(PCA(n_components=n_components, random_state=0), knn(n_neighbors=n_neighbors))

"""Baselines without deep learning: summary statistics a cosmologist would try first, and the seed's PCA + k-NN.

* **physics**: per slice, three families of summary statistics (:data:`FAMILIES`): the one-point
  moments of delta_T_b (mean, variance, skewness, kurtosis), the ionised fraction (cells with
  delta_T_b = 0) and the azimuthally averaged 2-D power spectrum in ``n_k`` logarithmic
  k-bins, then a logistic regression (standardised features) and a gradient-boosted tree
  ensemble (scikit-learn's HistGradientBoosting); ridge and boosting regressors for zeta.
  :func:`physics_ablation` scores the boosting on each family alone and without it.
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


FAMILIES = ("moments", "ionised", "power")  # the physics features' families, in their column order


def physics_families(slices: np.ndarray, cell_mpc: float, n_k: int = 10) -> dict[str, np.ndarray]:
    """Summary statistics of each slice, by family.

    Parameters
    ----------
    slices : ndarray (N, S, S), mK
    cell_mpc : float
    n_k : int

    Returns
    -------
    dict
        ``moments`` (N, 4): mean (mK), variance (mK^2), skewness and excess kurtosis of delta_T_b
        (0 for a constant slice); ``ionised`` (N, 1): the fraction of cells with delta_T_b <= 0;
        ``power`` (N, n_k): log10 of the 2-D power spectrum (:func:`power_spectrum_2d`, + 1e-6).
    """
    x = slices.reshape(len(slices), -1).astype(np.float64)
    mean = x.mean(axis=1)
    centred = x - mean[:, None]
    var = (centred**2).mean(axis=1)
    safe = np.where(var > 0, var, 1.0)
    skew = np.where(var > 0, (centred**3).mean(axis=1) / safe**1.5, 0.0)
    kurt = np.where(var > 0, (centred**4).mean(axis=1) / safe**2 - 3.0, 0.0)
    _, power = power_spectrum_2d(slices, cell_mpc, n_k)
    return {"moments": np.column_stack([mean, var, skew, kurt]),
            "ionised": (x <= 0).mean(axis=1)[:, None],
            "power": np.log10(power + 1e-6)}


def physics_features(slices: np.ndarray, cell_mpc: float, n_k: int = 10) -> np.ndarray:
    """Summary statistics of each slice: (N, 5 + n_k), the :data:`FAMILIES` of :func:`physics_families`
    side by side (mean, variance, skewness, kurtosis, ionised fraction, log10 P(k))."""
    families = physics_families(slices, cell_mpc, n_k)
    return np.column_stack([families[f] for f in FAMILIES])


def physics_ablation(kind: str, seed: int, train: dict, test: dict, y_train: np.ndarray, y_test: np.ndarray) -> dict:
    """Which feature family carries the physics baseline: gradient boosting on each family alone and
    on all the others, scored on the test set.

    Parameters
    ----------
    kind : {'classification', 'regression'}
    seed : int
    train, test : dict
        :func:`physics_families` of the training and test slices.
    y_train, y_test : ndarray
        Class indices, or zeta.

    Returns
    -------
    dict
        ``metric`` ('accuracy' or 'rmse'), ``all`` (every family), ``alone`` and ``without``
        (family -> score).
    """
    def score(families):
        model = physics_models(kind, seed)["physics_boosting"]
        model.fit(np.column_stack([train[f] for f in families]), y_train)
        predicted = model.predict(np.column_stack([test[f] for f in families]))
        if kind == "classification":
            return float(np.mean(predicted == y_test))
        return float(np.sqrt(np.mean((predicted - y_test) ** 2)))

    return {"metric": "accuracy" if kind == "classification" else "rmse", "all": score(FAMILIES),
            "alone": {f: score([f]) for f in FAMILIES},
            "without": {f: score([g for g in FAMILIES if g != f]) for f in FAMILIES}}


def fesc_power_signal(slices: np.ndarray, table, cell_mpc: float, n_k: int = 10) -> dict:
    """Is f_esc visible in the power spectrum? Its change between neighbouring f_esc classes beside
    its scatter at fixed (z, f_esc).

    For each redshift and k-bin, on log10 P(k): ``neighbour_change``, the mean over neighbouring
    f_esc pairs of the difference of their means over every slice; ``seed_scatter``, the standard
    deviation over seeds of the box means (averaged over f_esc; needs two seeds or more);
    ``slice_scatter``, the standard deviation over the slices of one (z, f_esc), averaged over
    f_esc - the noise a one-slice classifier faces. A change well below ``slice_scatter`` means one
    slice cannot tell the classes apart by its power spectrum.

    Parameters
    ----------
    slices : ndarray (N, S, S), mK
    table : DataFrame with ``seed``, ``f_esc``, ``z`` per slice
    cell_mpc : float
    n_k : int

    Returns
    -------
    dict
        ``k`` (n_k,) 1/Mpc and, per redshift (a string key), lists of n_k numbers
        ``neighbour_change``, ``seed_scatter`` (null with one seed), ``slice_scatter``, and the
        medians over k of change / slice scatter (``median_ratio_slice``) and change / seed scatter
        (``median_ratio_seed``).
    """
    k, power = power_spectrum_2d(slices, cell_mpc, n_k)
    logp = np.log10(power + 1e-6)
    out = {"k": k.tolist(), "z": {}}
    for z in sorted(np.unique(table["z"])):
        at_z = table["z"].to_numpy() == z
        fescs = sorted(np.unique(table["f_esc"][at_z]))
        if len(fescs) < 2:
            continue
        means, seed_sd, slice_sd = [], [], []
        for f in fescs:
            rows = at_z & np.isclose(table["f_esc"], f)
            means.append(logp[rows].mean(axis=0))
            slice_sd.append(logp[rows].std(axis=0, ddof=1) if rows.sum() > 1 else np.full(n_k, np.nan))
            seeds = table["seed"].to_numpy()[rows]
            boxes = np.array([logp[rows][seeds == s].mean(axis=0) for s in np.unique(seeds)])
            seed_sd.append(boxes.std(axis=0, ddof=1) if len(boxes) > 1 else np.full(n_k, np.nan))
        change = np.abs(np.diff(np.array(means), axis=0)).mean(axis=0)
        seed, sl = np.nanmean(seed_sd, axis=0), np.nanmean(slice_sd, axis=0)
        out["z"][f"{z:g}"] = {
            "neighbour_change": change.tolist(),
            "seed_scatter": None if np.isnan(seed).all() else seed.tolist(),
            "slice_scatter": sl.tolist(),
            "median_ratio_slice": float(np.median(change / sl)),
            "median_ratio_seed": None if np.isnan(seed).all() else float(np.median(change / seed))}
    return out


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

"""Baselines without deep learning: summary statistics a cosmologist would try first, and the seed's PCA + k-NN.

* **physics**: per slice, the families of summary statistics of :mod:`cosmodl.cm21.features`
  (one-point moments, ionised fraction, 2-D power spectrum, Betti numbers, bubble sizes, wavelet
  scattering; ``cm21.baselines.families``), then a logistic regression (standardised features)
  and a gradient-boosted tree ensemble (scikit-learn's HistGradientBoosting); ridge and boosting
  regressors for zeta. :func:`physics_ablation` scores the boosting on each family alone and
  without it.
* **pca_knn**: PCA (``n_components``) fitted on the training patches, then Euclidean k-nearest
  neighbours on the projections (MAIS 202: 50 components, 33 % on 17 redshifts).
"""

from __future__ import annotations

import numpy as np

from .features import power_spectrum_2d


def physics_ablation(kind: str, seed: int, train: dict, test: dict, y_train: np.ndarray, y_test: np.ndarray,
                     all_score: float | None = None) -> dict:
    """Which feature family carries the physics baseline: gradient boosting on each family alone and
    on all the others, scored on the test set.

    Parameters
    ----------
    kind : {'classification', 'regression'}
    seed : int
    train, test : dict
        family -> (N, d) features of the training and test slices (:func:`cosmodl.cm21.features.slice_features`).
    y_train, y_test : ndarray
        Class indices, or zeta.
    all_score : float, optional
        The score on every family, when the caller has already fitted that model (the physics
        baseline's boosting: the same estimator, seed and columns); fitted here otherwise.

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

    families = list(train)
    return {"metric": "accuracy" if kind == "classification" else "rmse",
            "all": score(families) if all_score is None else all_score,
            "alone": {f: score([f]) for f in families},
            "without": {f: score([g for g in families if g != f]) for f in families if len(families) > 1}}


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

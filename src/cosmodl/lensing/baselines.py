"""Baselines of the lensing stage: PCA reconstruction error and a one-class SVM on PCA coefficients,
fitted on the ``no_sub`` training images (the oracles, the ceilings, are in :mod:`cosmodl.lensing.simulate`).
"""

from __future__ import annotations

import logging

import numpy as np

from ..evaluation.metrics import pixel_mse

log = logging.getLogger(__name__)


def pca_baseline(train: np.ndarray, test: np.ndarray, n_components: int, nu: float, seed: int = 0) -> dict:
    """PCA reconstruction-error and one-class-SVM scores of ``test`` (N, H, W), fitted on ``train`` (M, H, W).

    Returns
    -------
    dict with ``pca_recon`` (N, H, W), ``pca_score`` (N,) (= MSE), ``osvm_score`` (N,)
    (minus the decision function of an RBF one-class SVM on standardised PCA coefficients) and
    ``components``, the number fitted: at most ``len(train) - 1`` (a warning in the log when fewer
    than asked).
    """
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import OneClassSVM

    fitted = min(n_components, len(train) - 1)
    if fitted < n_components:
        log.warning("PCA baseline: %d components fitted, not the %d asked for (lensing.baselines.pca_components): "
                    "only %d training images", fitted, n_components, len(train))
    n_components = fitted
    flat_train, flat_test = train.reshape(len(train), -1), test.reshape(len(test), -1)
    pca = PCA(n_components=n_components, svd_solver="randomized", random_state=seed).fit(flat_train)
    codes_test = pca.transform(flat_test)
    recon = pca.inverse_transform(codes_test).reshape(test.shape).astype(np.float32)
    scaler = StandardScaler().fit(pca.transform(flat_train))
    svm = OneClassSVM(nu=nu, gamma="scale").fit(scaler.transform(pca.transform(flat_train)))
    return {"pca_recon": recon, "pca_score": pixel_mse(test, recon), "components": int(n_components),
            "osvm_score": -svm.decision_function(scaler.transform(codes_test))}

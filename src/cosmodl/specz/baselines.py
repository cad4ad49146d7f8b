"""Classical redshift estimators to set beside the CNNs.

* :class:`TemplateFit` - the classical method, template cross-correlation done as a least-squares
  fit: at every class centre z_c the spectrum is fitted by the 5 kcorrect basis templates
  (at the instrument's resolution, redshifted to z_c, on the observed grid) plus a polynomial
  continuum of ``poly_degree`` (it absorbs dust tilts and the normalisation); the class is the
  z_c of least chi^2. With white noise, minimising chi^2 over a linear model is maximising the
  spectrum's projection on the model's span: ``|Q_c^T f|^2`` for an orthonormal basis Q_c (SVD),
  so all 800 fits of a batch are one matrix product.
* :func:`binned_flux` + a scikit-learn random forest on the flux binned to ``n_bins`` values.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import RandomForestClassifier

from .spectra import SpectrumMaker

RANK_TOL = 1e-4


class TemplateFit:
    """Least-squares template fit over a redshift grid (module docstring).

    Parameters
    ----------
    maker : SpectrumMaker
        Its templates, resolution and observed grid.
    z_grid : ndarray (C,)
        Trial redshifts (the class centres).
    poly_degree : int
        Degree of the Legendre continuum added to the templates (-1: none).
    """

    def __init__(self, maker: SpectrumMaker, z_grid: np.ndarray, poly_degree: int = 2):
        self.z_grid = np.asarray(z_grid, np.float64)
        rest = maker.rest_templates()                                # (5, K)
        i, w = maker.interpolation(self.z_grid)                      # (C, P)
        models = rest[:, i] * (1 - w) + rest[:, i + 1] * w           # (5, C, P)
        models = np.moveaxis(models, 0, -1)                          # (C, P, 5)
        x = np.linspace(-1.0, 1.0, maker.s.n_pixels)
        poly = np.polynomial.legendre.legvander(x, poly_degree) if poly_degree >= 0 else np.zeros((len(x), 0))
        basis = np.concatenate([models, np.broadcast_to(poly, (len(self.z_grid), *poly.shape))], axis=-1)
        basis /= np.linalg.norm(basis, axis=1, keepdims=True)
        # orthonormal basis of each span; directions with singular values below RANK_TOL of the
        # largest (templates nearly alike over the observed window) are dropped, not fitted to noise
        u, sv, _ = np.linalg.svd(basis, full_matrices=False)        # (C, P, k), (C, k)
        u *= (sv > RANK_TOL * sv[:, :1])[:, None, :]
        self.q = u.astype(np.float32)
        self.k = u.shape[-1]

    def projections(self, flux: np.ndarray) -> np.ndarray:
        """``|Q_c^T f|^2`` (B, C): the explained part of ``|f|^2`` at each trial redshift."""
        c, p, k = self.q.shape
        coef = np.asarray(flux, np.float32) @ self.q.transpose(1, 0, 2).reshape(p, c * k)  # (B, C*k)
        return (coef.reshape(len(flux), c, k) ** 2).sum(axis=-1)

    def chi2(self, flux: np.ndarray) -> np.ndarray:
        """Residual sum of squares (B, C) of the best fit at each trial redshift (flux units^2)."""
        f = np.asarray(flux, np.float32)
        return (f**2).sum(axis=1, keepdims=True) - self.projections(f)

    def predict_class(self, flux: np.ndarray, batch: int = 512) -> np.ndarray:
        """Index of the least-chi^2 trial redshift for each spectrum (B,)."""
        out = [np.argmax(self.projections(flux[s:s + batch]), axis=1) for s in range(0, len(flux), batch)]
        return np.concatenate(out) if out else np.zeros(0, np.int64)

    def probabilities(self, flux: np.ndarray, noise_sigma: float, batch: int = 512) -> np.ndarray:
        """exp(-chi^2 / 2 sigma^2) normalised over the grid (B, C): a flat-prior posterior."""
        out = []
        for s in range(0, len(flux), batch):
            logp = self.projections(flux[s:s + batch]).astype(np.float64) / (2 * noise_sigma**2)
            logp -= logp.max(axis=1, keepdims=True)
            p = np.exp(logp)
            out.append((p / p.sum(axis=1, keepdims=True)).astype(np.float32))
        return np.concatenate(out)


def binned_flux(flux: np.ndarray, n_bins: int) -> np.ndarray:
    """Mean flux in ``n_bins`` equal runs of pixels (B, n_bins); trailing pixels are dropped."""
    flux = np.asarray(flux, np.float32)
    width = flux.shape[1] // n_bins
    return flux[:, :width * n_bins].reshape(len(flux), n_bins, width).mean(axis=2)


def random_forest(flux: np.ndarray, labels: np.ndarray, n_bins: int, n_estimators: int, seed: int,
                  threads: int | None = None) -> RandomForestClassifier:
    """A random forest on binned flux (B, n_bins) -> class."""
    forest = RandomForestClassifier(n_estimators=n_estimators, n_jobs=threads or 1, random_state=seed,
                                    min_samples_leaf=1, max_features="sqrt")
    return forest.fit(binned_flux(flux, n_bins), labels)


def forest_probabilities(forest: RandomForestClassifier, flux: np.ndarray, n_bins: int, n_classes: int) -> np.ndarray:
    """Class probabilities (B, n_classes) of a forest, zero for classes it never saw."""
    p = np.zeros((len(flux), n_classes), np.float32)
    p[:, forest.classes_] = forest.predict_proba(binned_flux(flux, n_bins))
    return p

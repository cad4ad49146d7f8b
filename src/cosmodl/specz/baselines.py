"""Classical redshift estimators to set beside the CNNs, each at its best (issue 20).

Every template fit scores a spectrum at every class centre z_c by the chi^2 of its best linear
model there, and takes the least; the model is templates (at the instrument's resolution,
redshifted to z_c, on the observed grid) plus a Legendre continuum of ``poly_degree`` (it absorbs
dust tilts and the normalisation). Residuals are weighted by the known noise curve
(``pixel_sigma``, the realistic set's throughput shape; all ones for white noise).

* :class:`TemplateFit` (``template``) - least squares, coefficients of any sign. Minimising chi^2
  over a linear model is maximising the spectrum's projection on the model's span: ``|Q_c^T f|^2``
  for an orthonormal basis Q_c (SVD), so all 800 fits of a batch are one matrix product.
* :class:`NonNegativeFit` (``nnls``) - the templates' coefficients >= 0 (a galaxy is a sum of
  stellar populations), the continuum's free. Exact: the optimum is the least-squares solution on
  its own support, so with 5 templates it is the best feasible one of the 2^5 supports, each
  solved from precomputed Gram inverses; a batch is again a few tensor products.
* :func:`learn_rest_templates` + :class:`TemplateFit` (``learned``) - templates learned from the
  clean training spectra's rest frames (mean + principal components, masked where a spectrum
  does not reach), as redrock builds its templates.
* :func:`clip_spikes` + :class:`TemplateFit` (``robust``) - pixels more than ``clip_sigma`` noise
  sigmas from their running median (spikes, sky residuals) are replaced by it before the fit.
* :func:`binned_flux` + a scikit-learn random forest (``forest``) on the flux binned to ``n_bins``
  values.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.ndimage import median_filter
from sklearn.ensemble import RandomForestClassifier

from .metrics import CATASTROPHIC
from .spectra import SpectrumMaker

RANK_TOL = 1e-4


def template_models(maker: SpectrumMaker, z_grid: np.ndarray, rest: np.ndarray | None = None) -> np.ndarray:
    """Rest templates (k, K_rest) seen at each trial redshift on the observed grid: (C, P, k).

    ``rest`` defaults to the maker's 5 kcorrect templates at its resolution (``rest_templates``).
    """
    rest = maker.rest_templates() if rest is None else np.asarray(rest, np.float64)
    i, w = maker.interpolation(np.asarray(z_grid, np.float64))     # (C, P)
    return np.moveaxis(rest[:, i] * (1 - w) + rest[:, i + 1] * w, 0, -1)


def legendre_continuum(n_pixels: int, degree: int) -> np.ndarray:
    """Legendre polynomials of degree 0 .. ``degree`` over the pixels (P, degree + 1); (P, 0) for -1."""
    x = np.linspace(-1.0, 1.0, n_pixels)
    return np.polynomial.legendre.legvander(x, degree) if degree >= 0 else np.zeros((n_pixels, 0))


def weighted_basis(maker: SpectrumMaker, z_grid: np.ndarray, poly_degree: int, rest=None,
                   pixel_sigma=None) -> tuple[np.ndarray, np.ndarray]:
    """The fits' design matrices: templates then continuum, rows weighted, columns of unit norm.

    Returns
    -------
    basis : ndarray (C, P, k + poly_degree + 1) float64
        At each trial redshift, the templates (:func:`template_models`) and the Legendre continuum,
        each pixel multiplied by its weight ``1 / pixel_sigma``, each column scaled to unit norm.
    weight : ndarray (P,) float32
        The pixel weights (all ones for white noise); a spectrum is weighted the same way.
    """
    z_grid = np.asarray(z_grid, np.float64)
    models = template_models(maker, z_grid, rest)                              # (C, P, k)
    poly = legendre_continuum(maker.s.n_pixels, poly_degree)
    basis = np.concatenate([models, np.broadcast_to(poly, (len(z_grid), *poly.shape))], axis=-1)
    weight = (np.ones(maker.s.n_pixels) if pixel_sigma is None
              else 1.0 / np.asarray(pixel_sigma, np.float64)).astype(np.float32)
    basis = basis * weight[None, :, None]
    return basis / np.linalg.norm(basis, axis=1, keepdims=True), weight


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
    rest : ndarray (k, K_rest), optional
        Rest templates on the maker's rest grid (default: the 5 kcorrect ones).
    pixel_sigma : ndarray (P,), optional
        Relative noise per pixel; residuals are weighted by its inverse (default: white).
    """

    def __init__(self, maker: SpectrumMaker, z_grid: np.ndarray, poly_degree: int = 2, rest=None,
                 pixel_sigma=None):
        self.z_grid = np.asarray(z_grid, np.float64)
        basis, self.weight = weighted_basis(maker, self.z_grid, poly_degree, rest, pixel_sigma)
        # orthonormal basis of each span; directions with singular values below RANK_TOL of the
        # largest (templates nearly alike over the observed window) are dropped, not fitted to noise
        u, sv, _ = np.linalg.svd(basis, full_matrices=False)        # (C, P, k), (C, k)
        u *= (sv > RANK_TOL * sv[:, :1])[:, None, :]
        self.q = u.astype(np.float32)
        self.k = u.shape[-1]

    def projections(self, flux: np.ndarray) -> np.ndarray:
        """``|Q_c^T f|^2`` (B, C): the explained part of ``|f|^2`` at each trial redshift (``f`` weighted)."""
        c, p, k = self.q.shape
        f = np.asarray(flux, np.float32) * self.weight
        coef = f @ self.q.transpose(1, 0, 2).reshape(p, c * k)  # (B, C*k)
        return (coef.reshape(len(flux), c, k) ** 2).sum(axis=-1)

    def chi2(self, flux: np.ndarray, batch: int = 512) -> np.ndarray:
        """Weighted residual sum of squares (B, C) of the best fit at each trial redshift (flux units^2)."""
        out = []
        for s in range(0, len(flux), batch):
            f = np.asarray(flux[s:s + batch], np.float32)
            out.append(((f * self.weight) ** 2).sum(axis=1, keepdims=True) - self.projections(f))
        return np.concatenate(out) if out else np.zeros((0, len(self.z_grid)), np.float32)

    def predict_class(self, flux: np.ndarray, batch: int = 512) -> np.ndarray:
        """Index of the least-chi^2 trial redshift for each spectrum (B,)."""
        out = [np.argmax(self.projections(flux[s:s + batch]), axis=1) for s in range(0, len(flux), batch)]
        return np.concatenate(out) if out else np.zeros(0, np.int64)



def chi2_probabilities(chi2: np.ndarray, noise_sigma: float) -> np.ndarray:
    """exp(-chi^2 / 2 sigma^2) normalised over the trial redshifts (B, C) float32: a flat-prior posterior."""
    logp = -np.asarray(chi2, np.float64) / (2 * noise_sigma**2)
    logp -= logp.max(axis=1, keepdims=True)
    p = np.exp(logp)
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


def chi2_gap(chi2: np.ndarray, z_grid: np.ndarray, catastrophic: float = CATASTROPHIC) -> np.ndarray:
    """How much worse the best fit away from the best redshift is: a template fit's confidence (B,).

    ``min chi^2`` over trial redshifts with ``|z - z_best| > catastrophic (1 + z_best)`` minus the
    least chi^2: large when no other redshift comes close (the redrock ``deltachi2``).
    """
    chi2 = np.asarray(chi2, np.float64)
    best = np.argmin(chi2, axis=1)
    z_best = z_grid[best]
    far = np.abs(z_grid[None, :] - z_best[:, None]) > catastrophic * (1 + z_best[:, None])
    return np.where(far, chi2, np.inf).min(axis=1) - chi2[np.arange(len(chi2)), best]


class NonNegativeFit:
    """Template fit with the templates' coefficients >= 0 and a free continuum (module docstring).

    Parameters as :class:`TemplateFit`. ``chi2`` is the exact constrained optimum at each trial
    redshift: over every support S of the templates, the unconstrained fit on S + continuum,
    kept where its template coefficients are all >= 0; the least chi^2 of those.
    """

    def __init__(self, maker: SpectrumMaker, z_grid: np.ndarray, poly_degree: int = 2, rest=None,
                 pixel_sigma=None):
        self.z_grid = np.asarray(z_grid, np.float64)
        basis, self.weight = weighted_basis(maker, self.z_grid, poly_degree, rest, pixel_sigma)
        self.basis = basis.astype(np.float32)                                   # (C, P, k)
        k = basis.shape[-1]
        n_t = k - max(poly_degree + 1, 0)                                       # the templates come first
        gram = np.einsum("cpk,cpl->ckl", self.basis.astype(np.float64), self.basis.astype(np.float64))
        supports = [s for r in range(n_t + 1) for s in itertools.combinations(range(n_t), r)]
        self.active = np.zeros((len(supports), k), bool)                       # (S, k)
        for j, s in enumerate(supports):
            self.active[j, list(s)] = True
            self.active[j, n_t:] = True
        mask = self.active[:, :, None] & self.active[:, None, :]               # (S, k, k)
        sub = np.where(mask[None], gram[:, None], 0.0)                          # (C, S, k, k)
        # the Gram matrix squares the singular values: the same RANK_TOL on the columns is its square here
        self.inverse = np.linalg.pinv(sub, rcond=RANK_TOL**2, hermitian=True)  # zero outside S
        self.n_templates = n_t

    def coefficients(self, flux: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per support: coefficients (B, C, S, k) of the unit-norm columns and the explained ``|f|^2`` (B, C, S)."""
        c, p, k = self.basis.shape
        f = np.asarray(flux, np.float32) * self.weight
        b = (f @ self.basis.transpose(1, 0, 2).reshape(p, c * k)).reshape(len(f), c, k).astype(np.float64)
        coef = np.einsum("cskl,bcl->bcsk", self.inverse, b)
        return coef, np.einsum("bcsk,bck->bcs", coef, b)

    def chi2(self, flux: np.ndarray, batch: int = 64) -> np.ndarray:
        """Weighted residual sum of squares (B, C) of the best non-negative fit at each trial redshift."""
        out = []
        for s in range(0, len(flux), batch):
            f = np.asarray(flux[s:s + batch], np.float32)
            coef, explained = self.coefficients(f)
            feasible = (coef[..., :self.n_templates] >= -1e-9).all(axis=-1)     # (B, C, S)
            best = np.where(feasible, explained, -np.inf).max(axis=-1)
            out.append(((f.astype(np.float64) * self.weight) ** 2).sum(axis=1, keepdims=True) - best)
        return np.concatenate(out) if out else np.zeros((0, len(self.z_grid)))


def clip_spikes(flux: np.ndarray, noise_sigma: np.ndarray, clip_sigma: float = 5.0, window: int = 5) -> np.ndarray:
    """Replace pixels more than ``clip_sigma`` noise sigmas from their running median by it (B, P).

    Parameters
    ----------
    flux : ndarray (B, P)
    noise_sigma : ndarray (P,) or float
        The noise standard deviation per pixel, flux units.
    window : int
        Running-median width, pixels (narrower than an emission line at R = 250, about 12 pixels
        FWHM, so lines survive and one-pixel spikes do not).
    """
    flux = np.asarray(flux, np.float32)
    smooth = median_filter(flux, size=(1, window), mode="nearest")
    far = np.abs(flux - smooth) > clip_sigma * np.asarray(noise_sigma, np.float32)
    return np.where(far, smooth, flux)


def learn_rest_templates(maker: SpectrumMaker, flux: np.ndarray, z: np.ndarray, n_components: int,
                         iterations: int = 15, seed: int = 0) -> np.ndarray:
    """Mean + ``n_components`` principal components of spectra brought to rest frame (k, K_rest).

    Each spectrum (B, P) at known ``z`` (B,) is read on the maker's rest grid (linear
    interpolation in ln lambda), where it covers only part of the grid; the components come from
    a masked low-rank fit (alternating least squares on the covered pixels, the mean held as a
    column), as a survey learns templates from its own spectra.
    """
    rest_ln = np.log(maker.rest_wave)
    ln_obs = maker.ln_obs
    flux = np.asarray(flux, np.float64)
    x = np.empty((len(flux), len(rest_ln)))
    for b in range(len(flux)):
        x[b] = np.interp(rest_ln, ln_obs - np.log1p(z[b]), flux[b], left=np.nan, right=np.nan)
    mask = np.isfinite(x)
    x = np.where(mask, x, 0.0)
    w = mask.astype(np.float64)
    k = n_components + 1
    rng = np.random.default_rng(seed)
    mean = x.sum(0) / np.maximum(w.sum(0), 1)
    comps = np.vstack([mean, rng.normal(0, 1e-2, (n_components, len(rest_ln)))])   # (k, K)
    ridge = 1e-6 * np.eye(k)
    for _ in range(iterations):
        g = np.einsum("bn,in,jn->bij", w, comps, comps) + ridge                      # (B, k, k)
        coef = np.linalg.solve(g, np.einsum("bn,in->bi", x * w, comps)[..., None])[..., 0]
        h = np.einsum("bn,bi,bj->nij", w, coef, coef) + ridge                         # (K, k, k)
        comps = np.linalg.solve(h, np.einsum("bn,bi->ni", x * w, coef)[..., None])[..., 0].T
    return comps




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

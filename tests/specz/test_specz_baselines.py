"""Classical specz baselines against brute-force references (issue 20): the non-negative and the
learned-template fits, spike clipping, the chi^2 gap, and purity against completeness."""

import numpy as np
import pytest
from scipy.optimize import lsq_linear

from cosmodl.specz.baselines import (NonNegativeFit, TemplateFit, chi2_gap, clip_spikes, learn_rest_templates,
                                     legendre_continuum, template_models)
from cosmodl.specz.data import make_spectra
from cosmodl.specz.metrics import is_catastrophic, purity_completeness
from cosmodl.specz.realistic import RealisticMaker, RealisticSettings
from cosmodl.specz.spectra import SpectrumMaker, SpectrumSettings


@pytest.fixture(scope="module")
def maker():
    return RealisticMaker(SpectrumSettings(n_sed=200), RealisticSettings())


def brute_chi2(columns, flux, weight, lower):
    """Weighted least squares with bounds, one spectrum and one redshift at a time (scipy's BVLS)."""
    a = columns * weight[:, None]
    norm = np.linalg.norm(a, axis=0)  # the templates are ~1e-17 in flux units: scale for the solver
    fit = lsq_linear(a / norm, flux * weight, bounds=(lower, np.inf), method="bvls", tol=1e-12)
    return np.sum((a / norm @ fit.x - flux * weight) ** 2)


def test_non_negative_fit_is_the_bounded_least_squares_optimum(maker):
    z_grid = maker.s.class_centres()[::97]
    spectra = make_spectra(maker, 1, "test", np.arange(4), 1.0)["flux"]
    fit = NonNegativeFit(maker, z_grid, 2, pixel_sigma=maker.pixel_sigma)
    plain = TemplateFit(maker, z_grid, 2, pixel_sigma=maker.pixel_sigma)
    chi2, free = fit.chi2(spectra), plain.chi2(spectra)
    models, poly = template_models(maker, z_grid), legendre_continuum(maker.s.n_pixels, 2)
    lower = np.r_[np.zeros(5), np.full(3, -np.inf)]
    for b in range(len(spectra)):
        for c in range(len(z_grid)):
            columns = np.concatenate([models[c], poly], axis=1)
            ref = brute_chi2(columns, spectra[b].astype(np.float64), 1 / maker.pixel_sigma, lower)
            assert chi2[b, c] == pytest.approx(ref, rel=1e-4)
            unbounded = brute_chi2(columns, spectra[b].astype(np.float64), 1 / maker.pixel_sigma, -np.inf)
            assert free[b, c] == pytest.approx(unbounded, rel=1e-4)
    assert np.all(chi2 >= free - 1e-3 * np.abs(free)) and np.any(chi2 > free * (1 + 1e-3))  # the bound binds


def test_learned_templates_span_a_planted_rest_basis_and_fit_like_least_squares():
    """Spectra made of 3 known rest-frame components at known z: the learned span contains them."""
    s = SpectrumSettings(n_sed=50)
    m = SpectrumMaker(s)
    rest = m.rest_templates()[[0, 1, 3]]
    rest /= rest.mean(axis=1, keepdims=True)  # kcorrect's units differ by 1e4 between templates
    rng = np.random.default_rng(0)
    z = rng.uniform(s.z_min, s.z_max, 600)
    coef = rng.dirichlet(np.ones(3), 600)
    flux = np.einsum("bk,bpk->bp", coef, template_models(m, z, rest))
    learned = learn_rest_templates(m, flux, z, n_components=3, iterations=30)
    seen = [(m.rest_wave * (1 + zi) >= s.lambda_min) & (m.rest_wave * (1 + zi) <= s.lambda_max) for zi in z]
    covered = np.sum(seen, axis=0) >= 60  # rest pixels that at least a tenth of the spectra reach
    q, _ = np.linalg.qr(learned[:, covered].T)
    target = rest[:, covered].T
    residual = target - q @ (q.T @ target)
    assert np.linalg.norm(residual) / np.linalg.norm(target) < 1e-2  # (interpolated twice: to pixels and back)
    # the fit on learned templates is weighted least squares at each redshift
    spectra = make_spectra(m, 2, "test", np.arange(3), 2.0)["flux"]
    z_grid = s.class_centres()[::131]
    chi2 = TemplateFit(m, z_grid, 1, rest=learned).chi2(spectra)
    models, poly = template_models(m, z_grid, learned), legendre_continuum(s.n_pixels, 1)
    for b in range(3):
        for c in range(len(z_grid)):
            ref = brute_chi2(np.concatenate([models[c], poly], axis=1), spectra[b].astype(np.float64),
                             np.ones(s.n_pixels), -np.inf)
            assert chi2[b, c] == pytest.approx(ref, rel=1e-4)


def test_clip_spikes_removes_a_spike_and_keeps_a_resolved_line(maker):
    flux = maker.observe_clean(np.array([0]), np.array([1.3]), np.array([1]))
    wave = maker.s.wave
    ha = int(np.argmin(np.abs(wave - 6564.6 * 2.3)))
    spiked = flux.copy()
    spiked[0, 300] += 10 * 0.1
    cleaned = clip_spikes(spiked, np.full(maker.s.n_pixels, 0.1), clip_sigma=5)
    assert cleaned[0, 300] == pytest.approx(flux[0, 300], abs=0.05)
    assert cleaned[0, ha] == pytest.approx(flux[0, ha], rel=0.1)  # a line about 12 pixels wide survives


def test_chi2_gap_is_the_best_far_chi2_minus_the_best():
    rng = np.random.default_rng(3)
    z_grid = 1 + (np.arange(800) + 0.5) * 0.001
    chi2 = rng.uniform(10, 20, (5, 800))
    gap = chi2_gap(chi2, z_grid)
    for b in range(5):
        best = np.argmin(chi2[b])
        far = [c for c in range(800) if abs(z_grid[c] - z_grid[best]) > 0.003 * (1 + z_grid[best])]
        assert gap[b] == pytest.approx(chi2[b, far].min() - chi2[b, best])


def test_purity_against_completeness_matches_a_brute_force_count():
    rng = np.random.default_rng(1)
    confidence = np.round(rng.random(500), 2)  # ties: kept or dropped together
    bad = rng.random(500) < 0.3 * (1 - confidence)
    result = purity_completeness(confidence, bad)
    best = 0.0
    for threshold in np.unique(confidence):
        kept = confidence >= threshold
        if 1 - bad[kept].mean() >= 0.99:
            best = max(best, kept.mean())
    assert result["completeness_at_99_purity"] == pytest.approx(best)
    curve = result["curve"]
    assert curve["completeness"][-1] == 1.0 and curve["purity"][-1] == pytest.approx(1 - bad.mean())
    assert purity_completeness(np.ones(4), np.array([True, False, False, False]))["completeness_at_99_purity"] == 0
    assert is_catastrophic(np.array([1.0, 1.0]), np.array([1.0059, 1.0061])).tolist() == [False, True]

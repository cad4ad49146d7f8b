import numpy as np
import scipy.fft

from cosmodl.voids.simulate import make_mock_galaxies
from cosmodl.cosmology import linear_power, planck18
from cosmodl.fields import gaussian_density_k, zeldovich_displacement


def _binned_power(delta_k, box, n):
    k = 2 * np.pi * np.fft.fftfreq(n, d=box / n)
    kz = 2 * np.pi * np.fft.rfftfreq(n, d=box / n)
    kk = np.sqrt(k[:, None, None] ** 2 + k[None, :, None] ** 2 + kz[None, None, :] ** 2)
    power = np.abs(delta_k) ** 2 * box**3 / n**6
    # count the half-plane kz = 0 and Nyquist modes once each: enough for a binned comparison
    return kk.ravel(), power.ravel()


def test_gaussian_field_has_the_input_power_spectrum():
    n, box = 64, 500.0
    cosmo = planck18()
    delta_k = gaussian_density_k(n, box, cosmo, 0.0, np.random.default_rng(3))
    k, p = _binned_power(delta_k, box, n)
    edges = np.linspace(0.03, 0.35, 9)
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (k >= lo) & (k < hi)
        expected = linear_power(k[sel], cosmo).mean()
        measured = p[sel].mean()
        # each mode is exponentially distributed (rms = mean); modes come in +-k pairs in rfft
        sigma = expected / np.sqrt(sel.sum() / 2)
        assert abs(measured - expected) < 5 * sigma, (lo, hi, measured, expected)


def test_zeldovich_divergence_gives_minus_delta():
    n, box = 32, 200.0
    delta_k = gaussian_density_k(n, box, planck18(), 0.0, np.random.default_rng(0))
    psi = zeldovich_displacement(delta_k, box)
    k = 2 * np.pi * np.fft.fftfreq(n, d=box / n)
    kz = 2 * np.pi * np.fft.rfftfreq(n, d=box / n)
    ks = (k[:, None, None], k[None, :, None], kz[None, None, :])
    div_k = sum(1j * ks[a] * scipy.fft.rfftn(psi[a]) for a in range(3))
    # Nyquist modes cannot carry an odd (imaginary) part on a real grid: compare all others
    index = np.fft.fftfreq(n, d=1.0 / n)
    keep = ((np.abs(index)[:, None, None] < n // 2) & (np.abs(index)[None, :, None] < n // 2)
            & (np.arange(n // 2 + 1)[None, None, :] < n // 2))
    np.testing.assert_allclose(div_k[keep], -delta_k[keep], atol=1e-3 * np.abs(delta_k).max())


def test_mock_density_box_and_reproducibility():
    kwargs = dict(box_size=200.0, n_grid=32, number_density=5e-3, bias=1.5, cosmo=planck18(), seed=7)
    a = make_mock_galaxies(**kwargs)
    b = make_mock_galaxies(**kwargs)
    np.testing.assert_array_equal(a, b)
    expected = 5e-3 * 200.0**3
    assert abs(len(a) - expected) < 5 * np.sqrt(expected)
    assert a.dtype == np.float32 and a.min() >= 0 and a.max() < 200.0
    c = make_mock_galaxies(**{**kwargs, "seed": 8})
    assert len(c) != len(a) or not np.array_equal(a, c)


def test_biased_mock_is_clustered_more_than_poisson():
    box, n = 300.0, 32
    pos = make_mock_galaxies(box, n, 1e-2, 2.0, planck18(), seed=1)
    counts, _ = np.histogramdd(pos, bins=10, range=[(0, box)] * 3)
    mean = counts.mean()
    # Poisson variance would equal the mean; large-scale structure adds a lot more
    assert counts.var() > 3 * mean

"""The realistic specz set (issue 20): each piece the 5-template fit does not model, pinned."""

import astropy.units as u
import numpy as np
import pytest
from dust_extinction.averages import G03_SMCBar
from dust_extinction.parameter_averages import G23

from cosmodl.errors import ConfigError
from cosmodl.specz.data import make_spectra, noise
from cosmodl.specz.realistic import LINE_LIST, RealisticMaker, RealisticSettings, dust_curve
from cosmodl.specz.spectra import SpectrumSettings

H_ALPHA_VACUUM = 6564.6


def maker_with(n_sed=400, spectra=None, **realistic):
    return RealisticMaker(SpectrumSettings(n_sed=n_sed, **(spectra or {})), RealisticSettings(**realistic))


@pytest.fixture(scope="module")
def maker():
    return maker_with(n_sed=4000)


def test_line_families_scatter_independently_around_their_median_ratios(maker):
    r = maker.library_params["ratios"]
    log = {name: np.log10(r[name]) for name in r}
    assert np.all(r["Halpha"] == 1.0)
    for name, ref, median in (("Hbeta", "Halpha", 1 / 2.86), ("[OIII]5008", "Hbeta", 2.0),
                              ("[OII]3728", "Halpha", 0.8), ("[SII]6718", "Halpha", 0.15),
                              ("[NII]6585", "Halpha", 0.35)):
        ratio = log[name] - log[ref]
        assert np.median(ratio) == pytest.approx(np.log10(median), abs=0.02)
        assert np.std(ratio) == pytest.approx(0.3, rel=0.06)
    # doublet partners keep their atomic ratio; families do not move together
    assert np.allclose(r["[NII]6550"] / r["[NII]6585"], 1 / 3.05)
    assert np.allclose(r["[OIII]4960"] / r["[OIII]5008"], 1 / 2.98)
    assert abs(np.corrcoef(log["Hbeta"], log["[OII]3728"])[0, 1]) < 0.05
    assert abs(np.corrcoef(log["[SII]6718"], log["[NII]6585"])[0, 1]) < 0.05
    assert len({name for name, *_ in LINE_LIST}) == len(LINE_LIST) == len(r)


@pytest.mark.parametrize("law, model", [("smc", G03_SMCBar()), ("mw", G23(Rv=3.1))])
def test_dust_laws_are_dust_extinction_s(law, model):
    wave = np.linspace(3500.0, 10500.0, 50)
    assert np.allclose(dust_curve(law, wave), model(wave * u.AA))
    assert dust_curve(law, np.array([5495.0]))[0] == pytest.approx(1.0, abs=0.03)  # A(V) / A(V)


@pytest.mark.parametrize("law", ["calzetti", "smc", "mw"])
def test_library_reddens_each_galaxy_by_its_own_law(law):
    """Same draws with and without dust: the ratio of the SEDs is 10^(-0.4 A_V A(lambda)/A(V)) up to a constant."""
    kw = dict(ew_halpha=0.0, continuum_wiggle=0.0, passive_fraction=0.0, dust_laws=[law])
    dusty = maker_with(n_sed=20, **kw)
    clear = maker_with(n_sed=20, spectra={"av_max": 0.0}, **kw)
    av = dusty.library_params["av"]
    wave = dusty.rest_wave
    inner = slice(40, -40)  # away from the convolution's edges
    for j in np.argsort(av)[-3:]:
        ratio = np.log10(dusty.library[j] / clear.library[j])[inner]
        expected = -0.4 * av[j] * dust_curve(law, wave)[inner]
        assert np.allclose(ratio - ratio.mean(), expected - expected.mean(), atol=2e-3)


def test_lines_see_more_dust_than_stars():
    """Line over continuum at H-alpha, dusty over dust-free: 10^(-0.4 A_V k(H-alpha) (1/0.44 - 1))."""
    kw = dict(continuum_wiggle=0.0, passive_fraction=0.0, dust_laws=["calzetti"])

    def line_over_continuum(av_max, j):
        lines, bare = (maker_with(n_sed=30, spectra={"av_max": av_max}, ew_halpha=ew, **kw) for ew in (100.0, 0.0))
        wave = lines.rest_wave
        ha, side = np.argmin(np.abs(wave - H_ALPHA_VACUUM)), np.argmin(np.abs(wave - 6300.0))
        scale = lines.library[j, side] / bare.library[j, side]  # the two differ by their mean only
        return lines.library[j, ha] / (bare.library[j, ha] * scale) - 1, lines.library_params["av"][j], wave[ha]

    j = int(np.argmax(maker_with(n_sed=30, **kw).library_params["av"]))
    dusty, av, wave_ha = line_over_continuum(1.0, j)
    clear, _, _ = line_over_continuum(0.0, j)
    k = dust_curve("calzetti", np.array([wave_ha]))[0]
    assert av > 0.8 and dusty / clear == pytest.approx(10 ** (-0.4 * av * k * (1 / 0.44 - 1)), rel=0.02)


@pytest.mark.parametrize("z", [1.05, 1.4321, 1.79])
def test_h_alpha_is_within_a_pixel_of_its_wavelength_without_jitter_and_moves_with_it(z):
    """R = 500: H-alpha resolved from [NII] 6585 (45 A observed away); centroid against 6564.6 (1 + z)."""
    kw = dict(passive_fraction=0.0, line_ratio_dex=0.0, continuum_wiggle=0.0)
    spectra = {"resolution": 500, "av_max": 0.0}
    wave = SpectrumSettings().wave
    pixel = wave[1] - wave[0]
    for jitter in (0.0, 4.0):
        m = maker_with(n_sed=50, spectra=spectra, jitter=jitter, **kw)
        seeds = np.arange(50)
        seed = seeds[[np.argmax(np.abs(m.draw_instrument(seeds, "jitter")))]]  # a shift over half a pixel
        flux = m.observe_clean(np.array([0]), np.array([z]), seed)[0]
        shift = m.draw_instrument(seed, "jitter")[0]
        # pixel p sees wavelength wave[p] + shift: a line at lambda_0 appears at lambda_0 - shift
        expected = H_ALPHA_VACUUM * (1 + z) - shift
        near = np.abs(wave - expected) < 4 * pixel
        side = (np.abs(wave - expected) > 80 * (1 + z)) & (np.abs(wave - expected) < 160 * (1 + z))
        line = np.clip(flux[near] - np.median(flux[side]), 0, None)
        centroid = (wave[near] * line).sum() / line.sum()
        assert abs(centroid - expected) < 0.5 * pixel
        assert flux[near].max() > 3 * np.median(flux[side])
        assert (abs(shift) > 3.0) if jitter else shift == 0.0


def test_jitter_stays_in_its_range_and_spikes_are_poisson(maker):
    seeds = np.arange(4000) * 7919 + 11
    jitter = maker.draw_instrument(seeds, "jitter")
    assert np.abs(jitter).max() <= 3.0 and jitter.min() < -2.9 and jitter.max() > 2.9
    spikes = maker.draw_instrument(seeds, "spikes")
    counts = np.array([len(p) for p, _ in spikes])
    assert counts.mean() == pytest.approx(1.0, rel=0.05) and counts.var() == pytest.approx(1.0, rel=0.1)
    amplitudes = np.concatenate([a for _, a in spikes])
    assert amplitudes.min() >= 5.0 and amplitudes.max() <= 20.0
    assert np.concatenate([p for p, _ in spikes]).max() < maker.s.n_pixels
    sky = maker.draw_instrument(seeds, "sky")  # N(0, sky_residual = 1) per line and spectrum
    assert sky.shape == (4000, 20) and abs(sky.mean()) < 0.01 and sky.std() == pytest.approx(1.0, rel=0.01)
    assert np.all([len(p) == 0 for p, _ in maker_with(n_sed=10, spikes=0.0).draw_instrument(seeds[:50], "spikes")])


def test_noisy_spectrum_is_clean_plus_shaped_noise_sky_and_spikes():
    m = maker_with(n_sed=50, sky_residual=0.0)
    s = m.s
    seeds = np.arange(300) + 5
    clean = m.observe_clean(np.zeros(300, int), np.full(300, 1.3), seeds)
    zero = m.add_noise(clean, seeds, np.zeros((300, s.n_pixels), np.float32), 2.0)
    expected = np.zeros_like(clean)
    for b, (pixels, amplitude) in enumerate(m.draw_instrument(seeds, "spikes")):
        np.add.at(expected[b], pixels, amplitude * m.noise_shape[pixels] / 2.0)
    assert np.allclose(zero - clean, expected, atol=1e-5)  # spikes exactly where drawn, nothing else
    gauss = noise(seeds, s.n_pixels)
    noisy = m.add_noise(clean, seeds, gauss, 2.0) - zero
    assert m.noise_shape.mean() == pytest.approx(1.0)
    ratio = noisy.std(axis=0) / (m.noise_shape / 2.0)
    assert np.median(ratio) == pytest.approx(1.0, rel=0.03)
    assert m.noise_shape[0] > 1.3 * m.noise_shape.min()  # the grism's blue end is noisier


def test_realistic_samples_are_pure_functions_of_seed_set_and_position(maker):
    a = make_spectra(maker, 5, "train", [7, 1000, 3], 1.0)["flux"]
    b = make_spectra(maker, 5, "train", [3, 7], 1.0)["flux"]
    assert np.array_equal(a[0], b[1]) and np.array_equal(a[2], b[0])


def test_passive_galaxies_have_no_lines(maker):
    p = maker.library_params
    assert p["passive"].mean() == pytest.approx(0.1, abs=0.015)
    flat = maker_with(n_sed=4000, ew_halpha=0.0)
    ha = np.argmin(np.abs(maker.rest_wave - H_ALPHA_VACUUM))
    passive = np.flatnonzero(p["passive"])[:20]
    assert np.allclose(maker.library[passive, ha], flat.library[passive, ha], rtol=1e-4)


@pytest.mark.parametrize("kwargs, message", [
    ({"spike_amplitude": [5.0, 1.0]}, "spike_amplitude"),
    ({"dust_laws": []}, "dust_laws"),
    ({"dust_laws": ["lmc"]}, "dust_laws"),
    ({"passive_fraction": 1.5}, "passive_fraction"),
])
def test_bad_realistic_settings_give_one_clear_error(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        RealisticSettings(**kwargs)

"""Synthetic spectra: line positions, labels, purity of the draws, workers, bad settings."""

import numpy as np
import pytest
import torch

from cosmodl.errors import ConfigError
from cosmodl.specz.data import SpectraSet, draws, hash64, make_spectra, write_set
from cosmodl.specz.spectra import SpectrumMaker, SpectrumSettings, calzetti_k, split_continuum
from cosmodl.training import EpochLoader

H_ALPHA_VACUUM = 6564.6  # A; kcorrect's templates are in vacuum wavelengths (6562.8 in air)


@pytest.fixture(scope="module")
def maker():
    return SpectrumMaker(SpectrumSettings(n_sed=500))


@pytest.mark.parametrize("z", [1.0, 1.2345, 1.5, 1.799])
def test_h_alpha_lands_at_its_rest_wavelength_times_1_plus_z(z):
    """At a resolution that keeps H-alpha apart from [NII], its centroid is within one pixel of 6564.6 (1+z) A."""
    s = SpectrumSettings(n_sed=300, resolution=20000, av_max=0.0, line_scatter_dex=0.0)
    m = SpectrumMaker(s)
    sed = int(np.argmax(m.library_params["weights"][:, 1]))  # the template with the strongest lines
    flux = m.spectra(np.array([sed]), np.array([z]))[0]
    wave = s.wave
    expected = H_ALPHA_VACUUM * (1 + z)
    near = np.abs(wave - expected) < 9 * (1 + z)  # [NII] lies 16-20 A (rest) away
    side = (np.abs(wave - expected) > 40 * (1 + z)) & (np.abs(wave - expected) < 120 * (1 + z))
    line = np.clip(flux[near] - np.median(flux[side]), 0, None)
    centroid = (wave[near] * line).sum() / line.sum()
    assert abs(centroid - expected) < wave[1] - wave[0]
    assert flux[near].max() > 3 * np.median(flux[side])  # a line, not noise in the continuum


def test_observed_grid_and_labels_match_the_recipe(maker):
    s = maker.s
    assert s.wave.shape == (1780,) and s.wave[0] == 11000 and s.wave[-1] == 20000
    assert s.n_classes == 800
    z = np.array([1.0, 1.0005, 1.001, 1.4567, 1.7999])
    assert s.class_of(z).tolist() == [0, 0, 1, 456, 799]
    d = draws(3, "train", np.arange(20000), s.n_sed, s.z_min, s.z_max)
    assert np.array_equal(s.class_of(d["z"]), np.floor((d["z"] - 1) / 0.001).astype(int))
    assert d["z"].min() >= 1 and d["z"].max() < 1.8 and d["sed"].min() >= 0 and d["sed"].max() < s.n_sed
    counts = np.bincount(s.class_of(d["z"]), minlength=800)
    assert counts.min() > 5 and counts.max() < 60  # about uniform: 25 per class


def test_spectra_have_unit_mean_and_noise_of_one_over_snr(maker):
    pos = np.arange(256)
    clean = make_spectra(maker, 0, "val", pos, None)["flux"]
    noisy = make_spectra(maker, 0, "val", pos, 4.0)["flux"]
    assert np.allclose(clean.mean(axis=1), 1, atol=1e-4)
    assert np.std(noisy - clean) == pytest.approx(0.25, rel=0.02)


def test_sample_i_is_a_function_of_seed_set_and_i_only(maker):
    a = make_spectra(maker, 5, "train", [7, 1000, 3], 3.0)["flux"]
    b = make_spectra(maker, 5, "train", [3, 7], 3.0)["flux"]
    assert np.array_equal(a[0], b[1]) and np.array_equal(a[2], b[0])
    other_set = make_spectra(maker, 5, "val", [7], 3.0)["flux"]
    other_seed = make_spectra(maker, 6, "train", [7], 3.0)["flux"]
    assert not np.allclose(a[0], other_set[0]) and not np.allclose(a[0], other_seed[0])
    h = hash64(1, 0, np.arange(100000), 3)
    assert len(np.unique(h)) == 100000


def _epoch(dataset, workers, epoch):
    loader = EpochLoader(dataset, batch_size=32, shuffle=True, seed=0, num_workers=workers)
    loader.set_epoch(epoch)
    return [b for b in loader]


def test_two_workers_never_repeat_spectra_and_a_rerun_reproduces_them(maker):
    data = SpectraSet(maker, 0, "train", 320, snr=5.0)
    two = _epoch(data, 2, 0)
    flux = torch.cat([x for x, _ in two]).squeeze(1).numpy()
    assert flux.shape == (320, 1780)
    assert len(np.unique(flux.round(5), axis=0)) == 320  # no worker repeats another's spectra
    again = _epoch(SpectraSet(maker, 0, "train", 320, snr=5.0), 2, 0)
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(two, again))
    serial = _epoch(data, 0, 0)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(two, serial))


def test_a_training_set_is_the_same_spectra_every_epoch_in_a_new_order(maker):
    data = SpectraSet(maker, 0, "train", 96, snr=None)
    e0 = torch.cat([y for _, y in _epoch(data, 0, 0)])
    e1 = torch.cat([y for _, y in _epoch(data, 0, 1)])
    assert not torch.equal(e0, e1) and torch.equal(e0.sort().values, e1.sort().values)
    first = make_spectra(maker, 0, "train", np.arange(96), None)["label"]
    assert np.array_equal(np.sort(first), e0.sort().values.numpy())


def test_stored_sets_hold_clean_and_noisy_from_the_same_draws(maker, tmp_path):
    write_set(maker, 2, "test", 100, 3.0, tmp_path / "t.npz", chunk=40)
    with np.load(tmp_path / "t.npz") as t:
        direct = make_spectra(maker, 2, "test", np.arange(100), 3.0)
        assert np.array_equal(t["noisy"], direct["flux"]) and np.array_equal(t["label"], direct["label"])
        assert np.allclose(t["clean"], make_spectra(maker, 2, "test", np.arange(100), None)["flux"])


@pytest.mark.parametrize("kwargs, message", [
    ({"z_max": 25.0}, "templates cover"),
    ({"dz": 0.0}, "class width"),
    ({"dz": -0.001}, "class width"),
    ({"lambda_min": 30000.0}, "lambda_min"),
])
def test_bad_spectrum_settings_give_one_clear_error(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        SpectrumMaker(SpectrumSettings(**{"n_sed": 10, **kwargs}))


@pytest.mark.parametrize("snr", [0.0, -2.0])
def test_a_non_positive_snr_is_refused(maker, snr):
    with pytest.raises(ConfigError, match="must be > 0"):
        SpectraSet(maker, 0, "train", 10, snr=snr)


def test_calzetti_curve_matches_published_values():
    # Calzetti et al. (2000): k(V = 5500 A) = R_V = 4.05 within the fit's accuracy; k(1.0 um) ~ 1.82
    assert calzetti_k(np.array([5500.0]))[0] == pytest.approx(4.05, abs=0.1)
    assert calzetti_k(np.array([10000.0]))[0] == pytest.approx(2.659 * (-1.857 + 1.040) + 4.05)


def test_continuum_and_lines_add_up_to_the_template(maker):
    flux = maker.template_flux
    continuum, lines = split_continuum(flux)
    assert np.allclose(continuum + lines, flux) and (lines >= 0).all()
    ha = np.argmin(np.abs(maker.template_wave - 6564.6))
    assert lines[1, ha] > 5 * continuum[1, ha]  # H-alpha of the line-rich template is in the lines

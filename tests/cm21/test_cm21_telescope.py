"""Observed slices (cosmodl.cm21.telescope): beam, thermal noise, mean removal, and the curve."""

import json

import numpy as np
import pandas as pd
import pytest

from cosmodl.cm21.telescope import beam_fwhm_mpc, make_observed, observe, smooth, telescope_curve
from cosmodl.cosmology import planck18
from cosmodl.errors import ConfigError
from cosmodl.splits import split_record

TEL = {"beam_mpc": None, "beam_arcmin": None, "remove_mean": False}


def test_the_beam_is_scipy_s_periodic_gaussian_filter():
    from scipy.ndimage import gaussian_filter

    field = np.random.default_rng(0).normal(10.0, 4.0, (2, 40, 40))
    expected = np.stack([gaussian_filter(f, 2.5, mode="wrap", truncate=12.0) for f in field])
    np.testing.assert_allclose(smooth(field, 2.5), expected, rtol=1e-8, atol=1e-10)


def test_the_beam_width_is_astropy_s_comoving_scale_per_arcmin():
    from astropy import units as u
    from astropy.cosmology import FlatLambdaCDM

    cosmo = planck18()
    model = FlatLambdaCDM(H0=100 * cosmo.h, Om0=cosmo.Om0, Ob0=cosmo.Ob0, Tcmb0=cosmo.Tcmb0)
    z = np.array([6.0, 8.0, 12.0])
    expected = (model.kpc_comoving_per_arcmin(z) * 5.0 * u.arcmin).to(u.Mpc).value
    np.testing.assert_allclose(beam_fwhm_mpc(z, 5.0, cosmo), expected, rtol=1e-9)
    assert 10 < beam_fwhm_mpc(np.array([8.0]), 5.0, cosmo)[0] < 16  # about 2.6 comoving Mpc per arcmin at z 8


def test_noise_has_the_rms_asked_for_and_the_beam_s_correlation():
    """White noise smoothed by a Gaussian of sigma s has the correlation exp(-r^2 / (4 s^2)) at lag r;
    its rms is scaled to the level asked for, and without a beam it is white."""
    zeros = np.zeros((64, 48, 48))
    z = np.full(64, 8.0)
    cosmo = planck18()
    fwhm_cells = beam_fwhm_mpc(z[:1], 2.0, cosmo)[0] / 1.5
    sigma = fwhm_cells / (2 * np.sqrt(2 * np.log(2)))
    for beam, lag1 in ((None, 0.0), (2.0, np.exp(-1 / (4 * sigma**2)))):
        out = observe(zeros, z, np.arange(64), 1.5, 3.0, {**TEL, "beam_arcmin": beam}, cosmo, seed=5).astype(float)
        assert out.std() == pytest.approx(3.0, rel=0.03)
        corr = np.mean(out * np.roll(out, 1, axis=2)) / out.var()
        assert corr == pytest.approx(lag1, abs=0.03)


def test_a_comoving_beam_is_the_same_at_every_redshift_and_an_angle_widens_with_z():
    field = np.zeros((2, 32, 32))
    field[:, 16, 16] = 1.0  # a point source: the observed map is the beam
    z, rows = np.array([6.0, 12.0]), np.arange(2)
    fixed = observe(field, z, rows, 1.5, 0.0, {**TEL, "beam_mpc": 6.0}, planck18(), 0)
    np.testing.assert_allclose(fixed[0], fixed[1], atol=1e-7)
    np.testing.assert_allclose(fixed[0], smooth(field[:1], 6.0 / 1.5 / (2 * np.sqrt(2 * np.log(2))))[0], atol=1e-7)
    angle = observe(field, z, rows, 1.5, 0.0, {**TEL, "beam_arcmin": 2.0}, planck18(), 0)
    assert angle[0].max() > 1.1 * angle[1].max()  # wider at z 12: a lower peak


def test_observing_removes_the_mean_and_keeps_the_signal_without_noise_or_beam():
    field = np.random.default_rng(1).normal(20.0, 5.0, (3, 16, 16))
    same = observe(field, np.full(3, 7.0), np.arange(3), 1.5, 0.0, TEL, planck18(), seed=0)
    np.testing.assert_allclose(same, field, rtol=1e-6)
    centred = observe(field, np.full(3, 7.0), np.arange(3), 1.5, 0.0, {**TEL, "remove_mean": True}, planck18(), 0)
    np.testing.assert_allclose(centred, field - field.mean(axis=(1, 2), keepdims=True), atol=1e-4)
    assert np.abs(centred.mean(axis=(1, 2))).max() < 1e-5


def test_a_slice_s_noise_depends_on_its_row_only_and_levels_share_the_field():
    zeros = np.zeros((6, 16, 16))
    z, rows, cosmo = np.full(6, 8.0), np.arange(10, 16), planck18()
    tel = {**TEL, "beam_arcmin": 1.0}
    all_rows = observe(zeros, z, rows, 1.5, 2.0, tel, cosmo, seed=3)
    some = observe(zeros[[1, 4]], z[[1, 4]], rows[[1, 4]], 1.5, 2.0, tel, cosmo, seed=3)
    np.testing.assert_array_equal(some, all_rows[[1, 4]])
    np.testing.assert_allclose(observe(zeros, z, rows, 1.5, 6.0, tel, cosmo, seed=3), 3 * all_rows, rtol=1e-5)
    assert not np.allclose(observe(zeros, z, rows, 1.5, 2.0, tel, cosmo, seed=4), all_rows)


def _stack(tmp_path, n=20, side=16):
    slices = np.random.default_rng(2).normal(15.0, 5.0, (n, side, side)).astype(np.float32)
    table = pd.DataFrame({"seed": 1, "f_esc": 0.07, "zeta": 17.5, "z": np.repeat([7.0, 9.0], n // 2),
                          "position": np.arange(n), "x_hi": 0.5})
    paths = {"slices": tmp_path / "slices.npy", "table": tmp_path / "slices.csv", "split": tmp_path / "split.json"}
    np.save(paths["slices"], slices)
    table.to_csv(paths["table"], index=False)
    roles = np.array([0, 1, 2] * (n // 3) + [0] * (n % 3), dtype=np.int8)
    record = split_record(roles, "seeds", {}, leaky=False)
    record["grid"] = {"dim": side, "cell_mpc": 1.5}
    paths["split"].write_text(json.dumps(record))
    return slices, table, paths


def test_the_observed_stack_is_written_in_chunks_as_one_call_would_make_it(tmp_path, monkeypatch):
    import cosmodl.cm21.telescope as telescope
    from cosmodl.config import load_schema, validate_config

    cfg = validate_config({"cm21": {"telescope": {"noise_mk": [2.0], "beam_mpc": 5.0}}}, load_schema())["cm21"]
    slices, table, paths = _stack(tmp_path)
    monkeypatch.setattr(telescope, "CHUNK", 7)
    make_observed(cfg, 2.0, paths["slices"], paths["table"], paths["split"], tmp_path / "observed.npy")
    whole = observe(slices, table["z"].to_numpy(float), np.arange(len(slices)), 1.5, 2.0, cfg["telescope"],
                    planck18(**cfg["simulate"]["cosmology"]), cfg["seed"])
    np.testing.assert_array_equal(np.load(tmp_path / "observed.npy"), whole)


def test_the_curve_lists_each_level_s_scores_and_the_signal_rms(tmp_path):
    slices, _, paths = _stack(tmp_path)
    evaluations = {}
    for noise, acc in ((0.0, 0.9), (5.0, 0.6)):
        doc = {"kind": "classification", "methods": {"cnn": {"accuracy": acc, "chance": 0.5,
                                                             "per_box": {"accuracy": acc + 0.05}}}}
        evaluations[noise] = tmp_path / f"{noise}.json"
        evaluations[noise].write_text(json.dumps(doc))
    cfg = {"telescope": {"task": "z_all", "beam_mpc": None, "beam_arcmin": None, "remove_mean": True}}
    out = telescope_curve(cfg, evaluations, paths["slices"], tmp_path / "telescope.json")
    assert [lv["noise_mk"] for lv in out["levels"]] == [0.0, 5.0] and out["chance"] == 0.5
    assert out["levels"][1]["methods"]["cnn"] == {"accuracy": 0.6, "per_box": pytest.approx(0.65)}
    assert out["signal_rms_mk"] == pytest.approx(5.0, rel=0.05)
    assert json.loads((tmp_path / "telescope.json").read_text())["metric"] == "accuracy"


@pytest.mark.parametrize("telescope, match", [
    ({"noise_mk": [1.0], "task": "z_fixed_fesc"}, "tasks_fixed.f_esc = 0.5 is not one of cm21.f_esc"),
    ({"noise_mk": [1.0], "networks": ["cnn"]}, "the CNN on raw slices needs at least 22"),
    ({"noise_mk": [1.0], "beam_arcmin": 5.0}, "beam_arcmin = 5.0 with the redshift task z_all: a fixed angle"),
    ({"noise_mk": [1.0], "beam_arcmin": 5.0, "beam_mpc": 10.0}, "both given; give the beam once"),
])
def test_telescope_settings_that_cannot_work_are_one_clear_error(telescope, match):
    from cosmodl.cm21.checks import check_config
    from cosmodl.config import load_schema, validate_config

    cm21 = {"tasks": ["z_all"], "methods": ["physics"], "telescope": telescope, "tasks_fixed": {"f_esc": 0.5},
            "simulate": {"dim": 16 if "networks" in telescope else 80, "box_len": 24.0 if "networks" in telescope
                         else 120.0}, "slices": {"patch": 8}}
    with pytest.raises(ConfigError, match=match):
        check_config(validate_config({"cm21": cm21}, load_schema()))

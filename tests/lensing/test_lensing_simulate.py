"""The lensing simulator against lenstronomy called directly, hand computations and its own invariants."""

import copy

import numpy as np
import pytest
from astropy import constants as const
from astropy import units as u
from astropy.cosmology import Planck18
from lensing_configs import small_cfg
from scipy import stats

from cosmodl.lensing import simulate as S
from cosmodl.lensing.data import merge_chunks, simulate_chunk


def test_einstein_radius_of_1e12_msun_matches_a_hand_computation():
    # theta_E = sqrt(4 G M / c^2 * D_ls / (D_l D_s)), distances from astropy's own z1-z2 routine
    d_l = Planck18.angular_diameter_distance(0.5)
    d_s = Planck18.angular_diameter_distance(1.0)
    d_ls = Planck18.angular_diameter_distance(0.5, 1.0)
    theta = np.sqrt(4 * const.G * 1e12 * const.M_sun / const.c**2 * d_ls / (d_l * d_s)).decompose() * u.rad
    assert S.einstein_radius_from_mass(1e12, 0.5, 1.0) == pytest.approx(theta.to_value(u.arcsec), rel=1e-6)
    # the note's 1.66" (angular-diameter distances, its cosmology unstated; the original's luminosity
    # distances gave 1.28"): 1.637" with Planck18
    assert S.einstein_radius_from_mass(1e12, 0.5, 1.0) == pytest.approx(1.66, abs=0.03)
    assert S.einstein_radius_from_mass(1e12, 0.5, 1.0) == pytest.approx(1.637, abs=5e-4)  # README's number


def test_einstein_radii_agree_with_lenstronomy_lens_cosmo():
    from lenstronomy.Cosmo.lens_cosmo import LensCosmo

    lc = LensCosmo(z_lens=0.45, z_source=1.3, cosmo=Planck18)
    assert S.einstein_radius_from_velocity_dispersion(260, 0.45, 1.3) == pytest.approx(
        lc.sis_sigma_v2theta_E(260), rel=5e-4)  # lenstronomy rounds its constants (1.4e-4 here)
    # a point mass: M = pi Sigma_crit theta_E^2, Sigma_crit in Msun / arcsec^2
    theta = np.sqrt(3e11 / (np.pi * lc.sigma_crit_angle))
    assert S.einstein_radius_from_mass(3e11, 0.45, 1.3) == pytest.approx(theta, rel=5e-4)


def test_image_equals_lenstronomy_called_directly(lensing_cfg):
    from lenstronomy.Data.imaging_data import ImageData
    from lenstronomy.Data.psf import PSF
    from lenstronomy.ImSim.image_model import ImageModel
    from lenstronomy.LensModel.lens_model import LensModel
    from lenstronomy.LightModel.light_model import LightModel
    from lenstronomy.Util import param_util, simulation_util

    pop, image_cfg = lensing_cfg["model_b"], lensing_cfg["image"]
    p = S.draw_lens(S.image_rng(5, "B", "spherical", "test", 3), pop, "spherical")
    assert p["n_subhalos"] > 0
    ours, _ = S.render(S.lenstronomy_kwargs(p, "SIE"), image_cfg)

    # the same system written out by hand, with lenstronomy's own ellipticity conversions
    e1, e2 = param_util.phi_q2_ellipticity(p["lens_phi"], p["lens_q"])
    g1, g2 = param_util.shear_polar2cartesian(p["shear_phi"], p["shear"])
    lens = [{"theta_E": p["theta_e"], "e1": e1, "e2": e2, "center_x": 0, "center_y": 0},
            {"gamma1": g1, "gamma2": g2}]
    lens += [{"theta_E": t, "center_x": x, "center_y": y} for x, y, t in p["subhalos"]]
    s, ll = p["source"], p["lens_light"]
    se1, se2 = param_util.phi_q2_ellipticity(s["phi"], s["q"])
    le1, le2 = param_util.phi_q2_ellipticity(ll["phi"], ll["q"])
    source = [{"amp": s["amp"], "R_sersic": s["R_sersic"], "n_sersic": s["n_sersic"], "e1": se1, "e2": se2,
               "center_x": s["x"], "center_y": s["y"]}]
    light = [{"amp": ll["amp"], "R_sersic": ll["R_sersic"], "n_sersic": ll["n_sersic"], "e1": le1, "e2": le2,
              "center_x": 0, "center_y": 0}]
    data = ImageData(**simulation_util.data_configure_simple(150, 0.05))
    psf = PSF(psf_type="GAUSSIAN", fwhm=image_cfg["psf_fwhm"], pixel_size=0.05)
    model = ImageModel(data, psf, LensModel(["SIE", "SHEAR"] + ["POINT_MASS"] * p["n_subhalos"]),
                       LightModel(["SERSIC_ELLIPSE"]), LightModel(["SERSIC_ELLIPSE"]))
    theirs = model.image(lens, source, light)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-9 * theirs.max())


def test_summed_point_mass_deflection_equals_lenstronomy_profile_by_profile():
    from lenstronomy.LensModel.lens_model import LensModel

    rng = np.random.default_rng(3)
    points = np.column_stack([rng.uniform(-2, 2, 7), rng.uniform(-2, 2, 7), rng.uniform(0.001, 0.1, 7)])
    x, y = rng.uniform(-3, 3, 500), rng.uniform(-3, 3, 500)
    x[0], y[0] = points[2, 0], points[2, 1]  # a ray straight through a point mass: lenstronomy clamps r
    ours = S.point_mass_deflection(x, y, points)
    kwargs = [{"theta_E": t, "center_x": cx, "center_y": cy} for cx, cy, t in points]
    theirs = LensModel(["POINT_MASS"] * len(points)).alpha(x, y, kwargs)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)
    assert np.all(np.isfinite(ours))


def test_substructure_changes_the_image_only_where_it_lenses(lensing_cfg):
    p = S.draw_lens(S.image_rng(1, "A", "vortex", "train", 0), lensing_cfg["model_a"], "vortex")
    smooth = dict(p, subhalos=np.zeros((0, 3)))
    with_line, _ = S.render(S.lenstronomy_kwargs(p, "SIE"), lensing_cfg["image"])
    without, _ = S.render(S.lenstronomy_kwargs(smooth, "SIE"), lensing_cfg["image"])
    assert np.abs(with_line - without).max() > 0.01 * without.max()


def test_vortex_is_a_centred_line_of_equal_masses_holding_its_mass_fraction(lensing_cfg):
    pop = lensing_cfg["model_a"]
    p = S.draw_lens(S.image_rng(0, "A", "vortex", "test", 7), pop, "vortex")
    xy, theta = p["subhalos"][:, :2], p["subhalos"][:, 2]
    assert len(xy) == pop["vortex"]["n_points"]
    ends = xy[-1] - xy[0]
    assert np.hypot(*ends) == pytest.approx(p["vortex_length"])
    cross = (xy[:, 0] - xy[0, 0]) * ends[1] - (xy[:, 1] - xy[0, 1]) * ends[0]
    assert np.abs(cross).max() < 1e-9  # collinear
    # point-mass theta_E^2 is proportional to mass: the line holds sub_mass_fraction of the Einstein mass
    assert np.sum(theta**2) / p["theta_e"] ** 2 == pytest.approx(p["sub_mass_fraction"])
    assert pop["vortex"]["mass_fraction"][0] <= p["sub_mass_fraction"] <= pop["vortex"]["mass_fraction"][1]


def test_power_law_masses_follow_their_distribution():
    rng = np.random.default_rng(0)
    lo, hi, slope = 1e8, 1e10, -1.9
    m = S.power_law_masses(rng, 20000, lo, hi, slope)
    a = slope + 1

    def cdf(x):
        return (x**a - lo**a) / (hi**a - lo**a)

    assert m.min() >= lo and m.max() <= hi
    assert stats.kstest(m, cdf).pvalue > 0.01


def test_background_noise_has_the_rms_that_the_snr_sets():
    rng = np.random.default_rng(1)
    source = np.zeros((200, 200))
    source[100, 100] = 2.0
    noisy, rms, _ = S.add_noise(np.zeros_like(source), source, snr=20, exposure_time=1e5, rng=rng)
    assert rms == pytest.approx(0.1)
    assert noisy.std() == pytest.approx(0.1, rel=0.02)


def test_an_image_depends_only_on_its_own_key(lensing_cfg):
    args = (lensing_cfg["model_a"], lensing_cfg["image"])
    a, row_a = S.simulate_image(3, "A", *args, "vortex", "val", 2)
    b, row_b = S.simulate_image(3, "A", *args, "vortex", "val", 2)
    assert a.tobytes() == b.tobytes() and row_a == row_b
    c, _ = S.simulate_image(3, "A", *args, "vortex", "val", 3)
    d, _ = S.simulate_image(3, "A", *args, "vortex", "test", 2)
    assert not np.array_equal(a, c) and not np.array_equal(a, d)


def test_a_chunk_regenerated_alone_has_the_same_bytes_as_in_the_full_set(tmp_path):
    cfg = small_cfg()
    n = S.n_chunks_of(cfg["sizes"], cfg["chunk_size"])
    assert n == 4  # 27 images in chunks of 7
    for k in range(n):
        simulate_chunk(cfg, "B", k, tmp_path / f"{k}.npy", tmp_path / f"{k}.csv", workers=2)
    merge_chunks([tmp_path / f"{k}.npy" for k in range(n)], [tmp_path / f"{k}.csv" for k in range(n)],
                 tmp_path / "images.npy", tmp_path / "params.csv", tmp_path / "split.json", cfg["seed"])
    full = np.load(tmp_path / "images.npy")
    simulate_chunk(cfg, "B", 2, tmp_path / "again.npy", tmp_path / "again.csv", workers=1)
    assert np.load(tmp_path / "again.npy").tobytes() == full[14:21].tobytes()
    assert (tmp_path / "again.csv").read_text() == (tmp_path / "2.csv").read_text()
    items = S.dataset_items(cfg["sizes"])
    image, _ = S.simulate_image(cfg["seed"], "B", cfg["model_b"], cfg["image"], items[16][1], items[16][0],
                                items[16][2])
    assert image.tobytes() == full[16].tobytes()


def test_model_b_floats_the_redshifts_and_snr(lensing_cfg):
    rows = [S.draw_lens(S.image_rng(0, "B", "no_sub", "train", i), lensing_cfg["model_b"], "no_sub")
            for i in range(40)]
    z_l = np.array([r["z_lens"] for r in rows])
    snr = np.array([r["snr"] for r in rows])
    assert 0.4 <= z_l.min() < z_l.max() <= 0.6 and z_l.std() > 0.03
    assert 10 <= snr.min() and snr.max() <= 30 and snr.std() > 3
    fixed = [S.draw_lens(S.image_rng(0, "A", "no_sub", "train", i), lensing_cfg["model_a"], "no_sub")
             for i in range(5)]
    assert {r["z_lens"] for r in fixed} == {0.5} and {r["snr"] for r in fixed} == {20.0}


def test_source_below_the_lens_is_an_error(lensing_cfg):
    pop = copy.deepcopy(lensing_cfg["model_a"])
    pop["z_source"] = [0.3, 0.3]
    with pytest.raises(ValueError, match="source redshift"):
        S.draw_lens(np.random.default_rng(0), pop, "no_sub")


def test_a_chunk_that_cannot_fit_in_memory_stops_before_simulating(tmp_path):
    from cosmodl.resources import InsufficientMemory

    cfg = small_cfg()
    cfg["chunk_size"] = 10_000_000
    with pytest.raises(InsufficientMemory, match="lensing.chunk_size = 10000000"):
        simulate_chunk(cfg, "A", 0, tmp_path / "c.npy", tmp_path / "c.csv")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("source", ["mass", "velocity_dispersion"])
def test_subhalo_einstein_radii_follow_their_masses_for_either_main_lens_recipe(lensing_cfg, source):
    pop = copy.deepcopy(lensing_cfg["model_b"])
    pop["lens"]["einstein_radius_from"] = source
    p = S.draw_lens(S.image_rng(4, "B", "spherical", "val", 1), pop, "spherical")
    # the main lens's Einstein mass gives back its Einstein radius
    assert S.einstein_radius_from_mass(p["einstein_mass"], p["z_lens"], p["z_source"]) == pytest.approx(p["theta_e"])
    theta_sub = p["subhalos"][:, 2]
    masses = (theta_sub / S.einstein_radius_from_mass(1.0, p["z_lens"], p["z_source"])) ** 2
    lo, hi = pop["spherical"]["mass"]
    assert masses.min() >= lo * 0.999 and masses.max() <= hi * 1.001
    assert masses.sum() / p["einstein_mass"] == pytest.approx(p["sub_mass_fraction"])


def test_every_spherical_image_holds_a_subhalo_and_the_number_is_a_zero_truncated_poisson(lensing_cfg):
    pop = copy.deepcopy(lensing_cfg["model_a"])
    lam = pop["spherical"]["mean_number"] = 0.7  # P(0) = 0.50 before conditioning
    n = np.array([S.draw_lens(S.image_rng(1, "A", "spherical", "train", i), pop, "spherical")["n_subhalos"]
                  for i in range(2000)])
    assert n.min() >= 1
    # mean of a Poisson conditioned on n >= 1: lam / (1 - e^-lam) = 1.395; standard error 0.015
    assert n.mean() == pytest.approx(lam / (1 - np.exp(-lam)), abs=0.05)
    assert np.mean(n == 1) == pytest.approx(lam * np.exp(-lam) / (1 - np.exp(-lam)), abs=0.04)

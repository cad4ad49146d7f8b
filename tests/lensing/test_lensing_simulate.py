"""The lensing simulator against lenstronomy called directly, hand computations and its own invariants."""

import copy
import dataclasses

import numpy as np
import pytest
from astropy import constants as const
from astropy import units as u
from astropy.cosmology import Planck18
from lensing_configs import small_cfg
from scipy import stats

from cosmodl.lensing import simulate as S
from cosmodl.lensing.data import recipe_of
from cosmodl.lensing.stage import merge_chunks, simulate_chunk


def recipe(cfg, dataset="A", **changes):
    """The simulation recipe of ``dataset`` from a validated lensing section, with ``changes``."""
    return dataclasses.replace(recipe_of(cfg, dataset), **changes)


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

    pop = lensing_cfg["model_b"]
    p = S.draw_lens(S.image_rng(5, "B", "spherical", "test", 3), pop, "spherical")
    assert p["n_subhalos"] > 0
    ours, _ = S.render(S.lenstronomy_kwargs(p, "SIE"), pop["instrument"])

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
    psf = PSF(psf_type="GAUSSIAN", fwhm=pop["instrument"]["psf_fwhm"], pixel_size=0.05)
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
    instrument = lensing_cfg["model_a"]["instrument"]
    with_line, _ = S.render(S.lenstronomy_kwargs(p, "SIE"), instrument)
    without, _ = S.render(S.lenstronomy_kwargs(S.without_substructure(p), "SIE"), instrument)
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


def test_noise_has_the_poisson_and_background_variance_it_claims():
    rng = np.random.default_rng(1)
    image = np.full((300, 300), 2.0)
    image[:150] = 0.0  # sky only
    t, sky, rms = 300.0, 0.1, 0.02
    noisy = S.add_noise(image, t, sky, rms, rng)
    variance = S.noise_variance(image, t, sky, rms)
    assert variance[0, 0] == pytest.approx(sky / t + rms**2) and variance[-1, -1] == pytest.approx(2.1 / t + rms**2)
    for rows in (slice(0, 150), slice(150, 300)):  # the sky is subtracted again: unbiased, with that variance
        assert noisy[rows].mean() == pytest.approx(image[rows].mean(), abs=4 * np.sqrt(variance[rows].mean() / 22500))
        assert noisy[rows].var() == pytest.approx(variance[rows].mean(), rel=0.03)


def test_an_snr_sets_the_background_rms_from_the_lensed_source_peak(lensing_cfg):
    pop = copy.deepcopy(lensing_cfg["model_a"])
    pop["noise"].update(snr=[20.0, 20.0], sky=[0.0, 0.0], log10_exposure_time=[9.0, 9.0])
    p = S.draw_lens(S.image_rng(0, "A", "no_sub", "test", 0), pop, "no_sub")
    image, source = S.render(S.lenstronomy_kwargs(p, "SIE"), pop["instrument"])
    noisy, variance = S.observe(image, source, p, True, np.random.default_rng(0))
    assert p["background_rms"] == pytest.approx(source.max() / 20)
    assert (noisy - image)[:20, :20].std() == pytest.approx(p["background_rms"], rel=0.1)


def test_the_oracles_score_noise_alone_without_substructure_and_more_with_it(lensing_cfg):
    r = recipe(lensing_cfg, "A")
    rows = {cls: [S.simulate_image(r, cls, "test", i)[1] for i in range(12)] for cls in S.CLASSES}
    chi2 = np.array([row["oracle_chi2"] for row in rows["no_sub"]])
    # 22,500 pixels of unit-variance residuals: reduced chi^2 1 with a scatter of sqrt(2 / 22500) = 0.0094
    assert np.all(np.abs(chi2 - 1) < 0.05)
    for cls in ("spherical", "vortex"):
        assert min(row["oracle_chi2"] for row in rows[cls]) > chi2.max()
        assert np.mean([row["oracle_mse"] for row in rows[cls]]) > 2 * np.mean([row["oracle_mse"]
                                                                               for row in rows["no_sub"]])
    assert all(row["sub_signal"] == 0 for row in rows["no_sub"])
    # without substructure the MSE oracle is the noise variance in min-max units: mean variance / span^2
    image, row = S.simulate_image(r, "no_sub", "test", 0)
    p = S.draw_lens(S.image_rng(r.seed, "A", "no_sub", "test", 0), r.population, "no_sub")
    noiseless, _ = S.render(S.lenstronomy_kwargs(p, "SIE"), r.population["instrument"])
    variance = S.noise_variance(noiseless, p["noise"]["exposure_time"], p["noise"]["sky"], 0.0)
    assert row["oracle_mse"] == pytest.approx(variance.mean() / np.ptp(image) ** 2, rel=0.03)


def test_embedded_model_a_images_are_as_clean_as_the_published_floor_requires():
    """The corner-noise check of issue 17: below 1e-4 in min-max units (the published AAE's no_sub MSE is 1.28e-4)."""
    from cosmodl.config import load_schema, load_yaml, validate_config
    from cosmodl.lensing.data import MinMax
    from cosmodl.lensing.evaluate import corner_noise_variance

    cfg = validate_config(load_yaml("config.yaml"), load_schema())["lensing"]
    images = np.stack([S.simulate_image(recipe(cfg, "A"), "no_sub", "test", i)[0] for i in range(20)])
    corner = np.median(corner_noise_variance(MinMax()(images)))
    assert corner <= 1.0e-4
    # sky only in the corners: the Poisson variance of 0.1 counts/s over 300 s, over the image's span squared
    span = np.median(images.max(axis=(1, 2)) - images.min(axis=(1, 2)))
    assert corner == pytest.approx(0.1 / 300 / span**2, rel=0.15)


def test_an_image_depends_only_on_its_own_key(lensing_cfg):
    r = recipe(lensing_cfg, "A", seed=3)
    a, row_a = S.simulate_image(r, "vortex", "val", 2)
    b, row_b = S.simulate_image(r, "vortex", "val", 2)
    assert a.tobytes() == b.tobytes()
    np.testing.assert_equal(row_a, row_b)  # NaN (the snr of a given background) equal to NaN
    c, _ = S.simulate_image(r, "vortex", "val", 3)
    d, _ = S.simulate_image(r, "vortex", "test", 2)
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
    image, _ = S.simulate_image(recipe(cfg, "B"), items[16][1], items[16][0], items[16][2])
    assert image.tobytes() == full[16].tobytes()


def test_model_b_floats_the_redshifts_and_the_exposure(lensing_cfg):
    rows = [S.draw_lens(S.image_rng(0, "B", "no_sub", "train", i), lensing_cfg["model_b"], "no_sub")
            for i in range(40)]
    z_l = np.array([r["z_lens"] for r in rows])
    t = np.array([r["exposure_time"] for r in rows])
    assert 0.4 <= z_l.min() < z_l.max() <= 0.6 and z_l.std() > 0.03
    # 75-675 s: the noise of SNR 10-30 where Model A's 300 s is SNR 20 (SNR ~ sqrt(t))
    assert 75 <= t.min() < 150 and 450 < t.max() <= 675.1
    fixed = [S.draw_lens(S.image_rng(0, "A", "no_sub", "train", i), lensing_cfg["model_a"], "no_sub")
             for i in range(5)]
    assert {r["z_lens"] for r in fixed} == {0.5}
    assert [r["exposure_time"] for r in fixed] == pytest.approx([300.0] * 5, rel=1e-4)


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


# --- DeepLenseSim's Models I-III against lenstronomy called as DeepLenseSim calls it ------------------

# lenstronomy 1.9.2's ObservationConfig (the version DeepLenseSim used): Euclid VIS and HST WFC3 F160W
EUCLID_VIS_1_9 = {"read_noise": 4.2, "pixel_scale": 0.101, "ccd_gain": 3.1, "exposure_time": 565.0,
                  "sky_brightness": 22.35, "magnitude_zero_point": 24.0, "num_exposures": 4, "seeing": 0.16,
                  "psf_type": "GAUSSIAN"}
HST_F160W = {"read_noise": 4, "pixel_scale": 0.08, "ccd_gain": 2.5, "exposure_time": 5400.0, "sky_brightness": 22.3,
             "magnitude_zero_point": 25.96, "num_exposures": 1, "seeing": 0.08, "psf_type": "GAUSSIAN"}
BANDS = {"II": EUCLID_VIS_1_9, "III": HST_F160W}


def deeplensesim_einstein_radius(mass=1e12, z_halo=0.5, z_gal=1.0):
    """DeepLens.mass_to_radius: its cosmology and its luminosity distances, D_ls = D_s - D_l."""
    from astropy.cosmology import FlatLambdaCDM

    cosmo = FlatLambdaCDM(H0=70, Om0=0.3, Ob0=0.05)
    d_l, d_s = cosmo.luminosity_distance(z_halo).to(u.m), cosmo.luminosity_distance(z_gal).to(u.m)
    return float((np.sqrt(4 * const.G * mass * const.M_sun / const.c**2 * (d_s - d_l) / (d_l * d_s)) * 206265).value)


def deeplensesim_lens(p):
    """DeepLens.make_single_halo + make_old_cdm / make_vortex, with our drawn subhaloes."""
    theta_e = deeplensesim_einstein_radius()
    lens = [{"theta_E": theta_e, "e1": 0.1, "e2": 0, "center_x": 0, "center_y": 0.0}, {"gamma1": 0.05, "gamma2": 0}]
    lens += [{"theta_E": t, "center_x": x, "center_y": y} for x, y, t in p["subhalos"]]
    return ["SIE", "SHEAR"] + ["POINT_MASS"] * len(p["subhalos"]), lens


@pytest.mark.parametrize("cls", ["spherical", "vortex"])
def test_model_i_image_equals_deeplensesims_simple_sim(lensing_cfg, cls):
    from lenstronomy.Data.imaging_data import ImageData
    from lenstronomy.Data.psf import PSF
    from lenstronomy.ImSim.image_model import ImageModel
    from lenstronomy.LensModel.lens_model import LensModel
    from lenstronomy.LightModel.light_model import LightModel
    from lenstronomy.Util import util

    pop = lensing_cfg["model_i"]
    p = S.draw_lens(S.image_rng(0, "I", cls, "test", 1), pop, cls)
    ours, _ = S.render(S.lenstronomy_kwargs(p, "SIE"), pop["instrument"])
    # DeepLens.simple_sim, noiseless part, written as it is there
    _, _, ra0, dec0, _, _, pix2coord, _ = util.make_grid_with_coordtransform(150, 0.05, subgrid_res=1, center_ra=0,
                                                                            center_dec=0, inverse=False)
    data = ImageData(background_rms=0.01, exposure_time=1000.0, ra_at_xy_0=ra0, dec_at_xy_0=dec0,
                     transform_pix2angle=pix2coord, image_data=np.zeros((150, 150)))
    psf = PSF(psf_type="GAUSSIAN", fwhm=0.087, pixel_size=0.05, truncation=3)
    lens_list, kwargs_lens = deeplensesim_lens(p)
    source = [{"amp": 20, "R_sersic": 0.25, "n_sersic": 1, "e1": -0.1, "e2": 0.1, "center_x": p["source"]["x"],
               "center_y": p["source"]["y"]}]
    model = ImageModel(data, psf, lens_model_class=LensModel(lens_list),
                       source_model_class=LightModel(["SERSIC_ELLIPSE"]),
                       kwargs_numerics={"supersampling_factor": 1, "supersampling_convolution": False})
    theirs = model.image(kwargs_lens, source, kwargs_lens_light=None, kwargs_ps=None)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-9 * theirs.max())
    assert -0.35 <= p["source"]["x"] <= 0.35 and -0.35 <= p["source"]["y"] <= 0.35


@pytest.mark.parametrize("preset", ["II", "III"])
def test_euclid_and_hst_presets_are_lenstronomys_simulation_api(lensing_cfg, preset):
    from lenstronomy.SimulationAPI.sim_api import SimAPI

    pop = lensing_cfg[S.PRESET_KEYS[preset]]
    p = S.draw_lens(S.image_rng(0, preset, "spherical", "test", 2), pop, "spherical")
    ours, _ = S.render(S.lenstronomy_kwargs(p, "SIE"), pop["instrument"])
    # DeepLens.simple_sim_2 (with the image model it computes, not its doubled return value)
    lens_list, kwargs_lens = deeplensesim_lens(p)
    sim = SimAPI(64, BANDS[preset], {"lens_model_list": lens_list, "source_light_model_list": ["SERSIC_ELLIPSE"]})
    image_model = sim.image_model_class({"point_source_supersampling_factor": 1})
    _, kwargs_source, _ = sim.magnitude2amplitude(None, [{"magnitude": 20, "R_sersic": 0.25, "n_sersic": 1, "e1": -0.1,
                                                          "e2": 0.1, "center_x": p["source"]["x"],
                                                          "center_y": p["source"]["y"]}])
    theirs = image_model.image(kwargs_lens, kwargs_source, None)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-9 * theirs.max())
    # the preset's noise is the band's: background rms and the summed exposure time
    assert pop["noise"]["background_rms"][0] == pytest.approx(sim.background_noise, rel=1e-9)
    assert 10 ** pop["noise"]["log10_exposure_time"][0] == pytest.approx(sim.exposure_time, rel=1e-9)
    assert pop["instrument"]["pixel_scale"] == BANDS[preset]["pixel_scale"]


def test_deeplensesim_presets_keep_its_lens_its_25_subhaloes_and_its_axion_vortex(lensing_cfg):
    pop = lensing_cfg["model_ii"]
    assert pop["lens"]["einstein_radius"][0] == pytest.approx(deeplensesim_einstein_radius(), rel=1e-9)
    sph = [S.draw_lens(S.image_rng(0, "II", "spherical", "train", i), pop, "spherical") for i in range(20)]
    assert {p["n_subhalos"] for p in sph} == {25}
    # a subhalo of mass m has theta_E of DeepLens.mass_to_radius(m) = theta_E(1e12) sqrt(m / 1e12)
    masses = np.concatenate([(p["subhalos"][:, 2] / p["theta_e"]) ** 2 * 1e12 for p in sph])
    assert 1e6 * 0.999 <= masses.min() and masses.max() <= 1e10 * 1.001
    radii = np.concatenate([np.hypot(*p["subhalos"][:, :2].T) for p in sph])
    assert 0.25 <= radii.min() and radii.max() <= 2.0
    for i in range(5):
        p = S.draw_lens(S.image_rng(0, "II", "vortex", "train", i), pop, "vortex")
        xy, theta = p["subhalos"][:, :2], p["subhalos"][:, 2]
        assert len(xy) == 100 and np.allclose(xy.mean(axis=0), 0, atol=1e-12)  # centred on the lens
        assert np.hypot(*(xy[-1] - xy[0])) == pytest.approx(p["vortex_length"])
        # 3e10 Msun in 100 equal masses: theta_E(3e8 Msun) each; the length 6e-24 eV / m in 0.06-6 arcsec
        assert np.allclose(theta, p["theta_e"] * np.sqrt(3e8 / 1e12))
        assert 0.06 <= p["vortex_length"] <= 6.0
    assert S.axion_vortex_length(1e-24) == pytest.approx(6.0) and S.axion_vortex_length(1e-22) == pytest.approx(0.06)


def test_model_ii_without_noise_is_the_noiseless_rendering(lensing_cfg):
    cfg = copy.deepcopy(lensing_cfg)
    cfg["model_ii"]["noise"]["enabled"] = False
    image, row = S.simulate_image(recipe(cfg, "II"), "no_sub", "test", 0)
    p = S.draw_lens(S.image_rng(cfg["seed"], "II", "no_sub", "test", 0), cfg["model_ii"], "no_sub")
    expected, _ = S.render(S.lenstronomy_kwargs(p, "SIE"), cfg["model_ii"]["instrument"])
    np.testing.assert_array_equal(image, expected.astype(np.float32))
    assert row["background_rms"] == 0 and np.isnan(row["oracle_chi2"])


# --- sampling: PyLensing's lattice, and substructure that is not rendered -------------------------------

def lattice_rows(cfg, preset="A"):
    r = recipe(cfg, preset, sampling="lattice")

    def draw(cls, split, i):
        rng = S.image_rng(cfg["seed"], preset, cls, split, i)
        return S.draw_lens(rng, r.population, cls, S.parameter_draws(r, cls, split, i, rng))

    return {cls: [draw(cls, split, i) for split in S.SPLITS for i in range(cfg["sizes"][split])] for cls in S.CLASSES}


def test_lattice_sampling_gives_each_class_its_own_value_sets_shared_by_its_splits():
    cfg = small_cfg(train=12, val=3, test=5)
    rows = lattice_rows(cfg)
    values = {cls: {key: {r[key] for r in rows[cls]} for key in ("lens_q", "shear", "source_amp")}
              for cls in S.CLASSES}
    for cls in S.CLASSES:
        for key, found in values[cls].items():
            assert 1 < len(found) <= cfg["lattice_values"]  # 20 images take at most 5 values each
    for key in ("lens_q", "shear", "source_amp"):  # each class draws its own lattice
        assert not values["no_sub"][key] & values["spherical"][key]
        assert not values["no_sub"][key] & values["vortex"][key]
    # a test image shares its values with the training images of its class; no two images share a lattice point
    n_train = cfg["sizes"]["train"]
    points = [tuple(r[k] for k in ("lens_q", "lens_phi", "shear", "shear_phi", "source_x", "source_y",
                                   "source_amp")) for r in rows["no_sub"]]
    assert len(set(points)) == len(points)
    for r in rows["no_sub"][-cfg["sizes"]["test"]:]:
        assert r["lens_q"] in {t["lens_q"] for t in rows["no_sub"][:n_train]}
    # the fixed parameters stay fixed, and the image's own draws (subhaloes) are those of iid sampling
    assert {r["z_lens"] for r in rows["spherical"]} == {0.5}
    iid = S.draw_lens(S.image_rng(cfg["seed"], "A", "spherical", "val", 1), cfg["model_a"], "spherical")
    np.testing.assert_array_equal(rows["spherical"][n_train + 1]["subhalos"], iid["subhalos"])


def test_iid_sampling_shares_no_parameter_value_between_images():
    cfg = small_cfg(train=12, val=3, test=5)
    rows = [S.draw_lens(S.image_rng(cfg["seed"], "A", "no_sub", "train", i), cfg["model_a"], "no_sub")
            for i in range(12)]
    assert len({r["lens_q"] for r in rows}) == 12


def test_a_lattice_smaller_than_its_class_is_one_clear_error():
    from cosmodl.errors import ConfigError

    cfg = small_cfg(train=12, val=3, test=5)
    cfg["lattice_values"] = 1
    with pytest.raises(ConfigError, match="lensing.lattice_values = 1"):
        lattice_rows(cfg)


@pytest.mark.parametrize("cls", ["spherical", "vortex"])
def test_null_substructure_renders_the_image_of_the_same_lens_without_subhaloes(lensing_cfg, cls):
    cfg = copy.deepcopy(lensing_cfg)
    cfg["model_a"]["noise"]["enabled"] = False  # compare the renderings themselves
    null_image, null_row = S.simulate_image(recipe(cfg, "A", substructure="null"), cls, "test", 4)
    real_image, real_row = S.simulate_image(recipe(cfg, "A"), cls, "test", 4)
    p = S.draw_lens(S.image_rng(cfg["seed"], "A", cls, "test", 4), cfg["model_a"], cls)
    assert p["n_subhalos"] > 0
    smooth, _ = S.render(S.lenstronomy_kwargs(S.without_substructure(p), "SIE"), cfg["model_a"]["instrument"])
    # the no_sub rendering of the same lens and source, bit for bit; the real image differs
    np.testing.assert_array_equal(null_image, smooth.astype(np.float32))
    assert np.abs(real_image - null_image).max() > 1e-3 * null_image.max()
    assert null_row["n_subhalos"] == 0 and null_row["sub_signal"] == 0 and real_row["n_subhalos"] == p["n_subhalos"]
    assert null_row["lens_q"] == real_row["lens_q"] and null_row["source_x"] == real_row["source_x"]

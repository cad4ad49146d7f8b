"""Strong-lensing images with lenstronomy: a main lens with or without dark substructure.

Conventions
-----------
Angles are arcsec on the sky (position angles in radians), masses solar masses, images
``(num_pix, num_pix)`` float32 in counts/s per pixel (before the per-image normalisation the
networks apply). Light amplitudes are lenstronomy's: surface brightness at the half-light radius
in counts/s per arcsec^2. Row 0 of an image is the lowest declination, as lenstronomy returns it.
Distances are angular-diameter distances of astropy's Planck18 (the original PyLensing and
DeepLenseSim used luminosity distances; see :func:`einstein_radius_from_mass`).

Classes
-------
``no_sub``
    SIE (or SIS) + external shear, elliptical Sersic source, optional Sersic lens light.
``spherical``
    The same plus point-mass subhaloes (a Poisson or a fixed number) with masses from
    dN/dm ~ m^slope, spread uniformly in angle and in radius around the lens centre.
``vortex``
    The same plus a line of equal point masses (random orientation, length and centre) holding a
    fraction of the main lens's Einstein mass; its length may follow an axion mass (DeepLenseSim).

Noise (:func:`add_noise`)
-------------------------
Poisson noise of the counts of image + sky over the exposure time, the sky subtracted again (as
PyAutoLens's simulator, which made the original Model A/B), plus Gaussian background noise of a
given rms, or of rms = peak of the lensed source / ``snr`` (cosmodl's first recipe,
``configs/lensing_noisy.yaml``).

Reproducibility
---------------
Image ``i`` of ``(preset, class, split)`` is drawn from a generator seeded by
``(seed, preset, class, split, i)`` alone (:func:`image_rng`), and, under ``lattice`` sampling, from
its class's lattice (:mod:`cosmodl.lensing.sampling`), itself a function of ``(seed, preset,
class)``: any chunk can be regenerated on its own, in any process, and gives the same bytes.
"""

from __future__ import annotations

import functools
import logging
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numba
import numpy as np

from .sampling import IidDraws, LatticeDraws, RecordingDraws, class_lattice, lattice_point

log = logging.getLogger(__name__)

CLASSES = ("no_sub", "spherical", "vortex")
SPLITS = ("train", "val", "test")
# Model A and B: Reddy et al. (2020) as PyLensing made them; I, II, III: DeepLenseSim (mwt5345).
PRESETS = ("A", "B", "I", "II", "III")
PRESET_KEYS = {"A": "model_a", "B": "model_b", "I": "model_i", "II": "model_ii", "III": "model_iii"}
SUBSTRUCTURE = ("real", "null")
# Columns of the per-image parameter table, in order.
# einstein_mass in Msun; sub_mass_fraction: the subhaloes' total mass over the main lens's Einstein mass;
# exposure_time s, background_rms counts/s; snr: the target that set the background (NaN when the
# background rms is given); sub_signal, oracle_mse, oracle_chi2: :func:`substructure_signal`,
# :func:`oracle_mse`, :func:`oracle_chi2`.
PARAM_COLUMNS = ("z_lens", "z_source", "theta_e", "einstein_mass", "lens_q", "lens_phi", "shear", "shear_phi",
                 "source_x", "source_y", "source_amp", "exposure_time", "background_rms", "snr", "snr_effective",
                 "n_subhalos", "sub_mass_fraction", "sub_theta_e_sum", "sub_signal", "oracle_mse", "oracle_chi2",
                 "vortex_length", "vortex_angle")
ARCSEC_PER_RAD = 180.0 / np.pi * 3600.0


@dataclass(frozen=True)
class Recipe:
    """Everything that determines the images of one data set.

    Attributes
    ----------
    seed : int
    preset : str
        One of :data:`PRESETS`.
    population : dict
        ``lensing.model_<preset>`` (validated): instrument, noise, lens, light, substructure.
    numerics : dict
        ``lensing.image``: ``supersampling``, ``record_substructure_signal``.
    sampling : {'iid', 'lattice'}
    lattice_values : int
        Values per ranged parameter under ``lattice`` sampling.
    substructure : {'real', 'null'}
        ``null`` draws the substructure classes' subhaloes but renders them without (the lens,
        source and noise are those of the ``real`` image): images that differ from ``no_sub`` only in
        how their parameters were drawn.
    sizes : dict
        Images per class and split (``lensing.sizes``); the lattice spans them all.
    """

    seed: int
    preset: str
    population: dict
    numerics: dict
    sampling: str = "iid"
    lattice_values: int = 5
    substructure: str = "real"
    sizes: dict = field(default_factory=dict)


def image_rng(seed: int, preset: str, cls: str, split: str, index: int) -> np.random.Generator:
    """The generator of image ``index`` of ``(preset, class, split)``: a pure function of its arguments."""
    key = [int(seed), PRESETS.index(preset), CLASSES.index(cls), SPLITS.index(split), int(index)]
    return np.random.default_rng(np.random.SeedSequence(key))


@functools.lru_cache(maxsize=1)
def _cosmology():
    from astropy.cosmology import Planck18

    return Planck18


@functools.lru_cache(maxsize=4096)
def lens_distances(z_lens: float, z_source: float) -> tuple[float, float, float]:
    """Angular-diameter distances (D_l, D_s, D_ls) in Mpc for a flat Planck18 universe."""
    if not z_source > z_lens >= 0:
        raise ValueError(f"the source redshift ({z_source}) must be above the lens redshift ({z_lens}) >= 0")
    cosmo = _cosmology()
    chi_l, chi_s = cosmo.comoving_distance([z_lens, z_source]).value
    # flat universe: D(z1, z2) = (chi_2 - chi_1) / (1 + z2)
    return chi_l / (1 + z_lens), chi_s / (1 + z_source), (chi_s - chi_l) / (1 + z_source)


def einstein_radius_from_mass(mass: float, z_lens: float, z_source: float) -> float:
    """Einstein radius (arcsec) of a lens whose Einstein mass is ``mass`` (solar masses).

    ``theta_E = sqrt(4 G M / c^2 * D_ls / (D_l D_s))`` with angular-diameter distances. For a
    point mass this is exact; for an isothermal lens ``mass`` is the mass inside ``theta_E``.
    1e12 Msun at z 0.5 -> 1.0 gives 1.637 arcsec with Planck18 (PyLensing's and DeepLenseSim's
    luminosity distances gave 1.28).
    """
    from astropy import constants as const
    from astropy import units as u

    d_l, d_s, d_ls = lens_distances(z_lens, z_source)
    four_g_over_c2 = (4 * const.G * const.M_sun / const.c**2).to_value(u.Mpc)  # Mpc per solar mass
    return float(np.sqrt(four_g_over_c2 * mass * d_ls / (d_l * d_s)) * ARCSEC_PER_RAD)


def einstein_radius_from_velocity_dispersion(sigma_v: float, z_lens: float, z_source: float) -> float:
    """Einstein radius (arcsec) of a singular isothermal sphere: ``4 pi (sigma_v / c)^2 D_ls / D_s``.

    ``sigma_v`` in km/s.
    """
    from astropy import constants as const

    _, d_s, d_ls = lens_distances(z_lens, z_source)
    c_kms = const.c.to_value("km/s")
    return float(4 * np.pi * (sigma_v / c_kms) ** 2 * d_ls / d_s * ARCSEC_PER_RAD)


def axion_vortex_length(axion_mass_ev: float) -> float:
    """Length (arcsec) of DeepLenseSim's vortex line for an axion of mass ``axion_mass_ev`` (eV).

    DeepLenseSim places its point masses on ``linspace(-L, L)`` with the de Broglie length
    ``L = 0.06 / (2 m) * 1e-22`` arcsec (its relation for a halo at z = 0.5), so the line is
    ``2 L = 6e-24 / m`` long: 6 arcsec at 1e-24 eV, 0.06 arcsec at 1e-22 eV.
    """
    return 2 * 0.06 / (2 * axion_mass_ev) * 1e-22


def power_law_masses(rng: np.random.Generator, n: int, low: float, high: float, slope: float) -> np.ndarray:
    """``n`` masses from dN/dm ~ m^slope on [low, high] by inverse-CDF sampling (solar masses)."""
    u = rng.random(n)
    if np.isclose(slope, -1.0):
        return low * (high / low) ** u
    a = slope + 1.0
    return (low**a + u * (high**a - low**a)) ** (1.0 / a)


def draw_lens(rng: np.random.Generator, pop: dict, cls: str, draws: IidDraws | None = None) -> dict:
    """Draw every physical parameter of one lens system of class ``cls`` from population ``pop``.

    Parameters
    ----------
    rng : Generator
        The image's generator (subhalo positions and masses, the vortex centre).
    pop : dict
        A validated ``lensing.model_<preset>`` section.
    cls : str
        One of :data:`CLASSES`.
    draws : IidDraws, optional
        Where the ranged parameters come from (:mod:`cosmodl.lensing.sampling`); IID from ``rng``
        by default.

    Returns
    -------
    dict
        The scalars of :data:`PARAM_COLUMNS` (but the noise-dependent ones), ``noise`` (exposure_time
        s, sky and background_rms counts/s, snr), ``subhalos``: array (n, 3) of (x, y, theta_E) in
        arcsec, and the Sersic parameters of the ``source`` and the ``lens_light`` (None when disabled).
    """
    d = draws if draws is not None else IidDraws(rng)
    z_l = d.uniform("z_lens", pop["z_lens"])
    z_s = d.uniform("z_source", pop["z_source"])
    lens = pop["lens"]
    theta_e, einstein_mass = _main_lens(d, lens, z_l, z_s)
    q = 1.0 if lens["profile"] == "SIS" else d.uniform("lens.axis_ratio", lens["axis_ratio"])
    phi = d.uniform("lens.position_angle", lens["position_angle"])
    shear = d.uniform("lens.shear", lens["shear"])
    shear_phi = d.uniform("lens.shear_angle", lens["shear_angle"])
    source = _draw_source(d, pop["source"])
    lens_light = _draw_sersic(d, "lens_light", pop["lens_light"]) if pop["lens_light"]["enabled"] else None
    noise = _draw_noise(d, pop["noise"])
    subhalos, sub_fraction, vortex_length, vortex_angle = _draw_substructure(rng, d, pop, cls, theta_e, einstein_mass)
    return {"z_lens": z_l, "z_source": z_s, "theta_e": theta_e, "lens_q": q, "lens_phi": phi, "shear": shear,
            "shear_phi": shear_phi, "source_x": source["x"], "source_y": source["y"], "source_amp": source["amp"],
            "exposure_time": noise["exposure_time"], "snr": noise["snr"], "n_subhalos": len(subhalos),
            "sub_mass_fraction": sub_fraction, "sub_theta_e_sum": float(subhalos[:, 2].sum()) if len(subhalos) else 0.0,
            "vortex_length": vortex_length, "vortex_angle": vortex_angle, "einstein_mass": einstein_mass,
            "subhalos": subhalos, "source": source, "lens_light": lens_light, "noise": noise}


def _main_lens(d: IidDraws, lens: dict, z_l: float, z_s: float) -> tuple[float, float]:
    """(theta_E arcsec, Einstein mass Msun) of the main lens. With ``einstein_radius_from: radius`` the
    radius is drawn as given and the mass is the nominal ``10^log10_mass`` the subhalo fractions refer to."""
    theta_per_sqrt_mass = einstein_radius_from_mass(1.0, z_l, z_s)  # arcsec / sqrt(Msun)
    kind = lens["einstein_radius_from"]
    if kind == "radius":
        theta_e = d.uniform("lens.einstein_radius", lens["einstein_radius"])
        return theta_e, 10.0 ** d.uniform("lens.log10_mass", lens["log10_mass"])
    if kind == "mass":
        theta_e = theta_per_sqrt_mass * np.sqrt(10.0 ** d.uniform("lens.log10_mass", lens["log10_mass"]))
    else:
        sigma_v = d.uniform("lens.velocity_dispersion", lens["velocity_dispersion"])
        theta_e = einstein_radius_from_velocity_dispersion(sigma_v, z_l, z_s)
    return theta_e, (theta_e / theta_per_sqrt_mass) ** 2  # mass inside theta_E


def _draw_sersic(d: IidDraws, name: str, light: dict) -> dict:
    """amp, n_sersic, R_sersic, q, phi of an elliptical Sersic profile (config section ``name``)."""
    return {"amp": d.uniform(f"{name}.amplitude", light["amplitude"]),
            "n_sersic": d.uniform(f"{name}.sersic_index", light["sersic_index"]),
            "R_sersic": d.uniform(f"{name}.half_light_radius", light["half_light_radius"]),
            "q": d.uniform(f"{name}.axis_ratio", light["axis_ratio"]),
            "phi": d.uniform(f"{name}.position_angle", light["position_angle"])}


def _draw_source(d: IidDraws, src: dict) -> dict:
    """The source's Sersic parameters and centre: polar (offset, random angle) or in a box (x, y)."""
    if src["centre"] == "polar":
        r = d.uniform("source.offset", src["offset"])
        angle = d.uniform("source.offset_angle", (0.0, 2 * np.pi))
        x, y = r * np.cos(angle), r * np.sin(angle)
    else:
        x, y = d.uniform("source.x", src["x"]), d.uniform("source.y", src["y"])
    return {**_draw_sersic(d, "source", src), "x": x, "y": y}


def _draw_noise(d: IidDraws, noise: dict) -> dict:
    """exposure_time (s), sky and background_rms (counts/s per pixel) and snr (NaN unless it sets the background)."""
    snr = d.uniform("noise.snr", noise["snr"]) if noise["snr"] is not None else float("nan")
    return {"exposure_time": 10.0 ** d.uniform("noise.log10_exposure_time", noise["log10_exposure_time"]),
            "sky": d.uniform("noise.sky", noise["sky"]),
            "background_rms": d.uniform("noise.background_rms", noise["background_rms"]), "snr": snr}


def _draw_substructure(rng, d: IidDraws, pop: dict, cls: str, theta_e: float, einstein_mass: float):
    """(subhalos (n, 3) of x, y, theta_E in arcsec; their total mass in units of the main lens's
    Einstein mass; vortex length arcsec; vortex angle rad). A point mass m has
    theta_E = theta_E(main) sqrt(m / M_E)."""
    none = np.zeros((0, 3))
    if cls == "no_sub":
        return none, 0.0, 0.0, 0.0
    if cls == "spherical":
        sph = pop["spherical"]
        if sph["number"] == "fixed":
            n = int(round(sph["mean_number"]))
        else:
            n = 0
            while n == 0:  # a Poisson number conditioned on n >= 1: a 'spherical' image holds a subhalo
                n = int(rng.poisson(sph["mean_number"]))
        masses = power_law_masses(rng, n, sph["mass"][0], sph["mass"][1], sph["slope"])
        radius = rng.uniform(sph["radius"][0], sph["radius"][1], n)
        angle = rng.uniform(0, 2 * np.pi, n)
        fraction = masses / einstein_mass
        subs = np.stack([radius * np.cos(angle), radius * np.sin(angle), theta_e * np.sqrt(fraction)], axis=1)
        return subs, float(fraction.sum()), 0.0, 0.0
    if cls == "vortex":
        vx = pop["vortex"]
        if vx["length_from"] == "axion_mass":
            length = axion_vortex_length(10.0 ** d.uniform("vortex.log10_axion_mass", vx["log10_axion_mass"]))
        else:
            length = d.uniform("vortex.length", vx["length"])
        angle = d.uniform("vortex.angle", (0.0, np.pi))
        centre = rng.normal(0.0, vx["centre_sigma"], 2) if vx["centre_sigma"] > 0 else np.zeros(2)
        fraction = d.uniform("vortex.mass_fraction", vx["mass_fraction"])
        t = np.linspace(-length / 2, length / 2, vx["n_points"])
        x, y = centre[0] + t * np.cos(angle), centre[1] + t * np.sin(angle)
        theta = np.full(vx["n_points"], theta_e * np.sqrt(fraction / vx["n_points"]))
        return np.stack([x, y, theta], axis=1), fraction, length, angle
    raise ValueError(f"unknown lensing class {cls!r}; expected one of {CLASSES}")


def without_substructure(params: dict) -> dict:
    """The same system with its subhaloes removed (what ``substructure: null`` renders)."""
    return dict(params, subhalos=np.zeros((0, 3)), n_subhalos=0, sub_mass_fraction=0.0, sub_theta_e_sum=0.0)


def lattice_parameters(pop: dict, cls: str) -> tuple:
    """The ranged parameters of class ``cls`` of ``pop``, in draw order: ((name, (low, high)), ...)."""
    recorder = RecordingDraws(np.random.default_rng(0))
    draw_lens(recorder.rng, pop, cls, recorder)
    return tuple(recorder.ranged)


def parameter_draws(recipe: Recipe, cls: str, split: str, index: int, rng: np.random.Generator) -> IidDraws:
    """Where image ``index`` of ``(cls, split)`` takes its ranged parameters from (``recipe.sampling``).

    Under ``lattice`` the class's images over all splits (train, then val, then test) take distinct
    points of one lattice.
    """
    if recipe.sampling == "iid":
        return IidDraws(rng)
    parameters = lattice_parameters(recipe.population, cls)
    n_images = sum(recipe.sizes[s] for s in SPLITS)
    position = sum(recipe.sizes[s] for s in SPLITS[:SPLITS.index(split)]) + index
    key = (int(recipe.seed), PRESETS.index(recipe.preset), CLASSES.index(cls))
    values, points = class_lattice(key, parameters, int(recipe.lattice_values), int(n_images))
    return LatticeDraws(rng, lattice_point(values, parameters, points[position]))


def lenstronomy_kwargs(params: dict, profile: str) -> dict:
    """lenstronomy model lists and keyword lists of one drawn system (see :func:`draw_lens`).

    Every subhalo is a ``POINT_MASS`` entry after the main lens and the shear, as one would
    write it for lenstronomy directly (the tests render these with lenstronomy's own
    ``ImageModel`` as the reference); :func:`render` takes the point masses out again and
    deflects by all of them in one compiled loop.
    """
    from lenstronomy.Util.param_util import phi_q2_ellipticity, shear_polar2cartesian

    if profile == "SIS":
        lens_list, main = ["SIS"], {"theta_E": params["theta_e"], "center_x": 0.0, "center_y": 0.0}
    else:
        e1, e2 = phi_q2_ellipticity(params["lens_phi"], params["lens_q"])
        lens_list = ["SIE"]
        main = {"theta_E": params["theta_e"], "e1": e1, "e2": e2, "center_x": 0.0, "center_y": 0.0}
    g1, g2 = shear_polar2cartesian(params["shear_phi"], params["shear"])
    kwargs_lens = [main, {"gamma1": g1, "gamma2": g2, "ra_0": 0.0, "dec_0": 0.0}]
    lens_list = lens_list + ["SHEAR"]
    for x, y, theta in params["subhalos"]:
        lens_list.append("POINT_MASS")
        kwargs_lens.append({"theta_E": float(theta), "center_x": float(x), "center_y": float(y)})
    out = {"lens_model_list": lens_list, "kwargs_lens": kwargs_lens, "source_light_model_list": ["SERSIC_ELLIPSE"],
           "kwargs_source": [_sersic_kwargs(params["source"], params["source"]["x"], params["source"]["y"])],
           "lens_light_model_list": [], "kwargs_lens_light": []}
    if params["lens_light"] is not None:
        out["lens_light_model_list"] = ["SERSIC_ELLIPSE"]
        out["kwargs_lens_light"] = [_sersic_kwargs(params["lens_light"], 0.0, 0.0)]
    return out


def _sersic_kwargs(light: dict, x: float, y: float) -> dict:
    from lenstronomy.Util.param_util import phi_q2_ellipticity

    e1, e2 = phi_q2_ellipticity(light["phi"], light["q"])
    return {"amp": light["amp"], "R_sersic": light["R_sersic"], "n_sersic": light["n_sersic"], "e1": e1, "e2": e2,
            "center_x": x, "center_y": y}


POINT_MASS_R_MIN = 1e-25  # arcsec; lenstronomy's PointMass.r_min, below which r is clamped


@numba.njit(cache=True, nogil=True)
def point_mass_deflection(x, y, points):
    """Summed deflection of point masses, as lenstronomy's ``POINT_MASS`` gives each.

    Parameters
    ----------
    x, y : ndarray (n,) float64
        Image-plane positions, arcsec.
    points : ndarray (m, 3) float64
        (center_x, center_y, theta_E) of each point mass, arcsec.

    Returns
    -------
    alpha_x, alpha_y : ndarray (n,), arcsec; ``sum_j theta_j^2 (x - x_j) / r_j^2``.
    """
    ax = np.zeros_like(x)
    ay = np.zeros_like(y)
    r_min2 = POINT_MASS_R_MIN * POINT_MASS_R_MIN
    for i in range(x.shape[0]):
        sx = 0.0
        sy = 0.0
        for j in range(points.shape[0]):
            dx = x[i] - points[j, 0]
            dy = y[i] - points[j, 1]
            r2 = max(dx * dx + dy * dy, r_min2)
            a = points[j, 2] * points[j, 2] / r2
            sx += a * dx
            sy += a * dy
        ax[i] = sx
        ay[i] = sy
    return ax, ay


def _smooth_lens_model(lens_list: tuple):
    """A lenstronomy ``LensModel`` of the smooth lens that also deflects by point masses.

    Its keyword list is the smooth models' followed by ``{"points": (m, 3) array}``; the
    point masses' deflections are summed by :func:`point_mass_deflection` instead of one
    lenstronomy profile object per subhalo (a Python call each), and the model's lists stay
    the same from image to image, so one ``ImageModel`` serves every image.
    """
    from lenstronomy.LensModel.lens_model import LensModel

    class SmoothPlusPointMasses(LensModel):
        def ray_shooting(self, x, y, kwargs, k=None):
            bx, by = super().ray_shooting(x, y, kwargs[:-1], k=k)
            points = kwargs[-1]["points"]
            if len(points):
                shape = np.shape(x)
                ax, ay = point_mass_deflection(np.ravel(np.asarray(x, dtype=np.float64)),
                                               np.ravel(np.asarray(y, dtype=np.float64)),
                                               np.ascontiguousarray(points, dtype=np.float64))
                bx, by = bx - ax.reshape(shape), by - ay.reshape(shape)
            return bx, by

    return SmoothPlusPointMasses(list(lens_list))


@functools.lru_cache(maxsize=8)
def _instrument(num_pix: int, pixel_scale: float, psf_fwhm: float, psf_truncation: float):
    from lenstronomy.Data.imaging_data import ImageData
    from lenstronomy.Data.psf import PSF
    from lenstronomy.Util import simulation_util

    data = ImageData(**simulation_util.data_configure_simple(num_pix, pixel_scale))
    psf = PSF(psf_type="GAUSSIAN", fwhm=psf_fwhm, pixel_size=pixel_scale, truncation=psf_truncation)
    return data, psf


@functools.lru_cache(maxsize=16)
def _image_model(smooth_lens: tuple, source_list: tuple, lens_light_list: tuple, instrument: tuple,
                 supersampling: int):
    """One lenstronomy ``ImageModel`` per set of model lists and instrument, built once per process."""
    from lenstronomy.ImSim.image_model import ImageModel
    from lenstronomy.LightModel.light_model import LightModel

    data, psf = _instrument(*instrument)
    numerics = {"supersampling_factor": supersampling, "supersampling_convolution": False}
    return ImageModel(data, psf, lens_model_class=_smooth_lens_model(smooth_lens),
                      source_model_class=LightModel(list(source_list)),
                      lens_light_model_class=LightModel(list(lens_light_list)), kwargs_numerics=numerics)


def render(kwargs: dict, instrument: dict, supersampling: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Noiseless images (lens + source, source alone) in counts/s, each (num_pix, num_pix).

    Parameters
    ----------
    kwargs : dict
        From :func:`lenstronomy_kwargs`.
    instrument : dict
        A population's ``instrument`` (num_pix, pixel_scale and psf_fwhm in arcsec, psf_truncation
        in units of the PSF's sigma).
    supersampling : int
        Rays per pixel side.
    """
    is_point = np.array([name == "POINT_MASS" for name in kwargs["lens_model_list"]])
    smooth = tuple(name for name, p in zip(kwargs["lens_model_list"], is_point) if not p)
    points = np.array([[kw["center_x"], kw["center_y"], kw["theta_E"]]
                       for kw, p in zip(kwargs["kwargs_lens"], is_point) if p], dtype=np.float64).reshape(-1, 3)
    kwargs_lens = [kw for kw, p in zip(kwargs["kwargs_lens"], is_point) if not p] + [{"points": points}]
    key = (int(instrument["num_pix"]), float(instrument["pixel_scale"]), float(instrument["psf_fwhm"]),
           float(instrument["psf_truncation"]))
    model = _image_model(smooth, tuple(kwargs["source_light_model_list"]), tuple(kwargs["lens_light_model_list"]),
                         key, int(supersampling))
    source = model.image(kwargs_lens, kwargs["kwargs_source"], kwargs_lens_light=kwargs["kwargs_lens_light"],
                         lens_light_add=False)
    if kwargs["lens_light_model_list"]:
        light = model.image(kwargs_lens_light=kwargs["kwargs_lens_light"], source_add=False)
        return source + light, source
    return source, source


def noise_variance(image: np.ndarray, exposure_time: float, sky: float, background_rms: float) -> np.ndarray:
    """Per-pixel variance of the noisy image, (counts/s)^2: ``(image + sky) / t + background_rms^2``.

    ``image`` (num_pix, num_pix) noiseless, counts/s; negative pixels add no Poisson variance.
    """
    return np.clip(image + sky, 0, None) / exposure_time + background_rms**2


def add_noise(image: np.ndarray, exposure_time: float, sky: float, background_rms: float,
              rng: np.random.Generator) -> np.ndarray:
    """Poisson noise of the counts of ``image + sky`` over ``exposure_time``, sky subtracted, plus
    Gaussian background noise of rms ``background_rms``.

    Parameters
    ----------
    image : ndarray (num_pix, num_pix)
        Noiseless, counts/s per pixel.
    exposure_time : float
        Seconds.
    sky, background_rms : float
        Counts/s per pixel.

    Returns
    -------
    ndarray (num_pix, num_pix), counts/s
    """
    counts = rng.poisson(np.clip(image + sky, 0, None) * exposure_time)
    return counts / exposure_time - sky + rng.normal(0.0, background_rms, image.shape)


def simulate_image(recipe: Recipe, cls: str, split: str, index: int) -> tuple[np.ndarray, dict]:
    """Image ``index`` of ``(recipe.preset, cls, split)`` and its parameters (a row of :data:`PARAM_COLUMNS`).

    Returns
    -------
    image : ndarray (num_pix, num_pix) float32, counts/s
    row : dict
    """
    pop = recipe.population
    rng = image_rng(recipe.seed, recipe.preset, cls, split, index)
    params = draw_lens(rng, pop, cls, parameter_draws(recipe, cls, split, index, rng))
    if recipe.substructure == "null":
        params = without_substructure(params)
    profile, instrument, supersampling = pop["lens"]["profile"], pop["instrument"], recipe.numerics["supersampling"]
    image, source = render(lenstronomy_kwargs(params, profile), instrument, supersampling)
    noisy, variance = observe(image, source, params, pop["noise"]["enabled"], rng)
    peak = int(np.argmax(source))
    params["snr_effective"] = float(source.flat[peak] / np.sqrt(variance.flat[peak])) if variance.flat[peak] > 0 \
        else float("nan")
    params["sub_signal"] = params["oracle_mse"] = params["oracle_chi2"] = np.nan
    if recipe.numerics["record_substructure_signal"]:
        smooth = image if not len(params["subhalos"]) else \
            render(lenstronomy_kwargs(without_substructure(params), profile), instrument, supersampling)[0]
        params["sub_signal"] = substructure_signal(image, smooth, variance)
        params["oracle_mse"] = oracle_mse(noisy, smooth)
        params["oracle_chi2"] = oracle_chi2(noisy, smooth, variance)
    return noisy.astype(np.float32), {c: params[c] for c in PARAM_COLUMNS}


def observe(image: np.ndarray, source: np.ndarray, params: dict, enabled: bool,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The noisy image and its per-pixel noise variance (counts/s, (counts/s)^2); sets ``params['background_rms']``.

    The background rms is ``params['noise']['background_rms']``, or the lensed source's peak over
    ``snr`` when the population sets an SNR. ``enabled=False`` returns the noiseless image and zero variance.
    """
    noise = params["noise"]
    if not enabled:
        params["background_rms"] = 0.0
        return image.copy(), np.zeros_like(image)
    rms = noise["background_rms"] if np.isnan(noise["snr"]) else float(source.max()) / noise["snr"]
    params["background_rms"] = rms
    return (add_noise(image, noise["exposure_time"], noise["sky"], rms, rng),
            noise_variance(image, noise["exposure_time"], noise["sky"], rms))


def substructure_signal(image: np.ndarray, smooth: np.ndarray, variance: np.ndarray) -> float:
    """Matched-filter signal-to-noise of what the substructure changes in the image.

    ``sqrt(sum((image - smooth)^2 / variance))``, with ``smooth`` the same system without
    substructure (both noiseless, counts/s) and ``variance`` the per-pixel noise variance
    (:func:`noise_variance`): how detectable the substructure is for an ideal detector that knows
    everything else. 0 without substructure; NaN for noiseless images.
    """
    diff2 = (image - smooth) ** 2
    if not diff2.any():
        return 0.0
    if not (variance > 0).all():
        return float("nan")
    return float(np.sqrt(np.sum(diff2 / variance)))


def oracle_mse(noisy: np.ndarray, smooth: np.ndarray) -> float:
    """The oracle's anomaly score: MSE between the min-max normalised image and its own noiseless smooth lens.

    ``smooth`` (the same lens and source without substructure, counts/s) is put in the units of
    the network's input by the image's own min-max map, ``(x - min) / (max - min)``: this is the
    reconstruction error of a perfect autoencoder of smooth lenses, and no reconstruction-error
    detector can be expected to beat its AUC.
    """
    span = float(noisy.max() - noisy.min())
    return float(np.mean((noisy - smooth) ** 2) / span**2) if span > 0 else 0.0


def oracle_chi2(noisy: np.ndarray, smooth: np.ndarray, variance: np.ndarray) -> float:
    """The likelihood oracle's score: reduced chi^2 of the image against its own noiseless smooth lens.

    ``mean((noisy - smooth)^2 / variance)`` with the true per-pixel noise variance
    (:func:`noise_variance`): about 1 without substructure, above it with. Unlike
    :func:`oracle_mse` it does not mistake a noisier image (a shorter exposure, a fainter source
    after min-max) for an anomaly, so it bounds any detector that knows the smooth lens and the
    noise, supervised ones included. NaN for noiseless images.
    """
    if not (variance > 0).all():
        return float("nan")
    return float(np.mean((noisy - smooth) ** 2 / variance))


def dataset_items(sizes: dict) -> list[tuple[str, str, int]]:
    """Every (split, class, index) of a preset's data set, in stack order: splits, then classes."""
    return [(split, cls, i) for split in SPLITS for cls in CLASSES for i in range(sizes[split])]


def chunk_items(sizes: dict, chunk_size: int, chunk: int) -> list[tuple[str, str, int]]:
    """The items of chunk ``chunk`` (0-based) of a preset's data set."""
    items = dataset_items(sizes)
    n_chunks = n_chunks_of(sizes, chunk_size)
    if not 0 <= chunk < n_chunks:
        raise ValueError(f"chunk {chunk} out of range: the data set has {n_chunks} chunks")
    return items[chunk * chunk_size:(chunk + 1) * chunk_size]


def n_chunks_of(sizes: dict, chunk_size: int) -> int:
    """Number of simulation chunks of a preset's data set."""
    total = sum(sizes[s] for s in SPLITS) * len(CLASSES)
    return -(-total // chunk_size)


def _simulate_many(args) -> tuple[np.ndarray, list[dict]]:
    recipe, items = args
    images, rows = [], []
    for split, cls, i in items:
        image, row = simulate_image(recipe, cls, split, i)
        images.append(image)
        rows.append({"split": split, "class": cls, "index": i, **row})
    return np.stack(images), rows


def simulate_items(recipe: Recipe, items, workers: int = 1,
                   pieces_per_worker: int = 4) -> tuple[np.ndarray, list[dict]]:
    """Simulate ``items`` ((split, class, index) tuples) of ``recipe``, in ``workers`` processes.

    Returns
    -------
    images : ndarray (len(items), num_pix, num_pix) float32, counts/s
    rows : list of dict, one per image: split, class, index and :data:`PARAM_COLUMNS`
    """
    items = list(items)
    if workers <= 1 or len(items) < 2:
        return _simulate_many((recipe, items))
    n_pieces = min(len(items), workers * pieces_per_worker)
    bounds = np.linspace(0, len(items), n_pieces + 1).astype(int)
    jobs = [(recipe, items[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(_simulate_many, jobs))
    return np.concatenate([r[0] for r in results]), [row for r in results for row in r[1]]

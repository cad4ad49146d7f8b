"""Strong-lensing images with lenstronomy: a main lens with or without dark substructure.

Conventions
-----------
Angles are arcsec on the sky, masses solar masses, images ``(num_pix, num_pix)`` float32 in
counts/s per pixel (before the per-image normalisation the networks apply). Row 0 of an image is
the lowest declination, as lenstronomy returns it. Distances are angular-diameter distances of
astropy's Planck18 (the original PyLensing used luminosity distances; see
:func:`einstein_radius_from_mass`).

Classes
-------
``no_sub``
    SIE (or SIS) + external shear, elliptical Sersic source, optional Sersic lens light.
``spherical``
    The same plus a Poisson number of point-mass subhaloes with masses from dN/dm ~ m^slope,
    spread uniformly in angle and in radius around the Einstein ring.
``vortex``
    The same plus a line of equal point masses (random orientation, length and centre) holding a
    fraction of the main lens's Einstein mass.

Reproducibility
---------------
Image ``i`` of ``(preset, class, split)`` is drawn from a generator seeded by
``(seed, preset, class, split, i)`` alone (:func:`image_rng`): any chunk can be regenerated on its
own, in any process, and gives the same bytes.
"""

from __future__ import annotations

import functools
import logging
from concurrent.futures import ProcessPoolExecutor

import numba
import numpy as np

log = logging.getLogger(__name__)

CLASSES = ("no_sub", "spherical", "vortex")
SPLITS = ("train", "val", "test")
PRESETS = ("A", "B")
PRESET_KEYS = {"A": "model_a", "B": "model_b"}
# Columns of the per-image parameter table, in order.
# einstein_mass in Msun; sub_mass_fraction: the subhaloes' total mass over the main lens's Einstein mass.
PARAM_COLUMNS = ("z_lens", "z_source", "theta_e", "einstein_mass", "lens_q", "lens_phi", "shear", "shear_phi",
                 "source_x", "source_y", "source_amp", "snr", "snr_effective", "background_rms", "n_subhalos",
                 "sub_mass_fraction", "sub_theta_e_sum", "sub_signal", "vortex_length", "vortex_angle")
ARCSEC_PER_RAD = 180.0 / np.pi * 3600.0


def image_rng(seed: int, preset: str, cls: str, split: str, index: int) -> np.random.Generator:
    """The generator of image ``index`` of ``(preset, class, split)``: a pure function of its arguments."""
    key = [int(seed), PRESETS.index(preset), CLASSES.index(cls), SPLITS.index(split), int(index)]
    return np.random.default_rng(np.random.SeedSequence(key))


def uniform(rng: np.random.Generator, bounds) -> float:
    """One draw from U[low, high]; ``low == high`` returns ``low`` and still consumes one draw, so that a
    fixed range (Model A's redshifts) leaves the later draws of an image where a floating one would."""
    low, high = float(bounds[0]), float(bounds[1])
    return low + (high - low) * rng.random()


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
    1e12 Msun at z 0.5 -> 1.0 gives 1.637 arcsec with Planck18 (PyLensing's luminosity distances gave 1.28).
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


def power_law_masses(rng: np.random.Generator, n: int, low: float, high: float, slope: float) -> np.ndarray:
    """``n`` masses from dN/dm ~ m^slope on [low, high] by inverse-CDF sampling (solar masses)."""
    u = rng.random(n)
    if np.isclose(slope, -1.0):
        return low * (high / low) ** u
    a = slope + 1.0
    return (low**a + u * (high**a - low**a)) ** (1.0 / a)


def draw_lens(rng: np.random.Generator, pop: dict, cls: str) -> dict:
    """Draw every physical parameter of one lens system of class ``cls`` from population ``pop``.

    Returns
    -------
    dict
        The scalars of :data:`PARAM_COLUMNS` (but the noise ones), ``subhalos``: array (n, 3) of
        (x, y, theta_E) in arcsec, and the Sersic parameters of
        the ``source`` and the ``lens_light`` (None when disabled).
    """
    z_l = uniform(rng, pop["z_lens"])
    z_s = uniform(rng, pop["z_source"])
    lens = pop["lens"]
    theta_per_sqrt_mass = einstein_radius_from_mass(1.0, z_l, z_s)  # arcsec / sqrt(Msun)
    if lens["einstein_radius_from"] == "mass":
        theta_e = theta_per_sqrt_mass * np.sqrt(10.0 ** uniform(rng, lens["log10_mass"]))
    else:
        theta_e = einstein_radius_from_velocity_dispersion(uniform(rng, lens["velocity_dispersion"]), z_l, z_s)
    einstein_mass = (theta_e / theta_per_sqrt_mass) ** 2  # mass inside theta_E, Msun
    q = 1.0 if lens["profile"] == "SIS" else uniform(rng, lens["axis_ratio"])
    phi = rng.uniform(0, np.pi)
    shear, shear_phi = uniform(rng, lens["shear"]), rng.uniform(0, np.pi)
    src = pop["source"]
    r, ang = uniform(rng, src["offset"]), rng.uniform(0, 2 * np.pi)
    source = {"amp": uniform(rng, src["amplitude"]), "n_sersic": uniform(rng, src["sersic_index"]),
              "R_sersic": uniform(rng, src["half_light_radius"]), "q": uniform(rng, src["axis_ratio"]),
              "phi": rng.uniform(0, np.pi), "x": r * np.cos(ang), "y": r * np.sin(ang)}
    ll = pop["lens_light"]
    lens_light = {"amp": uniform(rng, ll["amplitude"]), "n_sersic": uniform(rng, ll["sersic_index"]),
                  "R_sersic": uniform(rng, ll["half_light_radius"]), "q": uniform(rng, ll["axis_ratio"]),
                  "phi": rng.uniform(0, np.pi)} if ll["enabled"] else None
    snr = uniform(rng, pop["snr"])
    subhalos, sub_fraction, vortex_length, vortex_angle = _draw_substructure(rng, pop, cls, theta_e, einstein_mass)
    return {"z_lens": z_l, "z_source": z_s, "theta_e": theta_e, "lens_q": q, "lens_phi": phi, "shear": shear,
            "shear_phi": shear_phi, "source_x": source["x"], "source_y": source["y"], "source_amp": source["amp"],
            "snr": snr, "n_subhalos": len(subhalos), "sub_mass_fraction": sub_fraction,
            "sub_theta_e_sum": float(subhalos[:, 2].sum()) if len(subhalos) else 0.0,
            "vortex_length": vortex_length, "vortex_angle": vortex_angle, "einstein_mass": einstein_mass,
            "subhalos": subhalos, "source": source, "lens_light": lens_light}


def _draw_substructure(rng, pop: dict, cls: str, theta_e: float, einstein_mass: float):
    """(subhalos (n, 3) of x, y, theta_E in arcsec; their total mass in units of the main lens's
    Einstein mass; vortex length arcsec; vortex angle rad). A point mass m has
    theta_E = theta_E(main) sqrt(m / M_E)."""
    none = np.zeros((0, 3))
    if cls == "no_sub":
        return none, 0.0, 0.0, 0.0
    if cls == "spherical":
        sph = pop["spherical"]
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
        length, angle = uniform(rng, vx["length"]), rng.uniform(0, np.pi)
        centre = rng.normal(0.0, vx["centre_sigma"], 2) if vx["centre_sigma"] > 0 else np.zeros(2)
        fraction = uniform(rng, vx["mass_fraction"])
        t = np.linspace(-length / 2, length / 2, vx["n_points"])
        x, y = centre[0] + t * np.cos(angle), centre[1] + t * np.sin(angle)
        theta = np.full(vx["n_points"], theta_e * np.sqrt(fraction / vx["n_points"]))
        return np.stack([x, y, theta], axis=1), fraction, length, angle
    raise ValueError(f"unknown lensing class {cls!r}; expected one of {CLASSES}")


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
    s = params["source"]
    e1, e2 = phi_q2_ellipticity(s["phi"], s["q"])
    kwargs_source = [{"amp": s["amp"], "R_sersic": s["R_sersic"], "n_sersic": s["n_sersic"], "e1": e1, "e2": e2,
                      "center_x": s["x"], "center_y": s["y"]}]
    out = {"lens_model_list": lens_list, "kwargs_lens": kwargs_lens, "source_light_model_list": ["SERSIC_ELLIPSE"],
           "kwargs_source": kwargs_source, "lens_light_model_list": [], "kwargs_lens_light": []}
    if params["lens_light"] is not None:
        ll = params["lens_light"]
        e1, e2 = phi_q2_ellipticity(ll["phi"], ll["q"])
        out["lens_light_model_list"] = ["SERSIC_ELLIPSE"]
        out["kwargs_lens_light"] = [{"amp": ll["amp"], "R_sersic": ll["R_sersic"], "n_sersic": ll["n_sersic"],
                                     "e1": e1, "e2": e2, "center_x": 0.0, "center_y": 0.0}]
    return out


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
def _instrument(num_pix: int, pixel_scale: float, psf_fwhm: float):
    from lenstronomy.Data.imaging_data import ImageData
    from lenstronomy.Data.psf import PSF
    from lenstronomy.Util import simulation_util

    data = ImageData(**simulation_util.data_configure_simple(num_pix, pixel_scale))
    psf = PSF(psf_type="GAUSSIAN", fwhm=psf_fwhm, pixel_size=pixel_scale, truncation=5)
    return data, psf


@functools.lru_cache(maxsize=16)
def _image_model(smooth_lens: tuple, source_list: tuple, lens_light_list: tuple, num_pix: int, pixel_scale: float,
                 psf_fwhm: float, supersampling: int):
    """One lenstronomy ``ImageModel`` per set of model lists and instrument, built once per process."""
    from lenstronomy.ImSim.image_model import ImageModel
    from lenstronomy.LightModel.light_model import LightModel

    data, psf = _instrument(num_pix, pixel_scale, psf_fwhm)
    numerics = {"supersampling_factor": supersampling, "supersampling_convolution": False}
    return ImageModel(data, psf, lens_model_class=_smooth_lens_model(smooth_lens),
                      source_model_class=LightModel(list(source_list)),
                      lens_light_model_class=LightModel(list(lens_light_list)), kwargs_numerics=numerics)


def render(kwargs: dict, image_cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    """Noiseless images (lens + source, source alone) in counts/s, each (num_pix, num_pix).

    Parameters
    ----------
    kwargs : dict
        From :func:`lenstronomy_kwargs`.
    image_cfg : dict
        ``lensing.image`` (num_pix, pixel_scale in arcsec, psf_fwhm in arcsec, supersampling).
    """
    is_point = np.array([name == "POINT_MASS" for name in kwargs["lens_model_list"]])
    smooth = tuple(name for name, p in zip(kwargs["lens_model_list"], is_point) if not p)
    points = np.array([[kw["center_x"], kw["center_y"], kw["theta_E"]]
                       for kw, p in zip(kwargs["kwargs_lens"], is_point) if p], dtype=np.float64).reshape(-1, 3)
    kwargs_lens = [kw for kw, p in zip(kwargs["kwargs_lens"], is_point) if not p] + [{"points": points}]
    model = _image_model(smooth, tuple(kwargs["source_light_model_list"]), tuple(kwargs["lens_light_model_list"]),
                         image_cfg["num_pix"], float(image_cfg["pixel_scale"]), float(image_cfg["psf_fwhm"]),
                         int(image_cfg["supersampling"]))
    source = model.image(kwargs_lens, kwargs["kwargs_source"], kwargs_lens_light=kwargs["kwargs_lens_light"],
                         lens_light_add=False)
    if kwargs["lens_light_model_list"]:
        light = model.image(kwargs_lens_light=kwargs["kwargs_lens_light"], source_add=False)
        return source + light, source
    return source, source


def add_noise(image: np.ndarray, source: np.ndarray, snr: float, exposure_time: float,
              rng: np.random.Generator) -> tuple[np.ndarray, float, float]:
    """Poisson noise of the counts plus Gaussian background noise.

    The background rms is ``max(source) / snr`` (counts/s): ``snr`` is the peak signal-to-noise
    of the lensed source against the background. Poisson noise of ``image * exposure_time``
    counts comes on top.

    Returns
    -------
    noisy : ndarray (num_pix, num_pix), counts/s
    background_rms : float, counts/s
    snr_effective : float
        Peak source signal over the total noise rms (background and Poisson) at that pixel.
    """
    peak = int(np.argmax(source))
    background_rms = float(source.flat[peak]) / snr
    counts = rng.poisson(np.clip(image, 0, None) * exposure_time)
    noisy = counts / exposure_time + rng.normal(0.0, background_rms, image.shape)
    total_rms = np.sqrt(background_rms**2 + max(float(image.flat[peak]), 0.0) / exposure_time)
    return noisy, background_rms, float(source.flat[peak]) / total_rms


def simulate_image(seed: int, preset: str, pop: dict, image_cfg: dict, cls: str, split: str,
                   index: int) -> tuple[np.ndarray, dict]:
    """Image ``index`` of ``(preset, cls, split)`` and its parameters (a row of :data:`PARAM_COLUMNS`).

    Returns
    -------
    image : ndarray (num_pix, num_pix) float32, counts/s
    row : dict
    """
    rng = image_rng(seed, preset, cls, split, index)
    params = draw_lens(rng, pop, cls)
    image, source = render(lenstronomy_kwargs(params, pop["lens"]["profile"]), image_cfg)
    noisy, params["background_rms"], params["snr_effective"] = add_noise(image, source, params["snr"],
                                                                         image_cfg["exposure_time"], rng)
    params["sub_signal"] = substructure_signal(params, image, image_cfg, pop["lens"]["profile"]) \
        if image_cfg["record_substructure_signal"] else np.nan
    return noisy.astype(np.float32), {c: params[c] for c in PARAM_COLUMNS}


def substructure_signal(params: dict, image: np.ndarray, image_cfg: dict, profile: str) -> float:
    """Matched-filter signal-to-noise of what the substructure changes in the image.

    ``sqrt(sum((image - smooth)^2)) / background_rms``, with ``smooth`` the same system without
    substructure (noiseless, counts/s): how detectable the substructure is for an ideal detector
    that knows everything else. 0 for ``no_sub``. Costs one more rendering per image.
    """
    if not len(params["subhalos"]):
        return 0.0
    smooth, _ = render(lenstronomy_kwargs(dict(params, subhalos=np.zeros((0, 3))), profile), image_cfg)
    return float(np.sqrt(np.sum((image - smooth) ** 2)) / params["background_rms"])


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
    seed, preset, pop, image_cfg, items = args
    images, rows = [], []
    for split, cls, i in items:
        image, row = simulate_image(seed, preset, pop, image_cfg, cls, split, i)
        images.append(image)
        rows.append({"split": split, "class": cls, "index": i, **row})
    return np.stack(images), rows


def simulate_items(seed: int, preset: str, pop: dict, image_cfg: dict, items, workers: int = 1,
                   pieces_per_worker: int = 4) -> tuple[np.ndarray, list[dict]]:
    """Simulate ``items`` ((split, class, index) tuples), in ``workers`` processes.

    Returns
    -------
    images : ndarray (len(items), num_pix, num_pix) float32, counts/s
    rows : list of dict, one per image: split, class, index and :data:`PARAM_COLUMNS`
    """
    items = list(items)
    if workers <= 1 or len(items) < 2:
        return _simulate_many((seed, preset, pop, image_cfg, items))
    n_pieces = min(len(items), workers * pieces_per_worker)
    bounds = np.linspace(0, len(items), n_pieces + 1).astype(int)
    jobs = [(seed, preset, pop, image_cfg, items[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(_simulate_many, jobs))
    return np.concatenate([r[0] for r in results]), [row for r in results for row in r[1]]

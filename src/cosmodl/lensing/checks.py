"""Cross-field checks of the lensing config, run when the workflow is parsed and by ``make check-config``.

The schema checks each value's type; here the ranges ([low, high] pairs) are checked for order
and physical sense, and settings that only fail together (an image size and the autoencoders'
fixed input sizes, a batch size and the training-set size, a lattice smaller than its class, an
SNR beside a background rms) are caught before any job starts.
"""

from __future__ import annotations

from ..errors import ConfigError
from ..training.config import check_train_overrides, train_settings
from .models import AUTOENCODER_SIDES
from .data import ANOMALY_MODELS
from .simulate import PRESET_KEYS

# (dotted key within a population, lowest allowed value, exclusive?, highest allowed value)
RANGE_LIMITS = {
    "z_lens": (0.0, False, None), "z_source": (0.0, True, None),
    "noise.log10_exposure_time": (None, False, None), "noise.sky": (0.0, False, None),
    "noise.background_rms": (0.0, False, None),
    "lens.log10_mass": (None, False, None), "lens.velocity_dispersion": (0.0, True, None),
    "lens.einstein_radius": (0.0, True, None), "lens.axis_ratio": (0.0, True, 1.0), "lens.shear": (0.0, False, None),
    "lens.position_angle": (None, False, None), "lens.shear_angle": (None, False, None),
    "lens_light.amplitude": (0.0, False, None), "lens_light.sersic_index": (0.0, True, None),
    "lens_light.half_light_radius": (0.0, True, None), "lens_light.axis_ratio": (0.0, True, 1.0),
    "lens_light.position_angle": (None, False, None),
    "source.amplitude": (0.0, True, None), "source.sersic_index": (0.0, True, None),
    "source.half_light_radius": (0.0, True, None), "source.axis_ratio": (0.0, True, 1.0),
    "source.position_angle": (None, False, None), "source.offset": (0.0, False, None),
    "source.x": (None, False, None), "source.y": (None, False, None),
    "spherical.mass": (0.0, True, None), "spherical.radius": (0.0, False, None),
    "vortex.length": (0.0, True, None), "vortex.log10_axion_mass": (None, False, None),
    "vortex.mass_fraction": (0.0, True, 1.0),
}


def _get(section: dict, dotted: str):
    for part in dotted.split("."):
        section = section[part]
    return section


def check_range(key: str, bounds, low=None, exclusive: bool = False, high=None) -> None:
    """Raise ConfigError unless ``bounds = [lo, hi]`` has lo <= hi and lies within the limits."""
    lo, hi = bounds
    if lo > hi:
        raise ConfigError(f"config key {key} = {list(bounds)}: the range is reversed (low > high)")
    if low is not None and (lo <= low if exclusive else lo < low):
        relation = ">" if exclusive else ">="
        raise ConfigError(f"config key {key} = {list(bounds)}: values must be {relation} {low}")
    if high is not None and hi > high:
        raise ConfigError(f"config key {key} = {list(bounds)}: values must be <= {high}")


def check_config(config: dict) -> None:
    """Raise ConfigError for the first inconsistent value or combination in ``config['lensing']``."""
    cfg = config["lensing"]
    for preset in cfg["presets"]:
        check_population(f"lensing.{PRESET_KEYS[preset]}", cfg[PRESET_KEYS[preset]])
        if "lattice" in cfg["sampling"]:
            check_lattice(cfg, preset)
    anomaly = sorted(set(cfg["models"]) & set(ANOMALY_MODELS))
    for preset in cfg["presets"]:
        side = cfg[PRESET_KEYS[preset]]["instrument"]["num_pix"]
        if anomaly and side not in AUTOENCODER_SIDES:
            raise ConfigError(f"config key lensing.{PRESET_KEYS[preset]}.instrument.num_pix = {side}: the anomaly "
                              f"detectors ({anomaly}) take images of {' or '.join(map(str, AUTOENCODER_SIDES))} pixels "
                              "a side")
    check_train_overrides(cfg, "lensing", cfg["models"])
    for name in cfg["models"]:
        batch_size = train_settings(cfg, name, "lensing")["batch_size"]
        n_train = cfg["sizes"]["train"] * (3 if name == "resnet" else 1)
        if batch_size > n_train:
            raise ConfigError(f"config keys lensing.train.batch_size = {batch_size} (for {name}) and "
                              f"lensing.sizes.train = {cfg['sizes']['train']}: the batch is larger than the "
                              f"{n_train} training images")


def check_population(key: str, pop: dict) -> None:
    """Raise ConfigError for a bad range or combination in one population (config section ``key``)."""
    for dotted, (low, exclusive, high) in RANGE_LIMITS.items():
        check_range(f"{key}.{dotted}", _get(pop, dotted), low, exclusive, high)
    if pop["z_source"][0] <= pop["z_lens"][1]:
        raise ConfigError(f"config keys {key}.z_source = {pop['z_source']} and z_lens = {pop['z_lens']}: "
                          "every source redshift must be above every lens redshift")
    noise = pop["noise"]
    if noise["snr"] is not None:
        check_range(f"{key}.noise.snr", noise["snr"], 0.0, True)
        if any(noise["background_rms"]):
            raise ConfigError(f"config keys {key}.noise.snr = {noise['snr']} and noise.background_rms = "
                              f"{noise['background_rms']}: the SNR sets the background rms; give one of them")
    sph = pop["spherical"]
    if sph["number"] == "fixed" and (sph["mean_number"] != int(sph["mean_number"])):
        raise ConfigError(f"config key {key}.spherical.mean_number = {sph['mean_number']}: a fixed number of "
                          "subhaloes (spherical.number = fixed) must be a whole number")


def check_lattice(cfg: dict, preset: str) -> None:
    """Raise ConfigError when a class's lattice has fewer points than the class has images."""
    from .simulate import CLASSES, SPLITS, lattice_parameters

    n_images = sum(cfg["sizes"][s] for s in SPLITS)
    for cls in CLASSES:
        n_ranged = len(lattice_parameters(cfg[PRESET_KEYS[preset]], cls))
        if float(cfg["lattice_values"]) ** n_ranged < n_images:
            raise ConfigError(f"config key lensing.lattice_values = {cfg['lattice_values']}: preset {preset} has "
                              f"{n_ranged} ranged parameters in class {cls}, a lattice of "
                              f"{cfg['lattice_values'] ** n_ranged} points, fewer than its {n_images} images "
                              "(lensing.sizes)")

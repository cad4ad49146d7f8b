"""Cross-field checks of the lensing config, run when the workflow is parsed and by ``make check-config``.

The schema checks each value's type; here the ranges ([low, high] pairs) are checked for order
and physical sense, and settings that only fail together (image size and the fixed 150-pixel
networks, batch size and training-set size) are caught before any job starts.
"""

from __future__ import annotations

from ..errors import ConfigError
from ..training.config import train_settings
from .data import ANOMALY_MODELS
from .simulate import PRESET_KEYS

# (dotted key within a population, lowest allowed value, exclusive?, highest allowed value)
RANGE_LIMITS = {
    "z_lens": (0.0, False, None), "z_source": (0.0, True, None), "snr": (0.0, True, None),
    "lens.log10_mass": (None, False, None), "lens.velocity_dispersion": (0.0, True, None),
    "lens.axis_ratio": (0.0, True, 1.0), "lens.shear": (0.0, False, None),
    "lens_light.amplitude": (0.0, False, None), "lens_light.sersic_index": (0.0, True, None),
    "lens_light.half_light_radius": (0.0, True, None), "lens_light.axis_ratio": (0.0, True, 1.0),
    "source.amplitude": (0.0, True, None), "source.sersic_index": (0.0, True, None),
    "source.half_light_radius": (0.0, True, None), "source.axis_ratio": (0.0, True, 1.0),
    "source.offset": (0.0, False, None), "spherical.mass": (0.0, True, None), "spherical.radius": (0.0, False, None),
    "vortex.length": (0.0, True, None), "vortex.mass_fraction": (0.0, True, 1.0),
}
NETWORK_SIDE = 150


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
        key = PRESET_KEYS[preset]
        pop = cfg[key]
        for dotted, (low, exclusive, high) in RANGE_LIMITS.items():
            check_range(f"lensing.{key}.{dotted}", _get(pop, dotted), low, exclusive, high)
        if pop["z_source"][0] <= pop["z_lens"][1]:
            raise ConfigError(f"config keys lensing.{key}.z_source = {pop['z_source']} and z_lens = {pop['z_lens']}: "
                              "every source redshift must be above every lens redshift")
    image = cfg["image"]
    if set(cfg["models"]) & set(ANOMALY_MODELS) and image["num_pix"] != NETWORK_SIDE:
        raise ConfigError(f"config key lensing.image.num_pix = {image['num_pix']}: the anomaly detectors "
                          f"({sorted(set(cfg['models']) & set(ANOMALY_MODELS))}) take {NETWORK_SIDE} x "
                          f"{NETWORK_SIDE} images")
    for name in cfg["models"]:
        batch_size = train_settings(cfg, name, "lensing")["batch_size"]
        n_train = cfg["sizes"]["train"] * (3 if name == "resnet" else 1)
        if batch_size > n_train:
            raise ConfigError(f"config keys lensing.train.batch_size = {batch_size} (for {name}) and "
                              f"lensing.sizes.train = {cfg['sizes']['train']}: the batch is larger than the "
                              f"{n_train} training images")

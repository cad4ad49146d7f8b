"""Cross-field checks of the specz config, run when the workflow is parsed and by ``make check-config``."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..training import train_settings
from ..training.config import check_train_overrides


def check_config(config: dict) -> None:
    """Raise ConfigError naming the key when settings of ``config['specz']`` cannot work together."""
    from .spectra import SpectrumMaker, SpectrumSettings

    cfg = config["specz"]
    s = SpectrumSettings(**cfg["spectra"])
    classes = (s.z_max - s.z_min) / s.dz
    if not np.isclose(classes, round(classes), atol=1e-6):
        raise ConfigError(f"specz.spectra: (z_max - z_min) / dz = ({s.z_max} - {s.z_min}) / {s.dz} = {classes:.4f} "
                          "is not a whole number of redshift classes")
    SpectrumMaker(s)  # refuses a z range the templates do not cover on the observed grid
    if cfg["data"] == "realistic":
        from .realistic import RealisticSettings

        RealisticSettings(**cfg["realistic"])  # ranges the schema cannot express (spike_amplitude low <= high)
    bins = cfg["baselines"]["forest_bins"]
    if "forest" in cfg["methods"] and bins > s.n_pixels:
        raise ConfigError(f"specz.baselines.forest_bins = {bins} is more than the {s.n_pixels} pixels of a spectrum "
                          "(a bin must hold at least one pixel)")
    check_train_overrides(cfg, "specz", [f"cnn{d}" for d in cfg["depths"]] if "cnn" in cfg["methods"] else [])
    if "cnn" in cfg["methods"]:
        for blocks in cfg["depths"]:
            batch = train_settings(cfg, f"cnn{blocks}", "specz")["batch_size"]
            if min(cfg["sizes"]) < batch:
                raise ConfigError(f"specz.sizes: a training set of {min(cfg['sizes'])} spectra is smaller than one "
                                  f"batch of specz.train.batch_size = {batch} (cnn{blocks})")


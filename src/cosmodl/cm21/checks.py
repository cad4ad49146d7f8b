"""Cross-field checks of the 21-cm config, run when the workflow is parsed and by ``make check-config``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ConfigError
from .data import realization_name, slice_positions


def check_config(config: dict) -> None:
    """Raise ConfigError naming the key when settings of ``config['cm21']`` cannot work together."""
    cfg = config["cm21"]
    tasks = cfg["tasks"]
    if "z_fixed_fesc" in tasks and not np.isclose(cfg["f_esc"], cfg["tasks_fixed"]["f_esc"]).any():
        raise ConfigError(f"cm21.tasks_fixed.f_esc = {cfg['tasks_fixed']['f_esc']} is not one of cm21.f_esc "
                          f"{cfg['f_esc']} (task z_fixed_fesc)")
    if "fesc_fixed_z" in tasks and not np.isclose(cfg["redshifts"], cfg["tasks_fixed"]["z"]).any():
        raise ConfigError(f"cm21.tasks_fixed.z = {cfg['tasks_fixed']['z']} is not one of cm21.redshifts "
                          f"{cfg['redshifts']} (task fesc_fixed_z)")
    if cfg["source"] == "directory":
        check_directory(cfg)
        check_grid(cfg, source_dim(cfg))
        return
    if cfg["simulate"]["box_len"] != round(cfg["simulate"]["box_len"]):
        raise ConfigError(f"cm21.simulate.box_len = {cfg['simulate']['box_len']}: 21cmFAST's file names hold the box "
                          "length in whole Mpc, so it must be an integer")
    if cfg["source"] == "21cmfast" and cfg["simulate"]["r_max"] > cfg["simulate"]["box_len"] / 3:
        raise ConfigError(f"cm21.simulate.r_max = {cfg['simulate']['r_max']} Mpc: 21cmFAST refuses bubbles larger than "
                          f"a third of the box (box_len = {cfg['simulate']['box_len']})")
    check_grid(cfg, cfg["simulate"]["dim"])


def check_grid(cfg: dict, dim: int) -> None:
    """The networks and patches fit slices of ``dim`` cells."""
    methods = cfg["methods"]
    key = "cm21.simulate.dim" if cfg["source"] != "directory" else f"the boxes in cm21.directory ({cfg['directory']})"
    if "ae_cnn" in methods and (dim % 8 or dim < 80):
        raise ConfigError(f"{key}: {dim} cells per side; the autoencoder needs slices of a multiple of 8 cells and its "
                          "encoded CNN at least 80 (drop ae_cnn from cm21.methods for smaller boxes)")
    if "cnn" in methods and dim < 22:
        raise ConfigError(f"{key}: {dim} cells per side; the CNN on raw slices needs at least 22")
    if cfg["slices"]["patch"] > dim:
        raise ConfigError(f"cm21.slices.patch = {cfg['slices']['patch']} is larger than the {dim}-cell slices")
    slice_positions(dim, cfg["slices"]["per_box"])
    if cfg["source"] == "simulate" and cfg["simulate"]["r_max"] < 0.620350491 * cfg["simulate"]["box_len"] / dim:
        raise ConfigError(f"cm21.simulate.r_max = {cfg['simulate']['r_max']} Mpc is below the cell scale")


def check_directory(cfg: dict) -> None:
    """A directory source must exist and hold every configured realization folder."""
    if not cfg["directory"]:
        raise ConfigError("cm21.source = directory needs cm21.directory (a folder of f<f_esc>_s<seed> folders)")
    root = Path(cfg["directory"])
    if not root.is_dir():
        raise ConfigError(f"cm21.directory = {root}: no such folder")
    missing = [realization_name(f, s) for f in cfg["f_esc"] for s in cfg["seeds"]
               if not (root / realization_name(f, s)).is_dir()]
    if missing:
        raise ConfigError(f"cm21.directory = {root}: missing realization folders {missing[:5]}"
                          f"{' ...' if len(missing) > 5 else ''}")


def source_dim(cfg: dict) -> int:
    """Cells per side of the boxes: from the first realization's file names for a directory source."""
    if cfg["source"] != "directory":
        return cfg["simulate"]["dim"]
    from .boxes import box_geometry

    return box_geometry(Path(cfg["directory"]) / realization_name(cfg["f_esc"][0], cfg["seeds"][0]))[0]


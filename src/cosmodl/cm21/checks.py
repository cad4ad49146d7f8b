"""Cross-field checks of the 21-cm config, run when the workflow is parsed and by ``make check-config``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..config import check_distinct_names
from ..errors import ConfigError
from ..splits import TRAIN, check_fractions
from ..training.config import check_train_overrides, train_settings
from .boxes import density_name
from .data import realization_name, slice_positions
from .features import check_scattering_scale

NETWORKS = ("autoencoder", "fc", "ae_cnn", "cnn", "resnet")


def redshift_in_file_name(z: float) -> str:
    """The redshift as a box's file name writes it (``z006.50``): two redshifts with one name collide."""
    return density_name(z, 1, 1).split("_")[3]


def check_config(config: dict) -> None:
    """Raise ConfigError naming the key when settings of ``config['cm21']`` cannot work together."""
    cfg = config["cm21"]
    telescope = cfg["telescope"]
    tasks = cfg["tasks"] + ([telescope["task"]] if telescope["noise_mk"] else [])  # the curve's task is fitted too
    check_distinct_names(cfg["f_esc"], lambda f: realization_name(f, 0).removesuffix("_s0"), "cm21.f_esc",
                         "realization folder names (f<f_esc>_s<seed>)")
    check_distinct_names(cfg["seeds"], str, "cm21.seeds", "realization folder names")
    check_distinct_names(cfg["redshifts"], redshift_in_file_name, "cm21.redshifts",
                         "box file names (z to two decimals)")
    check_fractions(cfg["split"]["test_fraction"], cfg["split"]["val_fraction"], "cm21.split")
    used = [m for m in cfg["methods"] if m in NETWORKS] + (["autoencoder"] if "ae_cnn" in cfg["methods"] else [])
    if telescope["noise_mk"]:
        used = list(dict.fromkeys(used + telescope["networks"]))
    check_train_overrides(cfg, "cm21", used)
    if "z_fixed_fesc" in tasks and not np.isclose(cfg["f_esc"], cfg["tasks_fixed"]["f_esc"]).any():
        raise ConfigError(f"cm21.tasks_fixed.f_esc = {cfg['tasks_fixed']['f_esc']} is not one of cm21.f_esc "
                          f"{cfg['f_esc']} (task z_fixed_fesc)")
    if "fesc_fixed_z" in tasks and not np.isclose(cfg["redshifts"], cfg["tasks_fixed"]["z"]).any():
        raise ConfigError(f"cm21.tasks_fixed.z = {cfg['tasks_fixed']['z']} is not one of cm21.redshifts "
                          f"{cfg['redshifts']} (task fesc_fixed_z)")
    check_test_source(cfg)
    check_telescope(cfg)
    if cfg["source"] == "directory":
        check_directory(cfg)
        dim, cell = source_grid(cfg)
        check_grid(cfg, dim)
        check_planned_split(cfg, dim, cell, used)
        return
    if cfg["simulate"]["box_len"] != round(cfg["simulate"]["box_len"]):
        raise ConfigError(f"cm21.simulate.box_len = {cfg['simulate']['box_len']}: 21cmFAST's file names hold the box "
                          "length in whole Mpc, so it must be an integer")
    if cfg["source"] == "21cmfast" and cfg["simulate"]["r_max"] > cfg["simulate"]["box_len"] / 3:
        raise ConfigError(f"cm21.simulate.r_max = {cfg['simulate']['r_max']} Mpc: 21cmFAST refuses bubbles larger than "
                          f"a third of the box (box_len = {cfg['simulate']['box_len']})")
    check_grid(cfg, cfg["simulate"]["dim"])
    check_planned_split(cfg, cfg["simulate"]["dim"], cfg["simulate"]["box_len"] / cfg["simulate"]["dim"], used)


def check_telescope(cfg: dict) -> None:
    """``cm21.telescope``: one beam, and no beam given as an angle for a redshift task.

    An angle's comoving width grows with z (D_c(z) x angle), so the smoothing scale of every
    observed slice tells its redshift, whatever the signal: on the medium config a 5-arcmin beam let
    the statistics name the redshift of every test slice at a noise 2.7 times the signal's rms.
    """
    tel = cfg["telescope"]
    if tel["beam_mpc"] and tel["beam_arcmin"]:
        raise ConfigError(f"cm21.telescope: beam_mpc = {tel['beam_mpc']} and beam_arcmin = {tel['beam_arcmin']} "
                          "both given; give the beam once")
    if tel["noise_mk"] and tel["beam_arcmin"] and tel["task"] in ("z_fixed_fesc", "z_all"):
        raise ConfigError(f"cm21.telescope.beam_arcmin = {tel['beam_arcmin']} with the redshift task "
                          f"{tel['task']}: a fixed angle is a comoving width that grows with z, so the smoothing "
                          "scale alone tells the redshift; give the beam as beam_mpc (the same comoving FWHM at "
                          "every z)")


def check_test_source(cfg: dict) -> None:
    """``cm21.test_source`` names another source that can be read or made.

    Raises
    ------
    ConfigError
        Seeds the training also uses with the training's own generator (the same density fields: no
        other source), a directory that is missing, is the training directory or holds no
        realization folder, a directory without a directory source, or redshifts that collide in
        file names.
    """
    from .stage import cross_realizations, cross_source_of

    ts = cfg["test_source"]
    source = ts["source"] or cfg["source"]
    if source != "directory" and ts["directory"]:
        raise ConfigError(f"cm21.test_source.directory = {ts['directory']} is read only when test_source.source is "
                          f"directory (it is {source})")
    if ts["redshifts"]:
        check_distinct_names(ts["redshifts"], redshift_in_file_name,
                             "cm21.test_source.redshifts", "box file names (z to two decimals)")
    if cross_source_of(cfg) is None:
        return
    if source == cfg["source"] and source != "directory":
        shared = sorted(set(ts["seeds"]) & set(cfg["seeds"]))
        if shared:
            raise ConfigError(f"cm21.test_source.seeds {shared} are also training seeds (cm21.seeds) of the same "
                              f"source ({source}): the same density fields are no other source")
    if source == "directory":
        root = Path(ts["directory"])
        if not root.is_dir():
            raise ConfigError(f"cm21.test_source.directory = {root}: no such folder")
        if cfg["source"] == "directory" and root.resolve() == Path(cfg["directory"]).resolve():
            raise ConfigError(f"cm21.test_source.directory = {root} is the training directory (cm21.directory)")
        if not cross_realizations(cfg):
            raise ConfigError(f"cm21.test_source.directory = {root}: no realization folders named f<f_esc>_s<seed>")


def check_grid(cfg: dict, dim: int) -> None:
    """The networks and patches fit slices of ``dim`` cells."""
    methods = cfg["methods"] + (["physics", *cfg["telescope"]["networks"]] if cfg["telescope"]["noise_mk"] else [])
    key = "cm21.simulate.dim" if cfg["source"] != "directory" else f"the boxes in cm21.directory ({cfg['directory']})"
    if "ae_cnn" in methods and (dim % 8 or dim < 80):
        raise ConfigError(f"{key}: {dim} cells per side; the autoencoder needs slices of a multiple of 8 cells and its "
                          "encoded CNN at least 80 (drop ae_cnn from cm21.methods for smaller boxes)")
    if "cnn" in methods and dim < 22:
        raise ConfigError(f"{key}: {dim} cells per side; the CNN on raw slices needs at least 22")
    if cfg["slices"]["patch"] > dim:
        raise ConfigError(f"cm21.slices.patch = {cfg['slices']['patch']} is larger than the {dim}-cell slices")
    if "fc" in methods and dim % cfg["slices"]["patch"]:
        kept = (dim // cfg["slices"]["patch"] * cfg["slices"]["patch"]) ** 2 / dim**2
        raise ConfigError(f"cm21.slices.patch = {cfg['slices']['patch']} does not divide the {dim}-cell slices: the "
                          f"fully connected network's patches would leave out {1 - kept:.0%} of every slice")
    if "physics" in methods and "scattering" in cfg["baselines"]["families"]:
        check_scattering_scale(cfg["baselines"]["scattering"]["J"], dim)
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


def source_grid(cfg: dict) -> tuple[int, float]:
    """(cells per side, cell side in Mpc) of the boxes, from the first realization's file names for a
    directory source."""
    if cfg["source"] != "directory":
        return cfg["simulate"]["dim"], cfg["simulate"]["box_len"] / cfg["simulate"]["dim"]
    from .boxes import box_geometry

    return box_geometry(Path(cfg["directory"]) / realization_name(cfg["f_esc"][0], cfg["seeds"][0]))


def planned_table(cfg: dict, dim: int) -> pd.DataFrame:
    """The slice table that ``cm21_slices`` will write (its rows in any order), from the config alone."""
    positions = slice_positions(dim, cfg["slices"]["per_box"])
    rows = [(seed, f, f * cfg["zeta_per_fesc"], z, p) for f in cfg["f_esc"] for seed in cfg["seeds"]
            for z in cfg["redshifts"] for p in positions]
    return pd.DataFrame(rows, columns=["seed", "f_esc", "zeta", "z", "position"])


def check_planned_split(cfg: dict, dim: int, cell_mpc: float, networks) -> None:
    """The split the config asks for can be made, and every trained network gets at least one batch.

    Raises
    ------
    ConfigError
        Naming ``cm21.split.buffer`` in Mpc when the buffer leaves a set empty, or the batch size and
        the training-set size of the task and network that cannot train.
    """
    from .data import split_slices, task_rows

    table = planned_table(cfg, dim)
    try:
        roles, _ = split_slices(table, dim, cell_mpc, cfg["split"])
    except ConfigError as exc:
        buffer = cfg["split"]["buffer"]
        raise ConfigError(f"cm21.split.buffer = {buffer} Mpc leaves a set without slices in the {dim * cell_mpc:g} Mpc "
                          f"box ({cfg['slices']['per_box']} slices per box, one every "
                          f"{dim * cell_mpc / cfg['slices']['per_box']:g} Mpc; fractions test "
                          f"{cfg['split']['test_fraction']}, val {cfg['split']['val_fraction']}): {exc}") from None
    per_patch = (dim // cfg["slices"]["patch"]) ** 2
    for task in cfg["tasks"]:
        rows = task_rows(table, roles, task, cfg["tasks_fixed"]["f_esc"], cfg["tasks_fixed"]["z"])["rows"]
        n_train = len(rows["train"])
        for network in networks:
            if network == "autoencoder":
                continue
            n = n_train * (per_patch if network == "fc" else 1)
            batch = train_settings(cfg, network, "cm21")["batch_size"]
            if n < batch:
                raise ConfigError(f"cm21.train.batch_size = {batch} (network {network}) is larger than the training "
                                  f"set of task {task} ({n} {'patches' if network == 'fc' else 'slices'})")
    if "autoencoder" in networks:
        n = int(np.sum(roles == TRAIN))
        batch = train_settings(cfg, "autoencoder", "cm21")["batch_size"]
        if n < batch:
            raise ConfigError(f"cm21.train.batch_size = {batch} (autoencoder) is larger than the training set "
                              f"({n} slices)")


"""The 21-cm stage's steps as functions of the config: boxes of one realization, and the slice set.

The Snakemake rules (workflow/rules/cm21.smk) call these through thin scripts.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..cosmology import Cosmology, planck18
from ..errors import ConfigError
from ..io import atomic_output, write_json
from .boxes import box_geometry, write_realization
from .data import collect_slices, parse_realization, patches_of, realization_name, split_slices
from .resources import check_memory
from .simulate import Reionisation, simulate_realization

log = logging.getLogger(__name__)


def cosmology_of(cfg: dict) -> Cosmology:
    """The boxes' cosmology (``cm21.simulate.cosmology`` over Planck18's T_CMB)."""
    return planck18(**cfg["simulate"]["cosmology"])


def reionisation_of(cfg: dict, f_esc: float) -> Reionisation:
    """Generator parameters of the realizations with escape fraction ``f_esc``."""
    sim = cfg["simulate"]
    return Reionisation(dim=sim["dim"], box_len=sim["box_len"], zeta=cfg["zeta_per_fesc"] * f_esc, m_min=sim["m_min"],
                        r_max=sim["r_max"], delta_c=sim["delta_c"], mean_collapse=sim["mean_collapse"],
                        t_vir_min=sim["t_vir_min"])


def run_21cmfast(cfg: dict, f_esc: float, seed: int, threads: int) -> dict:
    """Boxes of one realization from the ``21cmFAST`` package (optional; ``pip install 21cmFAST``).

    Uses the ``const-zeta`` template with our grid, zeta, R_max, cosmology and minimum halo mass
    (the template's sharp ``M_TURN`` cutoff, or ``ION_Tvir_MIN`` when ``t_vir_min`` is set);
    ``delta_c`` and ``mean_collapse`` have no 21cmFAST equivalent and are not passed. One C
    thread always: 21cmFAST seeds a random stream per thread, so its boxes change with
    ``N_THREADS`` (seed 150 gives x_HI(z=7) 0.015 on one thread, 0.091 on two).
    Returns the same dict as :func:`cosmodl.cm21.simulate.simulate_realization`.
    """
    try:
        import py21cmfast as p21c
    except ImportError:
        raise ConfigError("cm21.source = 21cmfast needs the 21cmFAST package: apt-get install libgsl-dev "
                          "libfftw3-dev, then pip install 21cmFAST (an sdist that compiles, ~3 min); or use "
                          "source: simulate") from None
    import math
    import tempfile

    sim = cfg["simulate"]
    cosmo = sim["cosmology"]
    if sim["t_vir_min"] is None:
        halo = {"M_TURN": math.log10(sim["m_min"])}
    else:
        halo = {"M_MIN_in_Mass": False, "ION_Tvir_MIN": math.log10(sim["t_vir_min"])}
    log.info("21cmFAST %s, one thread; cm21.simulate.delta_c and mean_collapse are not used", p21c.__version__)
    inputs = p21c.InputParameters.from_template(["const-zeta"], random_seed=seed).evolve_input_structs(
        HII_DIM=sim["dim"], BOX_LEN=sim["box_len"], DIM=3 * sim["dim"], HII_EFF_FACTOR=cfg["zeta_per_fesc"] * f_esc,
        R_BUBBLE_MAX=sim["r_max"], hlittle=cosmo["h"], OMm=cosmo["Om0"], OMb=cosmo["Ob0"], SIGMA_8=cosmo["sigma8"],
        POWER_INDEX=cosmo["n_s"], N_THREADS=1, **halo)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        coevals = p21c.run_coeval(inputs=inputs, out_redshifts=list(cfg["redshifts"]), cache=p21c.OutputCache(tmp),
                                  write=False)
        for c in coevals:  # 21cmFAST returns them from high to low z: key each by its own redshift
            z = min(cfg["redshifts"], key=lambda r: abs(r - float(c.redshift)))
            if abs(z - float(c.redshift)) > 1e-3:
                raise ConfigError(f"21cmFAST returned a box at z = {c.redshift}, not one of cm21.redshifts")
            x_hi = np.asarray(c.neutral_fraction, dtype=np.float32)
            out[float(z)] = {"delta_T": np.asarray(c.brightness_temp, np.float32),
                             "density": np.asarray(c.density, np.float32), "x_hi": float(x_hi.mean())}
    return out


def make_realization(cfg: dict, f_esc: float, seed: int, out_folder, threads: int = 1) -> None:
    """Write the 21cmFAST-format folder of realization (f_esc, seed) with every redshift."""
    check_memory("boxes", cfg)
    if cfg["source"] == "21cmfast":
        boxes = run_21cmfast(cfg, f_esc, seed, threads)
    elif cfg["source"] == "simulate":
        boxes = simulate_realization(reionisation_of(cfg, f_esc), cfg["redshifts"], seed, cosmology_of(cfg), threads)
    else:
        raise ConfigError(f"cm21.source = {cfg['source']!r}: real boxes are read from cm21.directory, not made")
    write_realization(out_folder, boxes, cfg["simulate"]["box_len"])
    log.info("realization f_esc %.3f seed %d: x_HI %s", f_esc, seed,
             {z: round(b["x_hi"], 4) for z, b in sorted(boxes.items())})


def make_slices(cfg: dict, folders, slices_out, table_out, split_out) -> dict:
    """Slice every realization, split the slices, and write ``slices.npy``, ``slices.csv`` and ``split.json``.

    Returns
    -------
    dict : the split record.
    """
    s = cfg["slices"]
    grids = {Path(f).name: box_geometry(f) for f in folders}  # before reading: boxes of two grids do not stack
    if len(set(grids.values())) > 1:
        raise ConfigError(f"cm21: realizations on different grids (cells per side, cell Mpc): {grids}")
    slices, table = collect_slices(folders, cfg["redshifts"], s["axis"], s["per_box"], cfg["zeta_per_fesc"])
    dim, cell = next(iter(grids.values()))
    roles, record = split_slices(table, dim, cell, cfg["split"])
    record["grid"] = {"dim": int(dim), "cell_mpc": cell}
    with atomic_output(slices_out) as tmp:
        np.save(tmp, slices)
    with atomic_output(table_out) as tmp:
        table.to_csv(tmp, index=False)
    write_json(record, split_out)
    log.info("%d slices of %d x %d; split %s", len(slices), dim, dim, record["counts"])
    return record


def grid_of(split_path) -> tuple[int, float]:
    """(cells per side, cell side in Mpc) of the slices, from the split file."""
    grid = json.loads(Path(split_path).read_text()).get("grid")
    if grid is None:
        raise ConfigError(f"{split_path}: no 'grid' entry (a split file of the cm21 stage has one); rerun cm21_slices")
    return int(grid["dim"]), float(grid["cell_mpc"])


def cross_source_of(cfg: dict) -> dict | None:
    """The other source the trained models are also scored on (``cm21.test_source``), or None when off.

    Returns
    -------
    dict or None
        ``source`` ('simulate', '21cmfast' or 'directory'), ``seeds``, ``directory``, ``redshifts``
        (defaults filled in from the training config) and ``label``, the source in words. None when
        ``test_source.seeds`` is empty (our generator or 21cmFAST) or ``test_source.directory`` is
        unset (a directory).
    """
    ts = cfg["test_source"]
    source = ts["source"] or cfg["source"]
    redshifts = list(ts["redshifts"] or cfg["redshifts"])
    if source == "directory":
        if not ts["directory"]:  # the training directory itself is no other source
            return None
        return {"source": source, "seeds": [], "directory": ts["directory"], "redshifts": redshifts,
                "label": f"directory {ts['directory']}"}
    if not ts["seeds"]:
        return None
    name = "our generator" if source == "simulate" else "21cmFAST"
    return {"source": source, "seeds": list(ts["seeds"]), "directory": None, "redshifts": redshifts,
            "label": f"{name}, seeds {', '.join(map(str, ts['seeds']))}"}


def cross_realizations(cfg: dict) -> list[str]:
    """Folder names of the test source's realizations: every cm21.f_esc with each test seed, or the
    ``f<f_esc>_s<seed>`` folders found in its directory."""
    ts = cross_source_of(cfg)
    if ts is None:
        return []
    if ts["source"] != "directory":
        return [realization_name(f, s) for f in cfg["f_esc"] for s in ts["seeds"]]
    root = Path(ts["directory"])
    names = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        try:
            parse_realization(folder.name)
        except ConfigError:
            continue
        names.append(folder.name)
    return names


def make_cross_realization(cfg: dict, f_esc: float, seed: int, out_folder, threads: int = 1) -> None:
    """Write a realization of the test source (:func:`make_realization` with its source and redshifts)."""
    ts = cross_source_of(cfg)
    make_realization({**cfg, "source": ts["source"], "redshifts": ts["redshifts"]}, f_esc, seed, out_folder, threads)


def tile_to(slices: np.ndarray, side: int) -> np.ndarray:
    """Cut slices to the training slice side: the non-overlapping ``side`` x ``side`` tiles of each.

    Parameters
    ----------
    slices : ndarray (N, D, D)
        D >= side.
    side : int

    Returns
    -------
    ndarray (N * (D // side)^2, side, side), slice-major (:func:`cosmodl.cm21.data.patches_of`).
    """
    if slices.shape[1] < side:
        raise ConfigError(f"cm21.test_source: slices of {slices.shape[1]} cells are smaller than the training "
                          f"slices ({side} cells)")
    return patches_of(slices, side)


def make_cross_slices(cfg: dict, folders, split_path, slices_out, table_out) -> pd.DataFrame:
    """Slice the test source's realizations on the training grid and write ``slices.npy`` and ``slices.csv``.

    Every box is sliced as the training boxes are (``cm21.slices``), and each slice cut into tiles of
    the training slice side (:func:`tile_to`); the table has a ``tile`` column beside the training
    table's. The cells must be the training cells (to 1 %): resampling would change the field.

    Returns
    -------
    DataFrame : the table written.
    """
    ts = cross_source_of(cfg)
    dim, cell = grid_of(split_path)
    folders = [Path(f) for f in folders]
    if not folders:
        raise ConfigError(f"cm21.test_source: no realization folders (f<f_esc>_s<seed>) in {ts['label']}")
    grids = {f.name: box_geometry(f) for f in folders}
    if len(set(grids.values())) > 1:
        raise ConfigError(f"cm21.test_source: realizations on different grids (cells per side, cell Mpc): {grids}")
    test_dim, test_cell = next(iter(grids.values()))
    if not np.isclose(test_cell, cell, rtol=0.01):
        raise ConfigError(f"cm21.test_source ({ts['label']}): cells of {test_cell:g} Mpc, but the training slices "
                          f"have {cell:g} Mpc cells; the networks see fields in cells, so the two must match")
    s = cfg["slices"]
    slices, table = collect_slices(folders, ts["redshifts"], s["axis"], s["per_box"], cfg["zeta_per_fesc"])
    tiles = tile_to(slices, dim)
    per = len(tiles) // len(slices)
    table = table.loc[table.index.repeat(per)].reset_index(drop=True)
    table["tile"] = np.tile(np.arange(per), len(slices))
    with atomic_output(slices_out) as tmp:
        np.save(tmp, tiles)
    with atomic_output(table_out) as tmp:
        table.to_csv(tmp, index=False)
    log.info("test source %s: %d slices of %d cells -> %d tiles of %d", ts["label"], len(slices), test_dim,
             len(tiles), dim)
    return table

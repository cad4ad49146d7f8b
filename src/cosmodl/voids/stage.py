"""The voids stage's steps as plain functions of config sections and paths (called by scripts/).

Each step reads its inputs, calls the library, and writes its outputs atomically.
Config sections are the validated dicts of ``config['voids']`` (see the schema).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .data import load_catalogue, positions, read_catalogue, validate_catalogue, write_catalogue
from .simulate import make_mock_galaxies
from ..cosmology import planck18
from ..errors import ConfigError
from ..io import write_json
from ..splits import random_split, split_record
from .finder import density_contrast, find_voids
from .resources import check_memory
from .split import buffer_cells, resolve_buffer, spatial_split, voids_crossing_faces
from .subboxes import SubboxLattice, build_subbox_products, lattice_from_index

log = logging.getLogger(__name__)


def _size_mb(path) -> float:
    """Size of a file in MB (0 for None)."""
    return Path(path).stat().st_size / 2**20 if path else 0.0


def galaxy_catalogue(cfg: dict, source_file: str | None, out_path: str) -> None:
    """Write ``galaxies.fits`` from a mock, or from a downloaded or local file.

    Parameters
    ----------
    cfg : dict
        ``config['voids']``.
    source_file : str or None
        The downloaded or local catalogue when ``galaxies.source`` is ``url`` or ``file``.
    out_path : str
    """
    gal, box = cfg["galaxies"], cfg["box_size"]
    check_memory("galaxies", cfg, _size_mb(source_file))  # before the mock allocates its fields
    if gal["source"] == "mock":
        mock = gal["mock"]
        cosmo = planck18(**cfg["cosmology"])
        pos = make_mock_galaxies(box, mock["n_grid"], mock["number_density"], mock["bias"], cosmo,
                                 mock["redshift"], cfg["seed"])
        columns = {"x": pos[:, 0], "y": pos[:, 1], "z": pos[:, 2]}
        source = (f"mock EH98+ZA+Poisson n_grid={mock['n_grid']} nbar={mock['number_density']} "
                  f"b={mock['bias']} seed={cfg['seed']}")
    else:
        columns = read_catalogue(source_file, "galaxies", gal["format"], gal["position_scale"])
        validate_catalogue(columns, "galaxies", box, str(source_file))
        source = f"{gal['source']}: {gal['url'] if gal['source'] == 'url' else source_file}"
    write_catalogue(columns, out_path, "galaxies", box, source)


def void_catalogue(cfg: dict, galaxies_path: str | None, source_file: str | None, out_path: str,
                   summary_path: str) -> dict:
    """Write ``voids.fits`` (found in the galaxies, or read) and a JSON summary of its statistics."""
    cat, box = cfg["catalogue"], cfg["box_size"]
    check_memory("catalogue", cfg, _size_mb(galaxies_path) + _size_mb(source_file))
    extra = {}
    galaxies, _ = load_catalogue(galaxies_path, "galaxies") if galaxies_path else (None, None)
    if cat["source"] == "find":
        finder = cat["find"]
        delta = density_contrast(positions(galaxies), box, finder["n_grid"])
        voids = find_voids(delta, box, finder["radii"], finder["threshold"])
        extra = {"delta_in": voids.pop("delta_in")}
        source = f"spherical finder n_grid={finder['n_grid']} threshold={finder['threshold']}"
    else:
        voids = read_catalogue(source_file, "voids", cat["format"], cat["position_scale"])
        validate_catalogue(voids, "voids", box, str(source_file))
        source = f"{cat['source']}: {cat['url'] if cat['source'] == 'url' else source_file}"
    keep = voids["radius"] >= cat["min_radius"]
    voids = {k: v[keep] for k, v in voids.items()}
    extra = {k: v[keep] for k, v in extra.items()}
    summary = void_statistics(voids, box, None if galaxies is None else len(galaxies["x"]))
    summary.update(source=source, min_radius=cat["min_radius"])
    write_catalogue(voids, out_path, "voids", box, source, extra_columns=extra)
    write_json(summary, summary_path)
    log.info("void catalogue: %s", summary)
    return summary


def void_statistics(voids: dict, box_size: float, n_galaxies: int | None) -> dict:
    """Counts, radius range, counts per radius and volume filling fraction of a void catalogue."""
    radius = np.asarray(voids["radius"], dtype=np.float64)
    values, counts = np.unique(radius, return_counts=True)
    stats = {"box_size_mpc_h": box_size, "n_voids": int(len(radius)),
             "void_density_per_mpc3_h3": len(radius) / box_size**3,
             "radius_min": float(radius.min()) if len(radius) else None,
             "radius_median": float(np.median(radius)) if len(radius) else None,
             "radius_max": float(radius.max()) if len(radius) else None,
             "volume_filling_fraction": float(np.sum(4.0 / 3.0 * np.pi * radius**3) / box_size**3),
             "counts_by_radius": {f"{v:g}": int(c) for v, c in zip(values, counts)}}
    if n_galaxies is not None:
        stats.update(n_galaxies=int(n_galaxies), galaxy_density_per_mpc3_h3=n_galaxies / box_size**3)
    return stats


def subbox_products(cfg: dict, galaxies_path: str, voids_path: str, outputs: dict) -> dict:
    """Write subbox images, void maps and the index table (see :mod:`cosmodl.voids.subboxes`)."""
    sub, box = cfg["subboxes"], cfg["box_size"]
    check_memory("subboxes", cfg, _size_mb(galaxies_path) + _size_mb(voids_path))
    galaxies, gal_box = load_catalogue(galaxies_path, "galaxies")
    voids, void_box = load_catalogue(voids_path, "voids")
    for name, value in (("galaxies", gal_box), ("voids", void_box)):
        if not np.isclose(value, box):
            raise ValueError(f"{name} catalogue box {value} Mpc/h differs from voids.box_size = {box}")
    lattice = SubboxLattice.from_config(cfg)
    return build_subbox_products(positions(galaxies), voids, lattice, sub["map_size"], sub["supersample"], outputs)


def split(cfg: dict, index_path: str, voids_path: str, method: str, out_path: str) -> dict:
    """Write the split file of ``method`` (spatial | random) for the subboxes in ``index_path``.

    ``split.buffer = auto`` is twice the largest radius in ``voids_path`` (:func:`resolve_buffer`).
    The file also records how many void spheres of ``voids_path`` reach into subboxes of two
    different roles (:func:`voids_crossing_faces`).
    """
    spl = cfg["split"]
    lattice = lattice_from_index(index_path)
    voids, _ = load_catalogue(voids_path, "voids")
    if method == "spatial":
        buffer = resolve_buffer(spl["buffer"], voids["radius"])
        try:
            roles = spatial_split(lattice, spl["test_fraction"], spl["val_fraction"], spl["axis"],
                                  spl["offset_cells"], buffer, spl["faces"])
        except ConfigError as exc:
            raise ConfigError(f"config keys voids.split and voids.subboxes ({voids_path}: split.buffer = "
                              f"{spl['buffer']} is {buffer:g} Mpc/h): {exc}") from None
        params = {k: spl[k] for k in ("test_fraction", "val_fraction", "axis", "offset_cells", "buffer", "faces")}
        params.update(buffer_mpc=buffer, buffer_cells=buffer_cells(buffer, lattice.cell))
    elif method == "random":
        roles = random_split(lattice.n_subboxes, spl["test_fraction"], spl["val_fraction"], spl["seed"])
        params = {k: spl[k] for k in ("test_fraction", "val_fraction", "seed")}
    else:
        raise ValueError(f"split method must be 'spatial' or 'random', got {method!r}")
    params.update(subbox_size=lattice.size, stride=lattice.stride, n_cells=lattice.n_cells, wrap=lattice.wrap)
    crossing = voids_crossing_faces(voids, lattice, roles, spl["axis"])
    # the random split interleaves overlapping subboxes: its test set shares volume with training
    record = split_record(roles, method, params, leaky=(method == "random"), voids_crossing=crossing)
    write_json(record, out_path)
    log.info("%s split: %s (%d subboxes dropped as buffer); void spheres reaching two sets: %s", method,
             record["counts"], record["counts"]["dropped_buffer"], crossing)
    return record


__all__ = ["galaxy_catalogue", "void_catalogue", "subbox_products", "split"]

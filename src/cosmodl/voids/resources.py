"""Peak-memory estimates of the voids steps, from the config (and input sizes where they matter).

The same function gives each rule's ``mem_mb`` (what SLURM is asked for) and the check a step
makes before it allocates (:func:`cosmodl.resources.require_memory`). Calibrated on this
project's runs (max RSS of the embedded config's rules, and the seed-scale mock and finder):
the mock holds about ten float32 fields of ``n_grid^3`` cells, the finder about eight, and
training on a CPU about 130 MB per 224² image of the batch.
"""

from __future__ import annotations

from .baselines import MAX_FIT_IMAGES
from ..resources import require_memory
from .subboxes import SubboxLattice

BASE_MB = 300  # interpreter, numpy, numba, astropy
TORCH_BASE_MB = 1200  # + torch, torchvision and a ResNet with its optimiser state
MB = 2**20


def _n_mock_galaxies(cfg: dict) -> float:
    return cfg["galaxies"]["mock"]["number_density"] * cfg["box_size"] ** 3


def needs_input_size(step: str, cfg: dict) -> bool:
    """Whether a step's estimate depends on input files (catalogues read from disk) the config cannot size."""
    return step in ("galaxies", "catalogue", "subboxes") and cfg["galaxies"]["source"] != "mock" or \
        step == "catalogue" and cfg["catalogue"]["source"] != "find"


def estimate_mb(step: str, cfg: dict, input_mb: float | None = None) -> int:
    """Estimated peak memory of a voids step, MB.

    Parameters
    ----------
    step : {'galaxies', 'catalogue', 'subboxes', 'train', 'evaluate', 'small'}
    cfg : dict
        ``config['voids']`` (validated), or the sections the step reads.
    input_mb : float, optional
        Size of the step's input catalogues, MB (a job knows them). ``None``: derived from the
        config, which needs a mock galaxy catalogue (see :func:`needs_input_size`).
    """
    if step == "galaxies":
        if cfg["galaxies"]["source"] != "mock":
            return int(BASE_MB + 6 * (input_mb or 0.0))
        n = cfg["galaxies"]["mock"]["n_grid"]
        return int(BASE_MB + 40 * n**3 / MB + 32 * _n_mock_galaxies(cfg) / MB)
    if step in ("catalogue", "subboxes"):
        # galaxies.fits holds x, y, z: about 16 bytes a galaxy
        catalogues_mb = input_mb if input_mb is not None else 16 * _n_mock_galaxies(cfg) / MB
    if step == "catalogue":
        if cfg["catalogue"]["source"] != "find":
            return int(BASE_MB + 6 * catalogues_mb)
        n = cfg["catalogue"]["find"]["n_grid"]
        return int(BASE_MB + 32 * n**3 / MB + 2 * catalogues_mb)
    lattice = SubboxLattice.from_config(cfg)
    side, m = lattice.size, cfg["subboxes"]["map_size"]
    images_mb = lattice.n_subboxes * side**2 * 4 / MB
    if step == "subboxes":
        planes_mb = 2 * lattice.n_per_axis * lattice.n_cells**2 * 4 / MB
        return int(BASE_MB + 2 * catalogues_mb + images_mb * (1 + 2 * m**2 / side**2) + planes_mb)
    if step == "train":
        batch = cfg["train"]["batch_size"]
        return int(TORCH_BASE_MB + images_mb + batch * 130 * (side / 224) ** 2)
    if step == "evaluate":
        fitted = min(lattice.n_subboxes, MAX_FIT_IMAGES)
        return int(TORCH_BASE_MB + images_mb + 4 * fitted * side**2 * 8 / MB)
    if step == "small":
        return BASE_MB + 500
    raise ValueError(f"no memory estimate for voids step {step!r}")


def memory_keys(step: str, cfg: dict) -> dict:
    """The config keys (and values) that drive a step's estimate, for the message when it is too large."""
    if step == "galaxies" and cfg["galaxies"]["source"] == "mock":
        mock = cfg["galaxies"]["mock"]
        return {"voids.galaxies.mock.n_grid": mock["n_grid"], "voids.galaxies.mock.number_density":
                mock["number_density"], "voids.box_size": cfg["box_size"]}
    if step == "catalogue" and cfg["catalogue"]["source"] == "find":
        return {"voids.catalogue.find.n_grid": cfg["catalogue"]["find"]["n_grid"]}
    if step in ("galaxies", "catalogue"):
        return {f"voids.{step}.path or url": "(a smaller catalogue)"}
    sub = cfg["subboxes"]
    keys = {"voids.subboxes.n_cells": sub["n_cells"], "voids.subboxes.size": sub["size"],
            "voids.subboxes.stride": sub["stride"]}
    if step == "train":
        keys["voids.train.batch_size"] = cfg["train"]["batch_size"]
    return keys


def check_memory(step: str, cfg: dict, input_mb: float | None = None) -> None:
    """Stop before a voids step whose estimate exceeds this machine's (or job's) memory."""
    require_memory(estimate_mb(step, cfg, input_mb), f"voids step {step!r}", memory_keys(step, cfg))

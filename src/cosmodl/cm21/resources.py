"""Peak-memory estimates of the 21-cm steps (a rule's ``mem_mb``), from the config.

The generator holds the displacement (3 n^3), the particles (3 n^3), Fourier work arrays
(about 4 n^3) and every redshift's two boxes until the folder is written; slicing holds the
slice stack about three times (reading, concatenating, saving); training and evaluation hold
the stack in memory (and the patches for the patch methods); the features step holds one slice
set (the training stack or the test source's, the larger for the estimate) beside torch (kymatio).
"""

from __future__ import annotations

BASE_MB = 400  # interpreter, numpy, scipy, numba
TORCH_BASE_MB = 1500  # + torch and a network with its optimiser state
MB = 2**20
STACK_COPIES = {"train": 2, "evaluate": 3}  # copies of the slice stack a training / an evaluation holds


CROSS_COPIES = 2  # an evaluation holds the test source's slices in memory, and a task's share of them once more


def n_slices(cfg: dict) -> int:
    """Slices of the whole data set."""
    return len(cfg["f_esc"]) * len(cfg["seeds"]) * len(cfg["redshifts"]) * cfg["slices"]["per_box"]


def n_cross_slices(cfg: dict) -> int:
    """Slices (tiles of the training side) of the test source (``cm21.test_source``; 0 when off)."""
    from .checks import source_grid
    from .stage import cross_realizations, cross_source_of

    ts = cross_source_of(cfg)
    if ts is None:
        return 0
    dim = source_grid(cfg)[0]
    if ts["source"] == "directory":
        from pathlib import Path

        from .boxes import box_geometry

        names = cross_realizations(cfg)
        if not names:
            return 0
        test_dim = box_geometry(Path(ts["directory"]) / names[0])[0]
    else:
        names, test_dim = cross_realizations(cfg), cfg["simulate"]["dim"]
    tiles = (test_dim // dim) ** 2
    return len(names) * len(ts["redshifts"]) * min(cfg["slices"]["per_box"], test_dim) * tiles


def estimate_mb(step: str, cfg: dict) -> int:
    """Estimated peak memory of a 21-cm step, MB.

    Parameters
    ----------
    step : {'boxes', 'slices', 'features', 'train', 'evaluate', 'small'}
    cfg : dict
        ``config['cm21']`` (validated).
    """
    from .checks import source_grid

    if step == "small":
        return 1000
    dim = source_grid(cfg)[0]  # real boxes (source: directory) are sized by their file names
    box = dim**3 * 4 / MB
    if step == "boxes":
        return int(BASE_MB + box * (12 + 2 * len(cfg["redshifts"])))
    stack = n_slices(cfg) * dim**2 * 4 / MB
    if step == "slices":
        return int(BASE_MB + 3 * stack + 2 * box)
    cross = n_cross_slices(cfg) * dim**2 * 4 / MB
    if step == "features":
        return int(TORCH_BASE_MB + 2 * max(stack, cross))
    if step == "evaluate":
        return int(TORCH_BASE_MB + STACK_COPIES[step] * stack + CROSS_COPIES * cross)
    if step in STACK_COPIES:
        return int(TORCH_BASE_MB + STACK_COPIES[step] * stack)
    raise ValueError(f"unknown cm21 step {step!r}")


def check_memory(step: str, cfg: dict, slices=None, cross=None) -> None:
    """Stop before a 21-cm step whose estimate exceeds this machine's (or job's) memory.

    ``boxes`` is estimated from the config (``simulate.dim``, ``redshifts``); ``train`` and
    ``evaluate`` from the slice stack they read (``slices``, an array or memory map), and
    ``evaluate`` also from the test source's slices (``cross``), when there are any.
    """
    from ..resources import require_memory

    if step == "boxes":
        keys = {"cm21.simulate.dim": cfg["simulate"]["dim"], "cm21.redshifts": len(cfg["redshifts"])}
        require_memory(estimate_mb(step, cfg), "cm21 step 'boxes'", keys)
        return
    stack = slices.size * 4 / MB
    extra = 0.0 if cross is None else CROSS_COPIES * cross.size * 4 / MB
    keys = {"cm21.slices.per_box": cfg["slices"]["per_box"], "slices in the stack": len(slices)}
    if cross is not None:
        keys["slices of cm21.test_source"] = len(cross)
    require_memory(TORCH_BASE_MB + STACK_COPIES[step] * stack + extra, f"cm21 step {step!r}", keys)

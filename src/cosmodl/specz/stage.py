"""The specz stage's data steps and names, called by its Snakemake rules (``scripts/specz_*.py``).

* :func:`make_sets` - the stored validation and test sets (clean and noisy from the same draws).
  Training spectra are made while training (:class:`cosmodl.specz.data.SpectraSet`).

Names: a network run is ``cnn{blocks}_{noise}_{size}`` (e.g. ``cnn3_noisy_40k``), a noise level
is ``clean`` or ``noisy``.
"""

from __future__ import annotations

import logging
import time

from ..errors import ConfigError
from .data import write_set
from .resources import check_memory
from .spectra import SpectrumMaker, SpectrumSettings

log = logging.getLogger(__name__)
NOISE = ("clean", "noisy")


def size_label(n: int) -> str:
    """40000 -> '40k', 4000000 -> '4M', 1500 -> '1500'."""
    for unit, scale in (("M", 1_000_000), ("k", 1000)):
        if n >= scale and n % scale == 0:
            return f"{n // scale}{unit}"
    return str(n)


def run_name(blocks: int, noise: str, size: int) -> str:
    """``cnn{blocks}_{noise}_{size}``, e.g. ``cnn3_noisy_40k``."""
    return f"cnn{blocks}_{noise}_{size_label(size)}"


def parse_run(name: str) -> tuple[int, str, str]:
    """(blocks, noise, size label) of a run name."""
    net, noise, size = name.split("_")
    return int(net.removeprefix("cnn")), noise, size


def settings(cfg: dict) -> SpectrumSettings:
    """The spectra settings of ``config['specz']``."""
    return SpectrumSettings(**cfg["spectra"])


def maker_of(cfg: dict) -> SpectrumMaker:
    """The spectrum maker of ``specz.data``: the 5 kcorrect templates, or the realistic set."""
    if cfg["data"] == "realistic":
        from .realistic import RealisticMaker, RealisticSettings

        return RealisticMaker(settings(cfg), RealisticSettings(**cfg["realistic"]))
    return SpectrumMaker(settings(cfg))


def snr_of(cfg: dict, noise: str) -> float | None:
    if noise not in NOISE:
        raise ConfigError(f"specz noise level {noise!r}: expected one of {NOISE}")
    return None if noise == "clean" else float(cfg["snr"])


def make_sets(cfg: dict, val_out, test_out) -> dict:
    """Write the validation and test sets (:func:`cosmodl.specz.data.write_set`)."""
    check_memory("sets", cfg)
    maker = maker_of(cfg)
    t0 = time.perf_counter()
    out = {"val": write_set(maker, cfg["seed"], "val", cfg["n_val"], cfg["snr"], val_out),
           "test": write_set(maker, cfg["seed"], "test", cfg["n_test"], cfg["snr"], test_out)}
    log.info("specz sets written in %.1f s: %s", time.perf_counter() - t0, out)
    return out

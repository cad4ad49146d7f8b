"""The specz stage's steps, called by its Snakemake rules (``scripts/specz_*.py``).

* :func:`make_sets` - the stored validation and test sets (clean and noisy from the same draws).
* :func:`train_network` - a CNN of ``blocks`` blocks on a training set of ``size`` spectra made
  while training, clean or noisy; validation on the stored validation set.
* :func:`evaluate` - every CNN, the template fit and the random forest on the test set of one
  noise level: probabilities, point estimates, metrics.

Names: a network run is ``cnn{blocks}_{noise}_{size}`` (e.g. ``cnn3_noisy_40k``), a noise level
is ``clean`` or ``noisy``.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ..io import atomic_output, fingerprint, write_json
from ..models import build_model
from . import models as _models  # noqa: F401  (registers this stage's architectures)
from ..records import load_model, predict, save_model
from ..training import ArrayDataset, TrainConfig, accuracy, fit, is_main_process, train_settings
from .baselines import TemplateFit, forest_probabilities, random_forest
from .data import SpectraSet, make_spectra, write_set
from .metrics import all_metrics, softmax_estimates
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
    return SpectrumMaker(settings(cfg))


def snr_of(cfg: dict, noise: str) -> float | None:
    if noise not in NOISE:
        raise ConfigError(f"specz noise level {noise!r}: expected one of {NOISE}")
    return None if noise == "clean" else float(cfg["snr"])


def make_sets(cfg: dict, val_out, test_out) -> dict:
    """Write the validation and test sets (:func:`cosmodl.specz.data.write_set`)."""
    maker = maker_of(cfg)
    t0 = time.perf_counter()
    out = {"val": write_set(maker, cfg["seed"], "val", cfg["n_val"], cfg["snr"], val_out),
           "test": write_set(maker, cfg["seed"], "test", cfg["n_test"], cfg["snr"], test_out)}
    log.info("specz sets written in %.1f s: %s", time.perf_counter() - t0, out)
    return out


def model_config(cfg: dict, blocks: int) -> dict:
    s = settings(cfg)
    return {"n_pixels": s.n_pixels, "n_classes": s.n_classes, "blocks": blocks, **cfg["model"]}


def train_network(cfg: dict, blocks: int, noise: str, size: int, val_path, model_out, history_out, workdir,
                  threads: int | None = None) -> dict:
    """Train one CNN (module docstring); write its record and its per-epoch history.

    Parameters
    ----------
    cfg : dict
        ``config['specz']``.
    blocks : int
    noise : {'clean', 'noisy'}
    size : int
        Training spectra (positions 0 .. size-1 of the training stream, made on the fly).
    val_path : path
        The stored validation set (``val.npz``).

    Returns
    -------
    dict : summary; ``{}`` on ranks > 0.
    """
    name = run_name(blocks, noise, size)
    maker = maker_of(cfg)
    snr = snr_of(cfg, noise)
    tcfg = TrainConfig(**train_settings(cfg, f"cnn{blocks}", "specz"))
    train_ds = SpectraSet(maker, cfg["seed"], "train", size, snr, shuffle=True)
    with np.load(val_path) as val:
        flux, labels = val[noise], val["label"]
    val_ds = ArrayDataset(flux, labels, target_dtype=np.int64)
    torch.manual_seed(tcfg.seed)
    mcfg = model_config(cfg, blocks)
    model = build_model("specz_cnn", mcfg)
    result = fit(model, train_ds, val_ds, tcfg, workdir, history_out, loss_fn=F.cross_entropy,
                 data_fingerprint=fingerprint(name, cfg["seed"], cfg["spectra"], snr, size, len(labels)),
                 threads=threads, val_metrics={"accuracy": accuracy})
    if not is_main_process():
        return {}
    summary = {"run": name, "blocks": blocks, "noise": noise, "snr": snr, "n_train": size, "n_val": int(len(labels)),
               **result.summary(tcfg), "train": tcfg.as_dict()}
    save_model(model_out, "specz_cnn", mcfg, model, summary=summary)
    log.info("trained %s: %s", name, summary)
    return summary


def forest_training_set(cfg: dict, maker: SpectrumMaker, noise: str) -> dict:
    """The first ``baselines.forest_train`` spectra of the training stream (what the forest learns from)."""
    n = cfg["baselines"]["forest_train"]
    return make_spectra(maker, cfg["seed"], "train", np.arange(n), snr_of(cfg, noise))


def evaluate(cfg: dict, noise: str, test_path, records: dict, metrics_out, predictions_out,
             threads: int | None = None) -> dict:
    """Score the CNNs of one noise level and the two baselines on its test set.

    Parameters
    ----------
    records : dict
        Run name -> model record path (the CNNs trained at this noise level).

    Writes
    ------
    metrics_out : JSON
        Per method: metrics of the mode and of the softmax mean, calibration, training size
        (timings go to the log: the file is the same on every rerun).
    predictions_out : npz
        ``z``, ``label``, and per method ``<method>_mode``, ``_mean``, ``_lo``, ``_hi`` (N,).
    """
    s = settings(cfg)
    maker = SpectrumMaker(s)
    centres = s.class_centres()
    with np.load(test_path) as test:
        flux, z, labels = test[noise], test["z"], test["label"]
    probs, info = {}, {}
    for name, path in sorted(records.items()):
        model, record = load_model(path)
        t0 = time.perf_counter()
        probs[name] = predict(model, flux, batch_size=512, threads=threads)
        info[name] = {"kind": "cnn", "blocks": parse_run(name)[0], "n_train": record["summary"]["n_train"]}
        log.info("%s: %.0f test spectra/s", name, len(flux) / (time.perf_counter() - t0))
    methods = cfg["methods"]
    if "template" in methods:
        t0 = time.perf_counter()
        fit_ = TemplateFit(maker, centres, cfg["baselines"]["poly_degree"])
        sigma = 1.0 / cfg["snr"] if noise == "noisy" else cfg["baselines"]["clean_sigma"]
        probs["template"] = fit_.probabilities(flux, sigma)
        info["template"] = {"kind": "template", "n_train": 0}
        log.info("template fit: %.0f test spectra/s (with its bases)", len(flux) / (time.perf_counter() - t0))
    if "forest" in methods:
        t0 = time.perf_counter()
        train = forest_training_set(cfg, maker, noise)
        b = cfg["baselines"]
        forest = random_forest(train["flux"], train["label"], b["forest_bins"], b["forest_trees"], cfg["seed"],
                               threads)
        probs["forest"] = forest_probabilities(forest, flux, b["forest_bins"], s.n_classes)
        info["forest"] = {"kind": "forest", "n_train": int(b["forest_train"])}
        log.info("random forest: trained and scored in %.1f s", time.perf_counter() - t0)
    results, arrays = {}, {"z": z, "label": labels}
    for name, p in probs.items():
        results[name] = {**info[name], **all_metrics(p, centres, z, labels, s.z_min, s.dz)}
        est = softmax_estimates(p, centres)
        arrays.update({f"{name}_{k}": v.astype(np.float32) for k, v in est.items()})
    doc = {"noise": noise, "snr": snr_of(cfg, noise), "n_test": int(len(z)), "methods": results}
    write_json(doc, metrics_out)
    with atomic_output(predictions_out) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    return doc

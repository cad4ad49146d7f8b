"""Training of the specz CNNs with the shared kit (:func:`cosmodl.training.train_and_record`).

:func:`train_network`: a CNN of ``blocks`` blocks on a training set of ``size`` spectra made
while training, clean or noisy; validation on the stored validation set; cross-entropy over the
redshift classes.
"""

from __future__ import annotations

import numpy as np
import torch.nn.functional as F

from ..io import fingerprint, load_npz
from ..training import ArrayDataset, TrainConfig, TrainSpec, accuracy, train_and_record, train_settings
from . import models as _models  # noqa: F401  (registers this stage's architectures)
from .data import SpectraSet
from .stage import maker_of, run_name, settings, snr_of


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
    val = load_npz(val_path, "specz_sets")
    flux, labels = val[noise], val["label"]
    mcfg = model_config(cfg, blocks)
    spec = TrainSpec(
        network="specz_cnn", model_config=mcfg, train=tcfg,
        train_set=SpectraSet(maker, cfg["seed"], "train", size, snr, shuffle=True),
        val_set=ArrayDataset(flux, labels, target_dtype=np.int64),
        fingerprint=fingerprint(name, cfg["seed"], cfg["spectra"], snr, size, len(labels)),
        loss=F.cross_entropy, val_metrics={"accuracy": accuracy},
        summary_head={"run": name, "blocks": blocks, "noise": noise, "snr": snr, "n_train": size,
                      "n_val": int(len(labels))},
        summary_tail={"train": tcfg.as_dict()}, label=name)
    return train_and_record(spec, model_out, history_out, workdir, threads)

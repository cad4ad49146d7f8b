"""The one training recipe of every stage: seed, build, fit, record, log.

A stage describes *what* to train in a :class:`TrainSpec` (the registered network and its
config, the data sets, the loss or the model's own step, the augmentation, the validation
metrics, the input transform, the record's extras) and :func:`train_and_record` does the rest
the same way for every stage: the seed, :func:`~cosmodl.models.build_model`, :func:`~cosmodl.training.fit`
(checkpoints, resume, pre-emption, data parallelism), the summary, the model record
(:func:`~cosmodl.records.save_model`) on rank 0 only, and one log line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

import torch

from ..models import build_model
from ..records import save_model
from .config import TrainConfig
from .distributed import is_main_process
from .trainer import fit

log = logging.getLogger(__name__)


@dataclass
class TrainSpec:
    """What a stage trains.

    Attributes
    ----------
    network : str
        Registered model name (:func:`cosmodl.models.build_model`).
    model_config : dict
        The registry config the network is built from.
    train : TrainConfig
        The stage's ``train`` section with its ``train_overrides`` (:func:`~cosmodl.training.train_settings`).
    train_set, val_set : ArrayDataset or GeneratedDataset
        Inputs already passed through ``transform`` by the data sets.
    fingerprint : str
        Identifies the data (:func:`cosmodl.io.fingerprint`); a checkpoint of other data is not resumed.
    summary_head, summary_tail : dict
        Entries of the summary before and after the trainer's (epochs, best epoch, losses, device).
    loss : callable, optional
        ``loss(output, target)``; ``None`` when the network defines its own step.
    loss_of_model : callable, optional
        ``loss_of_model(model) -> loss`` instead of ``loss``, when the loss is the built network's
        (a VAE's evidence bound).
    augment, val_metrics : optional
        As :func:`~cosmodl.training.fit`.
    transform : registered transform, optional
        The input transform, stored in the record and applied by :func:`cosmodl.records.predict`.
    prepare : callable, optional
        ``prepare(model)`` after the network is built and before training (target scaling, a frozen encoder).
    record_config : dict, optional
        The config stored in the record, if not ``model_config`` (initial-weight options left out).
    record : dict
        Extra top-level entries of the record.
    label : str
        How the log names the run.
    """

    # what is trained, with which settings
    network: str
    model_config: dict
    train: TrainConfig
    # on what
    train_set: object
    val_set: object
    fingerprint: str
    # what the summary says besides the trainer's numbers
    summary_head: dict = field(default_factory=dict)
    summary_tail: dict = field(default_factory=dict)
    # how: the loss (none when the network steps itself), augmentation, validation metrics
    loss: Callable | None = None
    loss_of_model: Callable | None = None
    augment: Callable | None = None
    val_metrics: dict | None = None
    # what the record keeps beside the weights
    transform: object | None = None
    prepare: Callable | None = None
    record_config: dict | None = None
    record: dict = field(default_factory=dict)
    label: str = ""


def train_and_record(spec: TrainSpec, model_out, history_out, workdir, threads: int | None = None) -> dict:
    """Train ``spec``; write the model record and the per-epoch history (rank 0).

    Parameters
    ----------
    spec : TrainSpec
    model_out, history_out : path
        Model record and CSV of the epochs.
    workdir : path
        Checkpoint directory (resume after an interruption).
    threads : int, optional
        CPU threads of torch.

    Returns
    -------
    dict
        The summary (``summary_head``, the trainer's, ``summary_tail``) stored in the record;
        ``{}`` on ranks > 0 of a data-parallel run.
    """
    torch.manual_seed(spec.train.seed)
    model = build_model(spec.network, spec.model_config)
    if spec.prepare is not None:
        spec.prepare(model)
    loss = spec.loss if spec.loss_of_model is None else spec.loss_of_model(model)
    result = fit(model, spec.train_set, spec.val_set, spec.train, workdir, history_out, loss_fn=loss,
                 augment=spec.augment, data_fingerprint=spec.fingerprint, threads=threads,
                 val_metrics=spec.val_metrics)
    if not is_main_process():  # data-parallel run: rank 0 writes the files
        return {}
    summary = {**spec.summary_head, **result.summary(spec.train), **spec.summary_tail}
    config = spec.model_config if spec.record_config is None else spec.record_config
    save_model(model_out, spec.network, config, model, transform=spec.transform, summary=summary, **spec.record)
    log.info("trained %s: %s", spec.label or spec.network, summary)
    return summary

"""One trainer for every stage (see :mod:`cosmodl.training.trainer` for what it owns).

=====================  ==========================================================================
``TrainConfig``        frozen settings, defaults and ranges from ``$defs/train`` of the schema
``fit``                the loop: checkpoints, resume, pre-emption, best epoch, history, DDP, bf16
``train_one_epoch``    one epoch of a :class:`Run` (used by ``fit``)
``evaluate``           means of a step's values over a loader in eval mode
``StepContext``        what a model-defined step gets: device, autocast, augment, optimizer_step
``ArrayDataset``       memory-mapped arrays; float, integer or no targets
``GeneratedDataset``   samples made on the fly, seeded per (seed, stream, epoch, position)
``EpochLoader``        batches of an epoch, reproducible and resumable
``train_and_record``   the one recipe of a :class:`TrainSpec`: seed, build, fit, record, log
``launch``             run a stage's training function in 1 or N (torchrun) processes
=====================  ==========================================================================
"""

from .checkpoint import TrainingInterrupted, load_checkpoint, remove_finished_checkpoints, save_checkpoint
from .config import TrainConfig, train_settings
from .data import ArrayDataset, EpochBatchSampler, EpochLoader, GeneratedDataset, Standardise
from .device import as_float, autocast_context, memory_format, model_to_device, pick_device
from .distributed import is_main_process
from .launch import launch
from .recipe import TrainSpec, train_and_record
from .optim import OPTIMIZERS, SCHEDULERS, build_optimizer, build_scheduler
from .trainer import (
                      HISTORY_FIELDS,
                      MetricLogger,
                      Run,
                      StepContext,
                      TrainResult,
                      accuracy,
                      evaluate,
                      fit,
                      supervised_step,
                      supervised_validation,
                      train_one_epoch,
)

__all__ = ["TrainingInterrupted", "load_checkpoint", "remove_finished_checkpoints", "save_checkpoint", "TrainConfig",
           "ArrayDataset", "EpochBatchSampler", "EpochLoader", "GeneratedDataset", "Standardise",
           "as_float", "autocast_context", "memory_format", "model_to_device", "pick_device", "is_main_process",
           "launch", "train_settings", "TrainSpec", "train_and_record",
           "OPTIMIZERS", "SCHEDULERS", "build_optimizer", "build_scheduler", "HISTORY_FIELDS", "MetricLogger", "Run",
           "StepContext", "TrainResult", "accuracy", "evaluate", "fit", "supervised_step", "supervised_validation",
           "train_one_epoch"]

"""One trainer for every stage: device choice, memory-mapped data, checkpoints, resume, pre-emption."""

from .data import ArrayDataset, EpochBatchSampler, make_loader
from .device import autocast_context, pick_device
from .trainer import TrainConfig, TrainingInterrupted, TrainResult, train, train_step

__all__ = ["ArrayDataset", "EpochBatchSampler", "make_loader", "autocast_context", "pick_device",
           "TrainConfig", "TrainingInterrupted", "TrainResult", "train", "train_step"]

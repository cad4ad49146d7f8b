"""Training of the voids networks (map and counts) with the shared kit.

Tasks
-----
``map``
    :class:`~cosmodl.models.VoidMapNet` (``void_map``), BCE-with-logits against ``void_fraction``
    (or the void centre map clipped to 1).
``counts``
    :class:`~cosmodl.models.VoidCountNet` (``void_counts``), MSE on standardised (number of voids,
    void volume) per subbox.

Both read the subbox products of :mod:`cosmodl.voids.subboxes` and a split file of
:mod:`cosmodl.voids.split`; what is about voids here is the input transform, the targets, the
losses and the augmentation by the 8 symmetries of a projected subbox. Evaluation is in
:mod:`cosmodl.voids.evaluate`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..io import digest, fingerprint, load_array
from ..splits import load_split, subsample
from ..training import ArrayDataset, Standardise, TrainConfig, TrainSpec, train_and_record, train_settings
from ..training.augment import dihedral
from ..transforms import register_transform
from . import models as _models  # noqa: F401  (registers this stage's architectures)
from .resources import check_memory

TASKS = ("map", "counts")
MODEL_OF_TASK = {"map": "void_map", "counts": "void_counts"}
COUNT_TARGETS = ("n_voids", "void_volume")


@register_transform("voids_image")
class ImageTransform:
    """Galaxy-count image → network input: ``log1p`` or ``overdensity`` (counts / mean − 1).

    Picklable (DataLoader workers). ``mean`` is the training-set mean pixel count. Stored in the
    model record (:func:`cosmodl.records.save_model`).
    """

    def __init__(self, kind: str, mean: float):
        self.kind, self.mean = kind, float(mean)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.kind == "log1p":
            return np.log1p(x)
        return x / self.mean - 1.0

    def params(self) -> dict:
        return {"kind": self.kind, "mean": self.mean}


def clip_to_one(y: np.ndarray) -> np.ndarray:
    """Void-centre counts → a {0..1} target for BCE (a pixel holds a centre or not)."""
    return np.minimum(y, 1.0)


def map_truth_transform(map_target: str):
    """How a stored map becomes the BCE target and the evaluation truth: centres clipped to 1."""
    return clip_to_one if map_target == "void_centres" else None


def augment_map(x, y, generator):
    """Dihedral augmentation of an image and its void map."""
    return dihedral(x, y, generator, spatial_target=True)


def augment_counts(x, y, generator):
    """Dihedral augmentation of an image; its counts do not change."""
    return dihedral(x, y, generator, spatial_target=False)


def map_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """BCE with logits; logits (B, 1, m, m), target (B, m, m) in [0, 1]."""
    return F.binary_cross_entropy_with_logits(logits[:, 0], target)


def counts_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE of standardised targets, (B, T)."""
    return F.mse_loss(prediction, target)


def count_targets(index_path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(targets (N, 2) = number of void centres and void volume in (Mpc/h)^3, galaxy count (N,))."""
    from astropy.table import Table

    table = Table.read(index_path, format="fits")
    targets = np.stack([np.asarray(table[c], dtype=np.float32) for c in COUNT_TARGETS], axis=1)
    return targets, np.asarray(table["n_galaxies"], dtype=np.float64)


def _task_data(cfg: dict, task: str, subboxes: dict, index_path):
    """(targets source, target transform, augment, loss) of a task; training stats filled later."""
    if task == "map":
        target = cfg["model"]["map_target"]
        return subboxes[target], map_truth_transform(target), augment_map, map_loss
    if task == "counts":
        targets, _ = count_targets(index_path)
        return targets, None, augment_counts, counts_loss
    raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")


def train_void_model(cfg: dict, task: str, split_path, subboxes: dict, index_path, model_out, history_out,
                     workdir, threads: int | None = None, match_split_path=None) -> dict:
    """Train the ``task`` network on a split; write the model record and its per-epoch history.

    Parameters
    ----------
    cfg : dict
        ``config['voids']`` (``box_size`` and the sections ``subboxes``, ``model`` and ``train`` are read).
    task : {'map', 'counts'}
    split_path : path
        Split JSON (train/val/test indices).
    subboxes : dict
        Paths of ``images``, ``void_fraction``, ``void_centres`` ``.npy`` stacks.
    index_path : path
        Subbox index FITS table (targets of the counts task, galaxy counts).
    model_out, history_out : path
        Model record (:func:`cosmodl.records.save_model`) and CSV of the epochs.
    workdir : path
        Checkpoint directory (resume after interruption).
    threads : int, optional
    match_split_path : path, optional
        Another split whose training-set size this one's is subsampled to (leakage experiment).

    Returns
    -------
    dict : summary (task, split, n_train, best epoch and validation loss, device); ``{}`` on ranks > 0.
    """
    check_memory("train", cfg)
    split = load_split(split_path)
    match = len(load_split(match_split_path)["train"]) if match_split_path else None
    tcfg = TrainConfig(**train_settings(cfg, task, "voids"))
    train_idx = subsample(split["train"], match, tcfg.seed)
    images = load_array(subboxes["images"], "voids_subboxes")
    targets, target_transform, augment, loss_fn = _task_data(cfg, task, subboxes, index_path)
    mean_count = float(np.mean(images[np.sort(train_idx)], dtype=np.float64))
    transform = ImageTransform(cfg["model"]["input_transform"], mean_count)
    extra, prepare = {}, None
    if task == "counts":
        stats_mean, stats_std = targets[train_idx].mean(axis=0), targets[train_idx].std(axis=0)
        target_transform = Standardise(stats_mean, np.where(stats_std > 0, stats_std, 1.0))  # as the model's scaling

        def prepare(model):
            model.set_target_scaling(stats_mean, stats_std)

        extra = {"target_mean": stats_mean.tolist(), "target_std": stats_std.tolist(), "targets": list(COUNT_TARGETS)}
    data_fingerprint = fingerprint(task, cfg["model"], train_idx.tolist(), split["val"].tolist(),
                                   digest(subboxes["images"]), digest(targets), mean_count)
    spec = TrainSpec(
        network=MODEL_OF_TASK[task], model_config=cfg["model"], train=tcfg,
        train_set=ArrayDataset(subboxes["images"], targets, train_idx, transform, target_transform),
        val_set=ArrayDataset(subboxes["images"], targets, split["val"], transform, target_transform),
        fingerprint=data_fingerprint, loss=loss_fn, augment=augment, transform=transform, prepare=prepare,
        summary_head={"task": task, "split": split["method"], "leaky": bool(split["leaky"]),
                      "n_train": int(len(train_idx)), "n_val": int(len(split["val"]))},
        record_config=dict(cfg["model"], pretrained_weights=None, allow_download=False),  # weights: the record's
        record={"task": task, "initial_weights": cfg["model"]["pretrained_weights"],
                "map_target": cfg["model"]["map_target"], "train_indices": train_idx.tolist(), **extra},
        label=f"{task} on split {split['method']}")
    return train_and_record(spec, model_out, history_out, workdir, threads)

"""Training of the 21-cm networks with the shared kit.

* ``autoencoder``: the seed's convolutional autoencoder, once, on every training slice
  (binary cross-entropy on slices divided by ``slices.scale_mk`` and clipped to [0, 1]);
  validation on the validation slices. Unlike the original, the split is made once and
  persisted, so training and validation never mix when a run resumes.
* per task (:data:`cosmodl.cm21.data.TASKS`) and network (:data:`NETWORKS`): a classifier
  (cross-entropy) or, for ``zeta``, a regressor (MSE on the standardised target; ``predict``
  returns zeta). ``ae_cnn`` is the frozen encoder of the trained autoencoder plus the seed's
  head; ``cnn`` the same kind of head on raw slices; ``fc`` the seed's fully connected network
  on patches (every patch of a slice carries the slice's label); ``resnet`` a ResNet-18.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ..io import digest, fingerprint, load_array
from ..records import load_model
from ..splits import DROPPED, TEST, TRAIN, VAL, load_split
from ..training import ArrayDataset, Standardise, TrainConfig, TrainSpec, accuracy, train_and_record, train_settings
from ..transforms import register_transform
from . import models as _models  # noqa: F401  (registers this stage's architectures)
from .data import patches_of, task_rows
from .resources import check_memory

NETWORKS = ("fc", "ae_cnn", "cnn", "resnet")
REGISTERED = {"autoencoder": "cm21_autoencoder", **{name: f"cm21_{name}" for name in NETWORKS}}


@register_transform("cm21_scale_clip")
class ScaleClip:
    """Input transform: delta_T_b (mK) divided by ``scale_mk``, clipped to [0, 1] when ``clip``
    (stored in the model record)."""

    def __init__(self, scale_mk: float, clip: bool = False):
        self.scale, self.clip = float(scale_mk), bool(clip)

    def params(self) -> dict:
        return {"scale_mk": self.scale, "clip": self.clip}

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = x / np.float32(self.scale)
        return np.clip(x, 0.0, 1.0) if self.clip else x


def split_roles(split_path, n: int) -> np.ndarray:
    """Roles (:mod:`cosmodl.splits` values: 0 train, 1 val, 2 test, -1 dropped) of ``n`` slices from a split file."""
    record = load_split(split_path)
    roles = np.full(n, DROPPED, dtype=np.int8)
    for role, name in ((TRAIN, "train"), (VAL, "val"), (TEST, "test")):
        roles[record[name]] = role
    return roles


def bce_logits(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of sigmoid(output) against targets in [0, 1] (autocast-safe)."""
    return F.binary_cross_entropy_with_logits(output, target)


def train_autoencoder(cfg: dict, slices_path, split_path, model_out, history_out, workdir,
                      threads: int | None = None) -> dict:
    """Train the seed's autoencoder on the training slices; write its record and history.

    Parameters
    ----------
    cfg : dict
        ``config['cm21']`` (``slices``, ``train``, ``train_overrides`` are read).
    slices_path, split_path : path
        ``slices.npy`` (N, S, S) mK and ``split.json`` (:mod:`cosmodl.cm21.data`).
    model_out, history_out, workdir : path

    Returns
    -------
    dict : summary; ``{}`` on ranks > 0.
    """
    slices = load_array(slices_path, "cm21_slices")
    check_memory("train", cfg, slices)
    roles = split_roles(split_path, len(slices))
    transform = ScaleClip(cfg["slices"]["scale_mk"], clip=True)
    train_idx, val_idx = np.flatnonzero(roles == TRAIN), np.flatnonzero(roles == VAL)
    tcfg = TrainConfig(**train_settings(cfg, "autoencoder", "cm21"))
    spec = TrainSpec(
        network=REGISTERED["autoencoder"], model_config={}, train=tcfg,
        train_set=ArrayDataset(slices_path, None, train_idx, transform),
        val_set=ArrayDataset(slices_path, None, val_idx, transform),
        fingerprint=fingerprint("autoencoder", cfg["slices"], digest(slices_path), train_idx.tolist(),
                                val_idx.tolist()),
        loss=bce_logits, transform=transform,
        summary_head={"model": "autoencoder", "n_train": int(len(train_idx)), "n_val": int(len(val_idx))},
        summary_tail={"train": tcfg.as_dict()}, label="autoencoder")
    return train_and_record(spec, model_out, history_out, workdir, threads)


def task_data(cfg: dict, task: str, network: str, slices: np.ndarray, table: pd.DataFrame, roles: np.ndarray):
    """Inputs, targets and rows of a (task, network): slices, or patches for ``fc``.

    Returns
    -------
    inputs : ndarray (M, S, S) or (M * t^2, P, P) float32, mK
    targets : ndarray (len(inputs),) int64 class indices or float32 zeta
    rows : dict of role name -> row indices into ``inputs``
    info : dict from :func:`cosmodl.cm21.data.task_rows` (classes, kind)
    """
    info = task_rows(table, roles, task, cfg["tasks_fixed"]["f_esc"], cfg["tasks_fixed"]["z"])
    rows, targets = info["rows"], info["targets"]
    inputs = np.asarray(slices, dtype=np.float32)
    if network == "fc":
        per = (slices.shape[1] // cfg["slices"]["patch"]) ** 2
        inputs = patches_of(inputs, cfg["slices"]["patch"])
        targets = np.repeat(targets, per)
        rows = {k: (v[:, None] * per + np.arange(per)[None, :]).ravel() for k, v in rows.items()}
    return inputs, targets, rows, info


def model_config(cfg: dict, network: str, info: dict, slice_side: int, targets: np.ndarray, train_rows) -> dict:
    """The registry config of a task network: its input size, outputs and target scaling."""
    out = {"slice_side": int(slice_side), "patch": cfg["slices"]["patch"], "fc_hidden": cfg["model"]["fc_hidden"],
           "resnet_downsample": cfg["model"]["resnet_downsample"], "kind": info["kind"],
           "n_classes": max(len(info["classes"]), 2)}
    if info["kind"] == "regression":
        y = targets[train_rows]
        out.update(target_mean=float(y.mean()), target_std=float(y.std()) or 1.0)
    return out


def train_task_network(cfg: dict, task: str, network: str, slices_path, table_path, split_path, model_out,
                       history_out, workdir, autoencoder_path=None, threads: int | None = None) -> dict:
    """Train one network on one task; write its record and history (module docstring).

    Parameters
    ----------
    cfg : dict
        ``config['cm21']``.
    task : str
        One of :data:`cosmodl.cm21.data.TASKS`.
    network : {'fc', 'ae_cnn', 'cnn', 'resnet'}
    slices_path, table_path, split_path : path
    model_out, history_out, workdir : path
    autoencoder_path : path, optional
        The trained autoencoder's record (``ae_cnn`` only).

    Returns
    -------
    dict : summary; ``{}`` on ranks > 0.
    """
    if network not in NETWORKS:
        raise ValueError(f"unknown cm21 network {network!r}; expected one of {NETWORKS}")
    slices = load_array(slices_path, "cm21_slices")
    check_memory("train", cfg, slices)
    table = pd.read_csv(table_path)
    roles = split_roles(split_path, len(slices))
    inputs, targets, rows, info = task_data(cfg, task, network, slices, table, roles)
    mcfg = model_config(cfg, network, info, slices.shape[1], targets, rows["train"])
    tcfg = TrainConfig(**train_settings(cfg, network, "cm21"))
    prepare = None
    if network == "ae_cnn":
        def prepare(model):
            model.load_encoder(load_model(autoencoder_path)[0])

    # the frozen encoder learned on clipped inputs; it sees them the same way under the classifier
    transform = ScaleClip(cfg["slices"]["scale_mk"], clip=network == "ae_cnn")
    if info["kind"] == "regression":
        kwargs = {"target_dtype": np.float32, "target_transform": Standardise(mcfg["target_mean"], mcfg["target_std"])}

        def loss(output, target):
            return F.mse_loss(output.squeeze(1), target)
    else:
        kwargs, loss = {"target_dtype": np.int64}, F.cross_entropy
    extra = digest(autoencoder_path) if network == "ae_cnn" else ""
    spec = TrainSpec(
        network=REGISTERED[network], model_config=mcfg, train=tcfg,
        train_set=ArrayDataset(inputs, targets, rows["train"], transform, **kwargs),
        val_set=ArrayDataset(inputs, targets, rows["val"], transform, **kwargs),
        fingerprint=fingerprint(task, network, mcfg, cfg["slices"], digest(slices_path), rows["train"].tolist(),
                                rows["val"].tolist(), extra),
        loss=loss, val_metrics={"accuracy": accuracy} if info["kind"] == "classification" else None,
        transform=transform, prepare=prepare,
        summary_head={"task": task, "network": network, "n_train": int(len(rows["train"])),
                      "n_val": int(len(rows["val"]))},
        summary_tail={"classes": info["classes"], "train": tcfg.as_dict()}, label=f"{network} on {task}")
    return train_and_record(spec, model_out, history_out, workdir, threads)

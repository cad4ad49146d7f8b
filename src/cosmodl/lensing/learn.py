"""Training of the lensing networks with the shared kit.

* The anomaly detectors (``dcae``, ``vae``, ``aae``, ``rbm``) learn to reconstruct the
  ``no_sub`` training images of a preset; the validation loss is their reconstruction MSE on the
  ``no_sub`` validation images (the substructure classes are never seen before evaluation).
* The supervised ``resnet`` learns the three classes (cross-entropy) from the training images of
  all classes.

What is about lensing here is only the input normalisation, the choice of images and the losses;
batching (reshuffled every epoch, unlike the original), checkpoints, resume, pre-emption and
data parallelism are the trainer's.
"""

from __future__ import annotations

import numpy as np
import torch.nn.functional as F

from ..io import digest, fingerprint, load_array
from . import models as _models  # noqa: F401  (registers this stage's architectures)
from ..training import ArrayDataset, TrainConfig, TrainSpec, train_and_record, train_settings
from ..training.augment import image_symmetries
from .data import MODELS, normalisation_of, normaliser, read_params, select

REGISTERED = {name: f"lensing_{name}" for name in MODELS}


def train_config(cfg: dict, name: str) -> TrainConfig:
    """``lensing.train`` with ``lensing.train_overrides.<name>`` over it."""
    return TrainConfig(**train_settings(cfg, name, "lensing"))


def _datasets(name: str, images_path, params, transform):
    if name == "resnet":
        labels = params["label"].to_numpy(np.int64)
        train_idx, val_idx = select(params, "train"), select(params, "val")
        return (ArrayDataset(images_path, labels, train_idx, transform, target_dtype=np.int64),
                ArrayDataset(images_path, labels, val_idx, transform, target_dtype=np.int64), train_idx, val_idx)
    train_idx, val_idx = select(params, "train", ["no_sub"]), select(params, "val", ["no_sub"])
    return (ArrayDataset(images_path, None, train_idx, transform), ArrayDataset(images_path, None, val_idx, transform),
            train_idx, val_idx)


def loss_of(name: str, model):
    """The loss of a network trained by the default step (the AAE and RBM define their own steps)."""
    if name == "resnet":
        return F.cross_entropy
    if name == "vae":
        return model.loss
    if name == "dcae":
        return F.mse_loss
    return None


def model_settings(cfg: dict, images_path) -> dict:
    """``lensing.model`` with the side of the images (the autoencoders' input size)."""
    return {**cfg["model"], "side": int(load_array(images_path, "lensing_merge").shape[-1])}


def train_lensing_model(cfg: dict, dataset: str, name: str, images_path, params_path, model_out, history_out,
                        workdir, threads: int | None = None, split_path=None) -> dict:
    """Train network ``name`` on data set ``dataset``; write the model record and the per-epoch history.

    Parameters
    ----------
    cfg : dict
        ``config['lensing']`` (``model``, ``train``, ``train_overrides`` are read).
    dataset : str
        A data set of :func:`cosmodl.lensing.data.dataset_names` (``A``, ``II``, ``A-lattice``).
    name : {'dcae', 'vae', 'aae', 'rbm', 'resnet'}
    images_path, params_path : path
        The data set's image stack and parameter table (:mod:`cosmodl.lensing.data`).
    split_path : path, optional
        Its ``split.json``, checked against the table (:func:`cosmodl.lensing.data.read_params`).
    model_out, history_out, workdir : path
    threads : int, optional

    Returns
    -------
    dict : summary (n_train, epochs, best epoch and validation loss, device); ``{}`` on ranks > 0.
    """
    if name not in MODELS:
        raise ValueError(f"unknown lensing network {name!r}; expected one of {MODELS}")
    params = read_params(params_path, split_path, images_path, cfg["sizes"])
    kind = normalisation_of(cfg, name)
    transform = normaliser(kind)
    train_ds, val_ds, train_idx, val_idx = _datasets(name, images_path, params, transform)
    tcfg = train_config(cfg, name)
    model_cfg = model_settings(cfg, images_path)
    spec = TrainSpec(
        network=REGISTERED[name], model_config=model_cfg, train=tcfg, train_set=train_ds, val_set=val_ds,
        fingerprint=fingerprint(name, dataset, kind, model_cfg, digest(images_path), train_idx.tolist(),
                                val_idx.tolist()),
        loss_of_model=lambda model: loss_of(name, model), transform=transform,
        augment=image_symmetries if name == "resnet" else None,
        summary_head={"model": name, "dataset": dataset, "n_train": int(len(train_idx)), "n_val": int(len(val_idx))},
        summary_tail={"train": tcfg.as_dict()}, label=f"{name} on data set {dataset}")
    return train_and_record(spec, model_out, history_out, workdir, threads)

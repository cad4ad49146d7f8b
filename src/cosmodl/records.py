"""Trained-model records: one file with everything needed to predict, and ``predict`` itself.

A record is a ``torch.save`` dict: ``model`` (the registry name), ``module`` (the module that
registers it), ``model_cfg`` (what :func:`cosmodl.models.build_model` rebuilds the architecture
from), ``state_dict`` (on CPU), ``transform`` (the input transform the network was trained on, as
a registered name, its module and its parameters, or None) and whatever the stage adds (target
names, training summary, split). Loading imports ``module`` and builds the model by name and its
transform likewise; :func:`predict` applies that transform. So a record can be used on its own,
without knowing which stage wrote it or reading a config.

Input transforms are registered by name in :mod:`cosmodl.transforms`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from .io import atomic_output
from .transforms import build_transform, transform_spec

FORMAT = 2  # 2: the input transform is part of the record (records of format 1 are refused: retrain)


class _Stored:
    """The default of :func:`predict`'s ``transform``: the transform the record holds."""

    def __repr__(self) -> str:
        return "STORED"


STORED = _Stored()


def save_model(path: str | Path, name: str, model_cfg: dict, model: nn.Module, transform=None, **extra) -> None:
    """Write a model record atomically.

    Parameters
    ----------
    path : path
    name : str
        Registered model name.
    model_cfg : dict
        Config the architecture is rebuilt from; initial-weight options (a pretrained weights
        file) do not belong here, the weights come from the record.
    model : nn.Module
    transform : callable, optional
        The input transform the network was trained on, an instance of a registered class
        (:func:`register_transform`); :func:`predict` applies it to a loaded record's inputs.
    **extra
        Stage entries (picklable), stored at the top level of the record.
    """
    reserved = {"format", "model", "module", "model_cfg", "state_dict", "transform"} & set(extra)
    if reserved:
        raise ValueError(f"save_model: {sorted(reserved)} are reserved record keys")
    from .models import registering_module

    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    record = {"format": FORMAT, "model": name, "module": registering_module(name), "model_cfg": dict(model_cfg),
              "state_dict": state, "transform": transform_spec(transform), **extra}
    with atomic_output(path) as tmp:
        torch.save(record, tmp)


def load_model(path: str | Path) -> tuple[nn.Module, dict]:
    """``(model in eval mode on the CPU, record)`` from a file written by :func:`save_model`.

    The model carries its input transform as ``model.input_transform`` (None for none), which
    :func:`predict` applies.

    Raises
    ------
    ValueError
        If the file is missing, damaged or not a model record, or a record of an older format
        (retrain it: the rule's ``--forcerun``).
    """
    import pickle
    import zipfile

    from .models import build_model

    try:
        record = torch.load(path, map_location="cpu", weights_only=False)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: not a readable model record ({type(exc).__name__}: {str(exc)[:200]}); retrain it "
                         "(snakemake --forcerun the stage's training rule)") from None
    if not isinstance(record, dict) or "model" not in record or "format" not in record:
        raise ValueError(f"{path}: not a cosmodl model record (format {FORMAT})")
    if record["format"] != FORMAT:
        raise ValueError(f"{path}: a model record of format {record['format']}, written before the record held its "
                         f"input transform; this version reads format {FORMAT}: retrain it (snakemake --forcerun "
                         f"the stage's training rule)")
    model = build_model(record["model"], record["model_cfg"], module=record.get("module"))
    model.load_state_dict(record["state_dict"])
    model.eval()
    model.input_transform = build_transform(record["transform"])
    return model, record


def predict(model: nn.Module, inputs: np.ndarray, indices=None, batch_size: int = 64, device: str = "cpu",
            threads: int | None = None, transform=STORED, add_channel: bool = True) -> np.ndarray:
    """Model outputs for ``inputs[indices]``, in eval mode and without gradients.

    Parameters
    ----------
    model : nn.Module
        Its ``predict(x)`` is used when it has one (outputs in physical units or probabilities),
        else ``forward``.
    inputs : ndarray (or memory map), shape (N, ...)
    indices : array of int, optional
        Rows to predict (all by default), in this order.
    batch_size : int
    device : {'cpu', 'cuda', 'auto'}
    threads : int, optional
        CPU threads of torch.
    transform : callable, None or ``STORED``
        Applied to each float32 batch of inputs. ``STORED`` (the default): the transform the model
        was trained on, as :func:`load_model` attached it (``model.input_transform``; none for a
        model not loaded from a record); None: the inputs as they are.
    add_channel : bool
        Insert the channel axis after the batch axis.

    Returns
    -------
    ndarray, float32, shape (len(indices), ...)
    """
    from .training.device import autocast_context, model_to_device, pick_device, to_memory_format

    if transform is STORED:
        transform = getattr(model, "input_transform", None)
    dev = pick_device(device, threads)
    was_training = model.training
    model.eval()
    model_to_device(model, dev)
    rows_all = np.arange(len(inputs)) if indices is None else np.asarray(indices)
    forward = model.predict if callable(getattr(model, "predict", None)) else model
    outputs = []
    with torch.no_grad():
        for start in range(0, len(rows_all), batch_size):
            rows = rows_all[start:start + batch_size]
            x = np.asarray(inputs[rows], dtype=np.float32)
            x = torch.from_numpy(transform(x) if transform is not None else x)
            if add_channel:
                x = x.unsqueeze(1)
            x = to_memory_format(x.to(dev), dev)
            with autocast_context(dev):
                out = forward(x)
            outputs.append(out.float().cpu().numpy())
    model.train(was_training)
    return np.concatenate(outputs) if outputs else np.empty((0,), np.float32)

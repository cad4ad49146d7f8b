"""Device choice: CUDA with bf16 autocast (and channels_last for images) when present, else CPU threads."""

from __future__ import annotations

import contextlib

import torch

from ..errors import ConfigError


def pick_device(requested: str = "auto", threads: int | None = None) -> torch.device:
    """Return the training device and set CPU threads.

    Parameters
    ----------
    requested : {'auto', 'cpu', 'cuda'}
        ``auto`` takes CUDA when available.
    threads : int, optional
        torch intra-op threads (the rule's ``threads``).
    """
    if threads:
        torch.set_num_threads(max(1, int(threads)))
    if requested == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device: cuda requested but torch.cuda.is_available() is False")
    if requested == "cpu" or (requested == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    return torch.device("cuda")


def autocast_context(device: torch.device):
    """bf16 autocast on CUDA; no autocast on CPU (float32 there is faster than emulated bf16).

    bf16 has float32's exponent range, so no gradient scaler is needed.
    """
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def memory_format(device: torch.device, ndim: int = 4):
    """channels_last for 4-D (image) batches on CUDA (tensor-core convolutions), else contiguous.

    channels_last exists only for 4-D tensors: 1-D data ``(B, C, L)`` and 3-D volumes keep the
    contiguous layout on every device.
    """
    return torch.channels_last if device.type == "cuda" and ndim == 4 else torch.contiguous_format


def model_to_device(model: torch.nn.Module, device: torch.device) -> None:
    """Move ``model`` to ``device``; on CUDA its 4-D weights (image convolutions) go channels_last.

    A model with 5-D weights (3-D convolutions) keeps the contiguous layout: channels_last is 4-D only.
    """
    model.to(device)
    if device.type == "cuda" and not any(p.dim() == 5 for p in model.parameters()):
        model.to(memory_format=memory_format(device, 4))


def to_memory_format(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``x`` in the layout :func:`memory_format` picks for its rank on ``device``."""
    return x.contiguous(memory_format=memory_format(device, x.ndim))


def as_float(output):
    """Floating tensors of a model output (tensor, tuple, list or dict) cast to float32, recursively.

    Under bf16 autocast outputs come back in bfloat16; losses are computed in float32.
    """
    if isinstance(output, torch.Tensor):
        return output.float() if output.is_floating_point() else output
    if isinstance(output, (tuple, list)):
        return type(output)(as_float(o) for o in output)
    if isinstance(output, dict):
        return {k: as_float(v) for k, v in output.items()}
    return output

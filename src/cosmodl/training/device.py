"""Device choice: CUDA with bf16 autocast and channels_last when present, else CPU threads."""

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
    """bf16 autocast on CUDA; no autocast on CPU (float32 there is faster than emulated bf16)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def memory_format(device: torch.device):
    """channels_last on CUDA (tensor-core convolutions), contiguous on CPU."""
    return torch.channels_last if device.type == "cuda" else torch.contiguous_format

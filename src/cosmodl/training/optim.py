"""Optimisers and learning-rate schedules chosen by name (``train.optimizer``, ``train.scheduler``).

Each registry maps a name to ``builder(...)``; the names are the ``enum`` of the config schema
(a test keeps the two equal). An unknown name raises a ConfigError that lists the valid ones.
Schedules are stepped once per optimisation step.
"""

from __future__ import annotations

from typing import Callable, Iterable

import torch

from ..errors import ConfigError


def _adamw(params, cfg):
    return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def _adam(params, cfg):
    return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def _sgd(params, cfg):
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def _onecycle(optimizer, cfg, total_steps):
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=total_steps,
                                               pct_start=cfg.warmup_fraction)


def _cosine(optimizer, cfg, total_steps):
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)


def _constant(optimizer, cfg, total_steps):
    return None


OPTIMIZERS: dict[str, Callable] = {"adamw": _adamw, "adam": _adam, "sgd": _sgd}
SCHEDULERS: dict[str, Callable] = {"onecycle": _onecycle, "cosine": _cosine, "constant": _constant}


def build_optimizer(name: str, params: Iterable, cfg) -> torch.optim.Optimizer:
    """Optimiser ``name`` over ``params`` with ``cfg.lr``, ``cfg.weight_decay`` (and ``cfg.momentum``)."""
    if name not in OPTIMIZERS:
        raise ConfigError(f"train.optimizer: {name!r} is not one of {sorted(OPTIMIZERS)}")
    return OPTIMIZERS[name](params, cfg)


def build_scheduler(name: str, optimizer: torch.optim.Optimizer, cfg, total_steps: int):
    """Schedule ``name`` over ``total_steps`` optimisation steps, or None for a constant rate."""
    if name not in SCHEDULERS:
        raise ConfigError(f"train.scheduler: {name!r} is not one of {sorted(SCHEDULERS)}")
    return SCHEDULERS[name](optimizer, cfg, total_steps)

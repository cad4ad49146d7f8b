"""Prediction heads shared by the stages: what ``predict`` returns for a task, and a ResNet-18 on images.

A network trained for classification returns logits from ``forward`` and class probabilities
from ``predict``; one trained for regression on a standardised target returns the standardised
value from ``forward`` and the value in physical units from ``predict``. :class:`TaskOutput`
holds that choice and the target's mean and standard deviation (buffers, so they travel with
the weights in a model record).
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError

KINDS = ("classification", "regression")


class TaskOutput(nn.Module):
    """Turns raw outputs into predictions: softmax, or ``mean + std * output`` (physical units).

    Parameters
    ----------
    kind : {'classification', 'regression'}
    target_mean, target_std : float
        Of the regression target in the training set (ignored for classification).
    """

    def __init__(self, kind: str = "classification", target_mean: float = 0.0, target_std: float = 1.0):
        super().__init__()
        if kind not in KINDS:
            raise ConfigError(f"task kind {kind!r}: expected one of {KINDS}")
        if not target_std > 0:
            raise ConfigError(f"target_std = {target_std}: must be > 0")
        self.kind = kind
        # saved with the weights only where they mean something (a classifier's state has no such keys)
        persistent = kind == "regression"
        self.register_buffer("target_mean", torch.tensor(float(target_mean)), persistent=persistent)
        self.register_buffer("target_std", torch.tensor(float(target_std)), persistent=persistent)

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        raw = raw.float()
        if self.kind == "classification":
            return torch.softmax(raw, dim=1)
        return self.target_mean + self.target_std * raw.squeeze(1)


def n_outputs(kind: str, n_classes: int) -> int:
    """Output units of a network for a task: the number of classes, or 1 for a regression."""
    if kind == "classification" and n_classes < 2:
        raise ConfigError(f"a classification needs at least 2 classes, got {n_classes}")
    return n_classes if kind == "classification" else 1


class ImageResNet(nn.Module):
    """torchvision ResNet-18 (random init) with a 1-channel stem on single-channel images.

    Parameters
    ----------
    n_classes : int
        Classes (``kind='classification'``), ignored for a regression (one output).
    downsample : int
        Average-pool factor applied to the input first (a CPU economy; 1 keeps the full image).
    kind, target_mean, target_std
        See :class:`TaskOutput`.
    """

    def __init__(self, n_classes: int = 3, downsample: int = 1, kind: str = "classification",
                 target_mean: float = 0.0, target_std: float = 1.0):
        super().__init__()
        from torchvision.models import resnet18

        if downsample < 1:
            raise ConfigError(f"ImageResNet: downsample = {downsample} must be >= 1")
        self.pool = nn.AvgPool2d(downsample) if downsample > 1 else nn.Identity()
        self.net = resnet18(weights=None, num_classes=n_outputs(kind, n_classes))
        self.net.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.output = TaskOutput(kind, target_mean, target_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.pool(x))

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self(x))

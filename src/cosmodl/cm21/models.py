"""Networks of the 21-cm stage (MAIS 202, note 21cm.md), in PyTorch.

* :class:`Autoencoder21` - the seed's convolutional autoencoder, 4,385 parameters: three
  (3x3 'same' conv + ReLU, 2x2 max-pool) blocks of 16, 8, 8 channels down to an
  ``S/8 x S/8 x 8`` code (25 x 25 x 8 for 200 x 200 slices), mirrored with nearest upsampling,
  and a 3x3 conv to one channel. ``forward`` returns logits (the loss is binary cross-entropy
  on slices divided by 70 mK and clipped to [0, 1]); ``predict`` the sigmoid.
* :class:`EncodedCNN` - the frozen encoder of a trained autoencoder and the seed's head:
  Conv16 3x3 valid + ReLU, max-pool, Conv8 3x3 valid + ReLU, max-pool, dense. 4,521 parameters
  in the head for a 25 x 25 x 8 code and 17 classes (3,876 for 12).
* :class:`SliceCNN` - the same kind of network on raw slices, no encoder: Conv32-P-Conv16-P-Conv8-P
  (valid) and a dense layer; 56,900 parameters for 200 x 200 slices and 12 classes.
* :class:`PatchFC` - the seed's fully connected network on P x P patches: P^2 -> 350 sigmoid ->
  classes (881,317 parameters for 50 x 50 and 17 classes).

Every classifier and regressor ends in a :class:`~cosmodl.models.heads.TaskOutput`: logits or a
standardised value from ``forward``, probabilities or physical units from ``predict``.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError
from ..models.heads import ImageResNet, TaskOutput, n_outputs
from ..models.registry import register_model


def _conv(c_in: int, c_out: int, padding: str) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=padding), nn.ReLU())


def encoder_layers() -> nn.Sequential:
    """The autoencoder's encoder: (B, 1, S, S) -> (B, 8, S/8, S/8); 1,904 parameters."""
    return nn.Sequential(_conv(1, 16, "same"), nn.MaxPool2d(2), _conv(16, 8, "same"), nn.MaxPool2d(2),
                         _conv(8, 8, "same"), nn.MaxPool2d(2))


class Autoencoder21(nn.Module):
    """The seed's convolutional autoencoder (module docstring); slices of side divisible by 8."""

    def __init__(self):
        super().__init__()
        self.encoder = encoder_layers()
        self.decoder = nn.Sequential(_conv(8, 8, "same"), nn.Upsample(scale_factor=2), _conv(8, 8, "same"),
                                     nn.Upsample(scale_factor=2), _conv(8, 16, "same"), nn.Upsample(scale_factor=2),
                                     nn.Conv2d(16, 1, 3, padding="same"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 8 or x.shape[-2] % 8:
            raise ConfigError(f"Autoencoder21: slices of {tuple(x.shape[-2:])} cells; the side must be divisible by 8")
        return self.decoder(self.encoder(x))

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self(x).float())


def _valid_pool_side(side: int, blocks: int) -> int:
    """Side after ``blocks`` of (3x3 valid conv, 2x2 max-pool)."""
    for _ in range(blocks):
        side = (side - 2) // 2
    return side


class _Classifier(nn.Module):
    """Features, then a dense layer to the task's outputs, then :class:`TaskOutput` in ``predict``."""

    def __init__(self, features: nn.Module, n_features: int, n_classes: int, kind: str, target_mean: float,
                 target_std: float):
        super().__init__()
        self.features = features
        self.dense = nn.Linear(n_features, n_outputs(kind, n_classes))
        self.output = TaskOutput(kind, target_mean, target_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dense(torch.flatten(self.features(x), 1))

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self(x))


class EncodedCNN(_Classifier):
    """Frozen autoencoder encoder + the seed's 4,521-parameter head (module docstring).

    Parameters
    ----------
    slice_side : int
        Cells per side of the input slices (the code is ``slice_side / 8``).
    n_classes, kind, target_mean, target_std
        The task (:class:`~cosmodl.models.heads.TaskOutput`).
    """

    def __init__(self, slice_side: int = 200, n_classes: int = 17, kind: str = "classification",
                 target_mean: float = 0.0, target_std: float = 1.0):
        side = _valid_pool_side(slice_side // 8, 2)
        if side < 1:
            raise ConfigError(f"EncodedCNN: {slice_side}-cell slices give a {slice_side // 8}-cell code, too small "
                              "for two valid 3x3 conv + pool blocks (needs slices of at least 80 cells)")
        head = nn.Sequential(_conv(8, 16, "valid"), nn.MaxPool2d(2), _conv(16, 8, "valid"), nn.MaxPool2d(2))
        super().__init__(head, 8 * side * side, n_classes, kind, target_mean, target_std)
        self.encoder = encoder_layers()
        self.encoder.requires_grad_(False)

    def load_encoder(self, autoencoder: Autoencoder21) -> None:
        """Copy (and keep frozen) the encoder weights of a trained autoencoder."""
        self.encoder.load_state_dict(autoencoder.encoder.state_dict())

    def head_parameters(self) -> int:
        """Trainable parameters (the head; the encoder is frozen)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            code = self.encoder(x)
        return super().forward(code)


class SliceCNN(_Classifier):
    """Conv32-P-Conv16-P-Conv8-P (3x3 valid, ReLU) and a dense layer, on raw slices."""

    def __init__(self, slice_side: int = 200, n_classes: int = 12, kind: str = "classification",
                 target_mean: float = 0.0, target_std: float = 1.0):
        side = _valid_pool_side(slice_side, 3)
        if side < 1:
            raise ConfigError(f"SliceCNN: {slice_side}-cell slices are too small for three conv + pool blocks")
        features = nn.Sequential(_conv(1, 32, "valid"), nn.MaxPool2d(2), _conv(32, 16, "valid"), nn.MaxPool2d(2),
                                 _conv(16, 8, "valid"), nn.MaxPool2d(2))
        super().__init__(features, 8 * side * side, n_classes, kind, target_mean, target_std)


class PatchFC(_Classifier):
    """The seed's fully connected network: patch^2 -> 350 sigmoid -> outputs."""

    def __init__(self, patch: int = 50, n_classes: int = 17, hidden: int = 350, kind: str = "classification",
                 target_mean: float = 0.0, target_std: float = 1.0):
        features = nn.Sequential(nn.Flatten(), nn.Linear(patch * patch, hidden), nn.Sigmoid())
        super().__init__(features, hidden, n_classes, kind, target_mean, target_std)


def _task(cfg: dict) -> dict:
    return {"n_classes": cfg.get("n_classes", 2), "kind": cfg.get("kind", "classification"),
            "target_mean": cfg.get("target_mean", 0.0), "target_std": cfg.get("target_std", 1.0)}


@register_model("cm21_autoencoder")
def _build_autoencoder(cfg: dict) -> nn.Module:
    return Autoencoder21()


@register_model("cm21_ae_cnn")
def _build_encoded(cfg: dict) -> nn.Module:
    return EncodedCNN(cfg.get("slice_side", 200), **_task(cfg))


@register_model("cm21_cnn")
def _build_slice_cnn(cfg: dict) -> nn.Module:
    return SliceCNN(cfg.get("slice_side", 200), **_task(cfg))


@register_model("cm21_fc")
def _build_fc(cfg: dict) -> nn.Module:
    return PatchFC(cfg.get("patch", 50), hidden=cfg.get("fc_hidden", 350), **_task(cfg))


@register_model("cm21_resnet")
def _build_resnet(cfg: dict) -> nn.Module:
    return ImageResNet(downsample=cfg.get("resnet_downsample", 1), **_task(cfg))

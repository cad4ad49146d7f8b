"""Networks of the voids stage: a void-map head (FPN decoder) and a void-counts head on a ResNet.

Both take 1-channel galaxy images of shape (B, 1, H, W) (already transformed, see
:class:`cosmodl.voids.learn.ImageTransform`) and share :class:`~cosmodl.models.backbones.ResNetBackbone`.

Receptive field. The map head reads the FPN output at stride 4, which is the sum of the
lateral projection of ``layer1`` and the upsampled ``layer2``, ``layer3`` and ``layer4`` features,
so every output pixel can see the whole subbox (435 px for ResNet-18's last stage). A head cut
after ``layer1`` would see only ~43 px, less than the diameter of the largest voids (R = 40 Mpc/h
is 80 px at the paper's 1 Mpc/h pixels).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..models.backbones import ResNetBackbone
from ..models.registry import register_model

MAP_STRIDE = 4  # map pixels per image pixel: 224 -> 56


class VoidMapNet(nn.Module):
    """ResNet encoder + FPN decoder: one void logit per map pixel at 1/4 of the image resolution.

    Input (B, 1, H, W) → output (B, 1, H/4, W/4) logits (224 → 56). The top-down path adds each
    upsampled coarser level to a 1×1 lateral projection of the finer one, then two 3×3 convs
    refine the stride-4 level and a 1×1 conv gives the logit. :meth:`predict` gives probabilities.
    """

    def __init__(self, arch: str = "resnet18", decoder_channels: int = 64,
                 pretrained_weights: str | None = None, allow_download: bool = False):
        super().__init__()
        self.encoder = ResNetBackbone(arch, 1, pretrained_weights, allow_download)
        d = decoder_channels
        self.lateral = nn.ModuleList(nn.Conv2d(c, d, 1) for c in self.encoder.channels)
        self.refine = nn.Sequential(nn.Conv2d(d, d, 3, padding=1, bias=False), nn.BatchNorm2d(d), nn.ReLU(inplace=True),
                                    nn.Conv2d(d, d, 3, padding=1, bias=False), nn.BatchNorm2d(d), nn.ReLU(inplace=True))
        self.head = nn.Conv2d(d, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.encoder.features(x)
        top = self.lateral[3](features[3])
        for level in (2, 1, 0):
            lateral = self.lateral[level](features[level])
            top = lateral + F.interpolate(top, size=lateral.shape[-2:], mode="nearest")
        return self.head(self.refine(top))

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Void probability per map pixel, shape (B, H/4, W/4)."""
        return torch.sigmoid(self.forward(x).float())[:, 0]


class VoidCountNet(nn.Module):
    """ResNet encoder + global average pool + linear head for (number of voids, void volume).

    The head predicts standardised targets; ``target_mean`` and ``target_std`` (buffers, saved
    with the state dict) hold the training-set statistics, and :meth:`predict` undoes them.
    """

    def __init__(self, arch: str = "resnet18", n_targets: int = 2, pretrained_weights: str | None = None,
                 allow_download: bool = False):
        super().__init__()
        self.encoder = ResNetBackbone(arch, 1, pretrained_weights, allow_download)
        self.head = nn.Linear(self.encoder.channels[3], n_targets)
        self.register_buffer("target_mean", torch.zeros(n_targets))
        self.register_buffer("target_std", torch.ones(n_targets))

    def set_target_scaling(self, mean, std) -> None:
        """Store training-set target statistics (shape (n_targets,)); zero std is replaced by 1."""
        std = torch.as_tensor(std, dtype=torch.float32)
        self.target_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.target_std.copy_(torch.where(std > 0, std, torch.ones_like(std)))

    def standardise(self, targets: torch.Tensor) -> torch.Tensor:
        return (targets - self.target_mean) / self.target_std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Standardised predictions, shape (B, n_targets)."""
        return self.head(self.encoder(x))

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Predictions in physical units (count, (Mpc/h)^3), shape (B, n_targets)."""
        return self.forward(x).float() * self.target_std + self.target_mean


def _init_weights(cfg: dict) -> dict:
    return {"pretrained_weights": cfg.get("pretrained_weights"), "allow_download": cfg.get("allow_download", False)}


@register_model("void_map")
def build_void_map(cfg: dict) -> VoidMapNet:
    """:class:`VoidMapNet` from the ``voids.model`` config section."""
    return VoidMapNet(cfg.get("arch", "resnet18"), cfg.get("decoder_channels", 64), **_init_weights(cfg))


@register_model("void_counts")
def build_void_counts(cfg: dict) -> VoidCountNet:
    """:class:`VoidCountNet` from the ``voids.model`` config section."""
    return VoidCountNet(cfg.get("arch", "resnet18"), 2, **_init_weights(cfg))

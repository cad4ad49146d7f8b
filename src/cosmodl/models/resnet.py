"""torchvision ResNet encoders with a void-map head (FPN decoder) and a void-counts head.

Both models take 1-channel galaxy images of shape (B, 1, H, W) (already transformed, see
:mod:`cosmodl.voids.dataset`) and share the encoder ``build_resnet_encoder``.

Receptive field. The map head reads the FPN output at stride 4, which is the sum of the
lateral projection of ``layer1`` and the upsampled ``layer2``, ``layer3`` and ``layer4`` features.
The theoretical receptive field of a ResNet-18 ``layer4`` unit is 435 px (ResNet-34: 899 px,
ResNet-50: 427 px), larger than a 224 px input, so every output pixel can see the whole
subbox. A head cut after ``layer1`` would see only ~43 px (35 px for ResNet-18 blocks), less
than the diameter of the largest voids (R = 40 Mpc/h is 80 px at the paper's 1 Mpc/h pixels).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from ..errors import ConfigError

log = logging.getLogger(__name__)

ARCHS = {"resnet18": (torchvision.models.resnet18, "ResNet18_Weights"),
         "resnet34": (torchvision.models.resnet34, "ResNet34_Weights"),
         "resnet50": (torchvision.models.resnet50, "ResNet50_Weights")}
MAP_STRIDE = 4  # map pixels per image pixel: 224 -> 56


def _one_channel_stem(model: nn.Module) -> None:
    """Replace the 3-channel first convolution by a 1-channel one holding the sum of its RGB filters.

    Summing keeps the response to a grey image unchanged: conv(x, W_r + W_g + W_b) equals the
    RGB convolution of (x, x, x).
    """
    old = model.conv1
    new = nn.Conv2d(1, old.out_channels, old.kernel_size, old.stride, old.padding, bias=False)
    with torch.no_grad():
        new.weight.copy_(old.weight.sum(dim=1, keepdim=True))
    model.conv1 = new


def _load_weights_file(model: nn.Module, path: str) -> None:
    """Load a torchvision state dict from ``path`` into a 3-channel ``model`` (fc layer ignored)."""
    if not Path(path).is_file():
        raise ConfigError(f"pretrained_weights: file {path} does not exist (cosmodl never downloads "
                          f"weights unless allow_download: true)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ConfigError(f"pretrained_weights: {path} is not a torch state dict ({exc})") from exc
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches
        raise ConfigError(f"pretrained_weights: {path} does not match the configured architecture: "
                          f"{str(exc).splitlines()[-1].strip()}") from exc
    missing = [k for k in missing if not k.startswith("fc.")]
    if missing or unexpected:
        raise ConfigError(f"pretrained_weights: {path} does not match the configured architecture: "
                          f"missing {missing[:5]}, unexpected {unexpected[:5]}")
    log.info("loaded pretrained weights from %s", path)


def build_resnet_encoder(arch: str = "resnet18", pretrained_weights: str | None = None,
                         allow_download: bool = False) -> nn.Module:
    """A torchvision ResNet with a 1-channel stem, without its pooling and classifier.

    Parameters
    ----------
    arch : {'resnet18', 'resnet34', 'resnet50'}
    pretrained_weights : str, optional
        Local file with a torchvision state dict (e.g. ``resnet18-f37072fd.pth``); its first layer is
        adapted to one channel by summing over RGB.
    allow_download : bool
        Only if True and no file is given, fetch torchvision's ImageNet weights (network access).

    Returns
    -------
    torchvision.models.ResNet
        Use ``conv1 .. layer4``; ``fc`` is replaced by ``Identity``.
    """
    if arch not in ARCHS:
        raise ConfigError(f"model.arch: {arch!r} is not one of {sorted(ARCHS)}")
    factory, weights_enum = ARCHS[arch]
    weights = None
    if pretrained_weights is None and allow_download:
        weights = getattr(torchvision.models, weights_enum).DEFAULT
    model = factory(weights=weights)
    if pretrained_weights is not None:
        _load_weights_file(model, pretrained_weights)
    _one_channel_stem(model)
    model.fc = nn.Identity()
    return model


def _encoder_channels(encoder: nn.Module) -> list[int]:
    """Output channels of layer1..layer4 (64..512 for basic blocks, 256..2048 for bottlenecks)."""
    channels = []
    for layer in (encoder.layer1, encoder.layer2, encoder.layer3, encoder.layer4):
        last = layer[-1]
        channels.append((last.bn3 if hasattr(last, "bn3") else last.bn2).num_features)
    return channels


def _encode(encoder: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    x = encoder.maxpool(encoder.relu(encoder.bn1(encoder.conv1(x))))
    c1 = encoder.layer1(x)
    c2 = encoder.layer2(c1)
    c3 = encoder.layer3(c2)
    c4 = encoder.layer4(c3)
    return [c1, c2, c3, c4]


class VoidMapNet(nn.Module):
    """ResNet encoder + FPN decoder: one void logit per map pixel at 1/4 of the image resolution.

    Input (B, 1, H, W) → output (B, 1, H/4, W/4) logits (224 → 56). The top-down path adds each
    upsampled coarser level to a 1×1 lateral projection of the finer one, then two 3×3 convs
    refine the stride-4 level and a 1×1 conv gives the logit. Apply ``sigmoid`` for probabilities.
    """

    def __init__(self, arch: str = "resnet18", decoder_channels: int = 64,
                 pretrained_weights: str | None = None, allow_download: bool = False):
        super().__init__()
        self.encoder = build_resnet_encoder(arch, pretrained_weights, allow_download)
        d = decoder_channels
        self.lateral = nn.ModuleList(nn.Conv2d(c, d, 1) for c in _encoder_channels(self.encoder))
        self.refine = nn.Sequential(nn.Conv2d(d, d, 3, padding=1, bias=False), nn.BatchNorm2d(d), nn.ReLU(inplace=True),
                                    nn.Conv2d(d, d, 3, padding=1, bias=False), nn.BatchNorm2d(d), nn.ReLU(inplace=True))
        self.head = nn.Conv2d(d, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = _encode(self.encoder, x)
        top = self.lateral[3](features[3])
        for level in (2, 1, 0):
            lateral = self.lateral[level](features[level])
            top = lateral + F.interpolate(top, size=lateral.shape[-2:], mode="nearest")
        return self.head(self.refine(top))


class VoidCountNet(nn.Module):
    """ResNet encoder + global average pool + linear head for (number of voids, void volume).

    The head predicts standardised targets; ``target_mean`` and ``target_std`` (buffers, saved
    with the state dict) hold the training-set statistics, and :meth:`predict` undoes them.
    """

    def __init__(self, arch: str = "resnet18", n_targets: int = 2, pretrained_weights: str | None = None,
                 allow_download: bool = False):
        super().__init__()
        self.encoder = build_resnet_encoder(arch, pretrained_weights, allow_download)
        self.head = nn.Linear(_encoder_channels(self.encoder)[3], n_targets)
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
        c4 = _encode(self.encoder, x)[3]
        return self.head(torch.flatten(F.adaptive_avg_pool2d(c4, 1), 1))

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Predictions in physical units (count, (Mpc/h)^3), shape (B, n_targets)."""
        return self.forward(x).float() * self.target_std + self.target_mean


def build_void_model(task: str, model_cfg: dict) -> nn.Module:
    """``VoidMapNet`` for task ``'map'``, ``VoidCountNet`` for ``'counts'``, from ``voids.model`` config."""
    common = dict(arch=model_cfg["arch"], pretrained_weights=model_cfg.get("pretrained_weights"),
                  allow_download=model_cfg.get("allow_download", False))
    if task == "map":
        return VoidMapNet(decoder_channels=model_cfg.get("decoder_channels", 64), **common)
    if task == "counts":
        return VoidCountNet(**common)
    raise ValueError(f"unknown void task {task!r}")

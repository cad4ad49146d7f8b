"""Backbones any stage can put a head on: torchvision ResNets with a 1-channel (or C-channel) stem.

:class:`ResNetBackbone` holds the ResNet's stem and four stages (``conv1 .. layer4``), without its
pooling and classifier. :meth:`ResNetBackbone.features` returns the four stage outputs (strides
4, 8, 16 and 32) for dense heads; calling the module returns the globally pooled last stage
for vector heads.

Receptive field. The theoretical receptive field of a ResNet-18 ``layer4`` unit is 435 px
(ResNet-34: 899 px, ResNet-50: 427 px), larger than a 224 px input, so a head on the last stage
can see a whole 224 px image.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError

log = logging.getLogger(__name__)

# torchvision factory and weights enum of each architecture (torchvision is imported when a
# backbone is built: it takes seconds, which every job that does not need it would pay)
ARCHS = {"resnet18": ("resnet18", "ResNet18_Weights"), "resnet34": ("resnet34", "ResNet34_Weights"),
         "resnet50": ("resnet50", "ResNet50_Weights")}


def _adapt_stem(model: nn.Module, in_channels: int) -> None:
    """Give the first convolution ``in_channels`` inputs, each with the mean of the RGB filters x 3 / C.

    For one channel this is the sum of the RGB filters, so the response to a grey image is kept:
    conv(x, W_r + W_g + W_b) equals the RGB convolution of (x, x, x). Three channels are left as they are.
    """
    old = model.conv1
    if in_channels == old.in_channels:
        return
    new = nn.Conv2d(in_channels, old.out_channels, old.kernel_size, old.stride, old.padding, bias=False)
    with torch.no_grad():
        summed = old.weight.sum(dim=1, keepdim=True)
        new.weight.copy_(summed.repeat(1, in_channels, 1, 1) / in_channels)
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


class ResNetBackbone(nn.Module):
    """A torchvision ResNet's stem and stages with a ``in_channels`` input.

    Parameters
    ----------
    arch : {'resnet18', 'resnet34', 'resnet50'}
    in_channels : int
        Input channels (1 for a projected galaxy count or a lensing image).
    pretrained_weights : str, optional
        Local file with a torchvision state dict (e.g. ``resnet18-f37072fd.pth``); its first layer is
        adapted to ``in_channels`` by :func:`_adapt_stem`.
    allow_download : bool
        Only if True and no file is given, fetch torchvision's ImageNet weights (network access).

    Attributes
    ----------
    channels : list of int
        Output channels of ``layer1 .. layer4`` (64..512 for basic blocks, 256..2048 for bottlenecks).

    Input (B, C, H, W); :meth:`features` gives four maps at H/4 .. H/32; ``forward`` gives (B, channels[-1]).
    """

    def __init__(self, arch: str = "resnet18", in_channels: int = 1, pretrained_weights: str | None = None,
                 allow_download: bool = False):
        super().__init__()
        if arch not in ARCHS:
            raise ConfigError(f"model.arch: {arch!r} is not one of {sorted(ARCHS)}")
        import torchvision

        factory_name, weights_enum = ARCHS[arch]
        factory = getattr(torchvision.models, factory_name)
        weights = None
        if pretrained_weights is None and allow_download:
            weights = getattr(torchvision.models, weights_enum).DEFAULT
        net = factory(weights=weights)
        if pretrained_weights is not None:
            _load_weights_file(net, pretrained_weights)
        _adapt_stem(net, in_channels)
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        self.channels = [(layer[-1].bn3 if hasattr(layer[-1], "bn3") else layer[-1].bn2).num_features
                         for layer in (self.layer1, self.layer2, self.layer3, self.layer4)]

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Outputs of ``layer1 .. layer4``: (B, channels[i], H / 2^(i+2), W / 2^(i+2))."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        c1 = self.layer1(x)
        c2 = self.layer2(c1)
        c3 = self.layer3(c2)
        c4 = self.layer4(c3)
        return [c1, c2, c3, c4]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Globally averaged last stage, shape (B, channels[-1])."""
        return torch.flatten(F.adaptive_avg_pool2d(self.features(x)[3], 1), 1)


def build_resnet_encoder(arch: str = "resnet18", pretrained_weights: str | None = None,
                         allow_download: bool = False, in_channels: int = 1) -> ResNetBackbone:
    """A :class:`ResNetBackbone` with a ``in_channels`` stem (see there)."""
    return ResNetBackbone(arch, in_channels, pretrained_weights, allow_download)

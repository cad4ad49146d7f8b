"""Neural networks shared by the stages (torchvision backbones with task heads)."""

from .resnet import VoidCountNet, VoidMapNet, build_resnet_encoder, build_void_model

__all__ = ["VoidCountNet", "VoidMapNet", "build_resnet_encoder", "build_void_model"]

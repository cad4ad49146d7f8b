"""Neural networks: the model registry, shared backbones, and each stage's architectures.

``build_model(name, cfg)`` builds any registered architecture; importing this package registers
those of every stage.
"""

from .backbones import ResNetBackbone, build_resnet_encoder
from .cm21 import Autoencoder21, EncodedCNN, PatchFC, SliceCNN
from .heads import ImageResNet, TaskOutput
from .lensing import AAE, DCAE, RBM, VAE
from .registry import build_model, model_names, register_model
from .specz import SpectrumCNN
from .voids import VoidCountNet, VoidMapNet

__all__ = ["ResNetBackbone", "build_resnet_encoder", "build_model", "model_names", "register_model",
           "VoidCountNet", "VoidMapNet", "AAE", "DCAE", "RBM", "VAE", "ImageResNet", "TaskOutput",
           "Autoencoder21", "EncodedCNN", "PatchFC", "SliceCNN", "SpectrumCNN"]

"""Neural networks shared by the stages: the model registry, backbones and heads.

``build_model(name, cfg)`` builds any registered architecture. Each stage defines its own in
``cosmodl.<stage>.models`` and registers them there (importing that module registers them); a
model record names that module, so loading a record needs no stage import of its own.
"""

from .backbones import ResNetBackbone, build_resnet_encoder
from .heads import ImageResNet, TaskOutput
from .registry import build_model, model_names, register_model, registering_module

__all__ = ["ResNetBackbone", "build_resnet_encoder", "build_model", "model_names", "register_model",
           "registering_module", "ImageResNet", "TaskOutput"]

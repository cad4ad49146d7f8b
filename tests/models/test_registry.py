"""The model registry: every registered architecture builds from its name and runs on tiny inputs."""

import pytest
import torch
from torch import nn

import cosmodl.voids.models  # noqa: F401  (registers the void networks)
from cosmodl.errors import ConfigError
from cosmodl.models import build_model, model_names, register_model
from cosmodl.models.backbones import ResNetBackbone

TINY_INPUTS = {"void_map": (2, 1, 32, 32), "void_counts": (2, 1, 32, 32)}


def test_the_stage_models_are_registered():
    assert {"void_map", "void_counts"} <= set(model_names())


@pytest.mark.parametrize("name", sorted(TINY_INPUTS))
def test_each_registered_model_builds_and_runs(name):
    torch.manual_seed(0)
    model = build_model(name, {"arch": "resnet18", "decoder_channels": 8}).eval()
    with torch.no_grad():
        out = model(torch.randn(*TINY_INPUTS[name]))
    assert torch.isfinite(out).all()
    assert out.shape == {"void_map": (2, 1, 8, 8), "void_counts": (2, 2)}[name]


def test_an_unknown_name_lists_the_known_ones_and_names_are_unique():
    with pytest.raises(ConfigError, match=r"model 'void_mapp' is not registered; known models: \[.*'void_map'"):
        build_model("void_mapp", {})
    with pytest.raises(ValueError, match="registered twice"):
        register_model("void_map")(lambda cfg: nn.Identity())


def test_backbone_features_have_the_documented_strides_and_channels():
    backbone = ResNetBackbone("resnet18", in_channels=2).eval()
    with torch.no_grad():
        features = backbone.features(torch.randn(1, 2, 64, 64))
        pooled = backbone(torch.randn(3, 2, 64, 64))
    assert [f.shape[1:] for f in features] == [(64, 16, 16), (128, 8, 8), (256, 4, 4), (512, 2, 2)]
    assert backbone.channels == [64, 128, 256, 512] and pooled.shape == (3, 512)

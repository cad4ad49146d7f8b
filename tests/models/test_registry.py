"""The model registry: every registered architecture builds from its name and runs on tiny inputs."""

import numpy as np
import pytest
import torch
from torch import nn

import cosmodl.cm21.models  # noqa: F401  (each stage registers its networks when its models module is imported)
import cosmodl.lensing.models  # noqa: F401
import cosmodl.specz.models  # noqa: F401
import cosmodl.voids.models  # noqa: F401
from cosmodl.errors import ConfigError
from cosmodl.models import build_model, model_names, register_model, registering_module
from cosmodl.models.backbones import ResNetBackbone

# Every registered architecture: (config, input sample shape (N, ...) without the channel, predict output shape).
CLASSES = {"n_classes": 3}
EVERY_MODEL = {
    "void_map": ({"arch": "resnet18", "decoder_channels": 8}, (2, 32, 32), (2, 8, 8)),
    "void_counts": ({"arch": "resnet18"}, (2, 32, 32), (2, 2)),
    "lensing_dcae": ({"latent": 8, "side": 64}, (2, 64, 64), (2, 1, 64, 64)),
    "lensing_vae": ({"latent": 8, "side": 64}, (2, 64, 64), (2, 1, 64, 64)),
    "lensing_aae": ({"latent": 8, "side": 64}, (2, 64, 64), (2, 1, 64, 64)),
    "lensing_rbm": ({"latent": 8, "side": 64}, (2, 64, 64), (2, 1, 64, 64)),
    "lensing_resnet": ({"resnet_downsample": 2}, (2, 32, 32), (2, 3)),
    "cm21_autoencoder": ({}, (2, 32, 32), (2, 1, 32, 32)),
    "cm21_ae_cnn": ({"slice_side": 80, **CLASSES}, (2, 80, 80), (2, 3)),
    "cm21_cnn": ({"slice_side": 32, **CLASSES}, (2, 32, 32), (2, 3)),
    "cm21_fc": ({"patch": 8, **CLASSES}, (2, 8, 8), (2, 3)),
    "cm21_resnet": ({"resnet_downsample": 2, **CLASSES}, (2, 32, 32), (2, 3)),
    "specz_cnn": ({"n_pixels": 200, "n_classes": 10, "blocks": 1, "hidden": 16}, (2, 200), (2, 10)),
}


def test_every_registered_architecture_has_a_tiny_case_here():
    """A new registered network of a stage must be added to EVERY_MODEL (and so run below); the tests'
    toy models (tests/training/toys.py) register too and are left out."""
    assert sorted(EVERY_MODEL) == [n for n in model_names() if registering_module(n).startswith("cosmodl.")]


@pytest.mark.parametrize("name", sorted(EVERY_MODEL))
def test_every_registered_model_predicts_on_a_tiny_input(name):
    from cosmodl.records import predict

    cfg, shape, expected = EVERY_MODEL[name]
    torch.manual_seed(0)
    model = build_model(name, cfg)
    out = predict(model, np.random.default_rng(0).random(shape, dtype=np.float32), batch_size=2, threads=1)
    assert out.shape == expected and np.isfinite(out).all()


def test_the_stage_models_are_registered():
    assert {"void_map", "void_counts"} <= set(model_names())


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

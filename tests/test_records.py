"""Model records carry their input transform: a record is usable on its own."""

import numpy as np
import pytest
import torch

from cosmodl.cm21 import models as _cm21_models  # noqa: F401  (registers cm21_fc)
from cosmodl.cm21.learn import ScaleClip
from cosmodl.models import build_model
from cosmodl.records import load_model, predict, save_model
from cosmodl.transforms import build_transform, register_transform, transform_spec


def test_a_loaded_record_predicts_through_the_transform_it_was_trained_on(tmp_path):
    torch.manual_seed(0)
    model = build_model("cm21_fc", {"patch": 4, "n_classes": 3})
    transform = ScaleClip(30.0, clip=True)
    save_model(tmp_path / "m.pt", "cm21_fc", {"patch": 4, "n_classes": 3}, model, transform=transform)
    loaded, record = load_model(tmp_path / "m.pt")
    assert record["transform"] == {"name": "cm21_scale_clip", "module": "cosmodl.cm21.learn",
                                   "params": {"scale_mk": 30.0, "clip": True}}
    raw = np.random.default_rng(1).normal(10.0, 20.0, (5, 4, 4)).astype(np.float32)
    expected = predict(model, transform(raw), transform=None)  # by hand: the transform, then the network
    np.testing.assert_allclose(predict(loaded, raw), expected, rtol=1e-6)
    assert not np.allclose(predict(loaded, raw, transform=None), expected)  # None: the inputs as they are


def test_a_record_without_a_transform_predicts_on_the_inputs_as_they_are(tmp_path):
    model = build_model("cm21_fc", {"patch": 4, "n_classes": 3})
    save_model(tmp_path / "m.pt", "cm21_fc", {"patch": 4, "n_classes": 3}, model)
    loaded, record = load_model(tmp_path / "m.pt")
    x = np.ones((2, 4, 4), np.float32)
    assert record["transform"] is None and loaded.input_transform is None
    np.testing.assert_allclose(predict(loaded, x), predict(model, x, transform=None), rtol=1e-6)


def test_an_older_record_and_an_unregistered_transform_are_clear_errors(tmp_path):
    model = build_model("cm21_fc", {"patch": 4, "n_classes": 3})
    with pytest.raises(ValueError, match="is not a registered input transform"):
        save_model(tmp_path / "m.pt", "cm21_fc", {}, model, transform=lambda x: x)
    assert not (tmp_path / "m.pt").exists()
    old = {"format": 1, "model": "cm21_fc", "model_cfg": {}, "state_dict": model.state_dict()}
    torch.save(old, tmp_path / "old.pt")
    with pytest.raises(ValueError, match=r"old.pt: a model record of format 1, .* retrain it"):
        load_model(tmp_path / "old.pt")


def test_transforms_rebuild_from_their_spec_and_names_are_unique():
    @register_transform("test_affine")
    class Affine:
        def __init__(self, a: float, b: float = 0.0):
            self.a, self.b = a, b

        def __call__(self, x):
            return self.a * x + self.b

        def params(self):
            return {"a": self.a, "b": self.b}

    rebuilt = build_transform(transform_spec(Affine(2.0, 1.0)))
    assert isinstance(rebuilt, Affine) and rebuilt(np.float32(3.0)) == 7.0
    with pytest.raises(ValueError, match="registered twice"):
        register_transform("test_affine")(type("Other", (), {}))
    assert build_transform(None) is None and transform_spec(None) is None

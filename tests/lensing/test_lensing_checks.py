"""Bad lensing config: one clear error naming the key, before anything runs."""

import pytest

from cosmodl.config import check_stages, load_schema, validate_config
from cosmodl.errors import ConfigError


def check(lensing):
    check_stages(validate_config({"stages": ["lensing"], "lensing": lensing}, load_schema()))


@pytest.mark.parametrize("lensing, message", [
    ({"model_a": {"spherical": {"mass": [-1.0e8, 1.0e10]}}}, r"lensing\.model_a\.spherical\.mass.*must be > 0"),
    ({"model_b": {"noise": {"snr": [30, 10]}}}, r"lensing\.model_b\.noise\.snr = \[30, 10\]: the range is reversed"),
    ({"model_a": {"instrument": {"pixel_scale": 0}}},
     r"lensing\.model_a\.instrument\.pixel_scale: 0 is less than or equal to the minimum of 0"),
    ({"model_a": {"z_lens": [0.5, 0.5], "z_source": [0.4, 0.45]}}, r"z_source.*above every lens redshift"),
    ({"model_b": {"lens": {"axis_ratio": [0.5, 1.5]}}}, r"lensing\.model_b\.lens\.axis_ratio.*<= 1"),
    ({"model_a": {"instrument": {"num_pix": 100}}},
     r"lensing\.model_a\.instrument\.num_pix = 100: the anomaly detectors"),
    ({"presets": ["C"]}, r"lensing\.presets"),
    ({"sampling": ["grid"]}, r"lensing\.sampling"),
    ({"substructure": "none"}, r"lensing\.substructure"),
    ({"presets": ["II"], "sampling": ["lattice"], "sizes": {"train": 40, "val": 4, "test": 4}},
     r"lensing\.lattice_values = 5: preset II has 2 ranged parameters in class no_sub, a lattice of 25 points"),
    ({"model_a": {"noise": {"snr": [20, 20], "background_rms": [0.01, 0.01]}}},
     r"lensing\.model_a\.noise\.snr .* give one of them"),
    ({"model_a": {"noise": {"sky": [-0.1, 0.1]}}}, r"lensing\.model_a\.noise\.sky.*must be >= 0"),
    ({"model_i": {"spherical": {"mean_number": 2.5}}, "presets": ["I"]},
     r"lensing\.model_i\.spherical\.mean_number = 2\.5: a fixed number"),
    ({"sizes": {"train": 10}, "train": {"batch_size": 32}}, r"batch is larger than the 10 training images"),
    ({"train_overrides": {"vae": {"lr": -1}}}, r"lensing\.train \(\+ train_overrides\.vae\)\.lr"),
    ({"model_a": {"noise": {"snr": [20]}}}, r"lensing\.model_a\.noise\.snr"),
])
def test_bad_lensing_config_is_one_clear_error(lensing, message):
    with pytest.raises(ConfigError, match=message):
        check(lensing)


def test_defaults_and_the_embedded_presets_pass():
    check({})
    check({"presets": ["A", "B", "I", "II", "III"]})


def test_a_partial_train_section_keeps_the_stage_defaults_of_the_other_keys():
    cfg = validate_config({"lensing": {"train": {"epochs": 3}}}, load_schema())["lensing"]["train"]
    assert cfg["epochs"] == 3 and cfg["optimizer"] == "adam" and cfg["weight_decay"] == 1e-5

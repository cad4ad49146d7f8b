"""Lensing networks through the stage's training function: every one trains, the AAE and RBM resume exactly."""

import os
import signal

import numpy as np
import pytest
import torch
from lensing_configs import small_cfg
from sklearn.metrics import roc_auc_score

from cosmodl.config import merge
from cosmodl.lensing.data import MODELS, MinMax, read_params
from cosmodl.lensing.stage import merge_chunks, simulate_chunk
from cosmodl.lensing.evaluate import evaluate_dataset
from cosmodl.lensing.learn import train_lensing_model
from cosmodl.lensing.simulate import n_chunks_of
from cosmodl.records import load_model
from cosmodl.training import StepContext, TrainingInterrupted


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A preset-A data set of 8 training, 4 validation and 4 test images per class, and its config."""
    out = tmp_path_factory.mktemp("lensing")
    cfg = small_cfg(train=8, val=4, test=4)
    cfg = merge(cfg, {"model": {"latent": 16, "resnet_downsample": 5},
                      "train": {"epochs": 2, "batch_size": 4, "seed": 3}, "baselines": {"pca_components": 4}})
    n = n_chunks_of(cfg["sizes"], cfg["chunk_size"])
    for k in range(n):
        simulate_chunk(cfg, "A", k, out / f"{k}.npy", out / f"{k}.csv")
    merge_chunks([out / f"{k}.npy" for k in range(n)], [out / f"{k}.csv" for k in range(n)], out / "images.npy",
                 out / "params.csv", out / "split.json", cfg["seed"])
    return cfg, out


def train(cfg, data, name, workdir):
    train_lensing_model(cfg, "A", name, data / "images.npy", data / "params.csv", workdir / "model.pt",
                        workdir / "history.csv", workdir / "work", threads=1)
    model, record = load_model(workdir / "model.pt")
    return model, record


def weights(model):
    return torch.cat([t.detach().flatten().double() for t in model.state_dict().values()])


def test_min_max_puts_each_image_in_unit_range():
    x = np.random.default_rng(0).normal(3, 2, (3, 5, 5)).astype(np.float32)
    y = MinMax()(x)
    assert np.allclose(y.min(axis=(1, 2)), 0) and np.allclose(y.max(axis=(1, 2)), 1)


@pytest.mark.slow
def test_every_network_trains_and_the_data_set_is_evaluated(tiny, tmp_path):
    cfg, data = tiny
    paths = {}
    for name in MODELS:
        _, record = train(cfg, data, name, tmp_path / name)
        assert record["summary"]["n_train"] == (24 if name == "resnet" else 8)  # anomaly models: no_sub only
        paths[name] = tmp_path / name / "model.pt"
    doc = evaluate_dataset(cfg, "A", data / "images.npy", data / "params.csv", paths, tmp_path / "eval.json",
                           tmp_path / "scores.npz", threads=1)
    assert set(doc["models"]) == {*MODELS, "pca", "osvm"}
    assert doc["n_test"] == {"no_sub": 4, "spherical": 4, "vortex": 4}
    assert doc["published"]["aae"]["auc_sub"] == 0.93207
    scores = np.load(tmp_path / "scores.npz")
    assert scores["example_input"].shape == (3, 150, 150) and scores["proba_resnet"].shape == (12, 3)
    # the oracles: the AUC of the scores the simulation recorded for these test images
    table = read_params(data / "params.csv")
    test = table[table["split"] == "test"]
    for key, column in (("oracle", "oracle_mse"), ("oracle_chi2", "oracle_chi2")):
        np.testing.assert_array_equal(scores[f"score_{key}"], test[column].to_numpy())
        assert doc[key]["auc"]["sub"] == pytest.approx(
            roc_auc_score(test["class"] != "no_sub", test[column]))
    assert doc["data"]["corner_noise_variance"] < 1e-4


@pytest.mark.slow
def test_a_64_pixel_preset_trains_and_is_evaluated(tmp_path):
    cfg = merge(small_cfg(train=8, val=4, test=4),
                {"presets": ["II"], "model": {"latent": 16, "resnet_downsample": 2},
                 "train": {"epochs": 1, "batch_size": 4}, "baselines": {"pca_components": 4}})
    n = n_chunks_of(cfg["sizes"], cfg["chunk_size"])
    for k in range(n):
        simulate_chunk(cfg, "II", k, tmp_path / f"{k}.npy", tmp_path / f"{k}.csv")
    merge_chunks([tmp_path / f"{k}.npy" for k in range(n)], [tmp_path / f"{k}.csv" for k in range(n)],
                 tmp_path / "images.npy", tmp_path / "params.csv", tmp_path / "split.json", cfg["seed"])
    paths = {}
    for name in ("vae", "rbm", "resnet"):
        train_lensing_model(cfg, "II", name, tmp_path / "images.npy", tmp_path / "params.csv", tmp_path / f"{name}.pt",
                            tmp_path / f"{name}.csv", tmp_path / f"work_{name}", threads=1)
        paths[name] = tmp_path / f"{name}.pt"
    assert load_model(paths["vae"])[1]["model_cfg"]["side"] == 64
    doc = evaluate_dataset(cfg, "II", tmp_path / "images.npy", tmp_path / "params.csv", paths, tmp_path / "eval.json",
                           tmp_path / "scores.npz", threads=1)
    assert np.load(tmp_path / "scores.npz")["example_vae"].shape == (3, 64, 64)
    assert doc["published"]["aae"]["auc_sub"] == 0.99510 and doc["preset"] == "II"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["aae", "rbm"])
def test_model_defined_steps_resume_bit_identically_after_sigterm(name, tiny, tmp_path, monkeypatch):
    cfg, data = tiny
    reference, _ = train(cfg, data, name, tmp_path / "reference")
    start_batch = StepContext.start_batch

    def start_and_kill(self, epoch, batch):
        start_batch(self, epoch, batch)
        if (epoch, batch) == (1, 0):
            os.kill(os.getpid(), signal.SIGTERM)  # as scancel would, in the middle of epoch 2 (of 2 batches)

    with monkeypatch.context() as m:
        m.setattr(StepContext, "start_batch", start_and_kill)
        with pytest.raises(TrainingInterrupted):
            train(cfg, data, name, tmp_path / "interrupted")
    resumed, record = train(cfg, data, name, tmp_path / "interrupted")
    assert torch.equal(weights(resumed), weights(reference))


def test_the_split_record_is_read_and_must_agree_with_the_table(tiny, tmp_path):
    """Training and evaluation take the split from split.json; a record that moves an image to another
    set, or misses one, is refused naming both files."""
    import json

    cfg, data = tiny
    table = read_params(data / "params.csv", data / "split.json")  # the merged pair agrees
    assert len(table) == 48  # (8 + 4 + 4) images of each of 3 classes
    record = json.loads((data / "split.json").read_text())
    moved = dict(record, train=record["train"][1:], test=record["test"] + record["train"][:1])
    (tmp_path / "moved.json").write_text(json.dumps(moved))
    with pytest.raises(ValueError, match=r"moved.json and .*params.csv disagree: 48 images .* 1 in another set"):
        read_params(data / "params.csv", tmp_path / "moved.json")
    short = dict(record, test=record["test"][:-1])
    (tmp_path / "short.json").write_text(json.dumps(short))
    with pytest.raises(ValueError, match="47 images in the split record, 48 rows"):
        read_params(data / "params.csv", tmp_path / "short.json")

"""Toy stand-ins for the lensing, cm21 and specz models go through the shared trainer.

Each one fits, and each one resumes after a SIGTERM in the middle of an epoch with exactly the
weights of an uninterrupted run: integer class targets, a tuple output, three optimisers per
batch, gradients set by hand, 1-D input from a generated dataset.
"""

import os
import signal

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import toys
from cosmodl.models import build_model
from cosmodl.records import load_model, predict, save_model
from cosmodl.training import ArrayDataset, EpochLoader, StepContext, TrainConfig, TrainingInterrupted, fit

NAMES = ["toy_classifier", "toy_vae", "toy_adversarial", "toy_rbm", "toy_spectra"]
CFG = TrainConfig(epochs=3, batch_size=8, lr=5e-3, seed=2, optimizer="adam", weight_decay=0.0)


def flip(x, y, generator):
    """Random left-right flip of images; the target follows when it is the image itself."""
    f = torch.rand(len(x), generator=generator) < 0.5
    xf = torch.where(f[:, None, None, None], x.flip(-1), x)
    return xf, (xf if y is x else y)


def problem(name):
    """(train data, validation data, loss_fn, augment) of a toy."""
    images, labels = toys.image_data()
    if name == "toy_spectra":
        return toys.ToySpectraData(32, seed=1), toys.ToySpectraData(16, seed=1, stream=1, fixed=True), \
            F.cross_entropy, None
    if name == "toy_classifier":
        return (ArrayDataset(images, labels, np.arange(32), target_dtype=np.int64),
                ArrayDataset(images, labels, np.arange(32, 48), target_dtype=np.int64), F.cross_entropy, None)
    loss = toys.vae_loss if name == "toy_vae" else None
    return ArrayDataset(images, None, np.arange(32)), ArrayDataset(images, None, np.arange(32, 48)), loss, flip


def train_toy(name, workdir, cfg=CFG):
    torch.manual_seed(0)
    model = build_model(name)
    train, val, loss_fn, augment = problem(name)
    result = fit(model, train, val, cfg, workdir, workdir / "history.csv", loss_fn=loss_fn, augment=augment,
                 data_fingerprint=name, threads=1)
    return model, result


def weights(model):
    return torch.cat([t.detach().flatten().double() for t in model.state_dict().values()])


@pytest.mark.parametrize("name", NAMES)
def test_toy_model_trains_through_fit(name, tmp_path):
    model, result = train_toy(name, tmp_path / "w")
    losses = [r["train_loss"] for r in result.history]
    assert len(losses) == 3 and losses[-1] < losses[0], losses
    assert np.isfinite(result.best_val_loss)
    header = (tmp_path / "w" / "history.csv").read_text().splitlines()[0].split(",")
    if name == "toy_adversarial":  # every value the model's step returns is in the history
        assert {"train_d_loss", "train_g_loss"} <= set(header)


@pytest.mark.parametrize("name", NAMES)
def test_toy_model_resumes_bit_identically_after_sigterm(name, tmp_path, monkeypatch):
    reference, ref_result = train_toy(name, tmp_path / "reference")
    start_batch = StepContext.start_batch

    def start_and_kill(self, epoch, batch):
        start_batch(self, epoch, batch)
        if (epoch, batch) == (1, 1):
            os.kill(os.getpid(), signal.SIGTERM)  # as scancel would, in the middle of epoch 2

    with monkeypatch.context() as m:
        m.setattr(StepContext, "start_batch", start_and_kill)
        with pytest.raises(TrainingInterrupted):
            train_toy(name, tmp_path / "interrupted")
    resumed, result = train_toy(name, tmp_path / "interrupted")
    assert result.resumed
    assert torch.equal(weights(resumed), weights(reference))
    assert [r["train_loss"] for r in result.history] == [r["train_loss"] for r in ref_result.history]


def test_classifiers_learn_their_classes_and_records_predict_them(tmp_path):
    images, labels = toys.image_data(seed=3)
    for name, inputs in (("toy_classifier", images), ("toy_spectra", None)):
        cfg = TrainConfig(epochs=6, batch_size=8, lr=1e-2, seed=2, optimizer="adam", weight_decay=0.0)
        model, _ = train_toy(name, tmp_path / name, cfg)
        save_model(tmp_path / f"{name}.pt", name, {}, model, classes=toys.N_CLASSES)
        loaded, record = load_model(tmp_path / f"{name}.pt")
        assert record["classes"] == toys.N_CLASSES and not loaded.training
        if inputs is None:
            data = toys.ToySpectraData(64, seed=9, fixed=True)
            batch = [data.sample(data.rng(0, p)) for p in range(64)]
            inputs, labels_ = np.stack([b[0] for b in batch]), np.array([b[1] for b in batch])
        else:
            labels_ = labels
        logits = predict(loaded, inputs, batch_size=16)
        accuracy = np.mean(logits.argmax(axis=1) == labels_)
        assert accuracy > 0.6, (name, accuracy)  # chance is 0.25
        np.testing.assert_allclose(logits, predict(model, inputs, batch_size=7), rtol=1e-4, atol=1e-5)


def test_generated_epoch_is_the_same_for_any_worker_count_and_resumes_at_its_position():
    data = toys.ToySpectraData(40, seed=4)
    batches = {}
    for workers in (0, 2):
        loader = EpochLoader(data, 8, True, num_workers=workers)
        loader.set_epoch(3)
        batches[workers] = [x for x, _ in loader]
    assert len(batches[0]) == 5 and all(torch.equal(a, b) for a, b in zip(batches[0], batches[2]))
    loader = EpochLoader(data, 8, True)
    loader.set_epoch(3, skip=2)
    assert [torch.equal(x, batches[0][i + 2]) for i, (x, _) in enumerate(loader)] == [True] * 3
    loader.set_epoch(4)
    assert not torch.equal(next(iter(loader))[0], batches[0][0])  # a new epoch draws new samples
    halves = []
    for rank in (0, 1):
        loader = EpochLoader(data, 8, True)
        loader.set_shard(rank, 2)
        loader.set_epoch(3)
        halves.append(next(iter(loader))[0])
    assert torch.equal(torch.cat(halves).sort(dim=0).values, batches[0][0].sort(dim=0).values)


@pytest.mark.gpu
@pytest.mark.parametrize("name", NAMES)
def test_toy_model_trains_on_cuda_with_bf16_autocast(name, tmp_path):
    cfg = TrainConfig(epochs=1, batch_size=8, lr=5e-3, seed=2, optimizer="adam", device="cuda")
    model, result = train_toy(name, tmp_path / "w", cfg)
    assert result.device.startswith("cuda") and np.isfinite(result.history[0]["train_loss"])
    assert result.history[0]["peak_memory_mb"] > 0
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)

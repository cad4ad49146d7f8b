"""The shared trainer: resume after an interruption gives the weights of an uninterrupted run."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

from cosmodl.training import ArrayDataset, EpochBatchSampler, TrainConfig, TrainingInterrupted, make_loader, train


def tiny_problem(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.random((40, 8, 8)).astype(np.float32)
    targets = images.mean(axis=(1, 2), keepdims=False)[:, None].astype(np.float32) * 3
    np.save(tmp_path / "images.npy", images)
    train_ds = ArrayDataset(tmp_path / "images.npy", targets, np.arange(32))
    val_ds = ArrayDataset(tmp_path / "images.npy", targets, np.arange(32, 40))
    return make_loader(train_ds, 8, True, seed=3), make_loader(val_ds, 8, False)


def tiny_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(4, 1))


def flip_augment(x, y, generator):
    flip = torch.rand(len(x), generator=generator) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    return x, y


CFG = TrainConfig(epochs=3, batch_size=8, lr=1e-2, threads=1, seed=5)


def run(tmp_path, workdir, kill_at_step=None):
    train_loader, val_loader = tiny_problem(tmp_path)
    model = tiny_model()
    steps = {"n": 0}

    def loss_fn(out, y):
        steps["n"] += 1
        if kill_at_step is not None and steps["n"] == kill_at_step and model.training:
            os.kill(os.getpid(), signal.SIGTERM)  # as scancel / SLURM pre-emption would
        return nn.functional.mse_loss(out, y)

    result = train(model, loss_fn, train_loader, val_loader, CFG, workdir, workdir / "history.csv",
                   fingerprint="f1", augment=flip_augment)
    return model, result


def weights(model):
    return torch.cat([p.detach().flatten() for p in model.state_dict().values() if p.is_floating_point()])


@pytest.mark.parametrize("kill_at_step", [6, 8])  # mid-epoch, and on the last batch of epoch 2
def test_sigterm_saves_and_resume_gives_the_same_weights(tmp_path, kill_at_step):
    reference, ref_result = run(tmp_path, tmp_path / "uninterrupted")
    with pytest.raises(TrainingInterrupted, match="SIGTERM"):
        run(tmp_path, tmp_path / "interrupted", kill_at_step)
    assert (tmp_path / "interrupted" / "checkpoint.pt").exists()
    resumed, result = run(tmp_path, tmp_path / "interrupted")
    assert torch.equal(weights(resumed), weights(reference))
    assert [r["val_loss"] for r in result.history] == [r["val_loss"] for r in ref_result.history]
    assert result.history[-1]["epoch"] == 3 and len((tmp_path / "interrupted/history.csv").read_text().splitlines()) == 4


def test_checkpoint_of_another_config_is_not_resumed(tmp_path):
    run(tmp_path, tmp_path / "w")
    train_loader, val_loader = tiny_problem(tmp_path)
    model = tiny_model()
    result = train(model, nn.functional.mse_loss, train_loader, val_loader, CFG, tmp_path / "w",
                   tmp_path / "w" / "h.csv", fingerprint="other")
    assert len(result.history) == 3  # trained afresh rather than returning the finished run


def test_training_reduces_the_loss_and_keeps_the_best_epoch(tmp_path):
    model, result = run(tmp_path, tmp_path / "w")
    losses = [r["train_loss"] for r in result.history]
    assert losses[-1] < losses[0]
    assert result.best_val_loss == min(r["val_loss"] for r in result.history)


def test_batches_depend_only_on_seed_and_epoch_and_skip_resumes_inside_an_epoch():
    sampler = EpochBatchSampler(10, 3, seed=1)
    sampler.set_epoch(2)
    full = list(sampler)
    assert len(full) == 3 and sorted(sum(full, [])) != list(range(9))  # shuffled, short batch dropped
    sampler.set_epoch(2, skip=1)
    assert list(sampler) == full[1:]
    sampler.set_epoch(3)
    assert list(sampler) != full


def test_batched_fetch_keeps_the_requested_order(tmp_path):
    data = np.arange(20, dtype=np.float32).reshape(5, 2, 2)
    np.save(tmp_path / "x.npy", data)
    ds = ArrayDataset(tmp_path / "x.npy", np.arange(5, dtype=np.float32), np.array([4, 0, 2]))
    x, y = ds.__getitems__([2, 0, 1])
    assert x.shape == (3, 1, 2, 2) and y.tolist() == [2.0, 4.0, 0.0]
    assert torch.equal(x[1, 0], torch.from_numpy(data[4]))


SCRIPT = textwrap.dedent("""
    import sys, time, numpy as np, torch
    from torch import nn
    sys.path.insert(0, {tests!r})
    from test_trainer import tiny_problem, tiny_model, CFG
    from cosmodl.training import train, TrainingInterrupted
    from pathlib import Path
    tmp = Path({tmp!r})
    train_loader, val_loader = tiny_problem(tmp)
    def slow_loss(out, y):
        (tmp / "started").touch()
        time.sleep(0.2)
        return nn.functional.mse_loss(out, y)
    try:
        train(tiny_model(), slow_loss, train_loader, val_loader, CFG, tmp / "w", tmp / "h.csv", "f")
    except TrainingInterrupted as exc:
        print(exc)
        sys.exit(128 + exc.signum)
""")


def test_external_sigterm_exits_non_zero_with_a_checkpoint(tmp_path):
    tests_dir = os.path.dirname(__file__)
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT.format(tests=tests_dir, tmp=str(tmp_path))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(600):
        if (tmp_path / "started").exists():
            break
        if proc.poll() is not None:
            break
        import time
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err[-2000:]
    assert "rerun to resume" in out
    assert (tmp_path / "w" / "checkpoint.pt").exists()

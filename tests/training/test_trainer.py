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

from cosmodl.errors import ConfigError
from cosmodl.training import ArrayDataset, EpochBatchSampler, TrainConfig, TrainingInterrupted, fit


def tiny_problem(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.random((40, 8, 8)).astype(np.float32)
    targets = images.mean(axis=(1, 2), keepdims=False)[:, None].astype(np.float32) * 3
    np.save(tmp_path / "images.npy", images)
    train_ds = ArrayDataset(tmp_path / "images.npy", targets, np.arange(32))
    val_ds = ArrayDataset(tmp_path / "images.npy", targets, np.arange(32, 40))
    return train_ds, val_ds


def tiny_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(4, 1))


def flip_augment(x, y, generator):
    flip = torch.rand(len(x), generator=generator) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    return x, y


CFG = TrainConfig(epochs=3, batch_size=8, lr=1e-2, seed=5)


def run(tmp_path, workdir, kill_at_step=None, cfg=CFG):
    train_ds, val_ds = tiny_problem(tmp_path)
    model = tiny_model()
    steps = {"n": 0}

    def loss_fn(out, y):
        steps["n"] += 1
        if kill_at_step is not None and steps["n"] == kill_at_step and model.training:
            os.kill(os.getpid(), signal.SIGTERM)  # as scancel / SLURM pre-emption would
        return nn.functional.mse_loss(out, y)

    result = fit(model, train_ds, val_ds, cfg, workdir, workdir / "history.csv", loss_fn=loss_fn,
                 augment=flip_augment, data_fingerprint="f1", threads=1)
    return model, result


def weights(model):
    return torch.cat([p.detach().flatten() for p in model.state_dict().values() if p.is_floating_point()])


@pytest.mark.parametrize("kill_at_step", [6, 8])  # first and third batch of epoch 2
def test_sigterm_saves_and_resume_gives_the_same_weights(tmp_path, kill_at_step):
    reference, ref_result = run(tmp_path, tmp_path / "uninterrupted")
    with pytest.raises(TrainingInterrupted, match="SIGTERM"):
        run(tmp_path, tmp_path / "interrupted", kill_at_step)
    assert (tmp_path / "interrupted" / "checkpoint.pt").exists()
    resumed, result = run(tmp_path, tmp_path / "interrupted")
    assert result.resumed
    assert torch.equal(weights(resumed), weights(reference))
    assert [r["val_loss"] for r in result.history] == [r["val_loss"] for r in ref_result.history]
    assert [r["train_loss"] for r in result.history] == [r["train_loss"] for r in ref_result.history]
    assert result.history[-1]["epoch"] == 3 and len((tmp_path / "interrupted/history.csv").read_text().splitlines()) == 4


def test_checkpoint_of_another_config_is_not_resumed(tmp_path):
    """A finished run's checkpoint in the workdir, then another lr: must train afresh, not reuse the weights."""
    other = TrainConfig(epochs=3, batch_size=8, lr=3e-3, seed=5)
    run(tmp_path, tmp_path / "w")  # leaves its final checkpoint behind
    changed, result = run(tmp_path, tmp_path / "w", cfg=other)
    fresh, _ = run(tmp_path, tmp_path / "fresh", cfg=other)
    assert not result.resumed and len(result.history) == 3
    assert torch.equal(weights(changed), weights(fresh))


def test_checkpoint_of_other_data_is_not_resumed(tmp_path, caplog):
    run(tmp_path, tmp_path / "w")
    train_ds, val_ds = tiny_problem(tmp_path)
    model = tiny_model()
    result = fit(model, train_ds, val_ds, CFG, tmp_path / "w", tmp_path / "w" / "h.csv",
                 loss_fn=nn.functional.mse_loss, data_fingerprint="other data", threads=1)
    assert not result.resumed and "made from other data" in caplog.text


def test_finished_run_is_not_trained_again_and_its_outputs_can_be_rewritten(tmp_path):
    """Snakemake may reject outputs of a finished job (interrupted): rerunning takes the final checkpoint."""
    model, first = run(tmp_path, tmp_path / "w")
    assert (tmp_path / "w" / "FINISHED").exists()
    (tmp_path / "w" / "history.csv").unlink()
    again, second = run(tmp_path, tmp_path / "w", kill_at_step=1)  # a training step would be killed
    assert second.resumed and torch.equal(weights(again), weights(model))
    assert (tmp_path / "w" / "history.csv").read_text().count("\n") == 4


def test_training_reduces_the_loss_and_keeps_the_best_epoch(tmp_path):
    model, result = run(tmp_path, tmp_path / "w")
    losses = [r["train_loss"] for r in result.history]
    assert losses[-1] < losses[0]
    assert result.best_val_loss == min(r["val_loss"] for r in result.history)
    header = (tmp_path / "w" / "history.csv").read_text().splitlines()[0]
    assert header == "epoch,train_loss,val_loss,lr,samples_per_s,seconds,peak_memory_mb"
    assert all(r["samples_per_s"] > 0 and r["peak_memory_mb"] > 10 for r in result.history)


def test_early_stopping_stops_after_patience_epochs_without_improvement(tmp_path):
    train_ds, val_ds = tiny_problem(tmp_path)  # one validation batch per epoch
    planted = iter([1.0, 0.5, 0.6, 0.55, 0.4, 0.3])  # best at epoch 2, then two epochs without improvement
    model = tiny_model()

    def loss_fn(out, y):
        value = nn.functional.mse_loss(out, y)
        return value if model.training else value * 0 + next(planted)

    cfg = TrainConfig(epochs=6, batch_size=8, seed=5, patience=2)
    result = fit(model, train_ds, val_ds, cfg, tmp_path / "w", tmp_path / "h.csv", loss_fn=loss_fn, threads=1)
    assert [r["val_loss"] for r in result.history] == pytest.approx([1.0, 0.5, 0.6, 0.55])
    assert result.best_epoch == 2 and result.best_val_loss == pytest.approx(0.5)
    summary = result.summary(cfg)  # what the model records (and the stages' metrics) say of the run
    assert (summary["epochs"], summary["max_epochs"], summary["best_epoch"]) == (4, 6, 2)


def test_batch_larger_than_the_training_set_is_a_config_error(tmp_path):
    train_ds, val_ds = tiny_problem(tmp_path)
    with pytest.raises(ConfigError, match="batch_size: 64 is larger than the training set"):
        fit(tiny_model(), train_ds, val_ds, TrainConfig(batch_size=64), tmp_path / "w", tmp_path / "h.csv",
            loss_fn=nn.functional.mse_loss, threads=1)


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


def test_integer_targets_stay_integers_and_no_targets_means_the_input(tmp_path):
    data = np.arange(12, dtype=np.float32).reshape(3, 4)
    labels = np.array([2, 0, 1], np.int16)
    x, y = ArrayDataset(data, labels, target_dtype=np.int64).__getitems__([0, 2])
    assert x.shape == (2, 1, 4) and y.dtype == torch.int64 and y.tolist() == [2, 1]
    x, y = ArrayDataset(data, None, input_transform=lambda a: a * 2).__getitems__([1])
    assert y is x and torch.equal(x[0, 0], torch.tensor([8.0, 10.0, 12.0, 14.0]))


SCRIPT = textwrap.dedent("""
    import sys, time, numpy as np, torch
    from torch import nn
    sys.path.insert(0, {tests!r})
    from test_trainer import tiny_problem, tiny_model, CFG
    from cosmodl.training import fit, TrainingInterrupted
    from pathlib import Path
    tmp = Path({tmp!r})
    train_ds, val_ds = tiny_problem(tmp)
    def slow_loss(out, y):
        (tmp / "started").touch()
        time.sleep(0.2)
        return nn.functional.mse_loss(out, y)
    try:
        fit(tiny_model(), train_ds, val_ds, CFG, tmp / "w", tmp / "h.csv", loss_fn=slow_loss, data_fingerprint="f")
    except TrainingInterrupted as exc:
        print(exc)
        sys.exit(128 + exc.signum)
""")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_external_signal_exits_non_zero_with_a_checkpoint(tmp_path, sig):
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
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err[-2000:]
    assert "rerun to resume" in out
    assert (tmp_path / "w" / "checkpoint.pt").exists()


def test_a_run_resumed_with_another_thread_count_continues_with_the_one_it_started_with(tmp_path):
    """CPU convolution gradients depend on the thread count in their last bits; training amplifies them.

    Interrupted with 2 threads and resumed on a job with 1 (a SLURM retry on another node), the
    run must still end with the weights of the uninterrupted 2-thread run.
    """
    rng = np.random.default_rng(1)
    images = rng.random((48, 32, 32)).astype(np.float32)
    targets = images.mean(axis=(1, 2))[:, None] * 3

    def model():
        torch.manual_seed(0)
        return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                             nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                             nn.Linear(16, 1))

    def train(workdir, threads, kill=False):
        net, calls = model(), {"n": 0}

        def loss_fn(out, y):
            calls["n"] += 1
            if kill and calls["n"] == 7 and net.training:
                os.kill(os.getpid(), signal.SIGTERM)
            return nn.functional.mse_loss(out, y)

        cfg = TrainConfig(epochs=3, batch_size=8, lr=1e-2, seed=5, augment=False)
        fit(net, ArrayDataset(images, targets, np.arange(40)), ArrayDataset(images, targets, np.arange(40, 48)), cfg,
            workdir, workdir / "h.csv", loss_fn=loss_fn, data_fingerprint="t", threads=threads)
        return net

    try:
        two, one = train(tmp_path / "two", 2), train(tmp_path / "one", 1)
        assert not torch.equal(weights(two), weights(one))  # the thread count matters here
        with pytest.raises(TrainingInterrupted):
            train(tmp_path / "resumed", 2, kill=True)
        resumed = train(tmp_path / "resumed", 1)
        assert torch.equal(weights(resumed), weights(two))
    finally:
        torch.set_num_threads(1)


def test_validation_metrics_are_averaged_over_the_validation_set_into_the_history(tmp_path):
    """val_metrics: per-batch values weighted by batch size give the metric on the whole validation set."""
    from cosmodl.training import accuracy

    rng = np.random.default_rng(1)
    images = rng.random((43, 8, 8)).astype(np.float32)
    labels = (images.mean(axis=(1, 2)) > 0.5).astype(np.int64)
    np.save(tmp_path / "x.npy", images)
    train = ArrayDataset(tmp_path / "x.npy", labels, np.arange(30), target_dtype=np.int64)
    val = ArrayDataset(tmp_path / "x.npy", labels, np.arange(30, 43), target_dtype=np.int64)  # batches of 4, 4, 4, 1
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
    cfg = TrainConfig(epochs=2, batch_size=4, optimizer="adam", lr=0.01, augment=False)
    result = fit(model, train, val, cfg, tmp_path / "w", tmp_path / "h.csv", loss_fn=nn.functional.cross_entropy,
                 val_metrics={"accuracy": accuracy}, threads=1)
    model.eval()
    with torch.no_grad():
        predicted = model(torch.from_numpy(images[30:43])).argmax(dim=1).numpy()
    best = next(r for r in result.history if r["epoch"] == result.best_epoch)  # the weights fit keeps
    assert best["val_accuracy"] == pytest.approx(np.mean(predicted == labels[30:43]))
    assert "val_accuracy" in (tmp_path / "h.csv").read_text().splitlines()[0]

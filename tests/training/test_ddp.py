"""DistributedDataParallel on CPU (gloo, 2 processes via torchrun) gives the single-process weights."""

import subprocess
import sys
import textwrap

import pytest
import torch

SCRIPT = textwrap.dedent("""
    import os, sys, numpy as np, torch
    from torch import nn
    from cosmodl.training import ArrayDataset, TrainConfig, make_loader, train
    out = sys.argv[1]
    rng = np.random.default_rng(0)
    images = rng.random((48, 8, 8)).astype(np.float32)
    targets = (images.mean(axis=(1, 2)) * 3)[:, None].astype(np.float32)
    train_loader = make_loader(ArrayDataset(images, targets, np.arange(40)), 8, True, seed=3)
    val_loader = make_loader(ArrayDataset(images, targets, np.arange(40, 48)), 8, False)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(4, 1))
    cfg = TrainConfig(epochs=2, batch_size=8, lr=1e-2, threads=1, seed=5, augment=False)
    result = train(model, nn.functional.mse_loss, train_loader, val_loader, cfg, out + "_work", out + ".csv", "f")
    if int(os.environ.get("RANK", "0")) == 0:
        torch.save(model.state_dict(), out + ".pt")
""")


@pytest.mark.slow
def test_two_gloo_processes_match_one_process(tmp_path):
    script = tmp_path / "fit.py"
    script.write_text(SCRIPT)
    single = subprocess.run([sys.executable, str(script), str(tmp_path / "single")], capture_output=True, text=True)
    assert single.returncode == 0, single.stderr[-3000:]
    ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          str(script), str(tmp_path / "ddp")], capture_output=True, text=True, timeout=300)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    a, b = torch.load(tmp_path / "single.pt"), torch.load(tmp_path / "ddp.pt")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)
    torch.manual_seed(0)
    initial = torch.nn.Conv2d(1, 4, 3, padding=1)
    assert not torch.allclose(initial.weight, a["0.weight"])  # the weights did train
    assert (tmp_path / "ddp.csv").read_text().count("\n") == 3  # header + 2 epochs, written once

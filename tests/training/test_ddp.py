"""Data-parallel training on CPU (gloo, 2 processes via torchrun) gives the single-process weights."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

SCRIPT = textwrap.dedent("""
    import os, sys, numpy as np, torch
    from torch import nn
    sys.path.insert(0, {tests!r})
    from cosmodl.training import ArrayDataset, TrainConfig, fit
    out, kind = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(0)
    images = rng.random((48, 8, 8)).astype(np.float32)
    targets = (images.mean(axis=(1, 2)) * 3)[:, None].astype(np.float32)
    torch.manual_seed(0)
    if kind == "default":
        train, val = ArrayDataset(images, targets, np.arange(40)), ArrayDataset(images, targets, np.arange(40, 48))
        model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                              nn.Linear(4, 1))
        loss_fn = nn.functional.mse_loss
    else:  # three optimisers per batch, the model's own step
        import toys
        train, val = ArrayDataset(images, None, np.arange(40)), ArrayDataset(images, None, np.arange(40, 48))
        model, loss_fn = toys.ToyAdversarial(), None
    initial = {{k: v.clone() for k, v in model.state_dict().items()}}
    cfg = TrainConfig(epochs=2, batch_size=8, lr=1e-2, seed=5, augment=False)
    fit(model, train, val, cfg, out + "_work", out + ".csv", loss_fn=loss_fn, data_fingerprint="f", threads=1)
    if int(os.environ.get("RANK", "0")) == 0:
        torch.save(model.state_dict(), out + ".pt")
        torch.save(initial, out + "_initial.pt")
""")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["default", "adversarial"])
def test_two_gloo_processes_match_one_process(tmp_path, kind):
    script = tmp_path / "fit.py"
    script.write_text(SCRIPT.format(tests=str(Path(__file__).parent)))
    single = subprocess.run([sys.executable, str(script), str(tmp_path / "single"), kind], capture_output=True,
                            text=True)
    assert single.returncode == 0, single.stderr[-3000:]
    ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          str(script), str(tmp_path / "ddp"), kind], capture_output=True, text=True, timeout=300)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    a, b = torch.load(tmp_path / "single.pt"), torch.load(tmp_path / "ddp.pt")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)
    initial = torch.load(tmp_path / "single_initial.pt")
    assert not all(torch.allclose(initial[k], a[k]) for k in a)  # the weights did train
    assert (tmp_path / "ddp.csv").read_text().count("\n") == 3  # header + 2 epochs, written once

"""The shared training loop: checkpoints every epoch, automatic resume, pre-emption, metrics CSV.

Resume contract
---------------
``train`` writes ``<workdir>/checkpoint.pt`` at the end of every epoch and when it receives
SIGTERM or SIGUSR1 (SLURM pre-emption, ``scancel``), then raises :class:`TrainingInterrupted`
(the script exits non-zero). A later call with the same ``fingerprint`` resumes from the
checkpoint: model, optimizer, scheduler, early-stopping state, and the position inside the
epoch. Batch order and augmentation depend only on (seed, epoch, batch), so on CPU a resumed
run ends with the same weights as an uninterrupted one. A checkpoint with another fingerprint
(changed config or data) is ignored and training starts afresh.
"""

from __future__ import annotations

import copy
import csv
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from .device import autocast_context, memory_format, pick_device

log = logging.getLogger(__name__)
HISTORY_FIELDS = ["epoch", "train_loss", "val_loss", "lr", "images_per_s", "seconds"]


class TrainingInterrupted(RuntimeError):
    """Raised after a pre-emption signal once the checkpoint is saved; rerun to resume."""

    def __init__(self, signum: int, checkpoint: Path):
        super().__init__(f"received signal {signal.Signals(signum).name}; state saved to {checkpoint}, "
                         f"rerun to resume")
        self.signum = signum


@dataclass
class TrainConfig:
    """Trainer settings (the ``train`` section of a stage's config)."""

    epochs: int = 10
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    augment: bool = True
    patience: int = 0
    num_workers: int = 0
    device: str = "auto"
    seed: int = 0
    threads: int | None = None

    @classmethod
    def from_config(cls, section: dict, threads: int | None = None) -> "TrainConfig":
        known = {k: v for k, v in section.items() if k in cls.__dataclass_fields__}
        return cls(threads=threads, **known)


@dataclass
class TrainResult:
    """What :func:`train` returns: the best-validation weights are loaded into the model."""

    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best_val_loss: float = float("inf")
    device: str = "cpu"


class _Distributed:
    """torch.distributed state when launched by torchrun (WORLD_SIZE > 1), else a single process."""

    def __init__(self, device_type: str):
        import torch.distributed as dist

        self.dist = dist
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def any(self, flag: bool) -> bool:
        """True on every process if ``flag`` is True on any (one collective call)."""
        if self.world == 1:
            return flag
        t = torch.tensor([1.0 if flag else 0.0])
        self.dist.all_reduce(t)
        return bool(t.item() > 0)

    def mean(self, value: float) -> float:
        if self.world == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64)
        self.dist.all_reduce(t)
        return float(t.item()) / self.world

    def wrap(self, model: nn.Module, device: torch.device) -> nn.Module:
        if self.world == 1:
            return model
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


class _SignalFlag:
    """Records SIGTERM / SIGUSR1 instead of dying, so the loop can save first."""

    SIGNALS = (signal.SIGTERM, signal.SIGUSR1)

    def __init__(self):
        self.signum = None
        self._previous = {}

    def __enter__(self):
        for sig in self.SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.signum = signum

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _save_atomic(obj, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _write_history(history: list[dict], path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=HISTORY_FIELDS)
        writer.writeheader()
        writer.writerows(history)
    os.replace(tmp, path)


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _progress(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, file=sys.stderr, ascii=True, mininterval=5.0,
                disable=os.environ.get("COSMODL_PROGRESS", "1") == "0")


def evaluate_loss(model: nn.Module, loader, loss_fn: Callable, device: torch.device) -> float:
    """Mean loss per sample over ``loader`` in eval mode."""
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for x, y in loader:
            x = x.to(device, non_blocking=True).contiguous(memory_format=memory_format(device))
            y = y.to(device, non_blocking=True)
            with autocast_context(device):
                out = model(x)
            total += float(loss_fn(out.float(), y)) * len(x)
            count += len(x)
    return total / max(count, 1)


def train_step(net: nn.Module, optimizer, loss_fn: Callable, x: torch.Tensor, y: torch.Tensor,
               device: torch.device, augment: Callable | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """One optimisation step: move the batch, augment, forward (autocast on CUDA), backward, step.

    Parameters
    ----------
    x : tensor (B, 1, H, W); y : tensor (B, ...)
    augment : callable, optional
        ``augment(x, y, generator) -> (x, y)``.

    Returns
    -------
    The batch loss, detached (a 0-d tensor on ``device``).
    """
    x = x.to(device, non_blocking=True)
    y = y.to(device, non_blocking=True)
    if augment is not None:
        x, y = augment(x, y, generator)
    x = x.contiguous(memory_format=memory_format(device))
    with autocast_context(device):
        out = net(x)
    loss = loss_fn(out.float(), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


def train(model: nn.Module, loss_fn: Callable, train_loader, val_loader, cfg: TrainConfig, workdir: str | Path,
          history_path: str | Path, fingerprint: str = "", augment: Callable | None = None) -> TrainResult:
    """Fit ``model`` with AdamW and a one-cycle schedule; resume from ``workdir/checkpoint.pt``.

    Parameters
    ----------
    model : nn.Module
        Maps a batch ``(B, 1, H, W)`` to the output ``loss_fn`` expects.
    loss_fn : callable
        ``loss_fn(output, target) -> scalar`` (mean over the batch).
    train_loader, val_loader : DataLoader
        From :func:`cosmodl.training.make_loader`; the training loader's batch sampler must be an
        :class:`~cosmodl.training.EpochBatchSampler`.
    cfg : TrainConfig
    workdir : path
        Holds ``checkpoint.pt`` while training runs (kept after an interruption).
    history_path : path
        Per-epoch CSV: epoch, train_loss, val_loss, lr, images_per_s, seconds.
    fingerprint : str
        Identifies config and data; a checkpoint with another fingerprint is not resumed.
    augment : callable, optional
        ``augment(x, y, generator) -> (x, y)`` applied to training batches when ``cfg.augment``.

    Returns
    -------
    TrainResult
        The model holds the weights of the epoch with the lowest validation loss.

    Notes
    -----
    Under ``torchrun`` (``WORLD_SIZE`` > 1) the model is wrapped in DistributedDataParallel
    (NCCL on CUDA, gloo on CPU); each process takes ``batch[rank::world]`` of every global batch,
    every process evaluates the whole validation set, and only rank 0 writes files.
    """
    workdir, history_path = Path(workdir), Path(history_path)
    workdir.mkdir(parents=True, exist_ok=True)
    history_path.parent.mkdir(parents=True, exist_ok=True)
    device = pick_device(cfg.device, cfg.threads)
    ddp = _Distributed(device.type)
    if device.type == "cuda" and ddp.world > 1:
        device = torch.device("cuda", ddp.local_rank)
        torch.cuda.set_device(device)
    sampler = train_loader.batch_sampler
    sampler.set_shard(ddp.rank, ddp.world)
    steps = sampler.batches_per_epoch()
    if steps == 0:
        raise ConfigError(f"train.batch_size: {cfg.batch_size} is larger than the training set "
                          f"({sampler.n} samples)")
    torch.manual_seed(cfg.seed)
    model.to(device, memory_format=memory_format(device))
    net = ddp.wrap(model, device)  # what the steps call; ``model`` holds the weights we save
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=cfg.epochs * steps,
                                                    pct_start=0.2)
    state = {"epoch": 0, "batch": 0, "history": [], "best_val": float("inf"), "best_epoch": 0,
             "best_state": None, "bad_epochs": 0, "running_loss": 0.0, "running_count": 0}
    checkpoint = workdir / "checkpoint.pt"
    if checkpoint.exists():
        saved = torch.load(checkpoint, map_location="cpu", weights_only=False)
        if saved.get("fingerprint") == fingerprint:
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            scheduler.load_state_dict(saved["scheduler"])
            _set_rng_state(saved["rng"])
            state = saved["state"]
            log.info("resumed from %s at epoch %d batch %d", checkpoint, state["epoch"], state["batch"])
        else:
            log.warning("ignoring %s: it belongs to another config or data set", checkpoint)

    def save():
        if not ddp.main:
            return
        _save_atomic({"fingerprint": fingerprint, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                      "scheduler": scheduler.state_dict(), "rng": _rng_state(), "state": state}, checkpoint)

    with _SignalFlag() as flag:
        while state["epoch"] < cfg.epochs and not _early_stopped(state, cfg):
            epoch = state["epoch"]
            sampler.set_epoch(epoch, skip=state["batch"])
            net.train()
            t0, n_images = time.perf_counter(), 0
            bar = _progress(steps, f"epoch {epoch + 1}/{cfg.epochs}")
            bar.update(state["batch"])
            for x, y in train_loader:
                if ddp.any(flag.signum is not None):
                    save()
                    raise TrainingInterrupted(flag.signum or signal.SIGTERM, checkpoint)
                generator = None
                if augment is not None and cfg.augment:
                    generator = torch.Generator().manual_seed(_batch_seed(cfg.seed, epoch, state["batch"]))
                loss = train_step(net, optimizer, loss_fn, x, y, device, augment if generator else None, generator)
                scheduler.step()
                state["running_loss"] += float(loss) * len(x)
                state["running_count"] += len(x)
                state["batch"] += 1
                n_images += len(x) * ddp.world
                bar.update(1)
            bar.close()
            seconds = time.perf_counter() - t0
            val_loss = evaluate_loss(model, val_loader, loss_fn, device)
            train_loss = ddp.mean(state["running_loss"] / max(state["running_count"], 1))
            row = {"epoch": epoch + 1, "train_loss": train_loss,
                   "val_loss": val_loss, "lr": scheduler.get_last_lr()[0],
                   "images_per_s": n_images / seconds if seconds > 0 else float("nan"), "seconds": seconds}
            state["history"].append(row)
            log.info("epoch %d: train %.5f val %.5f lr %.2e %.1f images/s", row["epoch"], row["train_loss"],
                     val_loss, row["lr"], row["images_per_s"])
            if val_loss < state["best_val"]:
                state.update(best_val=val_loss, best_epoch=epoch + 1, bad_epochs=0,
                             best_state={k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
            else:
                state["bad_epochs"] += 1
            state.update(epoch=epoch + 1, batch=0, running_loss=0.0, running_count=0)
            save()
            if ddp.main:
                _write_history(state["history"], history_path)
    if state["best_state"] is not None:
        model.load_state_dict(state["best_state"])
    return TrainResult(history=copy.deepcopy(state["history"]), best_epoch=state["best_epoch"],
                       best_val_loss=state["best_val"], device=str(device))


def _batch_seed(seed: int, epoch: int, batch: int) -> int:
    """Seed of one training batch's augmentation: a function of (seed, epoch, batch) only."""
    return int(np.random.SeedSequence([seed, epoch, batch]).generate_state(1)[0])


def _early_stopped(state: dict, cfg: TrainConfig) -> bool:
    return cfg.patience > 0 and state["bad_epochs"] >= cfg.patience

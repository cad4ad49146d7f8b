"""The training loop every stage uses: ``fit`` over ``train_one_epoch`` and ``evaluate``.

What the loop owns
------------------
Device and threads, CUDA bf16 autocast, data-parallel processes (torchrun), the batches of each
epoch, checkpoints every epoch and on SIGTERM/SIGUSR1/SIGINT, resume, the weights of the best
validation epoch, early stopping, the per-epoch history CSV (losses, learning rate, samples/s,
peak memory) and progress bars.

What a model may own
--------------------
By default a model maps a batch's input to an output (a tensor, or a tuple or dict of tensors)
and ``loss_fn(output, target)`` gives the loss; one optimiser and one schedule come from the
registries by name (``train.optimizer``, ``train.scheduler``). A model that needs more (an
adversarial autoencoder's three optimisers, an RBM's contrastive divergence) defines

``configure_optimizers(cfg, total_steps) -> {name: optimizer or (optimizer, schedule)}``
    optional; default: one optimiser ``"main"`` over all parameters;
``training_step(batch, ctx, optimizers) -> {name: 0-d tensor}``
    does its own forward and backward passes through ``ctx.optimizer_step(loss, optimizer)``
    (which averages gradients over processes, clips and steps) and returns at least ``"loss"``;
``validation_step(batch, ctx) -> {name: 0-d tensor}``
    returns at least ``"loss"``, the quantity the best epoch is chosen by.

Every value a step returns is averaged over the epoch and written to the history
(``train_<name>``, ``val_<name>``). Schedules are stepped by the loop after every step.

Reproducibility
---------------
On one machine, a CPU run is reproduced exactly with the same number of torch threads; another
thread count changes the last bits of convolution weight gradients, and training amplifies them
(the thread count is in the checkpoint, and a resumed run keeps it). Batch order depends only
on (seed, epoch); before every step the global torch RNG is seeded from (seed, epoch, batch,
rank) and ``ctx.generator`` (for augmentation) from (seed, epoch, batch), so dropout, sampled
latents and augmentation do not depend on what ran before. A checkpoint holds the position
inside the epoch; on CPU a resumed run therefore ends with exactly the weights of an
uninterrupted one. A checkpoint whose config or data fingerprint differs is not resumed.
"""

from __future__ import annotations

import copy
import csv
import logging
import os
import resource
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
from ..io import atomic_output
from .checkpoint import (
    FINISHED,
    StopSignals,
    TrainingInterrupted,
    load_checkpoint,
    mark_finished,
    save_checkpoint,
    set_rng_state,
)
from .config import TrainConfig
from .data import EpochLoader
from .device import as_float, autocast_context, model_to_device, pick_device, to_memory_format
from .distributed import Distributed
from .optim import build_optimizer, build_scheduler

log = logging.getLogger(__name__)
HISTORY_FIELDS = ["epoch", "train_loss", "val_loss", "lr", "samples_per_s", "seconds", "peak_memory_mb"]
CHECKPOINT = "checkpoint.pt"


@dataclass
class TrainResult:
    """What :func:`fit` returns; the model then holds the weights of its best validation epoch."""

    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best_val_loss: float = float("inf")
    device: str = "cpu"
    resumed: bool = False
    threads: int = 1  # CPU threads of torch: CPU results depend on it (see :func:`_keep_thread_count`)

    def summary(self, cfg: TrainConfig) -> dict:
        """What a model record says of its training: ``epochs`` trained (fewer than ``max_epochs``
        when early stopping ended the run), the best epoch and its validation loss, device, threads."""
        return {"epochs": len(self.history), "max_epochs": cfg.epochs, "best_epoch": self.best_epoch,
                "best_val_loss": self.best_val_loss, "device": self.device, "threads": self.threads}


def batch_seed(seed: int, epoch: int, batch: int, *stream: int) -> int:
    """A seed that is a function of (seed, epoch, batch[, stream...]) only."""
    return int(np.random.SeedSequence([seed, epoch, batch, *stream]).generate_state(1)[0])


class StepContext:
    """What a training or validation step needs from the loop.

    Attributes
    ----------
    device : torch.device
    cfg : TrainConfig
    generator : torch.Generator or None
        CPU generator seeded from (seed, epoch, batch) for the current training batch.
    epoch, batch : int
        Position of the current training batch.
    world, rank : int
        Processes of a data-parallel run and this one's rank.
    """

    def __init__(self, device: torch.device, cfg: TrainConfig, dist: Distributed, augment: Callable | None = None):
        self.device, self.cfg, self.dist = device, cfg, dist
        self.world, self.rank = dist.world, dist.rank
        self._augment = augment if cfg.augment else None
        self.generator: torch.Generator | None = None
        self.epoch = self.batch = 0

    def start_batch(self, epoch: int, batch: int) -> None:
        """Seed the global RNG and ``generator`` for training batch ``batch`` of ``epoch``."""
        self.epoch, self.batch = epoch, batch
        torch.manual_seed(batch_seed(self.cfg.seed, epoch, batch, 1, self.rank))
        self.generator = torch.Generator().manual_seed(batch_seed(self.cfg.seed, epoch, batch))

    def randn(self, n: int, *shape: int) -> torch.Tensor:
        """Standard normal draws for this process's ``n`` samples of the batch, on the device.

        Drawn for the whole global batch from ``generator`` and sharded like the data
        (``[rank::world]``), so a data-parallel run draws what a single process would.
        """
        draws = torch.randn((n * self.world, *shape), generator=self.generator)
        return draws[self.rank::self.world].to(self.device)

    def to_device(self, batch):
        """Tensors of a batch (tensor, tuple, list or dict) moved to the device."""
        if isinstance(batch, torch.Tensor):
            return batch.to(self.device, non_blocking=True)
        if isinstance(batch, (tuple, list)):
            return type(batch)(self.to_device(b) for b in batch)
        if isinstance(batch, dict):
            return {k: self.to_device(v) for k, v in batch.items()}
        return batch

    def layout(self, x: torch.Tensor) -> torch.Tensor:
        """channels_last for 4-D batches on CUDA, contiguous otherwise."""
        return to_memory_format(x, self.device)

    def autocast(self):
        """bf16 autocast on CUDA, nothing on CPU."""
        return autocast_context(self.device)

    def augment(self, x: torch.Tensor, y):
        """The stage's augmentation of a training batch (when ``train.augment``), drawn from ``generator``."""
        if self._augment is None or self.generator is None:
            return x, y
        return self._augment(x, y, self.generator)

    def optimizer_step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        """Zero the optimiser's gradients, backpropagate ``loss``, then :meth:`step`."""
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.step(optimizer)

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        """Step ``optimizer`` with the gradients its parameters hold (from ``backward`` or set by hand).

        The gradients are first averaged over the processes of a data-parallel run, then clipped
        to ``train.clip_grad_norm`` if set.
        """
        params = [p for group in optimizer.param_groups for p in group["params"]]
        self.dist.average_gradients(params)
        if self.cfg.clip_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(params, self.cfg.clip_grad_norm)
        optimizer.step()


def supervised_step(model: nn.Module, batch, ctx: StepContext, optimizers: dict, loss_fn: Callable) -> dict:
    """The default training step: augment, forward (autocast on CUDA), ``loss_fn``, step ``"main"``."""
    x, y = ctx.to_device(batch)
    x, y = ctx.augment(x, y)
    x = ctx.layout(x)
    with ctx.autocast():
        out = model(x)
    loss = loss_fn(as_float(out), y)
    ctx.optimizer_step(loss, optimizers["main"])
    return {"loss": loss.detach()}


def supervised_validation(model: nn.Module, batch, ctx: StepContext, loss_fn: Callable,
                          metrics: dict | None = None) -> dict:
    """The default validation step: forward, ``loss_fn`` and each of ``metrics`` (name -> fn(output, target))."""
    x, y = ctx.to_device(batch)
    x = ctx.layout(x)
    with ctx.autocast():
        out = model(x)
    out = as_float(out)
    return {"loss": loss_fn(out, y), **{name: fn(out, y) for name, fn in (metrics or {}).items()}}


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Fraction of a batch whose largest logit is its label (a ``val_metrics`` entry for classifiers)."""
    return (logits.argmax(dim=1) == labels).float().mean()


def has_custom_step(model: nn.Module) -> bool:
    """True if the model defines its own ``training_step`` (and must then define ``validation_step``)."""
    return callable(getattr(model, "training_step", None))


class RunningMeans:
    """Means of step values over batches, weighted by the samples in each batch.

    Parameters
    ----------
    sums, count : optional
        Running sums and sample count carried over (from a checkpoint taken inside an epoch).
    """

    def __init__(self, sums: dict | None = None, count: int = 0):
        self.sums, self.count = dict(sums or {}), int(count)

    def update(self, n: int, values: dict) -> None:
        """Add one batch of ``n`` samples with its mean ``values``."""
        for k, v in values.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v) * n
        self.count += n

    def means(self) -> dict:
        return {k: v / max(self.count, 1) for k, v in self.sums.items()}

    def state(self) -> tuple[dict, int]:
        return dict(self.sums), self.count


class MetricLogger(RunningMeans):
    """:class:`RunningMeans` of an epoch's training steps, and the epoch's peak memory.

    Parameters
    ----------
    device : torch.device
    sums, count : optional
        As for :class:`RunningMeans`.
    """

    def __init__(self, device: torch.device, sums: dict | None = None, count: int = 0):
        super().__init__(sums, count)
        self.device = device
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)

    def peak_memory_mb(self) -> float:
        """Peak CUDA memory allocated by tensors this epoch, or the process's peak resident set on CPU."""
        if self.device.type == "cuda":
            return torch.cuda.max_memory_allocated(self.device) / 2**20
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _batch_len(batch) -> int:
    first = batch[0] if isinstance(batch, (tuple, list)) else next(iter(batch.values())) if isinstance(batch, dict) \
        else batch
    return len(first)


def _progress(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, file=sys.stderr, ascii=True, mininterval=5.0,
                disable=not enabled or os.environ.get("COSMODL_PROGRESS", "1") == "0")


@dataclass
class Run:
    """Everything one call of :func:`fit` works with (passed to :func:`train_one_epoch`)."""

    model: nn.Module
    cfg: TrainConfig
    device: torch.device
    dist: Distributed
    ctx: StepContext
    train_loader: EpochLoader
    val_loader: EpochLoader
    optimizers: dict
    schedulers: dict
    training_step: Callable
    validation_step: Callable
    checkpoint: Path
    data_fingerprint: str
    signals: StopSignals | None = None
    loop: dict = field(default_factory=lambda: {
        "epoch": 0, "batch": 0, "history": [], "best_val": float("inf"), "best_epoch": 0, "best_state": None,
        "bad_epochs": 0, "sums": {}, "count": 0})

    def save(self) -> None:
        """Checkpoint the run (rank 0 writes, after taking every process's BatchNorm statistics from rank 0)."""
        self.dist.broadcast_state(self.model, buffers_only=True)
        if self.dist.main:
            save_checkpoint(self.checkpoint, config=self.cfg.as_dict(), data_fingerprint=self.data_fingerprint,
                            model=self.model, optimizers=self.optimizers, schedulers=self.schedulers, loop=self.loop)

    def lr(self) -> float:
        return next(iter(self.optimizers.values())).param_groups[0]["lr"]


def train_one_epoch(run: Run, epoch: int) -> dict:
    """Train one epoch from the loop's saved batch position; return its means, samples/s and seconds.

    Raises
    ------
    TrainingInterrupted
        After a stop signal, once the checkpoint is written.
    """
    loop, loader = run.loop, run.train_loader
    loader.set_epoch(epoch, skip=loop["batch"])
    run.model.train()
    logger = MetricLogger(run.device, loop["sums"], loop["count"])
    steps = loader.batches_per_epoch()
    bar = _progress(steps, f"epoch {epoch + 1}/{run.cfg.epochs}", run.dist.main)
    bar.update(loop["batch"])
    n_samples, t0 = 0, time.perf_counter()
    for batch in loader:
        if run.dist.any(run.signals is not None and run.signals.signum is not None):
            run.save()
            raise TrainingInterrupted(run.signals.signum or signal.SIGTERM, run.checkpoint)
        run.ctx.start_batch(epoch, loop["batch"])
        values = run.training_step(batch)
        for scheduler in run.schedulers.values():
            if scheduler is not None:
                scheduler.step()
        n = _batch_len(batch)
        logger.update(n, values)
        loop["batch"] += 1
        loop["sums"], loop["count"] = logger.state()
        n_samples += n * run.dist.world
        bar.update(1)
    bar.close()
    seconds = time.perf_counter() - t0
    means = {f"train_{k}": run.dist.mean(v) for k, v in logger.means().items()}
    return dict(means, samples_per_s=n_samples / seconds if seconds > 0 else float("nan"), seconds=seconds,
                peak_memory_mb=logger.peak_memory_mb())


def evaluate(model: nn.Module, loader, step: Callable) -> dict:
    """Means over ``loader`` of what ``step(batch)`` returns, in eval mode without gradients.

    Parameters
    ----------
    model : nn.Module
    loader : iterable of batches
    step : callable
        ``step(batch) -> {name: 0-d tensor}`` (e.g. the default validation step with a loss).

    Returns
    -------
    dict
        ``{name: mean per sample}``, at least ``loss``.
    """
    model.eval()
    means = RunningMeans()
    with torch.no_grad():
        for batch in loader:
            means.update(_batch_len(batch), step(batch))
    return means.means()


def _optimizers(model: nn.Module, cfg: TrainConfig, total_steps: int) -> tuple[dict, dict]:
    if callable(getattr(model, "configure_optimizers", None)):
        configured = model.configure_optimizers(cfg, total_steps)
    else:
        optimizer = build_optimizer(cfg.optimizer, model.parameters(), cfg)
        configured = {"main": (optimizer, build_scheduler(cfg.scheduler, optimizer, cfg, total_steps))}
    optimizers, schedulers = {}, {}
    for name, item in configured.items():
        optimizer, scheduler = item if isinstance(item, tuple) else (item, None)
        optimizers[name], schedulers[name] = optimizer, scheduler
    return optimizers, schedulers


def _write_history(history: list[dict], path: Path) -> None:
    extra = sorted({k for row in history for k in row} - set(HISTORY_FIELDS))
    with atomic_output(path) as tmp:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=HISTORY_FIELDS + extra)
            writer.writeheader()
            writer.writerows(history)


def fit(model: nn.Module, train_data, val_data, cfg: TrainConfig, workdir: str | Path, history_path: str | Path, *,
        loss_fn: Callable | None = None, augment: Callable | None = None, data_fingerprint: str = "",
        threads: int | None = None, val_metrics: dict | None = None) -> TrainResult:
    """Train ``model``; resume from ``workdir/checkpoint.pt`` when it belongs to this config and data.

    Parameters
    ----------
    model : nn.Module
        Either maps an input batch to what ``loss_fn`` takes, or defines its own steps (module notes).
    train_data, val_data : ArrayDataset or GeneratedDataset
        Training and validation samples (batched by :class:`~cosmodl.training.data.EpochLoader`).
    cfg : TrainConfig
    workdir : path
        Holds ``checkpoint.pt``; it stays after the run (with a ``FINISHED`` marker) until the
        workflow removes it (:func:`~cosmodl.training.checkpoint.remove_finished_checkpoints`).
    history_path : path
        Per-epoch CSV: epoch, train_loss, val_loss, lr, samples_per_s, seconds, peak_memory_mb and
        any other value the steps return.
    loss_fn : callable, optional
        ``loss_fn(output, target) -> scalar`` (mean over the batch), output cast to float32;
        required unless the model defines its own steps.
    augment : callable, optional
        ``augment(x, y, generator) -> (x, y)`` for training batches when ``cfg.augment``.
    data_fingerprint : str
        Identifies the data (and anything else outside ``cfg`` the result depends on).
    threads : int, optional
        CPU threads of torch (the rule's threads).
    val_metrics : dict, optional
        ``{name: fn(output, target) -> 0-d tensor}`` averaged over the validation set each epoch
        and written to the history as ``val_<name>`` (e.g. :func:`accuracy`); default step only.

    Returns
    -------
    TrainResult
        The model holds the weights of the epoch with the lowest validation loss.

    Notes
    -----
    Under ``torchrun`` (``WORLD_SIZE`` > 1) each process takes ``batch[rank::world]`` of every
    global batch and gradients are averaged over processes (NCCL on CUDA, gloo on CPU); every
    process evaluates the whole validation set with rank 0's BatchNorm statistics, and only rank 0
    writes files.
    """
    workdir, history_path = Path(workdir), Path(history_path)
    workdir.mkdir(parents=True, exist_ok=True)
    device = pick_device(cfg.device, threads)
    dist = Distributed(device.type)
    if device.type == "cuda" and dist.world > 1:
        device = torch.device("cuda", dist.local_rank)
        torch.cuda.set_device(device)
    pin = device.type == "cuda"
    train_loader = EpochLoader(train_data, cfg.batch_size, True, cfg.seed, cfg.num_workers, pin)
    val_loader = EpochLoader(val_data, cfg.batch_size, False, cfg.seed, cfg.num_workers, pin)
    train_loader.set_shard(dist.rank, dist.world)
    steps = train_loader.batches_per_epoch()
    if steps == 0:
        raise ConfigError(f"train.batch_size: {cfg.batch_size} is larger than the training set "
                          f"({train_loader.n_samples} samples)")
    torch.manual_seed(cfg.seed)
    model_to_device(model, device)
    dist.broadcast_state(model)
    custom = has_custom_step(model)
    if not custom and loss_fn is None:
        raise TypeError("fit: give loss_fn, or a model with training_step and validation_step")
    optimizers, schedulers = _optimizers(model, cfg, cfg.epochs * steps)
    ctx = StepContext(device, cfg, dist, augment)
    if custom:
        training_step = lambda batch: model.training_step(batch, ctx, optimizers)  # noqa: E731
        validation_step = lambda batch: model.validation_step(batch, ctx)  # noqa: E731
    else:
        training_step = lambda batch: supervised_step(model, batch, ctx, optimizers, loss_fn)  # noqa: E731
        validation_step = lambda batch: supervised_validation(model, batch, ctx, loss_fn, val_metrics)  # noqa: E731
    run = Run(model, cfg, device, dist, ctx, train_loader, val_loader, optimizers, schedulers, training_step,
              validation_step, workdir / CHECKPOINT, data_fingerprint)
    saved = load_checkpoint(run.checkpoint, cfg.as_dict(), data_fingerprint)
    if saved is not None:
        model.load_state_dict(saved["model"])
        for name, state in saved["optimizers"].items():
            optimizers[name].load_state_dict(state)
        for name, state in saved["schedulers"].items():
            schedulers[name].load_state_dict(state)
        set_rng_state(saved["rng"])
        _keep_thread_count(saved.get("threads"), device)
        run.loop = saved["loop"]
        log.info("resumed from %s at epoch %d batch %d", run.checkpoint, run.loop["epoch"], run.loop["batch"])
    elif dist.main:
        (workdir / FINISHED).unlink(missing_ok=True)
    loop = run.loop
    with StopSignals() as run.signals:
        while loop["epoch"] < cfg.epochs and not _early_stopped(loop, cfg):
            epoch = loop["epoch"]
            train_stats = train_one_epoch(run, epoch)
            dist.broadcast_state(model, buffers_only=True)
            val = {f"val_{k}": dist.mean(v) for k, v in evaluate(model, val_loader, validation_step).items()}
            row = {"epoch": epoch + 1, "train_loss": train_stats.pop("train_loss"), "val_loss": val.pop("val_loss"),
                   "lr": run.lr(), **train_stats, **val}
            loop["history"].append(row)
            log.info("epoch %d: train %.5f val %.5f lr %.2e %.1f samples/s", row["epoch"], row["train_loss"],
                     row["val_loss"], row["lr"], row["samples_per_s"])
            if row["val_loss"] < loop["best_val"]:
                loop.update(best_val=row["val_loss"], best_epoch=epoch + 1, bad_epochs=0,
                            best_state={k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
            else:
                loop["bad_epochs"] += 1
            loop.update(epoch=epoch + 1, batch=0, sums={}, count=0)
            run.save()
            if dist.main:
                _write_history(loop["history"], history_path)
    if dist.main:
        _write_history(loop["history"], history_path)  # also when resumed from a finished run
        mark_finished(workdir)
    if loop["best_state"] is not None:
        model.load_state_dict(loop["best_state"])
    return TrainResult(history=copy.deepcopy(loop["history"]), best_epoch=loop["best_epoch"],
                       best_val_loss=loop["best_val"], device=str(device), resumed=saved is not None,
                       threads=torch.get_num_threads())


def _keep_thread_count(threads: int | None, device: torch.device) -> None:
    """Resume on the CPU with the thread count the run started with.

    The weight gradients of CPU convolutions are sums split across threads, so their last bits
    depend on the thread count; a run resumed with another count (a SLURM retry on a node with
    more cores, another ``--cores``) would drift from the uninterrupted run.
    """
    if device.type != "cpu" or not threads or threads == torch.get_num_threads():
        return
    log.warning("the checkpoint was made with %d CPU threads and this job has %d; continuing with %d so that the "
                "result is the one an uninterrupted run gives", threads, torch.get_num_threads(), threads)
    torch.set_num_threads(threads)


def _early_stopped(loop: dict, cfg: TrainConfig) -> bool:
    return cfg.patience > 0 and loop["bad_epochs"] >= cfg.patience

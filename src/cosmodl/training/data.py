"""Data for the trainer: arrays on disk, or samples generated on the fly, in reproducible batches.

:class:`ArrayDataset`
    Inputs and targets from memory-mapped ``.npy`` stacks (or arrays). A batch is read with one
    sorted fancy index into the memory map (``__getitems__``), so the DataLoader does one
    contiguous-ish read per batch instead of ``batch_size`` small ones. Targets may be float
    (regression, maps), integer (class labels for ``cross_entropy``) or absent (autoencoders:
    the target is the input).
:class:`GeneratedDataset`
    Samples made by a stage's generator (e.g. lensing simulations) instead of read from disk.
    Sample ``position`` of ``epoch`` is drawn from a generator seeded with
    ``(seed, stream, epoch, position)``; a DataLoader worker makes the batches ``b`` with
    ``b % n_workers == worker``, so the samples do not depend on the number of workers, and a
    resumed epoch restarts at its saved batch without repeating or skipping a sample.
:class:`EpochLoader`
    What :func:`cosmodl.training.fit` iterates: the batches of one epoch, in an order that
    depends only on ``(seed, epoch)``, starting at a given batch (resume), each process of a
    distributed run taking its share ``batch[rank::world]`` of every global batch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, Sampler, get_worker_info


class ArrayDataset(Dataset):
    """Inputs and targets selected by ``indices`` from arrays or ``.npy`` files (memory-mapped).

    Parameters
    ----------
    inputs : str, Path or ndarray, shape (N, ...)
        Samples, e.g. images (N, H, W) or spectra (N, L); a path is opened with ``mmap_mode='r'``
        lazily in each worker process.
    targets : str, Path, ndarray of shape (N, ...), or None
        Targets for the same N samples; ``None`` makes the (transformed) input its own target.
    indices : array of int, shape (M,), optional
        Samples of this dataset (e.g. the training split); all N by default.
    input_transform : callable, optional
        Applied to a float32 batch of shape (B, ...) before it gets a channel axis.
    target_transform : callable, optional
        Applied to a batch of targets (after the cast to ``target_dtype``).
    target_dtype : numpy dtype
        ``np.float32`` for regression and maps, ``np.int64`` for class labels.
    add_channel : bool
        Insert a channel axis after the batch axis ((B, H, W) → (B, 1, H, W), (B, L) → (B, 1, L)).

    A batch is ``(inputs (B, 1, ...) float32, targets (B, ...))``; without targets it is
    ``(inputs, inputs)``, the same tensor twice.
    """

    def __init__(self, inputs, targets=None, indices=None, input_transform: Callable | None = None,
                 target_transform: Callable | None = None, target_dtype=np.float32, add_channel: bool = True):
        self._inputs_src, self._targets_src = inputs, targets
        self._inputs = self._targets = None
        if indices is None:
            indices = np.arange(len(self._open(inputs)))
        self.indices = np.asarray(indices, dtype=np.int64)
        self.input_transform = input_transform
        self.target_transform = target_transform
        self.target_dtype = np.dtype(target_dtype)
        self.add_channel = add_channel

    @staticmethod
    def _open(src):
        return np.load(src, mmap_mode="r") if isinstance(src, (str, Path)) else src

    def _arrays(self):
        if self._inputs is None:
            self._inputs = self._open(self._inputs_src)
            self._targets = None if self._targets_src is None else self._open(self._targets_src)
        return self._inputs, self._targets

    def __getstate__(self):  # memory maps are reopened in worker processes, not pickled
        state = self.__dict__.copy()
        state["_inputs"] = state["_targets"] = None
        return state

    def __len__(self) -> int:
        return len(self.indices)

    def __getitems__(self, positions):
        """A whole batch: ``(inputs (B, 1, ...), targets (B, ...))`` in the order of ``positions``."""
        inputs, targets = self._arrays()
        rows = self.indices[np.asarray(positions, dtype=np.int64)]
        order = np.argsort(rows, kind="stable")
        x = np.empty((len(rows),) + inputs.shape[1:], dtype=np.float32)
        x[order] = inputs[rows[order]]
        if self.input_transform is not None:
            x = self.input_transform(x)
        xt = torch.from_numpy(np.ascontiguousarray(x))
        if self.add_channel:
            xt = xt.unsqueeze(1)
        if targets is None:
            return xt, xt
        y = np.empty((len(rows),) + targets.shape[1:], dtype=self.target_dtype)
        y[order] = targets[rows[order]]
        if self.target_transform is not None:
            y = self.target_transform(y)
        return xt, torch.from_numpy(np.ascontiguousarray(y))

    def __getitem__(self, position):
        x, y = self.__getitems__([position])
        return x[0], y[0]


class Standardise:
    """Target → (target − mean) / std with training-set statistics (picklable, for DataLoader workers).

    Parameters
    ----------
    mean, std : array, shape (T,)
    """

    def __init__(self, mean, std):
        self.mean, self.std = np.asarray(mean, np.float32), np.asarray(std, np.float32)

    def __call__(self, y: np.ndarray) -> np.ndarray:
        return (y - self.mean) / self.std


class GeneratedDataset(IterableDataset):
    """Base class of data sets whose samples a stage generates while training.

    A subclass implements :meth:`sample`. The trainer sets the batch size, the epoch, the batch
    to start at and the process's shard; iterating yields whole batches
    ``(inputs (B, 1, ...) float32, targets (B, ...))`` (targets = inputs when ``sample`` returns
    ``None`` for the target).

    Parameters
    ----------
    n_samples : int
        Samples per epoch.
    seed : int
    stream : int
        Separates the streams of data sets that share a seed (training 0, validation 1, ...).
    fixed : bool
        Draw the same samples every epoch (a validation set, or a training set of fixed size).
    shuffle : bool
        With ``fixed``: visit the samples in a new order each epoch, a permutation seeded by
        (seed, stream, epoch) (a training set of fixed size).
    target_dtype : numpy dtype
    add_channel : bool
        As for :class:`ArrayDataset`.
    """

    def __init__(self, n_samples: int, seed: int = 0, stream: int = 0, fixed: bool = False,
                 target_dtype=np.float32, add_channel: bool = True, shuffle: bool = False):
        self.n_samples, self.seed, self.stream, self.fixed = int(n_samples), int(seed), int(stream), fixed
        self.shuffle = bool(shuffle and fixed)
        self._order = (None, None)  # (epoch, permutation)
        self.target_dtype = np.dtype(target_dtype)
        self.add_channel = add_channel
        self.batch_size, self.drop_last = 1, False
        self.epoch, self.skip = 0, 0
        self.rank, self.world = 0, 1

    def sample(self, rng: np.random.Generator):
        """One sample ``(input ndarray, target ndarray or scalar, or None)`` drawn with ``rng`` only."""
        raise NotImplementedError

    def rng(self, epoch: int, position: int) -> np.random.Generator:
        """The generator of sample ``position`` of ``epoch``."""
        return np.random.default_rng([self.seed, self.stream, 0 if self.fixed else epoch, position])

    def __len__(self) -> int:
        return self.n_samples

    def configure(self, batch_size: int, drop_last: bool) -> None:
        self.batch_size, self.drop_last = int(batch_size), bool(drop_last)

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.epoch, self.skip = epoch, skip

    def set_shard(self, rank: int, world: int) -> None:
        _check_shard(self.batch_size, world)
        self.rank, self.world = rank, world

    def batches_per_epoch(self) -> int:
        return _n_batches(self.n_samples, self.batch_size, self.drop_last)

    def positions(self, batch: int) -> range:
        """Slots of this process's share of global batch ``batch`` (before any shuffling)."""
        stop = min((batch + 1) * self.batch_size, self.n_samples)
        return range(batch * self.batch_size, stop)[self.rank::self.world]

    def sample_positions(self, batch: int) -> np.ndarray:
        """Positions of the samples in this process's share of batch ``batch`` (shuffled when ``shuffle``)."""
        slots = np.asarray(self.positions(batch), dtype=np.int64)
        if not self.shuffle:
            return slots
        if self._order[0] != self.epoch:
            self._order = (self.epoch, np.random.default_rng([self.seed, self.stream, self.epoch]).permutation(
                self.n_samples))
        return self._order[1][slots]

    def make_batch(self, batch: int):
        """Batch ``batch`` of the current epoch as tensors."""
        samples = [self.sample(self.rng(self.epoch, p)) for p in self.sample_positions(batch).tolist()]
        x = torch.from_numpy(np.stack([np.asarray(s[0], dtype=np.float32) for s in samples]))
        if self.add_channel:
            x = x.unsqueeze(1)
        if samples[0][1] is None:
            return x, x
        return x, torch.from_numpy(np.stack([np.asarray(s[1], dtype=self.target_dtype) for s in samples]))

    def __iter__(self):
        info = get_worker_info()
        worker, n_workers = (info.id, info.num_workers) if info is not None else (0, 1)
        for b in range(self.skip + worker, self.batches_per_epoch(), n_workers):
            yield self.make_batch(b)


def _n_batches(n: int, batch_size: int, drop_last: bool) -> int:
    full, rest = divmod(n, batch_size)
    return full + (1 if rest and not drop_last else 0)


def _check_shard(batch_size: int, world: int) -> None:
    if world > 1 and batch_size % world:
        raise ValueError(f"batch_size {batch_size} is not a multiple of the {world} processes")


def _batch_as_is(batch):
    """collate_fn for datasets whose ``__getitems__`` already returns a stacked batch."""
    return batch


class EpochBatchSampler(Sampler):
    """Shuffled batches whose order depends only on (seed, epoch), with an optional skip.

    Parameters
    ----------
    n : int
        Dataset length.
    batch_size : int
    seed : int
    shuffle : bool
    drop_last : bool
        Drop a final short batch (training: BatchNorm needs more than one sample).

    ``set_epoch(epoch, skip)`` selects the permutation of ``epoch`` and skips its first ``skip``
    batches, so a run resumed mid-epoch sees exactly the batches an uninterrupted run would.
    ``set_shard(rank, world)`` (DistributedDataParallel) makes each process yield its share
    ``batch[rank::world]`` of every global batch, so the global batch does not depend on ``world``.
    """

    def __init__(self, n: int, batch_size: int, seed: int = 0, shuffle: bool = True, drop_last: bool = True):
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.shuffle, self.drop_last = shuffle, drop_last
        self.epoch, self.skip = 0, 0
        self.rank, self.world = 0, 1

    def set_shard(self, rank: int, world: int) -> None:
        _check_shard(self.batch_size, world)
        self.rank, self.world = rank, world

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.epoch, self.skip = epoch, skip

    def batches_per_epoch(self) -> int:
        return _n_batches(self.n, self.batch_size, self.drop_last)

    def __iter__(self):
        order = (np.random.default_rng([self.seed, self.epoch]).permutation(self.n) if self.shuffle
                 else np.arange(self.n))
        for b in range(self.skip, self.batches_per_epoch()):
            yield order[b * self.batch_size:(b + 1) * self.batch_size][self.rank::self.world].tolist()

    def __len__(self) -> int:
        return self.batches_per_epoch() - self.skip


class EpochLoader:
    """The batches of one epoch of a dataset, reproducible from ``(seed, epoch)`` and resumable.

    Parameters
    ----------
    dataset : ArrayDataset (or any map-style dataset with ``__getitems__``) or GeneratedDataset
    batch_size : int
        Global batch size (all processes together).
    shuffle : bool
        Shuffle map-style datasets per epoch (training); generated data are random anyway.
    seed : int
    num_workers : int
        DataLoader worker processes.
    pin_memory : bool
    drop_last : bool, optional
        Default: drop a final short batch when shuffling (training).

    The DataLoader draws its worker seeds from a generator of its own, never from torch's global
    RNG, so iterating it does not change what a model's step draws.
    """

    def __init__(self, dataset, batch_size: int, shuffle: bool, seed: int = 0, num_workers: int = 0,
                 pin_memory: bool = False, drop_last: bool | None = None):
        drop_last = shuffle if drop_last is None else drop_last
        self.dataset = dataset
        if isinstance(dataset, GeneratedDataset):
            dataset.configure(batch_size, drop_last)
            self.batch_sampler = dataset
            self._loader = DataLoader(dataset, batch_size=None, num_workers=num_workers, pin_memory=pin_memory,
                                      generator=torch.Generator().manual_seed(seed))
        else:
            self.batch_sampler = EpochBatchSampler(len(dataset), batch_size, seed, shuffle, drop_last=drop_last)
            self._loader = DataLoader(dataset, batch_sampler=self.batch_sampler, num_workers=num_workers,
                                      pin_memory=pin_memory, collate_fn=_batch_as_is, persistent_workers=False,
                                      generator=torch.Generator().manual_seed(seed))

    @property
    def n_samples(self) -> int:
        return len(self.dataset)

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.batch_sampler.set_epoch(epoch, skip)

    def set_shard(self, rank: int, world: int) -> None:
        self.batch_sampler.set_shard(rank, world)

    def batches_per_epoch(self) -> int:
        return self.batch_sampler.batches_per_epoch()

    def __iter__(self):
        return iter(self._loader)

    def __len__(self) -> int:
        return self.batches_per_epoch() - self.batch_sampler.skip


"""Datasets over memory-mapped ``.npy`` stacks, fetched a whole batch at a time.

A batch is read with one sorted fancy index into the memory map (``__getitems__``), so the
DataLoader does one contiguous-ish read per batch instead of ``batch_size`` small ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler


class ArrayDataset(Dataset):
    """Inputs and targets selected by ``indices`` from arrays or ``.npy`` files (memory-mapped).

    Parameters
    ----------
    inputs : str, Path or ndarray, shape (N, H, W)
        Images; a path is opened with ``mmap_mode='r'`` lazily in each worker process.
    targets : str, Path or ndarray, shape (N, ...)
        Targets for the same N samples.
    indices : array of int, shape (M,)
        Samples of this dataset (e.g. the training split).
    input_transform : callable, optional
        Applied to a float32 batch of shape (B, H, W) before it gets a channel axis.
    target_transform : callable, optional
        Applied to a float32 batch of targets.

    Items are ``(input (1, H, W), target)`` float32 tensors; a batch is ``(B, 1, H, W), (B, ...)``.
    """

    def __init__(self, inputs, targets, indices, input_transform: Callable | None = None,
                 target_transform: Callable | None = None):
        self._inputs_src, self._targets_src = inputs, targets
        self._inputs = self._targets = None
        self.indices = np.asarray(indices, dtype=np.int64)
        self.input_transform = input_transform
        self.target_transform = target_transform

    @staticmethod
    def _open(src):
        return np.load(src, mmap_mode="r") if isinstance(src, (str, Path)) else src

    def _arrays(self):
        if self._inputs is None:
            self._inputs, self._targets = self._open(self._inputs_src), self._open(self._targets_src)
        return self._inputs, self._targets

    def __getstate__(self):  # memory maps are reopened in worker processes, not pickled
        state = self.__dict__.copy()
        state["_inputs"] = state["_targets"] = None
        return state

    def __len__(self) -> int:
        return len(self.indices)

    def __getitems__(self, positions):
        """A whole batch: ``(inputs (B, 1, H, W), targets (B, ...))`` in the order of ``positions``."""
        inputs, targets = self._arrays()
        rows = self.indices[np.asarray(positions, dtype=np.int64)]
        order = np.argsort(rows, kind="stable")
        x = np.empty((len(rows),) + inputs.shape[1:], dtype=np.float32)
        y = np.empty((len(rows),) + targets.shape[1:], dtype=np.float32)
        x[order] = inputs[rows[order]]
        y[order] = targets[rows[order]]
        if self.input_transform is not None:
            x = self.input_transform(x)
        if self.target_transform is not None:
            y = self.target_transform(y)
        return torch.from_numpy(np.ascontiguousarray(x)).unsqueeze(1), torch.from_numpy(np.ascontiguousarray(y))

    def __getitem__(self, position):
        x, y = self.__getitems__([position])
        return x[0], y[0]


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
        if world > 1 and self.batch_size % world:
            raise ValueError(f"batch_size {self.batch_size} is not a multiple of the {world} processes")
        self.rank, self.world = rank, world

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.epoch, self.skip = epoch, skip

    def batches_per_epoch(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def __iter__(self):
        order = (np.random.default_rng([self.seed, self.epoch]).permutation(self.n) if self.shuffle
                 else np.arange(self.n))
        for b in range(self.skip, self.batches_per_epoch()):
            yield order[b * self.batch_size:(b + 1) * self.batch_size][self.rank::self.world].tolist()

    def __len__(self) -> int:
        return self.batches_per_epoch() - self.skip


def make_loader(dataset: ArrayDataset, batch_size: int, shuffle: bool, seed: int = 0, num_workers: int = 0,
                pin_memory: bool = False, drop_last: bool | None = None) -> DataLoader:
    """DataLoader with an :class:`EpochBatchSampler` (``loader.batch_sampler``) and batched fetches."""
    sampler = EpochBatchSampler(len(dataset), batch_size, seed, shuffle,
                                drop_last=shuffle if drop_last is None else drop_last)
    return DataLoader(dataset, batch_sampler=sampler, num_workers=num_workers, pin_memory=pin_memory,
                      collate_fn=_batch_as_is, persistent_workers=False)

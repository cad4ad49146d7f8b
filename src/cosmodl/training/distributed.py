"""Data-parallel training across the processes of one job (torchrun), without a model wrapper.

Every process holds the whole model and trains on its share ``batch[rank::world]`` of each
global batch. After each backward pass the gradients of the parameters about to be stepped are
averaged over the processes (:meth:`Distributed.average_gradients`), which is what
DistributedDataParallel does, but works for any step a model defines (several optimisers, parts
of the model stepped separately). BatchNorm statistics are taken from rank 0 before validation
and before saving, so every process evaluates and decides with the same model. Only rank 0
writes files.
"""

from __future__ import annotations

import os

import torch
from torch import nn


def rank() -> int:
    """This process's rank under torchrun (0 when not distributed)."""
    return int(os.environ.get("RANK", "0"))


def is_main_process() -> bool:
    """True on the process that writes outputs (rank 0)."""
    return rank() == 0


class Distributed:
    """torch.distributed state when launched by torchrun (``WORLD_SIZE`` > 1), else a single process.

    Parameters
    ----------
    device_type : {'cpu', 'cuda'}
        NCCL on CUDA, gloo on CPU.
    """

    def __init__(self, device_type: str):
        import torch.distributed as dist

        self.dist = dist
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = rank()
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        # tensors for collectives live where the backend wants them: CUDA for NCCL, CPU for gloo
        self.comm_device = torch.device("cuda", self.local_rank) if device_type == "cuda" else torch.device("cpu")
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def any(self, flag: bool) -> bool:
        """True on every process if ``flag`` is True on any (one collective call)."""
        if self.world == 1:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=self.comm_device)
        self.dist.all_reduce(t)
        return bool(t.item() > 0)

    def mean(self, value: float) -> float:
        """Mean of a float over the processes."""
        if self.world == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.comm_device)
        self.dist.all_reduce(t)
        return float(t.item()) / self.world

    def average_gradients(self, parameters) -> None:
        """Replace each parameter's gradient by its mean over the processes (one flat all-reduce)."""
        if self.world == 1:
            return
        grads = [p.grad for p in parameters if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        self.dist.all_reduce(flat)
        flat /= self.world
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()

    def broadcast_state(self, model: nn.Module, buffers_only: bool = False) -> None:
        """Copy rank 0's buffers (and parameters, unless ``buffers_only``) to every process."""
        if self.world == 1:
            return
        tensors = list(model.buffers()) if buffers_only else list(model.parameters()) + list(model.buffers())
        with torch.no_grad():
            for t in tensors:
                self.dist.broadcast(t.data, src=0)

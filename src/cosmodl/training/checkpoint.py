"""Checkpoints of a training run and the signals that make one.

A checkpoint is one ``torch.save`` dict: the model, every optimiser and schedule, the RNG
states, the number of CPU threads of torch, the loop's position (epoch, batch inside it,
running sums, history, best weights, early-stopping count), the
:class:`~cosmodl.training.TrainConfig` it was made with and a fingerprint of the data. It is
written to a temporary file and renamed, so a kill while saving leaves the previous checkpoint
intact. :func:`load_checkpoint` returns it only if config and data match, and says what differs
otherwise.

A finished run leaves its checkpoint (the loop's final state) and a ``FINISHED`` marker next to
it, so that a workflow whose outputs were not accepted (interrupted Snakemake, a failed later
step of the same job) can write them again without training again.
:func:`remove_finished_checkpoints` deletes them once the workflow has succeeded.
"""

from __future__ import annotations

import logging
import shutil
import signal
import threading
from pathlib import Path

import torch

from ..io import atomic_output

log = logging.getLogger(__name__)
FORMAT = 2  # bumped when the checkpoint layout changes; older checkpoints are not resumed
FINISHED = "FINISHED"
# Keys of TrainConfig that change nothing in the result, so a checkpoint may be resumed across them.
RESUMABLE_ACROSS = ("num_workers",)


class TrainingInterrupted(RuntimeError):
    """Raised after a stop signal once the checkpoint is saved; rerun to resume."""

    def __init__(self, signum: int, checkpoint: Path):
        super().__init__(f"received signal {signal.Signals(signum).name}; state saved to {checkpoint}, "
                         f"rerun to resume")
        self.signum = signum


class StopSignals:
    """Records SIGTERM, SIGUSR1 and SIGINT instead of dying, so the loop can save first.

    SLURM sends SIGTERM on ``scancel`` and at the time limit, SIGUSR1 ahead of pre-emption with
    ``--signal``; SIGINT is Ctrl-C. Use as a context manager; ``signum`` holds the first signal.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT)

    def __init__(self):
        self.signum = None
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is not threading.main_thread():
            log.warning("training outside the main thread: stop signals cannot be caught, no checkpoint on SIGTERM")
            return self
        for sig in self.SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.signum is None:
            self.signum = signum

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def rng_state() -> dict:
    """CPU (and CUDA) RNG states of torch."""
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, *, config: dict, data_fingerprint: str, model: torch.nn.Module,
                    optimizers: dict, schedulers: dict, loop: dict) -> None:
    """Write a checkpoint atomically.

    Parameters
    ----------
    path : path
    config : dict
        ``TrainConfig.as_dict()``.
    data_fingerprint : str
        Identifies the data and everything else outside the config that the run depends on.
    model : nn.Module
    optimizers, schedulers : dict
        ``{name: optimizer}`` and ``{name: schedule or None}``.
    loop : dict
        The loop's own state (epoch, batch, history, best weights...).
    """
    state = {"format": FORMAT, "config": config, "data_fingerprint": data_fingerprint,
             "threads": torch.get_num_threads(), "model": model.state_dict(),
             "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
             "schedulers": {k: s.state_dict() for k, s in schedulers.items() if s is not None},
             "rng": rng_state(), "loop": loop}
    with atomic_output(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | Path, config: dict, data_fingerprint: str) -> dict | None:
    """The checkpoint at ``path`` if it belongs to this config and data, else None (with a logged reason)."""
    path = Path(path)
    if not path.exists():
        return None
    saved = torch.load(path, map_location="cpu", weights_only=False)
    reason = None
    if saved.get("format") != FORMAT:
        reason = f"it has checkpoint format {saved.get('format')}, this version writes {FORMAT}"
    else:
        old = {k: v for k, v in saved["config"].items() if k not in RESUMABLE_ACROSS}
        new = {k: v for k, v in config.items() if k not in RESUMABLE_ACROSS}
        changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        if changed:
            reason = "the training config changed: " + ", ".join(f"{k} {old.get(k)!r} -> {new.get(k)!r}"
                                                                 for k in changed)
        elif saved["data_fingerprint"] != data_fingerprint:
            reason = "it was made from other data (split, inputs or targets changed)"
    if reason:
        log.warning("not resuming from %s: %s; training from the start", path, reason)
        return None
    return saved


def mark_finished(workdir: str | Path) -> None:
    """Mark the checkpoint in ``workdir`` as the final state of a finished run."""
    (Path(workdir) / FINISHED).touch()


def remove_finished_checkpoints(root: str | Path) -> list[Path]:
    """Delete every checkpoint directory under ``root`` whose run finished; keep interrupted ones.

    Call it once the workflow's outputs are accepted (Snakemake ``onsuccess``).
    """
    removed = []
    for marker in sorted(Path(root).glob(f"**/{FINISHED}")):
        shutil.rmtree(marker.parent, ignore_errors=True)
        removed.append(marker.parent)
    return removed

"""Logging set-up for workflow steps: everything from cosmodl goes to the rule's log file."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
from pathlib import Path
from typing import Iterator


def log_to_file(path: str | Path | None, level: int = logging.INFO, append: bool = False) -> None:
    """Send log records (and warnings) of every module to ``path`` (or stderr when ``None``)."""
    handlers: list[logging.Handler]
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        if not append:
            open(path, "w").close()
        # append mode for every writer, so processes sharing the log (torchrun ranks) never overwrite
        handlers = [logging.FileHandler(path, mode="a")]
    else:
        handlers = [logging.StreamHandler()]
    logging.basicConfig(level=level, handlers=handlers, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.captureWarnings(True)


def set_threads(threads: int) -> None:
    """Use ``threads`` CPU threads in numba kernels and FFTs of this process."""
    import numba

    numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))


@contextlib.contextmanager
def stderr_to(path: str | Path | None) -> Iterator[None]:
    """Send this process's standard error to ``path`` (appended) for the duration of the block.

    At the file-descriptor level, so progress bars, warnings printed by C extensions and child
    processes (torchrun) land in the rule's log too. Restored on exit, before any traceback
    of an escaping exception is printed.
    """
    if not path:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "a") as f:
        os.dup2(f.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


@contextlib.contextmanager
def logged_step(log_path: str | Path | None, threads: int | None = None) -> Iterator[logging.Logger]:
    """Run one workflow step with logging to ``log_path``; a failure is written there, then re-raised.

    The error's one-line message goes to the log (the rule's ``log:`` file), so a user reading
    the log sees what was wrong without the traceback Snakemake prints. Standard error (progress
    bars) goes to the log as well while the step runs.
    """
    log_to_file(log_path)
    if threads is not None:
        set_threads(threads)
    logger = logging.getLogger("cosmodl.step")
    logger.info("host %s, threads %s, SLURM_JOB_ID=%s, CUDA_VISIBLE_DEVICES=%s", socket.gethostname(), threads,
                os.environ.get("SLURM_JOB_ID", "-"), os.environ.get("CUDA_VISIBLE_DEVICES", "-"))
    with stderr_to(log_path):
        try:
            yield logger
        except Exception as exc:
            logger.error("%s: %s", type(exc).__name__, exc)
            raise

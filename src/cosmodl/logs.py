"""Logging set-up for workflow steps: everything from cosmodl goes to the rule's log file."""

from __future__ import annotations

import logging
from pathlib import Path


def log_to_file(path: str | Path | None, level: int = logging.INFO) -> None:
    """Send log records (and warnings) of every module to ``path`` (or stderr when ``None``)."""
    handlers: list[logging.Handler]
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        handlers = [logging.FileHandler(path, mode="w")]
    else:
        handlers = [logging.StreamHandler()]
    logging.basicConfig(level=level, handlers=handlers, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.captureWarnings(True)


def set_threads(threads: int) -> None:
    """Use ``threads`` CPU threads in numba kernels and FFTs of this process."""
    import numba

    numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))

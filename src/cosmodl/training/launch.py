"""Run a stage's training function in this process or in N data-parallel processes (torchrun).

A stage's script calls::

    code = launch("cosmodl.voids.learn:train_void_model", kwargs, devices=N, threads=T, log_path=LOG)
    sys.exit(code)

With ``devices == 1`` the function runs here. With ``devices > 1`` this process starts
``torchrun --standalone --nproc_per_node N -m cosmodl.training.launch ARGS.json`` inside the same
job (one node); each process gets ``T // N`` CPU threads, rank 0 logs to the rule's log and writes
the outputs (the function checks :func:`cosmodl.training.distributed.is_main_process`). A stop
signal (SIGTERM, SIGUSR1, SIGINT) received here is passed on to torchrun, whose processes save a
checkpoint and stop.

The exit code is 0 on success and ``128 + signal`` after :class:`TrainingInterrupted`, so the
workflow sees the job fail and a rerun resumes from the checkpoint.
"""

from __future__ import annotations

import importlib
import json
import logging
import signal
import subprocess
import sys
from pathlib import Path

from ..logs import log_to_file
from .checkpoint import StopSignals, TrainingInterrupted
from .distributed import is_main_process

log = logging.getLogger(__name__)


def resolve(target: str):
    """The function named ``"package.module:function"``."""
    module, _, name = target.partition(":")
    if not name:
        raise ValueError(f"launch target {target!r} must look like 'package.module:function'")
    return getattr(importlib.import_module(module), name)


def run_target(target: str, kwargs: dict, threads: int | None) -> int:
    """Call ``target(**kwargs, threads=threads)``; 0, or ``128 + signal`` after :class:`TrainingInterrupted`."""
    try:
        resolve(target)(**kwargs, threads=threads)
    except TrainingInterrupted as exc:
        logging.getLogger(__name__).error("%s", exc)
        return 128 + exc.signum
    return 0


def threads_per_process(threads: int | None, devices: int) -> int:
    """CPU threads each of ``devices`` processes gets out of the job's ``threads`` (at least 1)."""
    return max(1, (threads or 1) // devices)


def launch(target: str, kwargs: dict, devices: int = 1, threads: int | None = None, log_path=None,
           workdir=None) -> int:
    """Run ``target(**kwargs, threads=...)`` in 1 or ``devices`` processes; return the exit code.

    Parameters
    ----------
    target : str
        ``"package.module:function"``; the function takes ``threads`` and the JSON-serialisable ``kwargs``.
    kwargs : dict
    devices : int
        Processes (GPUs) on this node.
    threads : int, optional
        CPU threads of the whole job.
    log_path : path, optional
        The rule's log; torchrun processes append to it (rank 0 only).
    workdir : path, optional
        Where the arguments file for torchrun is written (default: next to the log).
    """
    if devices <= 1:
        return run_target(target, kwargs, threads)
    args = {"target": target, "kwargs": kwargs, "threads": threads_per_process(threads, devices),
            "log_path": str(log_path) if log_path else None}
    base = Path(workdir or (Path(log_path).parent if log_path else "."))
    base.mkdir(parents=True, exist_ok=True)
    args_file = base / f"torchrun_args_{Path(log_path).stem if log_path else 'run'}.json"
    args_file.write_text(json.dumps(args, default=str))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={devices}",
           "-m", "cosmodl.training.launch", str(args_file)]
    log.info("launching %s", " ".join(cmd))
    proc = subprocess.Popen(cmd)
    received = []

    def forward(signum, frame):  # scancel / pre-emption / Ctrl-C: let the processes save and stop
        received.append(signum)
        proc.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in StopSignals.SIGNALS}
    try:
        code = proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        log.error("received signal %s; the training processes saved a checkpoint, rerun to resume",
                  signal.Signals(received[0]).name)
        return 128 + received[0]
    if code != 0:
        raise RuntimeError(f"torchrun with {devices} processes failed (exit {code}); see {log_path}")
    args_file.unlink(missing_ok=True)
    return 0


def main(args_file: str) -> int:
    """Entry of one torchrun process: ``python -m cosmodl.training.launch ARGS.json``."""
    args = json.loads(Path(args_file).read_text())
    log_to_file(args["log_path"] if is_main_process() else None, append=True)
    if not is_main_process():
        logging.getLogger().setLevel(logging.WARNING)
    return run_target(args["target"], args["kwargs"], args["threads"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

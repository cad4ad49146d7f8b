"""Snakemake adapter: train the voids map or counts network on one split (resumes from a checkpoint).

On SIGTERM/SIGUSR1 the trainer saves a checkpoint and the script exits with 128 + signal number,
so a rerun of the rule resumes where it stopped.
"""
import sys

from cosmodl.logs import logged_step
from cosmodl.training import TrainingInterrupted
from cosmodl.voids.learn import train_void_model

try:
    with logged_step(snakemake.log[0], snakemake.threads):
        inp = snakemake.input
        train_void_model(snakemake.params.voids, snakemake.wildcards.task, inp.split,
                         {k: inp[k] for k in ("images", "void_fraction", "void_centres")}, inp.index,
                         snakemake.output.model, snakemake.output.history, snakemake.params.workdir,
                         snakemake.threads, match_split_path=inp.match[0] if inp.match else None)
except TrainingInterrupted as exc:
    sys.exit(128 + exc.signum)

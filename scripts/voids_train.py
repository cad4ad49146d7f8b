"""Snakemake adapter: train the voids map or counts network on one split (resumes from a checkpoint).

On SIGTERM/SIGUSR1 the trainer saves a checkpoint and the script exits with 128 + signal number,
so a rerun of the rule resumes where it stopped. With ``train.devices: N > 1`` the training runs
in N DistributedDataParallel processes started by torchrun inside this job.
"""
import sys

from cosmodl.logs import logged_step
from cosmodl.training import TrainingInterrupted
from cosmodl.voids.learn import train_void_model, train_void_model_distributed

inp, params, voids = snakemake.input, snakemake.params, snakemake.params.voids
args = dict(cfg=voids, task=snakemake.wildcards.task, split_path=inp.split,
            subboxes={k: inp[k] for k in ("images", "void_fraction", "void_centres")}, index_path=inp.index,
            model_out=snakemake.output.model, history_out=snakemake.output.history, workdir=params.workdir,
            match_split_path=inp.match[0] if inp.match else None)
try:
    with logged_step(snakemake.log[0], snakemake.threads):
        if voids["train"]["devices"] > 1:
            train_void_model_distributed(voids["train"]["devices"], snakemake.threads, snakemake.log[0], **args)
        else:
            train_void_model(threads=snakemake.threads, **args)
except TrainingInterrupted as exc:
    sys.exit(128 + exc.signum)

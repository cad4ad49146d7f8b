"""Snakemake adapter: train the voids map or counts network on one split (resumes from a checkpoint).

On SIGTERM/SIGUSR1/SIGINT the trainer saves a checkpoint and the script exits with 128 + signal
number, so a rerun of the rule resumes where it stopped. With ``train.devices: N > 1`` the
training runs in N data-parallel processes started by torchrun inside this job.
"""
import sys

from cosmodl.logs import logged_step
from cosmodl.training import launch, train_settings

inp, params, voids = snakemake.input, snakemake.params, snakemake.params.voids
args = dict(cfg=voids, task=snakemake.wildcards.task, split_path=inp.split,
            subboxes={k: inp[k] for k in ("images", "void_fraction", "void_centres")}, index_path=inp.index,
            model_out=snakemake.output.model, history_out=snakemake.output.history, workdir=params.workdir,
            match_split_path=inp.match[0] if inp.match else None)
with logged_step(snakemake.log[0], snakemake.threads):
    devices = train_settings(voids, snakemake.wildcards.task, "voids")["devices"]
    code = launch("cosmodl.voids.learn:train_void_model", args, devices, snakemake.threads, snakemake.log[0],
                  params.workdir)
sys.exit(code)

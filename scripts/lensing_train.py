"""Snakemake adapter: train one lensing network on one data set (resumes from a checkpoint).

On SIGTERM/SIGUSR1/SIGINT the trainer saves a checkpoint and the script exits with 128 + signal
number; a rerun resumes. ``devices > 1`` runs data-parallel processes via torchrun in the job.
"""
import sys

from cosmodl.training import train_settings
from cosmodl.logs import logged_step
from cosmodl.training import launch

inp, params, wc = snakemake.input, snakemake.params, snakemake.wildcards
args = dict(cfg=params.lensing, dataset=wc.dataset, name=wc.model, images_path=inp.images, params_path=inp.params,
            split_path=inp.split, model_out=snakemake.output.model, history_out=snakemake.output.history,
            workdir=params.workdir)
with logged_step(snakemake.log[0], snakemake.threads):
    devices = train_settings(params.lensing, wc.model, "lensing")["devices"]
    code = launch("cosmodl.lensing.learn:train_lensing_model", args, devices, snakemake.threads, snakemake.log[0],
                  params.workdir)
sys.exit(code)

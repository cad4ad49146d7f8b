"""Snakemake adapter: train one CNN on spectra made while training (resumes from a checkpoint).

On SIGTERM/SIGUSR1/SIGINT the trainer saves a checkpoint and the script exits with 128 + signal
number; a rerun resumes. ``devices > 1`` runs data-parallel processes via torchrun in the job.
"""
import sys

from cosmodl.logs import logged_step
from cosmodl.training import launch, train_settings

params, run = snakemake.params, snakemake.params.run
args = dict(cfg=params.specz, blocks=run["blocks"], noise=run["noise"], size=run["size"],
            val_path=snakemake.input.val, model_out=snakemake.output.model, history_out=snakemake.output.history,
            workdir=params.workdir)
with logged_step(snakemake.log[0], snakemake.threads):
    devices = train_settings(params.specz, f"cnn{run['blocks']}", "specz")["devices"]
    code = launch("cosmodl.specz.learn:train_network", args, devices, snakemake.threads, snakemake.log[0],
                  params.workdir)
sys.exit(code)

"""Snakemake adapter: train the autoencoder, or one network on one task (resumes from a checkpoint).

On SIGTERM/SIGUSR1/SIGINT the trainer saves a checkpoint and the script exits with 128 + signal
number; a rerun resumes. ``devices > 1`` runs data-parallel processes via torchrun in the job.
"""
import sys

from cosmodl.logs import logged_step
from cosmodl.training import launch, train_settings

inp, out, params, wc = snakemake.input, snakemake.output, snakemake.params, snakemake.wildcards
network = wc.get("network", "autoencoder")
common = dict(cfg=params.cm21, slices_path=inp.slices, split_path=inp.split, model_out=out.model,
              history_out=out.history, workdir=params.workdir)
if network == "autoencoder":
    target, args = "cosmodl.cm21.learn:train_autoencoder", common
else:
    target = "cosmodl.cm21.learn:train_task_network"
    args = dict(common, task=wc.task, network=network, table_path=inp.table,
                autoencoder_path=inp.get("autoencoder"))
with logged_step(snakemake.log[0], snakemake.threads):
    devices = train_settings(params.cm21, network, "cm21")["devices"]
    code = launch(target, args, devices, snakemake.threads, snakemake.log[0], params.workdir)
sys.exit(code)

# Stage-agnostic plumbing: config validation (schema defaults filled in, cross-field checks),
# constants, and the target list gathered from each enabled stage.
import importlib
import os

from cosmodl.config import SCHEMA_DIR, check_stages, load_schema, validate_config
from cosmodl.contract import step_config
from cosmodl.errors import ConfigError
from cosmodl.training.config import train_settings

try:
    _validated = validate_config(config, load_schema("config"))
    check_stages(_validated)
except ConfigError as exc:
    raise ConfigError(
        f"{exc}  (check a config file with: make check-config CONFIG=<file>)"
    ) from None
config.clear()
config.update(_validated)
# The metrics schemas: package data of cosmodl, where config.py finds the config schema.
SCHEMAS = SCHEMA_DIR
# Threads of the parallel rules (numba kernels, torch). Locally snakemake lowers them to --cores;
# on SLURM they become --cpus-per-task (GPU rules: cpus_per_gpu), capped by --max-threads.
MAX_THREADS = 8
# Final targets of each stage: name -> function returning a list of paths (set in <stage>.smk).
STAGE_TARGETS = {}


def all_targets():
    """Final outputs of every stage in config["stages"]."""
    return [target for stage in config["stages"] for target in STAGE_TARGETS[stage]()]


def stage_targets(stage, *extra):
    """A stage's final outputs: extra products, and whatever its metrics and figures rules write
    (figure names are listed once, in the figures rule). Called when rule all is parsed, after
    every stage's rules exist."""

    def targets():
        metrics = getattr(rules, f"{stage}_metrics").output
        figures = getattr(rules, f"{stage}_figures").output
        return [*extra, *metrics, *figures]

    return targets


def section(stage, rule):
    """A rule's params: the part of config[stage] its step reads, as the stage's READS declares
    (cosmodl.contract.step_config); a change reruns only the steps that read it."""
    return step_config(stage, rule, config[stage])


def mem_mb(stage, step):
    """mem_mb of a rule: cosmodl.<stage>.resources.estimate_mb(step, config[stage]); a function of
    the job's inputs where the stage says the config cannot size the step (needs_input_size).
    """
    resources = importlib.import_module(f"cosmodl.{stage}.resources")
    needs_input = getattr(resources, "needs_input_size", None)
    if needs_input is None or not needs_input(step, config[stage]):
        return resources.estimate_mb(step, config[stage])

    def from_inputs(wildcards, input):
        return resources.estimate_mb(step, config[stage], input.size_mb)

    return from_inputs


def train_devices(stage, network_of):
    """A resource function: processes (GPUs) of a training job, from the network's train settings
    (train with its train_overrides entry over it, as the job reads them); network_of(wildcards)
    names the network."""

    def devices(wildcards):
        return train_settings(config[stage], network_of(wildcards), stage)["devices"]

    return devices


def cpus_per_gpu(devices):
    """A resource function for SLURM --cpus-per-gpu: a job's threads shared by its processes.

    devices is the number of processes (GPUs) of the job, or a function of its wildcards.
    """

    def per_gpu(wildcards, threads):
        n = devices(wildcards) if callable(devices) else devices
        return max(1, threads // n)

    return per_gpu

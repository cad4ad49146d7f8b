# Config validation (schema defaults filled in), constants and small input functions.
import os
from pathlib import Path

from cosmodl.config import load_yaml, validate_config

_validated = validate_config(
    config,
    load_yaml(Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml"),
)
config.clear()
config.update(_validated)
VOIDS = config["voids"]
SCRIPTS = Path(workflow.basedir) / "scripts"
# Threads of the parallel rules (numba kernels, torch). Locally snakemake lowers them to --cores;
# on SLURM they become --cpus-per-task (GPU rules use cpus_per_gpu), capped by --max-threads.
MAX_THREADS = 8
SPLIT_METHODS = ["spatial", "random"]
VOID_TASKS = ["map", "counts"]
# Splits the networks are trained on: the configured one, plus the other for the leakage experiment.
TRAIN_SPLITS = (
    SPLIT_METHODS if VOIDS["leakage"]["enabled"] else [VOIDS["split"]["method"]]
)


wildcard_constraints:
    method="|".join(SPLIT_METHODS),
    task="|".join(VOID_TASKS),


def all_targets():
    targets = []
    if "voids" in config["stages"]:
        targets += [
            "results/voids/voids_summary.json",
            "results/voids/subboxes/index.fits",
        ]
        targets += expand("results/voids/splits/{method}.json", method=SPLIT_METHODS)
        targets += [
            "results/voids/metrics.json",
            "results/voids/figures/training_curves.png",
        ]
    return targets


def download_name(section):
    """File name under resources/voids/downloads/ for a catalogue section with source: url."""
    return f"{section}_{os.path.basename(VOIDS[section]['url'].split('?')[0])}"


def get_catalogue_source(section):
    """Input file of the galaxies/catalogue rule: a download, a local file, or nothing."""
    spec = VOIDS[section]
    if spec["source"] == "url":
        return [f"resources/voids/downloads/{download_name(section)}"]
    if spec["source"] == "file":
        return [spec["path"]]
    return []


def get_download_spec(wildcards):
    for section in ("galaxies", "catalogue"):
        spec = VOIDS[section]
        if spec["source"] == "url" and download_name(section) == wildcards.name:
            return spec
    raise ValueError(f"no catalogue with source: url downloads to {wildcards.name}")


def subbox_products(wildcards):
    """The subbox stacks and index table that training and evaluation read."""
    products = ["images", "void_fraction", "void_centres"]
    inputs = {p: f"results/voids/subboxes/{p}.npy" for p in products}
    inputs["index"] = "results/voids/subboxes/index.fits"
    return inputs


def train_size_reference(wildcards):
    """For the leaky random split: the spatial split whose training-set size it is cut to."""
    if wildcards.method == "random" and VOIDS["leakage"]["match_train_size"]:
        return ["results/voids/splits/spatial.json"]
    return []


def voids_section(*keys, omit=()):
    """The parts of config["voids"] that a job reads, passed as its params.

    Snakemake reruns a job whose params changed, so jobs get only what they use (a new n_demo
    redraws figures but does not retrain). Keys named in omit are dropped from every section
    (split.method only picks the headline split, so the split jobs do not get it).
    """
    section = {k: VOIDS[k] for k in keys}
    for k, value in section.items():
        if isinstance(value, dict):
            section[k] = {n: v for n, v in value.items() if n not in omit}
    return section

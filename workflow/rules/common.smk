# Config validation (schema defaults filled in), constants and small input functions.
import os
from pathlib import Path

from cosmodl.config import load_yaml, validate_config

_validated = validate_config(
    config, load_yaml(Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml")
)
config.clear()
config.update(_validated)
VOIDS = config["voids"]
SCRIPTS = Path(workflow.basedir) / "scripts"
SPLIT_METHODS = ["spatial", "random"]

wildcard_constraints:
    method="|".join(SPLIT_METHODS),


def all_targets():
    targets = []
    if "voids" in config["stages"]:
        targets += [
            "results/voids/voids_summary.json",
            "results/voids/subboxes/index.fits",
        ]
        targets += expand("results/voids/splits/{method}.json", method=SPLIT_METHODS)
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

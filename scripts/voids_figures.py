"""Snakemake adapter: demo maps, counts, training curves and leakage figures of the voids stage."""
import json
import re
from pathlib import Path

from cosmodl.voids.figures import voids_figures
from cosmodl.logs import logged_step
from cosmodl.voids.subboxes import lattice_from_index


def by_task_and_split(paths):
    keyed = {}
    for p in paths:
        task, split = re.match(r"(map|counts)_(spatial|random)", Path(p).name).groups()
        keyed[(task, split)] = p
    return keyed


with logged_step(snakemake.log[0]):
    inp, voids = snakemake.input, snakemake.params.voids
    lattice = lattice_from_index(inp.index)
    voids_figures(json.loads(Path(inp.metrics).read_text()), by_task_and_split(inp.predictions),
                  by_task_and_split(inp.histories), inp.images, lattice.size * lattice.cell,
                  Path(snakemake.output.counts).parent, voids["figures"]["n_demo"], voids["split"]["method"])

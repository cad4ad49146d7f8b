"""Snakemake adapter: boxes, reionisation history, reconstructions, curves, confusion matrices, accuracy."""
import json
from pathlib import Path

from cosmodl.cm21.figures import cm21_figures
from cosmodl.logs import logged_step

with logged_step(snakemake.log[0]):
    inp = snakemake.input
    cm21_figures(snakemake.params.cm21, json.loads(Path(inp.metrics).read_text()), inp.slices, inp.table, inp.split,
                 list(inp.boxes), list(inp.histories), Path(snakemake.output[0]).parent,
                 autoencoder_path=inp.models[0] if inp.models else None)

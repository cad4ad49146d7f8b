"""Snakemake adapter: z_true vs z_pred, accuracy vs training size, example spectra, calibration, curves."""
import json
from pathlib import Path

from cosmodl.specz.figures import specz_figures
from cosmodl.logs import logged_step

with logged_step(snakemake.log[0]):
    inp = snakemake.input
    specz_figures(snakemake.params.specz, json.loads(Path(inp.metrics).read_text()), inp.test, list(inp.predictions),
                  list(inp.histories), Path(snakemake.output[0]).parent)

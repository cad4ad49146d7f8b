"""Snakemake adapter: example images, reconstructions, ROC curves, score histograms, training curves."""
import json
from pathlib import Path

from cosmodl.lensing.figures import lensing_figures
from cosmodl.logs import logged_step

with logged_step(snakemake.log[0]):
    inp, p = snakemake.input, snakemake.params
    lensing_figures(json.loads(Path(inp.metrics).read_text()), dict(zip(p.datasets, inp.scores)),
                    dict(zip(p.datasets, inp.images)), dict(zip(p.datasets, inp.params)), list(inp.histories),
                    Path(snakemake.output.roc).parent, p.n_examples, p.fields)

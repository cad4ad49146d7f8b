"""Snakemake adapter: slice the test source's realizations, cut to the training slice side."""
from cosmodl.cm21.stage import make_cross_slices
from cosmodl.logs import logged_step

with logged_step(snakemake.log[0], snakemake.threads):
    inp = snakemake.input
    make_cross_slices(snakemake.params.cm21, inp.boxes, inp.split, snakemake.output.slices, snakemake.output.table)

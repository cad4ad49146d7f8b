"""Snakemake adapter: slice every realization, split the slices (seeds or buffered slabs)."""
from cosmodl.cm21.stage import make_slices
from cosmodl.logs import logged_step

with logged_step(snakemake.log[0]):
    out = snakemake.output
    make_slices(snakemake.params.cm21, list(snakemake.input), out.slices, out.table, out.split)

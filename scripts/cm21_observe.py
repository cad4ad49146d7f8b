"""Snakemake adapter: the slice stack as an interferometer sees it, at one noise level."""
from cosmodl.cm21.telescope import make_observed
from cosmodl.logs import logged_step

with logged_step(snakemake.log[0], snakemake.threads):
    inp = snakemake.input
    make_observed(snakemake.params.cm21, snakemake.params.noise_mk, inp.slices, inp.table, inp.split,
                  snakemake.output[0])

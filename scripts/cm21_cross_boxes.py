"""Snakemake adapter: the boxes of one realization (f_esc, seed) of the test source (cm21.test_source)."""
from cosmodl.cm21.data import parse_realization
from cosmodl.cm21.stage import make_cross_realization
from cosmodl.logs import logged_step

with logged_step(snakemake.log[0], snakemake.threads):
    f_esc, seed = parse_realization(snakemake.wildcards.realization)
    make_cross_realization(snakemake.params.cm21, f_esc, seed, snakemake.output[0], threads=snakemake.threads)

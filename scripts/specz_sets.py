"""Snakemake adapter: the stored validation and test spectra (clean and noisy from the same draws)."""
from cosmodl.logs import logged_step
from cosmodl.specz.stage import make_sets

with logged_step(snakemake.log[0]):
    make_sets(snakemake.params.specz, snakemake.output.val, snakemake.output.test)

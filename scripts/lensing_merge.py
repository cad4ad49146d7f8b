"""Snakemake adapter: merge the simulated chunks of a data set into one image stack, table and split."""
from cosmodl.lensing.stage import merge_chunks
from cosmodl.logs import logged_step

with logged_step(snakemake.log[0]):
    out = snakemake.output
    merge_chunks(list(snakemake.input.images), list(snakemake.input.params), out.images, out.params, out.split,
                 snakemake.params.seed, snakemake.params.sampling)

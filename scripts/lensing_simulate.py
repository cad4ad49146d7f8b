"""Snakemake adapter: simulate one chunk of a lensing data set (images and per-image parameters)."""
from cosmodl.lensing.stage import simulate_chunk
from cosmodl.logs import logged_step

with logged_step(snakemake.log[0], snakemake.threads):
    simulate_chunk(snakemake.params.lensing, snakemake.wildcards.dataset, int(snakemake.wildcards.chunk),
                   snakemake.output.images, snakemake.output.params, workers=snakemake.threads)

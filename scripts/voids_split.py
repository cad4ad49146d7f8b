"""Snakemake adapter: train/val/test split of the subboxes (spatial or the leaky random one)."""
from cosmodl.logs import logged_step
from cosmodl.voids.stage import split

with logged_step(snakemake.log[0]):
    split(snakemake.params.voids, snakemake.input.index, snakemake.input.voids, snakemake.wildcards.method,
          snakemake.output[0])

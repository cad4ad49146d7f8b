"""Snakemake adapter: train/val/test split of the subboxes (spatial or the leaky random one)."""
from cosmodl.logs import log_to_file
from cosmodl.voids.stage import split

log_to_file(snakemake.log[0])
split(snakemake.params.voids, snakemake.input.index, snakemake.wildcards.method, snakemake.output[0])

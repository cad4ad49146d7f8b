"""Snakemake adapter: void catalogue (our finder, url or file) -> results/voids/voids.fits + summary."""
from cosmodl.logs import log_to_file, set_threads
from cosmodl.voids.stage import void_catalogue

log_to_file(snakemake.log[0])
set_threads(snakemake.threads)
source = snakemake.input.source[0] if len(snakemake.input.source) else None
void_catalogue(snakemake.params.voids, snakemake.input.galaxies, source, snakemake.output.voids,
               snakemake.output.summary)

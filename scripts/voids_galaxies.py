"""Snakemake adapter: galaxy catalogue (mock, url or file) -> results/voids/galaxies.fits."""
from cosmodl.logs import log_to_file, set_threads
from cosmodl.voids.stage import galaxy_catalogue

log_to_file(snakemake.log[0])
set_threads(snakemake.threads)
source = snakemake.input[0] if len(snakemake.input) else None
galaxy_catalogue(snakemake.params.voids, source, snakemake.output[0])

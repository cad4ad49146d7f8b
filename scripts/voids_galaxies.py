"""Snakemake adapter: galaxy catalogue (mock, url or file) -> results/voids/galaxies.fits."""
from cosmodl.logs import logged_step
from cosmodl.voids.stage import galaxy_catalogue

with logged_step(snakemake.log[0], snakemake.threads):
    source = snakemake.input[0] if len(snakemake.input) else None
    galaxy_catalogue(snakemake.params.voids, source, snakemake.output[0])

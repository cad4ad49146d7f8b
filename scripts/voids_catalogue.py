"""Snakemake adapter: void catalogue (our finder, url or file) -> results/voids/voids.fits + summary."""
from cosmodl.logs import logged_step
from cosmodl.voids.stage import void_catalogue

with logged_step(snakemake.log[0], snakemake.threads):
    source = snakemake.input.source[0] if len(snakemake.input.source) else None
    void_catalogue(snakemake.params.voids, snakemake.input.galaxies, source, snakemake.output.voids,
                   snakemake.output.summary)

"""Snakemake adapter: subbox galaxy images, void maps and index table."""
from cosmodl.logs import logged_step
from cosmodl.voids.stage import subbox_products

with logged_step(snakemake.log[0], snakemake.threads):
    outputs = {name: snakemake.output[name] for name in ("images", "void_fraction", "void_centres", "index")}
    subbox_products(snakemake.params.voids, snakemake.input.galaxies, snakemake.input.voids, outputs)

"""Snakemake adapter: subbox galaxy images, void maps and index table."""
from cosmodl.logs import log_to_file, set_threads
from cosmodl.voids.stage import subbox_products

log_to_file(snakemake.log[0])
set_threads(snakemake.threads)
outputs = {name: snakemake.output[name] for name in ("images", "void_fraction", "void_centres", "index")}
subbox_products(snakemake.params.voids, snakemake.input.galaxies, snakemake.input.voids, outputs)

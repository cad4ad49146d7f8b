"""Snakemake adapter: download a catalogue and verify its sha256."""
from cosmodl.download import download
from cosmodl.logs import logged_step

with logged_step(snakemake.log[0]):
    spec = snakemake.params.spec
    download(spec["url"], snakemake.output[0], spec["sha256"], retries=spec["retries"], timeout=spec["timeout"])

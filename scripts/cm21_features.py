"""Snakemake adapter: the summary statistics of one slice set, for the physics baselines."""
from cosmodl.cm21.features import make_features
from cosmodl.logs import logged_step

with logged_step(snakemake.log[0], snakemake.threads):
    inp = snakemake.input
    make_features(snakemake.params.cm21, inp.slices, inp.split, snakemake.output[0], threads=snakemake.threads)

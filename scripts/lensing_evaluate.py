"""Snakemake adapter: score a preset's test images with every network and the baselines."""
from cosmodl.lensing.evaluate import evaluate_preset
from cosmodl.logs import logged_step

with logged_step(snakemake.log[0], snakemake.threads):
    inp = snakemake.input
    evaluate_preset(snakemake.params.lensing, snakemake.wildcards.preset, inp.images, inp.params,
                    {name: inp[name] for name in snakemake.params.models}, snakemake.output.metrics,
                    snakemake.output.scores, threads=snakemake.threads)

"""Snakemake adapter: score a data set's test images with every network, the baselines and the oracle."""
from cosmodl.lensing.evaluate import evaluate_dataset
from cosmodl.logs import logged_step

with logged_step(snakemake.log[0], snakemake.threads):
    inp = snakemake.input
    evaluate_dataset(snakemake.params.lensing, snakemake.wildcards.dataset, inp.images, inp.params,
                     {name: inp[name] for name in snakemake.params.models}, snakemake.output.metrics,
                     snakemake.output.scores, threads=snakemake.threads, split_path=inp.split)

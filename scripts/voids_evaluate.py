"""Snakemake adapter: test-set metrics of a trained voids network and of its baselines."""
from cosmodl.logs import logged_step
from cosmodl.voids.evaluate import evaluate_void_model

with logged_step(snakemake.log[0], snakemake.threads):
    inp = snakemake.input
    evaluate_void_model(snakemake.params.voids, inp.model, inp.split,
                        {k: inp[k] for k in ("images", "void_fraction", "void_centres")}, inp.index,
                        snakemake.output.metrics, snakemake.output.predictions, snakemake.threads)

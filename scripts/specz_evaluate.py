"""Snakemake adapter: every CNN of one noise level, the template fit and the random forest on the test set."""
from cosmodl.logs import logged_step
from cosmodl.specz.evaluate import evaluate

with logged_step(snakemake.log[0], snakemake.threads):
    inp, out = snakemake.input, snakemake.output
    records = {name: path for name, path in inp.items() if name != "test"}
    evaluate(snakemake.params.specz, snakemake.wildcards.noise, inp.test, records, out.metrics, out.predictions,
             threads=snakemake.threads)

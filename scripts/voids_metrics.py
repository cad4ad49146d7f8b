"""Snakemake adapter: merge the evaluations into results/voids/metrics.json (schema-checked)."""
from cosmodl.logs import logged_step
from cosmodl.voids.learn import write_metrics

with logged_step(snakemake.log[0]):
    write_metrics(list(snakemake.input), snakemake.params.headline, snakemake.params.schema, snakemake.output[0])

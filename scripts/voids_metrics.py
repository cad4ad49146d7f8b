"""Snakemake adapter: merge the evaluations into results/voids/metrics.json (schema-checked)."""
from cosmodl.logs import logged_step
from cosmodl.voids.evaluate import write_voids_metrics

with logged_step(snakemake.log[0]):
    write_voids_metrics(list(snakemake.input.evaluations), snakemake.params.headline, snakemake.input.schema,
                        snakemake.output[0])

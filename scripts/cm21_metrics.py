"""Snakemake adapter: merge the per-task evaluations into metrics.json and the markdown accuracy table."""
from cosmodl.cm21.evaluate import collect_metrics, write_table
from cosmodl.logs import logged_step

with logged_step(snakemake.log[0]):
    doc = collect_metrics(list(snakemake.input.evaluations), snakemake.input.schema, snakemake.output.metrics)
    write_table(doc, snakemake.output.table)

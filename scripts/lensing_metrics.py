"""Snakemake adapter: merge the per-preset evaluations into metrics.json and the markdown AUC table."""
from cosmodl.lensing.evaluate import collect_metrics, write_table
from cosmodl.logs import logged_step

with logged_step(snakemake.log[0]):
    doc = collect_metrics(list(snakemake.input.evaluations), snakemake.input.schema, snakemake.output.metrics)
    write_table(doc, snakemake.output.table)

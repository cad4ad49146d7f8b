"""Snakemake adapter: merge the evaluations of each noise level into metrics.json and the markdown table."""
from cosmodl.logs import logged_step
from cosmodl.specz.evaluate import collect_metrics, write_table

with logged_step(snakemake.log[0]):
    doc = collect_metrics(list(snakemake.input.evaluations), snakemake.input.schema, snakemake.output.metrics)
    write_table(doc, snakemake.output.table)

"""Snakemake adapter of every stage's metrics rule: ``cosmodl.<stage>.evaluate.collect_metrics`` merges the
evaluations into results/<stage>/metrics.json (schema-checked) and ``write_table`` writes its markdown table."""
import importlib

from cosmodl.logs import logged_step

with logged_step(snakemake.log[0]):
    evaluate = importlib.import_module(f"cosmodl.{snakemake.params.stage}.evaluate")
    doc = evaluate.collect_metrics(list(snakemake.input.evaluations), snakemake.input.schema,
                                   snakemake.output.metrics, **snakemake.params.get("options", {}))
    evaluate.write_table(doc, snakemake.output.table)

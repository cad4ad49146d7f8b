"""Snakemake adapter: score every method of one task on the test slices."""
from cosmodl.cm21.evaluate import evaluate_task
from cosmodl.cm21.stage import grid_of
from cosmodl.logs import logged_step

with logged_step(snakemake.log[0], snakemake.threads):
    inp = snakemake.input
    cross = ({"slices": inp.cross_slices, "table": inp.cross_table, "features": inp.get("cross_features"),
              "source": snakemake.params.test_source} if snakemake.params.test_source else None)
    evaluate_task(snakemake.params.cm21, snakemake.wildcards.task, inp.slices, inp.table, inp.split,
                  {name: inp[name] for name in snakemake.params.networks}, grid_of(inp.split)[1],
                  snakemake.output.metrics, snakemake.output.predictions, threads=snakemake.threads, cross=cross,
                  features_path=inp.get("features"))

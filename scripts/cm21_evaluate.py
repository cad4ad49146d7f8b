"""Snakemake adapter: score every method of one task on the test slices."""
from cosmodl.cm21.evaluate import evaluate_task
from cosmodl.cm21.stage import grid_of
from cosmodl.logs import logged_step

with logged_step(snakemake.log[0], snakemake.threads):
    inp, cfg = snakemake.input, snakemake.params.cm21
    if snakemake.params.get("methods"):  # the telescope curve's evaluations: the statistics and its networks
        cfg = {**cfg, "methods": snakemake.params.methods}
    cross = ({"slices": inp.cross_slices, "table": inp.cross_table, "features": inp.get("cross_features"),
              "source": snakemake.params.test_source} if snakemake.params.test_source else None)
    evaluate_task(cfg, snakemake.wildcards.task, inp.slices, inp.table, inp.split,
                  {name: inp[name] for name in snakemake.params.networks}, grid_of(inp.split)[1],
                  snakemake.output.metrics, snakemake.output.predictions, threads=snakemake.threads, cross=cross,
                  features_path=inp.get("features"))

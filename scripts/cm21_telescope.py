"""Snakemake adapter: accuracy against thermal noise (telescope.json and its figure)."""
from cosmodl.cm21.figures import plot_telescope
from cosmodl.cm21.telescope import telescope_curve
from cosmodl.figures.common import save_figure
from cosmodl.logs import logged_step

with logged_step(snakemake.log[0], snakemake.threads):
    params, out = snakemake.params, snakemake.output
    doc = telescope_curve(params.cm21, dict(zip(params.noise_mk, snakemake.input.evaluations)),
                          snakemake.input.slices, out.curve)
    save_figure(plot_telescope(doc), out.figure)

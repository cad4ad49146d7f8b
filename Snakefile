# cosmodl: deep learning on cosmological simulations. See README.md.
from snakemake.utils import min_version

min_version("9.0")


configfile: os.path.join(workflow.basedir, "config.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/voids.smk"


rule all:
    default_target: True
    input:
        all_targets(),

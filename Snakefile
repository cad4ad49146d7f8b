# cosmodl: deep learning on cosmological simulations. See README.md.
from snakemake.utils import min_version

min_version("9.0")


configfile: os.path.join(workflow.basedir, "config.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/voids_common.smk"
include: "workflow/rules/voids.smk"
include: "workflow/rules/lensing_common.smk"
include: "workflow/rules/lensing.smk"
include: "workflow/rules/cm21_common.smk"
include: "workflow/rules/cm21.smk"
include: "workflow/rules/specz_common.smk"
include: "workflow/rules/specz.smk"


rule all:
    default_target: True
    input:
        all_targets(),


onsuccess:
    # Outputs are accepted: the checkpoints of finished trainings are no longer needed.
    from cosmodl.training import remove_finished_checkpoints

    for stage in config["stages"]:
        remove_finished_checkpoints(f"results/{stage}/checkpoints")

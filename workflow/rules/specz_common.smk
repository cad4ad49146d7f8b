# Spectroscopic-redshift stage: constants and the input, param and resource functions of its
# rules (specz.smk).
from cosmodl.specz.stage import run_name

SPECZ = config["specz"]
SPECZ_RUNS = {
    run_name(blocks, noise, size): {"blocks": blocks, "noise": noise, "size": size}
    for blocks in SPECZ["depths"]
    for noise in SPECZ["noise"]
    for size in SPECZ["sizes"]
    if "cnn" in SPECZ["methods"]
}
SPECZ_FIGURES = [
    "redshift_density.png",
    "learning_curve.png",
    "purity_completeness.png",
    "examples.png",
    "calibration.png",
]


def specz_run(wildcards):
    """Depth, noise level and size of a training run, from its name."""
    return SPECZ_RUNS[wildcards.run]


specz_devices = train_devices(
    "specz", lambda wildcards: f"cnn{SPECZ_RUNS[wildcards.run]['blocks']}"
)


def specz_records(wildcards):
    """Model records of the CNNs of one noise level, by run name."""
    return {
        name: f"results/specz/models/{name}.pt"
        for name, run in SPECZ_RUNS.items()
        if run["noise"] == wildcards.noise
    }

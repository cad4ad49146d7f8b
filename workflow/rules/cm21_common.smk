# 21-cm stage: constants and the input, param and resource functions of its rules (cm21.smk).
from cosmodl.cm21.data import realization_name
from cosmodl.cm21.data import TASKS as CM21_TASK_NAMES
from cosmodl.cm21.stage import cross_realizations, cross_source_of
from cosmodl.cm21.telescope import level_name

CM21 = config["cm21"]
CM21_REALIZATIONS = [
    realization_name(f, s) for f in CM21["f_esc"] for s in CM21["seeds"]
]
CM21_TASKS = CM21["tasks"]
CM21_NETWORKS = [m for m in CM21["methods"] if m in ("fc", "ae_cnn", "cnn", "resnet")]
CM21_BOXES = (
    CM21["directory"] if CM21["source"] == "directory" else "results/cm21/boxes"
)
# the other source the trained models are also scored on (cm21.test_source; None when off)
CM21_CROSS = cross_source_of(CM21)
CM21_CROSS_REALIZATIONS = cross_realizations(CM21)
CM21_CROSS_BOXES = (
    CM21_CROSS["directory"]
    if CM21_CROSS and CM21_CROSS["source"] == "directory"
    else "results/cm21/cross_source/boxes"
)


def cm21_cross_figures():
    """The cross-source figure, when cm21.test_source is on."""
    return ["cross_source.png"] if CM21_CROSS else []


def cm21_curve_figures():
    """Loss curves of the networks, and their validation accuracy where a task is a classification."""
    if not CM21_NETWORKS:
        return []
    classification = any(task != "zeta" for task in CM21_TASKS)
    return ["training_curves.png"] + (["accuracy_curves.png"] if classification else [])


cm21_devices = train_devices(
    "cm21", lambda wildcards: getattr(wildcards, "network", "autoencoder")
)


def cm21_train_inputs(wildcards):
    """Slices, table and split, and the trained autoencoder for the encoded CNN."""
    inputs = {
        "slices": "results/cm21/data/slices.npy",
        "table": "results/cm21/data/slices.csv",
        "split": "results/cm21/data/split.json",
    }
    if wildcards.network == "ae_cnn":
        inputs["autoencoder"] = "results/cm21/models/autoencoder.pt"
    return inputs


def cm21_task_records(wildcards):
    """Model records of a task's networks, by name."""
    return {n: f"results/cm21/models/{wildcards.task}_{n}.pt" for n in CM21_NETWORKS}


def cm21_cross_inputs(wildcards):
    """The test source's slices and table, when cm21.test_source is on."""
    if CM21_CROSS is None:
        return {}
    return {
        "cross_slices": "results/cm21/cross_source/slices.npy",
        "cross_table": "results/cm21/cross_source/slices.csv",
    }


def cm21_feature_inputs(wildcards):
    """The summary statistics of the slices (and of the test source's), when the physics baseline runs."""
    if "physics" not in CM21["methods"]:
        return {}
    inputs = {"features": "results/cm21/data/features.npz"}
    if CM21_CROSS is not None:
        inputs["cross_features"] = "results/cm21/cross_source/features.npz"
    return inputs


# the telescope curve (cm21.telescope): one folder per noise level; off while noise_mk is empty
CM21_LEVELS = [level_name(n) for n in CM21["telescope"]["noise_mk"]]
CM21_TELESCOPE_TARGETS = (
    ["results/cm21/telescope.json", "results/cm21/figures/telescope.png"]
    if CM21_LEVELS
    else []
)


def cm21_telescope_records(wildcards):
    """Model records of the networks trained at one noise level, by name."""
    return {
        n: f"results/cm21/telescope/{wildcards.level}/{wildcards.task}_{n}.pt"
        for n in CM21["telescope"]["networks"]
    }

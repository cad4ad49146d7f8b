# Lensing stage: constants and the input, param and resource functions of its rules (lensing.smk).
from cosmodl.lensing.resources import estimate_mb as lensing_estimate_mb
from cosmodl.lensing.simulate import n_chunks_of

LENSING = config["lensing"]
LENSING_PRESETS = LENSING["presets"]
LENSING_MODELS = LENSING["models"]
LENSING_CHUNKS = list(range(n_chunks_of(LENSING["sizes"], LENSING["chunk_size"])))


def lensing_targets():
    """Final outputs of the lensing stage: metrics, the AUC table and every figure."""
    figures = ["roc.png", "training_curves.png"]
    for preset in LENSING_PRESETS:
        figures += [
            f"examples_{preset}.png",
            f"reconstructions_{preset}.png",
            f"scores_{preset}.png",
        ]
    return [
        "results/lensing/metrics.json",
        "results/lensing/auc_table.md",
        *expand("results/lensing/figures/{name}", name=figures),
    ]


def lensing_mem_mb(step):
    """mem_mb of a rule, from cosmodl.lensing.resources.estimate_mb."""
    return lensing_estimate_mb(step, LENSING)


def lensing_chunks(kind):
    """Chunk files of a preset's simulation (kind: npy images or csv parameters)."""

    def chunks(wildcards):
        return expand(
            "results/lensing/data/{preset}/chunks/{chunk}.{kind}",
            preset=wildcards.preset,
            chunk=LENSING_CHUNKS,
            kind=kind,
        )

    return chunks


def lensing_section(*keys):
    """The parts of config["lensing"] a job reads (its params: a change reruns only what uses it)."""
    return {k: LENSING[k] for k in keys}


def lensing_train_devices(wildcards):
    """Processes (GPUs) of a training job: train.devices, or that network's override."""
    override = LENSING["train_overrides"].get(wildcards.model) or {}
    return override.get("devices", LENSING["train"]["devices"])


def lensing_model_records(wildcards):
    """Model records of a preset's networks, by name."""
    return {
        name: f"results/lensing/models/{wildcards.preset}_{name}.pt"
        for name in LENSING_MODELS
    }

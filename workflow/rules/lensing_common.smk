# Lensing stage: constants and the input, param and resource functions of its rules (lensing.smk).
from cosmodl.lensing.data import dataset_names, parse_dataset
from cosmodl.lensing.simulate import PRESET_KEYS, n_chunks_of

LENSING = config["lensing"]
LENSING_DATASETS = dataset_names(LENSING)
LENSING_MODELS = LENSING["models"]
LENSING_CHUNKS = list(range(n_chunks_of(LENSING["sizes"], LENSING["chunk_size"])))


def lensing_chunks(kind):
    """Chunk files of a data set's simulation (kind: npy images or csv parameters)."""

    def chunks(wildcards):
        return expand(
            "results/lensing/data/{dataset}/chunks/{chunk}.{kind}",
            dataset=wildcards.dataset,
            chunk=LENSING_CHUNKS,
            kind=kind,
        )

    return chunks


def lensing_simulation_section(wildcards):
    """What a simulation job of a data set reads: the shared keys and its own preset's population only."""
    preset, sampling = parse_dataset(wildcards.dataset)
    population = PRESET_KEYS[preset]
    # presets and sampling name the data set; the memory estimate reads the presets
    return section("lensing", "lensing_simulate") | {
        population: LENSING[population],
        "presets": [preset],
        "sampling": [sampling],
    }


def lensing_fields():
    """Side of each data set's field, arcsec (figure titles)."""
    fields = {}
    for dataset in LENSING_DATASETS:
        instrument = LENSING[PRESET_KEYS[parse_dataset(dataset)[0]]]["instrument"]
        fields[dataset] = instrument["num_pix"] * instrument["pixel_scale"]
    return fields


def lensing_sampling(wildcards):
    """The sampling scheme of a data set (iid or lattice)."""
    return parse_dataset(wildcards.dataset)[1]


lensing_train_devices = train_devices("lensing", lambda wildcards: wildcards.model)


def lensing_model_records(wildcards):
    """Model records of a data set's networks, by name."""
    return {
        name: f"results/lensing/models/{wildcards.dataset}_{name}.pt"
        for name in LENSING_MODELS
    }

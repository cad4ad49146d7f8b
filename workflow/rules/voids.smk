# Voids stage (seed 000): galaxies -> voids -> subbox images and targets -> leakage-free split
# -> ResNet void maps and counts -> metrics against baselines -> figures.
from cosmodl.voids.resources import estimate_mb, needs_input_size

VOIDS = config["voids"]
VOID_TASKS = ["map", "counts"]
SPLIT_METHODS = ["spatial", "random"]
# Splits the networks are trained on: the configured one, plus the other for the leakage experiment.
TRAIN_SPLITS = (
    SPLIT_METHODS if VOIDS["leakage"]["enabled"] else [VOIDS["split"]["method"]]
)


localrules:
    voids_split,
    voids_metrics,
    voids_figures,


def voids_targets():
    """Final outputs of the voids stage (every figure, so a new n_demo redraws)."""
    figures = [f"demofigure_{i}.png" for i in range(VOIDS["figures"]["n_demo"])]
    figures += ["counts_result.png", "training_curves.png"]
    figures += ["leakage.png"] if len(TRAIN_SPLITS) > 1 else []
    return [
        "results/voids/voids_summary.json",
        "results/voids/subboxes/index.fits",
        *expand("results/voids/splits/{method}.json", method=SPLIT_METHODS),
        "results/voids/metrics.json",
        *expand("results/voids/figures/{name}", name=figures),
    ]


STAGE_TARGETS["voids"] = voids_targets


def voids_mem_mb(step):
    """mem_mb of a rule: cosmodl.voids.resources.estimate_mb, from the config (and input sizes
    where the config cannot tell: catalogues from a file or a download)."""
    if not needs_input_size(step, VOIDS):
        return estimate_mb(step, VOIDS)

    def mem_mb(wildcards, input):
        return estimate_mb(step, VOIDS, input.size_mb)

    return mem_mb


def download_name(section):
    """File name under resources/voids/downloads/ for a catalogue section with source: url."""
    return f"{section}_{os.path.basename(VOIDS[section]['url'].split('?')[0])}"


def get_catalogue_source(section):
    """Input file of the galaxies/catalogue rule: a download, a local file, or nothing."""
    spec = VOIDS[section]
    if spec["source"] == "url":
        return [f"resources/voids/downloads/{download_name(section)}"]
    if spec["source"] == "file":
        return [spec["path"]]
    return []


def get_download_spec(wildcards):
    for section in ("galaxies", "catalogue"):
        spec = VOIDS[section]
        if spec["source"] == "url" and download_name(section) == wildcards.name:
            return spec
    raise ValueError(f"no catalogue with source: url downloads to {wildcards.name}")


def subbox_products(wildcards):
    """The subbox stacks and index table that training and evaluation read."""
    products = ["images", "void_fraction", "void_centres"]
    inputs = {p: f"results/voids/subboxes/{p}.npy" for p in products}
    inputs["index"] = "results/voids/subboxes/index.fits"
    return inputs


def train_size_reference(wildcards):
    """For the leaky random split: the spatial split whose training-set size it is cut to."""
    if wildcards.method == "random" and VOIDS["leakage"]["match_train_size"]:
        return ["results/voids/splits/spatial.json"]
    return []


def voids_section(*keys, omit=()):
    """The parts of config["voids"] that a job reads, passed as its params.

    Snakemake reruns a job whose params changed, so jobs get only what they use (a new n_demo
    redraws figures but does not retrain). Keys named in omit are dropped from every section
    (split.method only picks the headline split, so the split jobs do not get it).
    """
    section = {k: VOIDS[k] for k in keys}
    for k, value in section.items():
        if isinstance(value, dict):
            section[k] = {n: v for n, v in value.items() if n not in omit}
    return section


def train_cpus_per_gpu(wildcards, threads):
    """SLURM --cpus-per-gpu of a training job: its threads shared by its `devices` processes."""
    return max(1, threads // VOIDS["train"]["devices"])


rule voids_download:
    output:
        "resources/voids/downloads/{name}",
    log:
        "logs/voids/download/{name}.log",
    benchmark:
        "benchmarks/voids/download/{name}.tsv"
    resources:
        mem_mb=500,
        runtime=60,
    params:
        spec=get_download_spec,
    script:
        "../../scripts/voids_download.py"


rule voids_galaxies:
    input:
        get_catalogue_source("galaxies"),
    output:
        "results/voids/galaxies.fits",
    log:
        "logs/voids/galaxies/galaxies.log",
    benchmark:
        "benchmarks/voids/galaxies/galaxies.tsv"
    threads: MAX_THREADS
    resources:
        mem_mb=voids_mem_mb("galaxies"),
        runtime=30,
    params:
        voids=voids_section("box_size", "seed", "cosmology", "galaxies"),
    script:
        "../../scripts/voids_galaxies.py"


rule voids_catalogue:
    input:
        galaxies="results/voids/galaxies.fits",
        source=get_catalogue_source("catalogue"),
    output:
        voids="results/voids/voids.fits",
        summary="results/voids/voids_summary.json",
    log:
        "logs/voids/catalogue/catalogue.log",
    benchmark:
        "benchmarks/voids/catalogue/catalogue.tsv"
    threads: MAX_THREADS
    resources:
        mem_mb=voids_mem_mb("catalogue"),
        runtime=60,
    params:
        voids=voids_section("box_size", "catalogue"),
    script:
        "../../scripts/voids_catalogue.py"


rule voids_subboxes:
    input:
        galaxies="results/voids/galaxies.fits",
        voids="results/voids/voids.fits",
    output:
        images="results/voids/subboxes/images.npy",
        void_fraction="results/voids/subboxes/void_fraction.npy",
        void_centres="results/voids/subboxes/void_centres.npy",
        index="results/voids/subboxes/index.fits",
    log:
        "logs/voids/subboxes/subboxes.log",
    benchmark:
        "benchmarks/voids/subboxes/subboxes.tsv"
    threads: MAX_THREADS
    resources:
        mem_mb=voids_mem_mb("subboxes"),
        runtime=60,
    params:
        voids=voids_section("box_size", "subboxes"),
    script:
        "../../scripts/voids_subboxes.py"


rule voids_split:
    input:
        index="results/voids/subboxes/index.fits",
        voids="results/voids/voids.fits",
    output:
        "results/voids/splits/{method}.json",
    log:
        "logs/voids/split/{method}.log",
    benchmark:
        "benchmarks/voids/split/{method}.tsv"
    wildcard_constraints:
        method="|".join(SPLIT_METHODS),
    resources:
        mem_mb=voids_mem_mb("small"),
        runtime=10,
    params:
        voids=voids_section("split", omit=("method",)),
    script:
        "../../scripts/voids_split.py"


rule voids_train:
    input:
        unpack(subbox_products),
        split="results/voids/splits/{method}.json",
        match=train_size_reference,
    output:
        model="results/voids/models/{task}_{method}.pt",
        history="results/voids/models/{task}_{method}_history.csv",
    log:
        "logs/voids/train/{task}_{method}.log",
    benchmark:
        "benchmarks/voids/train/{task}_{method}.tsv"
    wildcard_constraints:
        task="|".join(VOID_TASKS),
        method="|".join(SPLIT_METHODS),
    threads: MAX_THREADS
    resources:
        gpu=VOIDS["train"]["devices"],
        cpus_per_gpu=train_cpus_per_gpu,
        mem_mb=voids_mem_mb("train"),
        runtime=720,
    params:
        voids=voids_section("box_size", "subboxes", "model", "train"),
        workdir="results/voids/checkpoints/{task}_{method}",
    script:
        "../../scripts/voids_train.py"


rule voids_evaluate:
    input:
        unpack(subbox_products),
        model="results/voids/models/{task}_{method}.pt",
        split="results/voids/splits/{method}.json",
    output:
        metrics="results/voids/eval/{task}_{method}.json",
        predictions="results/voids/eval/{task}_{method}.npz",
    log:
        "logs/voids/evaluate/{task}_{method}.log",
    benchmark:
        "benchmarks/voids/evaluate/{task}_{method}.tsv"
    wildcard_constraints:
        task="|".join(VOID_TASKS),
        method="|".join(SPLIT_METHODS),
    threads: MAX_THREADS
    resources:
        mem_mb=voids_mem_mb("evaluate"),
        runtime=60,
    params:
        voids=voids_section("box_size", "subboxes", "evaluation"),
    script:
        "../../scripts/voids_evaluate.py"


rule voids_metrics:
    input:
        evaluations=expand(
            "results/voids/eval/{task}_{method}.json",
            task=VOID_TASKS,
            method=TRAIN_SPLITS,
        ),
        schema=SCHEMAS / "voids_metrics.schema.yaml",
    output:
        "results/voids/metrics.json",
    log:
        "logs/voids/metrics/metrics.log",
    benchmark:
        "benchmarks/voids/metrics/metrics.tsv"
    resources:
        mem_mb=voids_mem_mb("small"),
        runtime=10,
    params:
        headline=VOIDS["split"]["method"],
    script:
        "../../scripts/voids_metrics.py"


rule voids_figures:
    input:
        metrics="results/voids/metrics.json",
        images="results/voids/subboxes/images.npy",
        index="results/voids/subboxes/index.fits",
        predictions=expand(
            "results/voids/eval/{task}_{method}.npz",
            task=VOID_TASKS,
            method=TRAIN_SPLITS,
        ),
        histories=expand(
            "results/voids/models/{task}_{method}_history.csv",
            task=VOID_TASKS,
            method=TRAIN_SPLITS,
        ),
    output:
        demos=[
            report(
                f"results/voids/figures/demofigure_{i}.png",
                caption="../report/voids_demofigure.rst",
                category="voids",
                subcategory="void maps",
            )
            for i in range(VOIDS["figures"]["n_demo"])
        ],
        counts=report(
            "results/voids/figures/counts_result.png",
            caption="../report/voids_counts.rst",
            category="voids",
            subcategory="void counts",
        ),
        curves=report(
            "results/voids/figures/training_curves.png",
            caption="../report/voids_training_curves.rst",
            category="voids",
            subcategory="training",
        ),
        leakage=(
            [
                report(
                    "results/voids/figures/leakage.png",
                    caption="../report/voids_leakage.rst",
                    category="voids",
                    subcategory="leakage",
                )
            ]
            if len(TRAIN_SPLITS) > 1
            else []
        ),
    log:
        "logs/voids/figures/figures.log",
    benchmark:
        "benchmarks/voids/figures/figures.tsv"
    resources:
        mem_mb=voids_mem_mb("small"),
        runtime=10,
    params:
        voids=voids_section("figures", "split"),
    script:
        "../../scripts/voids_figures.py"

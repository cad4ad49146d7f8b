# Voids stage (seed 000): galaxies -> voids -> subbox images and targets -> leakage-free split
# -> ResNet void maps and counts -> metrics against baselines -> figures.
# Constants and functions of these rules are in voids_common.smk.


localrules:
    voids_split,
    voids_metrics,
    voids_figures,


STAGE_TARGETS["voids"] = stage_targets(
    "voids",
    "results/voids/voids_summary.json",
    "results/voids/subboxes/index.fits",
    *expand("results/voids/splits/{method}.json", method=SPLIT_METHODS),
)


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
        mem_mb=mem_mb("voids", "galaxies"),
        runtime=30,
    params:
        voids=section("voids", "voids_galaxies"),
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
        mem_mb=mem_mb("voids", "catalogue"),
        runtime=60,
    params:
        voids=section("voids", "voids_catalogue"),
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
        mem_mb=mem_mb("voids", "subboxes"),
        runtime=60,
    params:
        voids=section("voids", "voids_subboxes"),
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
        mem_mb=mem_mb("voids", "small"),
        runtime=10,
    params:
        voids=section("voids", "voids_split"),
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
        gpu=voids_devices,
        cpus_per_gpu=cpus_per_gpu(voids_devices),
        mem_mb=mem_mb("voids", "train"),
        runtime=720,
    params:
        voids=section("voids", "voids_train"),
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
        mem_mb=mem_mb("voids", "evaluate"),
        runtime=60,
    params:
        voids=section("voids", "voids_evaluate"),
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
        metrics="results/voids/metrics.json",
        table=report(
            "results/voids/results_table.md",
            caption="../report/voids_results_table.rst",
            category="voids",
            subcategory="results table",
        ),
    log:
        "logs/voids/metrics/metrics.log",
    benchmark:
        "benchmarks/voids/metrics/metrics.tsv"
    resources:
        mem_mb=mem_mb("voids", "small"),
        runtime=10,
    params:
        stage="voids",
        options={"headline_split": VOIDS["split"]["method"]},
    script:
        "../../scripts/metrics.py"


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
        mem_mb=mem_mb("voids", "small"),
        runtime=10,
    params:
        voids=section("voids", "voids_figures"),
    script:
        "../../scripts/voids_figures.py"

# Lensing stage (seed 002): lenstronomy images of lenses without and with dark substructure
# (Model A/B, DeepLenseSim I-III; each a data set per sampling scheme) -> anomaly detectors trained
# on no_sub and a supervised ResNet -> ROC/AUC, W1 against the published table and the oracle -> figures.
# Constants and functions of these rules are in lensing_common.smk.


localrules:
    lensing_merge,
    lensing_metrics,


STAGE_TARGETS["lensing"] = stage_targets("lensing")


rule lensing_simulate:
    output:
        images=temp("results/lensing/data/{dataset}/chunks/{chunk}.npy"),
        params=temp("results/lensing/data/{dataset}/chunks/{chunk}.csv"),
    log:
        "logs/lensing/simulate/{dataset}_{chunk}.log",
    benchmark:
        "benchmarks/lensing/simulate/{dataset}_{chunk}.tsv"
    wildcard_constraints:
        dataset="|".join(LENSING_DATASETS),
        chunk=r"\d+",
    threads: MAX_THREADS
    resources:
        mem_mb=mem_mb("lensing", "simulate"),
        runtime=120,
    params:
        lensing=lensing_simulation_section,
    script:
        "../../scripts/lensing_simulate.py"


rule lensing_merge:
    input:
        images=lensing_chunks("npy"),
        params=lensing_chunks("csv"),
    output:
        images="results/lensing/data/{dataset}/images.npy",
        params="results/lensing/data/{dataset}/params.csv",
        split="results/lensing/data/{dataset}/split.json",
    log:
        "logs/lensing/merge/{dataset}.log",
    benchmark:
        "benchmarks/lensing/merge/{dataset}.tsv"
    wildcard_constraints:
        dataset="|".join(LENSING_DATASETS),
    resources:
        mem_mb=mem_mb("lensing", "merge"),
        runtime=30,
    params:
        seed=LENSING["seed"],
        sampling=lensing_sampling,
    script:
        "../../scripts/lensing_merge.py"


rule lensing_train:
    input:
        images="results/lensing/data/{dataset}/images.npy",
        params="results/lensing/data/{dataset}/params.csv",
        split="results/lensing/data/{dataset}/split.json",
    output:
        model="results/lensing/models/{dataset}_{model}.pt",
        history="results/lensing/models/{dataset}_{model}_history.csv",
    log:
        "logs/lensing/train/{dataset}_{model}.log",
    benchmark:
        "benchmarks/lensing/train/{dataset}_{model}.tsv"
    wildcard_constraints:
        dataset="|".join(LENSING_DATASETS),
        model="|".join(LENSING_MODELS),
    threads: MAX_THREADS
    resources:
        gpu=lensing_train_devices,
        cpus_per_gpu=cpus_per_gpu(lensing_train_devices),
        mem_mb=mem_mb("lensing", "train"),
        runtime=1440,
    params:
        lensing=section("lensing", "lensing_train"),
        workdir="results/lensing/checkpoints/{dataset}_{model}",
    script:
        "../../scripts/lensing_train.py"


rule lensing_evaluate:
    input:
        unpack(lensing_model_records),
        images="results/lensing/data/{dataset}/images.npy",
        params="results/lensing/data/{dataset}/params.csv",
        split="results/lensing/data/{dataset}/split.json",
    output:
        metrics="results/lensing/eval/{dataset}.json",
        scores="results/lensing/eval/{dataset}.npz",
    log:
        "logs/lensing/evaluate/{dataset}.log",
    benchmark:
        "benchmarks/lensing/evaluate/{dataset}.tsv"
    wildcard_constraints:
        dataset="|".join(LENSING_DATASETS),
    threads: MAX_THREADS
    resources:
        mem_mb=mem_mb("lensing", "evaluate"),
        runtime=120,
    params:
        lensing=section("lensing", "lensing_evaluate"),
        models=LENSING_MODELS,
    script:
        "../../scripts/lensing_evaluate.py"


rule lensing_metrics:
    input:
        evaluations=expand(
            "results/lensing/eval/{dataset}.json", dataset=LENSING_DATASETS
        ),
        schema=SCHEMAS / "lensing_metrics.schema.yaml",
    output:
        metrics="results/lensing/metrics.json",
        table=report(
            "results/lensing/auc_table.md",
            caption="../report/lensing_auc_table.rst",
            category="lensing",
            subcategory="results table",
        ),
    log:
        "logs/lensing/metrics/metrics.log",
    benchmark:
        "benchmarks/lensing/metrics/metrics.tsv"
    resources:
        mem_mb=mem_mb("lensing", "small"),
        runtime=10,
    params:
        stage="lensing",
    script:
        "../../scripts/metrics.py"


rule lensing_figures:
    input:
        metrics="results/lensing/metrics.json",
        scores=expand("results/lensing/eval/{dataset}.npz", dataset=LENSING_DATASETS),
        images=expand(
            "results/lensing/data/{dataset}/images.npy", dataset=LENSING_DATASETS
        ),
        params=expand(
            "results/lensing/data/{dataset}/params.csv", dataset=LENSING_DATASETS
        ),
        histories=expand(
            "results/lensing/models/{dataset}_{model}_history.csv",
            dataset=LENSING_DATASETS,
            model=LENSING_MODELS,
        ),
    output:
        examples=[
            report(
                f"results/lensing/figures/examples_{dataset}.png",
                caption="../report/lensing_examples.rst",
                category="lensing",
                subcategory="simulations",
            )
            for dataset in LENSING_DATASETS
        ],
        reconstructions=[
            report(
                f"results/lensing/figures/reconstructions_{dataset}.png",
                caption="../report/lensing_reconstructions.rst",
                category="lensing",
                subcategory="reconstructions",
            )
            for dataset in LENSING_DATASETS
        ],
        scores=[
            report(
                f"results/lensing/figures/scores_{dataset}.png",
                caption="../report/lensing_scores.rst",
                category="lensing",
                subcategory="anomaly scores",
            )
            for dataset in LENSING_DATASETS
        ],
        roc=report(
            "results/lensing/figures/roc.png",
            caption="../report/lensing_roc.rst",
            category="lensing",
            subcategory="ROC",
        ),
        curves=report(
            "results/lensing/figures/training_curves.png",
            caption="../report/lensing_training_curves.rst",
            category="lensing",
            subcategory="training",
        ),
    log:
        "logs/lensing/figures/figures.log",
    benchmark:
        "benchmarks/lensing/figures/figures.tsv"
    resources:
        mem_mb=mem_mb("lensing", "small"),
        runtime=10,
    params:
        datasets=LENSING_DATASETS,
        fields=lensing_fields(),
        models=LENSING_MODELS,
        n_examples=LENSING["figures"]["n_examples"],
    script:
        "../../scripts/lensing_figures.py"

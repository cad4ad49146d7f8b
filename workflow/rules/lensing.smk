# Lensing stage (seed 002): lenstronomy images of lenses without and with dark substructure
# (Model A/B presets) -> anomaly detectors trained on no_sub and a supervised ResNet -> ROC/AUC,
# W1 against the published table -> figures.
# Constants and functions of these rules are in lensing_common.smk.


localrules:
    lensing_merge,
    lensing_metrics,


STAGE_TARGETS["lensing"] = lensing_targets


rule lensing_simulate:
    output:
        images=temp("results/lensing/data/{preset}/chunks/{chunk}.npy"),
        params=temp("results/lensing/data/{preset}/chunks/{chunk}.csv"),
    log:
        "logs/lensing/simulate/{preset}_{chunk}.log",
    benchmark:
        "benchmarks/lensing/simulate/{preset}_{chunk}.tsv"
    wildcard_constraints:
        preset="|".join(LENSING_PRESETS),
        chunk=r"\d+",
    threads: MAX_THREADS
    resources:
        mem_mb=lensing_mem_mb("simulate"),
        runtime=120,
    params:
        lensing=lensing_section(
            "seed", "sizes", "chunk_size", "image", "model_a", "model_b"
        ),
    script:
        "../../scripts/lensing_simulate.py"


rule lensing_merge:
    input:
        images=lensing_chunks("npy"),
        params=lensing_chunks("csv"),
    output:
        images="results/lensing/data/{preset}/images.npy",
        params="results/lensing/data/{preset}/params.csv",
        split="results/lensing/data/{preset}/split.json",
    log:
        "logs/lensing/merge/{preset}.log",
    benchmark:
        "benchmarks/lensing/merge/{preset}.tsv"
    wildcard_constraints:
        preset="|".join(LENSING_PRESETS),
    resources:
        mem_mb=lensing_mem_mb("merge"),
        runtime=30,
    params:
        seed=LENSING["seed"],
    script:
        "../../scripts/lensing_merge.py"


rule lensing_train:
    input:
        images="results/lensing/data/{preset}/images.npy",
        params="results/lensing/data/{preset}/params.csv",
    output:
        model="results/lensing/models/{preset}_{model}.pt",
        history="results/lensing/models/{preset}_{model}_history.csv",
    log:
        "logs/lensing/train/{preset}_{model}.log",
    benchmark:
        "benchmarks/lensing/train/{preset}_{model}.tsv"
    wildcard_constraints:
        preset="|".join(LENSING_PRESETS),
        model="|".join(LENSING_MODELS),
    threads: MAX_THREADS
    resources:
        gpu=lensing_train_devices,
        cpus_per_gpu=cpus_per_gpu(lensing_train_devices),
        mem_mb=lensing_mem_mb("train"),
        runtime=1440,
    params:
        lensing=lensing_section("model", "train", "train_overrides"),
        workdir="results/lensing/checkpoints/{preset}_{model}",
    script:
        "../../scripts/lensing_train.py"


rule lensing_evaluate:
    input:
        unpack(lensing_model_records),
        images="results/lensing/data/{preset}/images.npy",
        params="results/lensing/data/{preset}/params.csv",
    output:
        metrics="results/lensing/eval/{preset}.json",
        scores="results/lensing/eval/{preset}.npz",
    log:
        "logs/lensing/evaluate/{preset}.log",
    benchmark:
        "benchmarks/lensing/evaluate/{preset}.tsv"
    wildcard_constraints:
        preset="|".join(LENSING_PRESETS),
    threads: MAX_THREADS
    resources:
        mem_mb=lensing_mem_mb("evaluate"),
        runtime=120,
    params:
        lensing=lensing_section("seed", "model", "baselines"),
        models=LENSING_MODELS,
    script:
        "../../scripts/lensing_evaluate.py"


rule lensing_metrics:
    input:
        evaluations=expand("results/lensing/eval/{preset}.json", preset=LENSING_PRESETS),
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
        mem_mb=lensing_mem_mb("small"),
        runtime=10,
    script:
        "../../scripts/lensing_metrics.py"


rule lensing_figures:
    input:
        metrics="results/lensing/metrics.json",
        scores=expand("results/lensing/eval/{preset}.npz", preset=LENSING_PRESETS),
        images=expand(
            "results/lensing/data/{preset}/images.npy", preset=LENSING_PRESETS
        ),
        params=expand(
            "results/lensing/data/{preset}/params.csv", preset=LENSING_PRESETS
        ),
        histories=expand(
            "results/lensing/models/{preset}_{model}_history.csv",
            preset=LENSING_PRESETS,
            model=LENSING_MODELS,
        ),
    output:
        examples=[
            report(
                f"results/lensing/figures/examples_{preset}.png",
                caption="../report/lensing_examples.rst",
                category="lensing",
                subcategory="simulations",
            )
            for preset in LENSING_PRESETS
        ],
        reconstructions=[
            report(
                f"results/lensing/figures/reconstructions_{preset}.png",
                caption="../report/lensing_reconstructions.rst",
                category="lensing",
                subcategory="reconstructions",
            )
            for preset in LENSING_PRESETS
        ],
        scores=[
            report(
                f"results/lensing/figures/scores_{preset}.png",
                caption="../report/lensing_scores.rst",
                category="lensing",
                subcategory="anomaly scores",
            )
            for preset in LENSING_PRESETS
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
        mem_mb=lensing_mem_mb("small"),
        runtime=10,
    params:
        presets=LENSING_PRESETS,
        models=LENSING_MODELS,
        n_examples=LENSING["figures"]["n_examples"],
    script:
        "../../scripts/lensing_figures.py"

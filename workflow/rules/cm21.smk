# 21-cm stage (seed 001, MAIS 202): 21cmFAST-format boxes -> slices -> summary-statistic
# baselines, PCA + k-NN, and networks classifying redshift and escape fraction -> figures.
# Constants and functions of these rules are in cm21_common.smk.


localrules:
    cm21_metrics,
    cm21_telescope,


STAGE_TARGETS["cm21"] = stage_targets("cm21", *CM21_TELESCOPE_TARGETS)


rule cm21_boxes:
    output:
        directory("results/cm21/boxes/{realization}"),
    log:
        "logs/cm21/boxes/{realization}.log",
    benchmark:
        "benchmarks/cm21/boxes/{realization}.tsv"
    wildcard_constraints:
        realization=r"f[0-9.]+_s\d+",
    threads: 2
    resources:
        mem_mb=mem_mb("cm21", "boxes"),
        runtime=120,
    params:
        cm21=section("cm21", "cm21_boxes"),
    script:
        "../../scripts/cm21_boxes.py"


rule cm21_slices:
    input:
        expand("{root}/{realization}", root=CM21_BOXES, realization=CM21_REALIZATIONS),
    output:
        slices="results/cm21/data/slices.npy",
        table="results/cm21/data/slices.csv",
        split="results/cm21/data/split.json",
    log:
        "logs/cm21/slices/slices.log",
    benchmark:
        "benchmarks/cm21/slices/slices.tsv"
    resources:
        mem_mb=mem_mb("cm21", "slices"),
        runtime=60,
    params:
        cm21=section("cm21", "cm21_slices"),
    script:
        "../../scripts/cm21_slices.py"


rule cm21_cross_boxes:
    output:
        directory("results/cm21/cross_source/boxes/{realization}"),
    log:
        "logs/cm21/cross_boxes/{realization}.log",
    benchmark:
        "benchmarks/cm21/cross_boxes/{realization}.tsv"
    wildcard_constraints:
        realization=r"f[0-9.]+_s\d+",
    threads: 2
    resources:
        mem_mb=mem_mb("cm21", "boxes"),
        runtime=120,
    params:
        cm21=section("cm21", "cm21_cross_boxes"),
    script:
        "../../scripts/cm21_cross_boxes.py"


rule cm21_cross_slices:
    input:
        boxes=expand(
            "{root}/{realization}",
            root=CM21_CROSS_BOXES,
            realization=CM21_CROSS_REALIZATIONS,
        ),
        split="results/cm21/data/split.json",
    output:
        slices="results/cm21/cross_source/slices.npy",
        table="results/cm21/cross_source/slices.csv",
    log:
        "logs/cm21/cross_slices/cross_slices.log",
    benchmark:
        "benchmarks/cm21/cross_slices/cross_slices.tsv"
    resources:
        mem_mb=mem_mb("cm21", "slices"),
        runtime=60,
    params:
        cm21=section("cm21", "cm21_cross_slices"),
    script:
        "../../scripts/cm21_cross_slices.py"


rule cm21_features:
    input:
        slices="results/cm21/{set}/slices.npy",
        split="results/cm21/data/split.json",
    output:
        "results/cm21/{set}/features.npz",
    log:
        "logs/cm21/features/{set}.log",
    benchmark:
        "benchmarks/cm21/features/{set}.tsv"
    wildcard_constraints:
        set=r"data|cross_source|telescope/noise[0-9.]+",
    resources:
        mem_mb=mem_mb("cm21", "features"),
        runtime=60,
    params:
        cm21=section("cm21", "cm21_features"),
    script:
        "../../scripts/cm21_features.py"


rule cm21_autoencoder:
    input:
        slices="results/cm21/data/slices.npy",
        split="results/cm21/data/split.json",
    output:
        model="results/cm21/models/autoencoder.pt",
        history="results/cm21/models/autoencoder_history.csv",
    log:
        "logs/cm21/autoencoder/autoencoder.log",
    benchmark:
        "benchmarks/cm21/autoencoder/autoencoder.tsv"
    threads: MAX_THREADS
    resources:
        gpu=cm21_devices,
        cpus_per_gpu=cpus_per_gpu(cm21_devices),
        mem_mb=mem_mb("cm21", "train"),
        runtime=720,
    params:
        cm21=section("cm21", "cm21_autoencoder"),
        workdir="results/cm21/checkpoints/autoencoder",
    script:
        "../../scripts/cm21_train.py"


rule cm21_train:
    input:
        unpack(cm21_train_inputs),
    output:
        model="results/cm21/models/{task}_{network}.pt",
        history="results/cm21/models/{task}_{network}_history.csv",
    log:
        "logs/cm21/train/{task}_{network}.log",
    benchmark:
        "benchmarks/cm21/train/{task}_{network}.tsv"
    wildcard_constraints:
        task="|".join(CM21_TASKS),
        network="|".join(CM21_NETWORKS) or "none",
    threads: MAX_THREADS
    resources:
        gpu=cm21_devices,
        cpus_per_gpu=cpus_per_gpu(cm21_devices),
        mem_mb=mem_mb("cm21", "train"),
        runtime=720,
    params:
        cm21=section("cm21", "cm21_train"),
        workdir="results/cm21/checkpoints/{task}_{network}",
    script:
        "../../scripts/cm21_train.py"


rule cm21_evaluate:
    input:
        unpack(cm21_task_records),
        unpack(cm21_cross_inputs),
        unpack(cm21_feature_inputs),
        slices="results/cm21/data/slices.npy",
        table="results/cm21/data/slices.csv",
        split="results/cm21/data/split.json",
    output:
        metrics="results/cm21/eval/{task}.json",
        predictions="results/cm21/eval/{task}.npz",
    log:
        "logs/cm21/evaluate/{task}.log",
    benchmark:
        "benchmarks/cm21/evaluate/{task}.tsv"
    wildcard_constraints:
        task="|".join(CM21_TASKS),
    threads: MAX_THREADS
    resources:
        mem_mb=mem_mb("cm21", "evaluate"),
        runtime=60,
    params:
        cm21=section("cm21", "cm21_evaluate"),
        networks=CM21_NETWORKS,
        test_source=CM21_CROSS and CM21_CROSS["label"],
    script:
        "../../scripts/cm21_evaluate.py"


rule cm21_metrics:
    input:
        evaluations=expand("results/cm21/eval/{task}.json", task=CM21_TASKS),
        schema=SCHEMAS / "cm21_metrics.schema.yaml",
    output:
        metrics="results/cm21/metrics.json",
        table=report(
            "results/cm21/accuracy_table.md",
            caption="../report/cm21_accuracy_table.rst",
            category="cm21",
            subcategory="results table",
        ),
    log:
        "logs/cm21/metrics/metrics.log",
    benchmark:
        "benchmarks/cm21/metrics/metrics.tsv"
    resources:
        mem_mb=mem_mb("cm21", "small"),
        runtime=10,
    params:
        stage="cm21",
    script:
        "../../scripts/metrics.py"


rule cm21_figures:
    input:
        metrics="results/cm21/metrics.json",
        slices="results/cm21/data/slices.npy",
        table="results/cm21/data/slices.csv",
        split="results/cm21/data/split.json",
        boxes=expand(
            "{root}/{realization}", root=CM21_BOXES, realization=CM21_REALIZATIONS
        ),
        predictions=expand("results/cm21/eval/{task}.npz", task=CM21_TASKS),
        histories=expand(
            "results/cm21/models/{task}_{network}_history.csv",
            task=CM21_TASKS,
            network=CM21_NETWORKS,
        ),
        models=(
            ["results/cm21/models/autoencoder.pt"] if "ae_cnn" in CM21_NETWORKS else []
        ),
    output:
        [
            report(
                f"results/cm21/figures/{name}",
                caption=f"../report/cm21_{name.removesuffix('.png')}.rst",
                category="cm21",
            )
            for name in [
                "boxes.png",
                "history.png",
                "accuracy.png",
                "confusion.png",
            ]
        ],
        [
            report(
                f"results/cm21/figures/{name}",
                caption=f"../report/cm21_{name.removesuffix('.png')}.rst",
                category="cm21",
            )
            for name in (
                cm21_curve_figures()
                + cm21_cross_figures()
                + (["reconstructions.png"] if "ae_cnn" in CM21_NETWORKS else [])
            )
        ],
    log:
        "logs/cm21/figures/figures.log",
    benchmark:
        "benchmarks/cm21/figures/figures.tsv"
    resources:
        mem_mb=mem_mb("cm21", "small"),
        runtime=10,
    params:
        cm21=section("cm21", "cm21_figures"),
        tasks=CM21_TASKS,
        networks=CM21_NETWORKS,
    script:
        "../../scripts/cm21_figures.py"


rule cm21_observe:
    input:
        slices="results/cm21/data/slices.npy",
        table="results/cm21/data/slices.csv",
        split="results/cm21/data/split.json",
    output:
        "results/cm21/telescope/{level}/slices.npy",
    log:
        "logs/cm21/observe/{level}.log",
    benchmark:
        "benchmarks/cm21/observe/{level}.tsv"
    wildcard_constraints:
        level=r"noise[0-9.]+",
    resources:
        mem_mb=mem_mb("cm21", "slices"),
        runtime=30,
    params:
        cm21=section("cm21", "cm21_observe"),
        noise_mk=lambda wildcards: float(wildcards.level.removeprefix("noise")),
    script:
        "../../scripts/cm21_observe.py"


rule cm21_telescope_train:
    input:
        slices="results/cm21/telescope/{level}/slices.npy",
        table="results/cm21/data/slices.csv",
        split="results/cm21/data/split.json",
    output:
        model="results/cm21/telescope/{level}/{task}_{network}.pt",
        history="results/cm21/telescope/{level}/{task}_{network}_history.csv",
    log:
        "logs/cm21/telescope_train/{level}_{task}_{network}.log",
    benchmark:
        "benchmarks/cm21/telescope_train/{level}_{task}_{network}.tsv"
    wildcard_constraints:
        level=r"noise[0-9.]+",
        task="|".join(CM21_TASK_NAMES),
        network="fc|cnn|resnet",
    threads: MAX_THREADS
    resources:
        gpu=cm21_devices,
        cpus_per_gpu=cpus_per_gpu(cm21_devices),
        mem_mb=mem_mb("cm21", "train"),
        runtime=720,
    params:
        cm21=section("cm21", "cm21_telescope_train"),
        workdir="results/cm21/checkpoints/telescope/{level}/{task}_{network}",
    script:
        "../../scripts/cm21_train.py"


rule cm21_telescope_evaluate:
    input:
        unpack(cm21_telescope_records),
        slices="results/cm21/telescope/{level}/slices.npy",
        features="results/cm21/telescope/{level}/features.npz",
        table="results/cm21/data/slices.csv",
        split="results/cm21/data/split.json",
    output:
        metrics="results/cm21/telescope/{level}/{task}.json",
        predictions="results/cm21/telescope/{level}/{task}.npz",
    log:
        "logs/cm21/telescope_evaluate/{level}_{task}.log",
    benchmark:
        "benchmarks/cm21/telescope_evaluate/{level}_{task}.tsv"
    wildcard_constraints:
        level=r"noise[0-9.]+",
        task="|".join(CM21_TASK_NAMES),
    threads: MAX_THREADS
    resources:
        mem_mb=mem_mb("cm21", "evaluate"),
        runtime=60,
    params:
        cm21=section("cm21", "cm21_telescope_evaluate"),
        methods=["physics", *CM21["telescope"]["networks"]],
        networks=CM21["telescope"]["networks"],
        test_source=None,
    script:
        "../../scripts/cm21_evaluate.py"


rule cm21_telescope:
    input:
        evaluations=expand(
            "results/cm21/telescope/{level}/{task}.json",
            level=CM21_LEVELS,
            task=CM21["telescope"]["task"],
        ),
        slices="results/cm21/data/slices.npy",
    output:
        curve="results/cm21/telescope.json",
        figure=report(
            "results/cm21/figures/telescope.png",
            caption="../report/cm21_telescope.rst",
            category="cm21",
        ),
    log:
        "logs/cm21/telescope/telescope.log",
    benchmark:
        "benchmarks/cm21/telescope/telescope.tsv"
    resources:
        mem_mb=mem_mb("cm21", "small"),
        runtime=10,
    params:
        cm21=section("cm21", "cm21_telescope"),
        noise_mk=CM21["telescope"]["noise_mk"],
    script:
        "../../scripts/cm21_telescope.py"

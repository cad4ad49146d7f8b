# Spectroscopic-redshift stage (seed 004, Stivaktakis et al. 2020): synthetic Euclid-like
# spectra -> 1-D CNNs over 800 redshift classes, a template fit and a random forest -> figures.
# Constants and functions of these rules are in specz_common.smk.


localrules:
    specz_metrics,
    specz_figures,


STAGE_TARGETS["specz"] = stage_targets("specz")


rule specz_sets:
    output:
        val="results/specz/data/val.npz",
        test="results/specz/data/test.npz",
    log:
        "logs/specz/sets/sets.log",
    benchmark:
        "benchmarks/specz/sets/sets.tsv"
    resources:
        mem_mb=mem_mb("specz", "sets"),
        runtime=60,
    params:
        specz=section("specz", "specz_sets"),
    script:
        "../../scripts/specz_sets.py"


rule specz_train:
    input:
        val="results/specz/data/val.npz",
    output:
        model="results/specz/models/{run}.pt",
        history="results/specz/models/{run}_history.csv",
    log:
        "logs/specz/train/{run}.log",
    benchmark:
        "benchmarks/specz/train/{run}.tsv"
    wildcard_constraints:
        run="|".join(SPECZ_RUNS) or "none",
    threads: MAX_THREADS
    resources:
        gpu=specz_devices,
        cpus_per_gpu=cpus_per_gpu(specz_devices),
        mem_mb=mem_mb("specz", "train"),
        runtime=720,
    params:
        specz=section("specz", "specz_train"),
        run=specz_run,
        workdir="results/specz/checkpoints/{run}",
    script:
        "../../scripts/specz_train.py"


rule specz_evaluate:
    input:
        unpack(specz_records),
        test="results/specz/data/test.npz",
    output:
        metrics="results/specz/eval/{noise}.json",
        predictions="results/specz/eval/{noise}.npz",
    log:
        "logs/specz/evaluate/{noise}.log",
    benchmark:
        "benchmarks/specz/evaluate/{noise}.tsv"
    wildcard_constraints:
        noise="clean|noisy",
    threads: MAX_THREADS
    resources:
        mem_mb=mem_mb("specz", "evaluate"),
        runtime=120,
    params:
        specz=section("specz", "specz_evaluate"),
    script:
        "../../scripts/specz_evaluate.py"


rule specz_metrics:
    input:
        evaluations=expand("results/specz/eval/{noise}.json", noise=SPECZ["noise"]),
        schema=SCHEMAS / "specz_metrics.schema.yaml",
    output:
        metrics="results/specz/metrics.json",
        table=report(
            "results/specz/metrics_table.md",
            caption="../report/specz_metrics_table.rst",
            category="specz",
            subcategory="results table",
        ),
    log:
        "logs/specz/metrics/metrics.log",
    benchmark:
        "benchmarks/specz/metrics/metrics.tsv"
    resources:
        mem_mb=mem_mb("specz", "small"),
        runtime=10,
    params:
        stage="specz",
    script:
        "../../scripts/metrics.py"


rule specz_figures:
    input:
        metrics="results/specz/metrics.json",
        test="results/specz/data/test.npz",
        predictions=expand("results/specz/eval/{noise}.npz", noise=SPECZ["noise"]),
        histories=expand("results/specz/models/{run}_history.csv", run=list(SPECZ_RUNS)),
    output:
        [
            report(
                f"results/specz/figures/{name}",
                caption=f"../report/specz_{name.removesuffix('.png')}.rst",
                category="specz",
            )
            for name in SPECZ_FIGURES + (["training_curves.png"] if SPECZ_RUNS else [])
        ],
    log:
        "logs/specz/figures/figures.log",
    benchmark:
        "benchmarks/specz/figures/figures.tsv"
    resources:
        mem_mb=mem_mb("specz", "small"),
        runtime=10,
    params:
        specz=section("specz", "specz_figures"),
    script:
        "../../scripts/specz_figures.py"

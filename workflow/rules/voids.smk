# Voids stage (seed 000): galaxies -> voids -> subbox images and targets -> leakage-free split.


rule voids_download:
    output:
        "resources/voids/downloads/{name}",
    params:
        spec=get_download_spec,
    log:
        "logs/voids/download/{name}.log",
    benchmark:
        "benchmarks/voids/download/{name}.tsv"
    resources:
        mem_mb=500,
        runtime=60,
    script:
        "../../scripts/voids_download.py"


rule voids_galaxies:
    input:
        get_catalogue_source("galaxies"),
    output:
        "results/voids/galaxies.fits",
    params:
        voids=VOIDS,
    log:
        "logs/voids/galaxies.log",
    benchmark:
        "benchmarks/voids/galaxies.tsv"
    threads: workflow.cores
    resources:
        mem_mb=8000,
        runtime=30,
    script:
        "../../scripts/voids_galaxies.py"


rule voids_catalogue:
    input:
        galaxies="results/voids/galaxies.fits",
        source=get_catalogue_source("catalogue"),
    output:
        voids="results/voids/voids.fits",
        summary="results/voids/voids_summary.json",
    params:
        voids=VOIDS,
    log:
        "logs/voids/catalogue.log",
    benchmark:
        "benchmarks/voids/catalogue.tsv"
    threads: workflow.cores
    resources:
        mem_mb=8000,
        runtime=60,
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
    params:
        voids=VOIDS,
    log:
        "logs/voids/subboxes.log",
    benchmark:
        "benchmarks/voids/subboxes.tsv"
    threads: workflow.cores
    resources:
        mem_mb=8000,
        runtime=60,
    script:
        "../../scripts/voids_subboxes.py"


rule voids_split:
    input:
        index="results/voids/subboxes/index.fits",
    output:
        "results/voids/splits/{method}.json",
    params:
        voids=VOIDS,
    log:
        "logs/voids/split_{method}.log",
    benchmark:
        "benchmarks/voids/split_{method}.tsv"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../../scripts/voids_split.py"

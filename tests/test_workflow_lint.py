"""The workflow's own hygiene: snakemake --lint and snakefmt."""

import re
import subprocess
import sys

import pytest

# pip-only project: the pinned environment is pyproject.toml, not a per-rule conda file (README).
ALLOWED_LINTS = {"Specify a conda environment or container for each rule."}


def test_snakemake_lint_is_clean_apart_from_conda(repo_root, tmp_path):
    result = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(repo_root / "Snakefile"), "--lint",
                             "--directory", str(tmp_path)], capture_output=True, text=True, cwd=repo_root)
    lints = set(re.findall(r"^    \* (.+?):?$", result.stdout + result.stderr, flags=re.M))
    assert lints, "lint output changed shape; check it by hand"
    assert lints <= ALLOWED_LINTS, lints - ALLOWED_LINTS


def test_snakefmt_is_clean(repo_root):
    result = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "Snakefile", "workflow/"],
                            capture_output=True, text=True, cwd=repo_root)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize("configfile", ["config.yaml", "configs/paper.yaml"])
def test_dry_run_of_each_preset(repo_root, tmp_path, configfile):
    """The whole DAG of the default and the seed-scale preset, with every rule's resources."""
    result = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(repo_root / "Snakefile"), "-n",
                             "--directory", str(tmp_path), "--cores", "8", "--configfile", str(repo_root / configfile)],
                            capture_output=True, text=True, cwd=repo_root)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    assert re.search(r"voids_train\s+4", out) and re.search(r"voids_figures\s+1", out)
    train = re.search(r"rule voids_train:\n(?:    .*\n)*?    resources: ([^\n]*)", out).group(1)
    mem_mb = int(re.search(r"mem_mb=(\d+)", train).group(1))
    assert (mem_mb > 10_000) == (configfile == "configs/paper.yaml")  # 224^2 subboxes, batch 64
    assert "gpu=1" in train and "cpus_per_gpu=8" in train
    metrics = re.search(r"rule voids_metrics:\n    input: ([^\n]*)", out).group(1)
    assert "src/cosmodl/schemas/voids_metrics.schema.yaml" in metrics  # editing the schema reruns the rule
    # lensing: one simulation job per chunk, 5 networks per preset (A; A and B), each training a GPU job
    chunks, trainings = (1, 5) if configfile == "config.yaml" else (36, 10)  # 4,200 in one; 2 x 90,000 in 5,000
    assert re.search(rf"lensing_simulate\s+{chunks}\b", out) and re.search(rf"lensing_train\s+{trainings}\b", out)
    lens_train = re.search(r"rule lensing_train:\n(?:    .*\n)*?    resources: ([^\n]*)", out).group(1)
    assert "gpu=1" in lens_train and "cpus_per_gpu=8" in lens_train
    # cm21: one job per realization (f_esc x seed), one training per task and network, one autoencoder
    realizations, trainings = (9, 15) if configfile == "config.yaml" else (48, 20)
    assert re.search(rf"cm21_boxes\s+{realizations}\b", out) and re.search(rf"cm21_train\s+{trainings}\b", out)
    assert re.search(r"cm21_autoencoder\s+1\b", out) and re.search(r"cm21_evaluate\s+5\b", out)
    cm_train = re.search(r"rule cm21_train:\n(?:    .*\n)*?    resources: ([^\n]*)", out).group(1)
    assert "gpu=1" in cm_train and "cpus_per_gpu=8" in cm_train


def test_rules_follow_the_workflow_conventions(repo_root):
    """Every rule logs to logs/<stage>/<rule>/ and benchmarks to the mirrored path."""
    text = "".join(p.read_text() for p in (repo_root / "workflow/rules").glob("*.smk"))
    rules = re.findall(r"^rule (\w+):\n((?:    .*\n|\n)*)", text, flags=re.M)
    assert len(rules) >= 9
    for name, body in rules:
        stage, _, short = name.partition("_")
        log = re.search(r"    log:\n        \"([^\"]+)\"", body).group(1)
        bench = re.search(r"    benchmark:\n        \"([^\"]+)\"", body).group(1)
        assert log.startswith(f"logs/{stage}/{short}/"), (name, log)
        assert bench == "benchmarks/" + log[len("logs/"):-len(".log")] + ".tsv", (name, bench)
        assert "mem_mb=" in body and "runtime=" in body, name


@pytest.mark.parametrize("configfile, datasets, trainings", [
    ("configs/lensing_lattice.yaml", ["A", "A-lattice"], 4),  # 2 networks x 2 samplings
    ("configs/lensing_medium.yaml", ["A", "B", "II"], 15),
])
def test_lensing_configs_name_a_data_set_per_preset_and_sampling(repo_root, tmp_path, configfile, datasets, trainings):
    result = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(repo_root / "Snakefile"), "-n",
                             "--directory", str(tmp_path), "--cores", "2", "--configfile",
                             str(repo_root / "config.yaml"), str(repo_root / configfile)],
                            capture_output=True, text=True, cwd=repo_root)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    assert re.search(rf"lensing_train\s+{trainings}\b", out)
    assert re.search(rf"lensing_evaluate\s+{len(datasets)}\b", out)
    merged = set(re.findall(r"results/lensing/data/([\w-]+)/images\.npy", out))
    assert merged == set(datasets)


def test_a_train_override_of_devices_sets_that_network_s_gpu_resource(repo_root, tmp_path):
    """train_devices (common.smk): voids.train_overrides.counts.devices reaches the counts jobs only."""
    (tmp_path / "over.yaml").write_text("stages: [voids]\nvoids:\n  train_overrides:\n    counts: {devices: 2}\n")
    result = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(repo_root / "Snakefile"), "-n",
                             "--directory", str(tmp_path), "--cores", "8", "--configfile",
                             str(repo_root / "config.yaml"), str(tmp_path / "over.yaml")],
                            capture_output=True, text=True, cwd=repo_root)
    assert result.returncode == 0, result.stderr[-3000:]
    job = r"rule voids_train:\n(?:    .*\n)*?    wildcards: task=(\w+)[^\n]*\n(?:    .*\n)*?    resources: ([^\n]*)"
    jobs = re.findall(job, result.stdout + result.stderr)
    gpus = {(task, re.search(r"gpu=(\d+),", res).group(1), re.search(r"cpus_per_gpu=(\d+)", res).group(1))
            for task, res in jobs}
    assert gpus == {("counts", "2", "4"), ("map", "1", "8")}

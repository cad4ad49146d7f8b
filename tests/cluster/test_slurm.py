"""profiles/hal against a real one-node SLURM (root + apt only), and a dry run everywhere.

The real-SLURM tests install and start munge, slurmctld and slurmd (tests/cluster/slurm.py), run
the smoke pipeline with ``--profile profiles/hal`` plus the CI overlay, and compare with a
local run. Elsewhere they skip and say why.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from .slurm import Cluster, unavailable_reason

ROOT = Path(__file__).resolve().parents[2]
HAL = ROOT / "profiles" / "hal"
CI = ROOT / "tests" / "cluster" / "ci-profile"
RULES = ["voids_galaxies", "voids_catalogue", "voids_subboxes", "voids_split", "voids_train", "voids_evaluate",
         "voids_metrics", "voids_figures", "lensing_simulate", "lensing_merge", "lensing_train", "lensing_evaluate",
         "lensing_metrics", "lensing_figures", "cm21_boxes", "cm21_slices", "cm21_cross_boxes", "cm21_cross_slices",
         "cm21_features", "cm21_autoencoder", "cm21_train", "cm21_evaluate", "cm21_metrics", "cm21_figures",
         "cm21_observe", "cm21_telescope_train", "cm21_telescope_evaluate", "cm21_telescope", "specz_sets",
         "specz_train", "specz_evaluate", "specz_metrics", "specz_figures"]
# tiny tail rules run where snakemake runs
LOCAL_RULES = ["voids_split", "voids_metrics", "voids_figures", "lensing_merge", "lensing_metrics", "cm21_metrics",
               "cm21_telescope", "specz_metrics", "specz_figures"]
GPU_RULES = ["voids_train", "lensing_train", "cm21_autoencoder", "cm21_train", "cm21_telescope_train", "specz_train"]


def snakemake(workdir, *args, profiles=(HAL, CI), timeout=900, env=None):
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(ROOT / "configs/smoke.yaml")]
    for p in profiles:
        cmd += ["--profile", str(p)]
    env = dict(os.environ, COSMODL_SLURM_ACCOUNT="ci", COSMODL_PROGRESS="0", **(env or {}))
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=timeout, env=env)


def test_hal_profile_dry_run(tmp_path):
    result = snakemake(tmp_path, "-n", profiles=(HAL,))
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    assert "voids_train" in out and "gpu=1" in out and "gpu_model=v100" in out
    assert "slurm_account=ci" in out  # COSMODL_SLURM_ACCOUNT wins over the profile's default
    assert re.search(r"gpu_model=v100, [^\n]*runtime=1440|runtime=1440[^\n]*gpu_model=v100", out)


def test_a_multi_gpu_training_job_asks_for_its_threads_once(tmp_path):
    """devices: 2 runs two processes in one job: --cpus-per-gpu is the job's threads / 2, not its threads."""
    (tmp_path / "two.yaml").write_text("voids:\n  train:\n    devices: 2\n    batch_size: 16\n")
    result = snakemake(tmp_path, "-n", "--cores", "8", "--configfile", str(ROOT / "configs/smoke.yaml"),
                       str(tmp_path / "two.yaml"), profiles=(HAL,))
    assert result.returncode == 0, result.stderr[-3000:]
    train = re.findall(r"rule voids_train:\n(?:    .*\n)*?    resources: ([^\n]*)", result.stdout + result.stderr)
    assert train and all("gpu=2" in r and "cpus_per_gpu=4" in r for r in train), train


def test_array_jobs_and_groups_dry_run(tmp_path):
    """The README's scale-out recipes: many similar jobs as one array, small tail jobs as one sbatch."""
    arrays = snakemake(tmp_path, "-n", "--slurm-array-jobs", "voids_train,voids_evaluate", profiles=(HAL,))
    assert arrays.returncode == 0, arrays.stderr[-3000:]
    groups = snakemake(tmp_path, "-n", "--groups", "voids_evaluate=tail", "voids_metrics=tail", "voids_figures=tail",
                       profiles=(HAL,))
    assert groups.returncode == 0, groups.stderr[-3000:]
    assert "Group job tail" in groups.stdout + groups.stderr


def test_every_gpu_rule_has_its_gpu_settings_in_the_hal_profile(tmp_path):
    import yaml

    result = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory",
                             str(tmp_path), "--configfile", str(ROOT / "configs/smoke.yaml"), "-n", "--forceall"],
                            capture_output=True, text=True)
    gpu_rules = set(re.findall(r"rule (\w+):\n(?:    .*\n)*?    resources: [^\n]*gpu=1", result.stdout))
    assert gpu_rules == set(GPU_RULES)
    profile = yaml.safe_load((HAL / "config.yaml").read_text())
    assert "gpu_model" not in profile["default-resources"]
    for rule in gpu_rules:
        assert profile["set-resources"][rule]["gpu_model"]


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    reason = unavailable_reason()
    if reason:
        print(f"real-SLURM tests skipped: {reason}")
        pytest.skip(f"real SLURM needs root on Debian/Ubuntu with apt: {reason}")
    try:
        cluster = Cluster(tmp_path_factory.mktemp("slurm")).start()
    except PermissionError as exc:  # e.g. a container without CAP_MKNOD for the fake GPU devices
        pytest.skip(f"cannot set up the test SLURM here: {exc}")
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def runs(slurm, tmp_path_factory, request):
    """The smoke pipeline through SLURM, then the session's local smoke run (tests/conftest.py)."""
    workdir = tmp_path_factory.mktemp("slurm")
    t0 = time.perf_counter()
    result = snakemake(workdir)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    smoke_run = request.getfixturevalue("smoke_run")  # after the SLURM run, as before it was shared
    out = {"slurm": (workdir, time.perf_counter() - t0), "local": (smoke_run, smoke_run.seconds)}
    print(f"smoke pipeline wall time: SLURM {out['slurm'][1]:.1f} s, local {out['local'][1]:.1f} s")
    return out


def test_every_rule_ran_as_a_slurm_job_gpu_rules_with_a_gpu(runs):
    workdir = runs["slurm"][0]
    for rule in RULES:
        slurm_logs = list((workdir / ".snakemake/slurm_logs" / f"rule_{rule}").rglob("*.log"))
        assert bool(slurm_logs) == (rule not in LOCAL_RULES), rule
    jobs = subprocess.run(["squeue", "--states=all", "-h", "-o", "%k|%P|%T"], capture_output=True, text=True).stdout
    partitions = {}
    for line in jobs.splitlines():
        comment, partition, state = line.split("|")
        rule = comment.split("_wildcards")[0].removeprefix("rule_")
        if rule in RULES and state == "COMPLETED":
            partitions.setdefault(rule, set()).add(partition)
    assert all(partitions[r] == {"gpux1"} for r in GPU_RULES)
    assert all(partitions[r] == {"cpun1"} for r in RULES if r not in GPU_RULES + LOCAL_RULES)
    assert not set(partitions) & set(LOCAL_RULES)
    logs = list((workdir / "logs").rglob("*.log"))
    # logs/<stage>/<rule>/... (a wildcard may add folders below: logs/cm21/features/telescope/noise2.log)
    rule_of = {log: "_".join(log.relative_to(workdir / "logs").parts[:2]) for log in logs}
    assert set(rule_of.values()) == set(RULES)
    for log in logs:
        rule = rule_of[log]
        job = re.search(r"SLURM_JOB_ID=(\S+), CUDA_VISIBLE_DEVICES=(\S+)", log.read_text())
        assert job and (job.group(1) != "-") == (rule not in LOCAL_RULES), f"{log}: SLURM_JOB_ID={job.group(1)}"
        if rule in GPU_RULES:
            assert job.group(2) != "-", f"{log}: no GPU allocated"
        elif rule in ("voids_galaxies", "voids_catalogue", "voids_subboxes"):
            assert job.group(2) == "-", f"{log}: a CPU rule got a GPU"


def test_slurm_outputs_equal_the_local_run(runs):
    a, b = runs["slurm"][0] / "results/voids", runs["local"][0] / "results/voids"
    for name in ("images", "void_fraction", "void_centres"):
        assert np.array_equal(np.load(a / f"subboxes/{name}.npy"), np.load(b / f"subboxes/{name}.npy")), name
    for split in ("spatial", "random"):
        assert json.loads((a / f"splits/{split}.json").read_text()) == json.loads((b / f"splits/{split}.json").read_text())
    for model in ("map_spatial", "counts_spatial", "map_random", "counts_random"):
        sa = torch.load(a / f"models/{model}.pt", weights_only=False)["state_dict"]
        sb = torch.load(b / f"models/{model}.pt", weights_only=False)["state_dict"]
        assert all(torch.equal(sa[k], sb[k]) for k in sa), model
    assert json.loads((a / "metrics.json").read_text()) == json.loads((b / "metrics.json").read_text())
    a, b = runs["slurm"][0] / "results/lensing", runs["local"][0] / "results/lensing"
    assert np.load(a / "data/A/images.npy").tobytes() == np.load(b / "data/A/images.npy").tobytes()
    assert json.loads((a / "metrics.json").read_text()) == json.loads((b / "metrics.json").read_text())
    a, b = runs["slurm"][0] / "results/cm21", runs["local"][0] / "results/cm21"
    assert np.load(a / "data/slices.npy").tobytes() == np.load(b / "data/slices.npy").tobytes()
    assert json.loads((a / "metrics.json").read_text()) == json.loads((b / "metrics.json").read_text())
    a, b = runs["slurm"][0] / "results/specz", runs["local"][0] / "results/specz"
    assert np.load(a / "data/test.npz")["noisy"].tobytes() == np.load(b / "data/test.npz")["noisy"].tobytes()
    assert json.loads((a / "metrics.json").read_text()) == json.loads((b / "metrics.json").read_text())


def test_failing_job_is_reported_with_its_log_and_nothing_downstream_runs(slurm, tmp_path):
    rows = np.random.default_rng(0).random((100, 3)) * 192
    rows[5, 1] = np.nan
    np.savetxt(tmp_path / "gal_list", rows)
    (tmp_path / "bad.yaml").write_text(f"voids:\n  galaxies:\n    source: file\n    path: {tmp_path / 'gal_list'}\n")
    # only the catalogue's branch: snakemake would otherwise wait for the other stages' running jobs
    result = snakemake(tmp_path, "results/voids/voids.fits", "--configfile", str(ROOT / "configs/smoke.yaml"),
                       str(tmp_path / "bad.yaml"), "--retries", "0")
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Error in rule voids_galaxies" in out and "logs/voids/galaxies/galaxies.log" in out
    assert "column 'y' has 1 NaN" in (tmp_path / "logs/voids/galaxies/galaxies.log").read_text()
    assert not (tmp_path / "results/voids/voids.fits").exists()
    assert not (tmp_path / ".snakemake/slurm_logs/rule_voids_catalogue").exists()


def _job_id(comment_prefix: str) -> str | None:
    jobs = subprocess.run(["squeue", "-h", "-o", "%i|%k|%T"], capture_output=True, text=True).stdout
    for line in jobs.splitlines():
        job_id, comment, state = line.split("|")
        if comment.startswith(comment_prefix) and state == "RUNNING":
            return job_id
    return None


def test_scancelled_training_resumes_from_its_checkpoint_with_the_same_weights(slurm, runs, tmp_path):
    """Copies of the finished runs (local and SLURM) retrain one model for longer: only that job runs."""
    overlay = tmp_path / "long.yaml"
    overlay.write_text("voids:\n  train:\n    epochs: 4\n")
    target = "results/voids/models/map_spatial.pt"
    args = ("--configfile", str(ROOT / "configs/smoke.yaml"), str(overlay), "--retries", "0", target)
    reference = tmp_path / "uninterrupted"
    shutil.copytree(runs["local"][0], reference, symlinks=True)
    result = snakemake(reference, *args, "--cores", "2", "--max-threads", "1", profiles=())
    assert result.returncode == 0, result.stderr[-3000:]

    workdir = tmp_path / "preempted"
    shutil.copytree(runs["slurm"][0], workdir, symlinks=True)
    (workdir / "logs/voids/train/map_spatial.log").unlink()  # the copied log of the 2-epoch run
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
           "--profile", str(HAL), "--profile", str(CI), *args]
    env = dict(os.environ, COSMODL_SLURM_ACCOUNT="ci", COSMODL_PROGRESS="0")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    checkpoint = workdir / "results/voids/checkpoints/map_spatial/checkpoint.pt"
    deadline = time.time() + 600
    while not checkpoint.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    job = _job_id("rule_voids_train_wildcards_map_spatial")
    assert checkpoint.exists() and job, "training never reached its first checkpoint under SLURM"
    subprocess.run(["scancel", job], check=True)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode != 0, out[-3000:]
    log = (workdir / "logs/voids/train/map_spatial.log").read_text()
    assert "received signal SIGTERM" in log and checkpoint.exists()
    assert not (workdir / target).exists()

    result = snakemake(workdir, *args)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    log = (workdir / "logs/voids/train/map_spatial.log").read_text()
    assert "resumed from" in log
    resumed = torch.load(workdir / target, weights_only=False)["state_dict"]
    uninterrupted = torch.load(reference / target, weights_only=False)["state_dict"]
    assert all(torch.equal(resumed[k], uninterrupted[k]) for k in resumed)

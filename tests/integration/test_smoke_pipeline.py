"""The smoke pipeline through the real snakemake CLI (seconds)."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from astropy.table import Table

from cosmodl.voids.split import overlap_cells

pytestmark = pytest.mark.slow


def snakemake_cmd(repo_root, workdir, *args):
    return [sys.executable, "-m", "snakemake", "-s", str(repo_root / "Snakefile"), "--directory", str(workdir),
            "--cores", "2", "--configfile", str(repo_root / "configs/smoke.yaml"), *args]


def snakemake(repo_root, workdir, *args):
    return subprocess.run(snakemake_cmd(repo_root, workdir, *args), capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, COSMODL_PROGRESS="1"))


def overlay(tmp_path, name, text):
    """A config file merged over smoke.yaml (pass it in the same --configfile list)."""
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def copy_of(run_dir, tmp_path):
    """A copy of a finished workdir (outputs, logs and snakemake's metadata) to change settings in."""
    target = tmp_path / "copy"
    shutil.copytree(run_dir, target, symlinks=True)
    return target


def test_smoke_outputs_are_consistent(smoke_run):
    sub = smoke_run / "results/voids/subboxes"
    index = Table.read(sub / "index.fits")
    images = np.load(sub / "images.npy", mmap_mode="r")
    fraction = np.load(sub / "void_fraction.npy", mmap_mode="r")
    assert images.shape == (len(index), 24, 24) and fraction.shape == (len(index), 6, 6)
    assert 0 <= fraction.min() and fraction.max() <= 1
    summary = json.loads((smoke_run / "results/voids/voids_summary.json").read_text())
    assert summary["n_voids"] > 10 and summary["radius_min"] >= 10
    # the maps' void volume agrees with the catalogue's filling fraction (non-overlapping spheres)
    assert fraction.mean() == pytest.approx(summary["volume_filling_fraction"], rel=0.1)


def test_smoke_spatial_split_has_no_shared_volume(smoke_run):
    split = json.loads((smoke_run / "results/voids/splits/spatial.json").read_text())
    index = Table.read(smoke_run / "results/voids/subboxes/index.fits")
    origins = np.stack([index["ix"], index["iy"], index["iz"]], axis=1)
    assert not split["leaky"] and split["counts"]["dropped_buffer"] > 0
    for a, b in [("test", "train"), ("test", "val"), ("val", "train")]:
        shared = overlap_cells(origins[split[a]][:, None], origins[split[b]][None], 24, 96)
        assert shared.max() == 0
    random = json.loads((smoke_run / "results/voids/splits/random.json").read_text())
    assert random["leaky"] and sum(random["counts"].values()) == len(index)


def test_smoke_trains_evaluates_and_draws_the_voids_figures(repo_root, smoke_run):
    import jsonschema

    from cosmodl.config import load_yaml

    metrics = json.loads((smoke_run / "results/voids/metrics.json").read_text())
    jsonschema.validate(metrics, load_yaml(repo_root / "src/cosmodl/schemas/voids_metrics.schema.yaml"))
    assert set(metrics["maps"]) == {"spatial", "random"} and metrics["maps"]["random"]["leaky"]
    assert metrics["maps"]["random"]["n_train"] == metrics["maps"]["spatial"]["n_train"]  # only leakage differs
    assert 0.5 < metrics["maps"]["spatial"]["model"]["roc_auc"] <= 1
    figures = smoke_run / "results/voids/figures"
    names = {p.name for p in figures.glob("*.png")}
    assert names == {"demofigure_0.png", "demofigure_1.png", "counts_result.png", "training_curves.png", "leakage.png"}
    assert all((figures / n).stat().st_size > 10_000 for n in names)
    history = (smoke_run / "results/voids/models/map_spatial_history.csv").read_text().splitlines()
    assert history[0] == "epoch,train_loss,val_loss,lr,samples_per_s,seconds,peak_memory_mb" and len(history) == 3
    assert not list((smoke_run / "results/voids/checkpoints").rglob("checkpoint.pt"))  # removed after success
    log = (smoke_run / "logs/voids/train/map_spatial.log").read_text()
    assert "epoch 2/2" in log  # the progress bar goes to the rule's log


def test_smoke_simulates_trains_and_evaluates_the_lensing_stage(repo_root, smoke_run):
    import jsonschema

    from cosmodl.config import load_yaml

    lens = smoke_run / "results/lensing"
    metrics = json.loads((lens / "metrics.json").read_text())
    jsonschema.validate(metrics, load_yaml(repo_root / "src/cosmodl/schemas/lensing_metrics.schema.yaml"))
    data = metrics["datasets"]["A"]
    assert set(data["models"]) == {"dcae", "resnet", "pca", "osvm"}  # configs/smoke.yaml's networks
    assert data["n_test"] == {"no_sub": 20, "spherical": 20, "vortex": 20}
    assert data["models"]["dcae"]["n_train"] == 40 and data["models"]["resnet"]["n_train"] == 120
    assert data["published"]["aae"]["auc_sub"] == 0.93207
    # the ceiling beside every detector: the oracle separates the classes the networks of 1 epoch cannot
    assert data["oracle"]["auc"]["sub"] > 0.9 and data["oracle_chi2"]["auc"]["sub"] > 0.95
    assert data["data"]["corner_noise_variance"] < 1e-4
    split = json.loads((lens / "data/A/split.json").read_text())
    assert not split["leaky"] and split["counts"] == {"train": 120, "val": 30, "test": 60, "dropped_buffer": 0}
    images = np.load(lens / "data/A/images.npy", mmap_mode="r")
    assert images.shape == (210, 150, 150)
    assert not list((lens / "data/A").glob("chunks/*.npy"))  # the chunks are temporary
    names = {p.name for p in (lens / "figures").glob("*.png")}
    assert names == {"examples_A.png", "reconstructions_A.png", "scores_A.png", "roc.png", "training_curves.png"}
    table = (lens / "auc_table.md").read_text()
    assert "| A | dcae |" in table and "| A | oracle |" in table


def test_smoke_generates_slices_trains_and_evaluates_the_cm21_stage(repo_root, smoke_run):
    import jsonschema

    from cosmodl.cm21.boxes import read_box, scan_realization
    from cosmodl.config import load_yaml

    cm = smoke_run / "results/cm21"
    folders = sorted((cm / "boxes").iterdir())
    assert [f.name for f in folders] == ["f0.070_s150", "f0.130_s150"]
    boxes = scan_realization(folders[0], [6.0, 8.0, 10.0])
    assert read_box(boxes[8.0]["delta_T"]).shape == (80, 80, 80)
    metrics = json.loads((cm / "metrics.json").read_text())
    jsonschema.validate(metrics, load_yaml(repo_root / "src/cosmodl/schemas/cm21_metrics.schema.yaml"))
    assert set(metrics["tasks"]) == {"z_all", "zeta"} and metrics["split"]["method"] == "slabs"
    assert not metrics["split"]["leaky"]
    z_all = metrics["tasks"]["z_all"]
    assert set(z_all["methods"]) == {"physics_logistic", "physics_boosting", "pca_knn", "ae_cnn"}
    assert z_all["classes"] == [6.0, 8.0, 10.0] and z_all["methods"]["pca_knn"]["unit"] == "patches"
    assert metrics["tasks"]["zeta"]["methods"]["ae_cnn"]["rmse"] > 0
    split = json.loads((cm / "data/split.json").read_text())
    assert split["counts"]["dropped_buffer"] > 0 and split["grid"] == {"dim": 80, "cell_mpc": 1.5}
    # the other source: one unseen seed of our generator, every method scored on it beside its test score
    cross = z_all["cross_source"]
    assert cross["source"] == "our generator, seeds 160" and cross["n"] == 2 * 3 * 16
    assert set(cross["methods"]) == set(z_all["methods"])
    assert all(0 <= m["accuracy"] <= 1 and m["in_source"] == z_all["methods"][name]["accuracy"]
               for name, m in cross["methods"].items())
    assert z_all["methods"]["ae_cnn"]["per_box"]["n_boxes"] == 2 * 3  # slabs: both f_esc and all z of seed 150
    names = {p.name for p in (cm / "figures").glob("*.png")}
    assert names == {"boxes.png", "history.png", "accuracy.png", "confusion.png", "training_curves.png",
                     "reconstructions.png", "accuracy_curves.png", "cross_source.png", "telescope.png"}
    table = (cm / "accuracy_table.md").read_text()
    assert "| z_all | ae_cnn | slices |" in table and "| z_all | alone |" in table
    # the physics features: every family, computed once per slice set
    families = ["moments", "ionised", "power", "topology", "bubbles", "scattering"]
    assert list(z_all["physics_ablation"]["alone"]) == families
    with np.load(cm / "data/features.npz") as f:
        assert all(f[name].shape[0] == 2 * 3 * 16 for name in families)
    # the telescope curve: one noise level, the CNN and the physics baseline trained on observed slices
    curve = json.loads((cm / "telescope.json").read_text())
    assert [level["noise_mk"] for level in curve["levels"]] == [2.0] and curve["beam_mpc"] == 6.0
    assert set(curve["levels"][0]["methods"]) == {"physics_logistic", "physics_boosting", "cnn"}
    observed = np.load(cm / "telescope/noise2/slices.npy", mmap_mode="r")
    assert observed.shape == (2 * 3 * 16, 80, 80) and np.abs(observed.mean(axis=(1, 2))).max() < 1e-3


def test_smoke_generates_spectra_trains_and_evaluates_the_specz_stage(repo_root, smoke_run):
    import jsonschema

    from cosmodl.config import load_yaml

    sz = smoke_run / "results/specz"
    metrics = json.loads((sz / "metrics.json").read_text())
    jsonschema.validate(metrics, load_yaml(repo_root / "src/cosmodl/schemas/specz_metrics.schema.yaml"))
    noisy = metrics["noise"]["noisy"]
    assert set(metrics["noise"]) == {"noisy"} and noisy["snr"] == 1.0 and noisy["n_test"] == 256
    assert set(noisy["methods"]) == {"cnn3_noisy_512", "template", "nnls", "learned", "robust", "forest"}
    assert metrics["data"] == "templates" and noisy["data"] == "templates"
    assert noisy["methods"]["cnn3_noisy_512"]["n_train"] == 512
    # the template fit knows the spectra's templates: far above chance even at SNR 1
    assert noisy["methods"]["template"]["mode"]["within_5"] > 0.5
    with np.load(sz / "data/test.npz") as test:
        assert test["noisy"].shape == (256, 1780) and test["clean"].shape == (256, 1780)
    names = {p.name for p in (sz / "figures").glob("*.png")}
    assert names == {"redshift_density.png", "learning_curve.png", "purity_completeness.png", "examples.png",
                     "calibration.png", "training_curves.png"}
    assert "| noisy (SNR 1) | template |" in (sz / "metrics_table.md").read_text()
    assert not (sz / "checkpoints").exists() or not any((sz / "checkpoints").rglob("checkpoint.pt"))


def test_report_has_the_figures_with_captions(repo_root, smoke_run):
    result = snakemake(repo_root, smoke_run, "--report", "report.zip")
    assert result.returncode == 0, result.stderr[-3000:]
    import zipfile

    names = zipfile.ZipFile(smoke_run / "report.zip").namelist()
    assert any(n.endswith("counts_result.png") for n in names)
    assert any(n.endswith("leakage.png") for n in names)
    assert any(n.endswith("roc.png") for n in names)
    assert any(n.endswith("redshift_density.png") for n in names)
    for table in ("auc_table.md", "accuracy_table.md", "metrics_table.md"):  # each stage's results beside the figures
        assert any(n.endswith(table) for n in names), table


def test_rerun_has_nothing_to_do(repo_root, smoke_run):
    result = snakemake(repo_root, smoke_run, "-n")
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


def test_a_figure_setting_reruns_only_the_figures(repo_root, smoke_run, tmp_path):
    (tmp_path / "demo.yaml").write_text("voids:\n  figures:\n    n_demo: 1\n")
    result = snakemake(repo_root, smoke_run, "--configfile", str(repo_root / "configs/smoke.yaml"),
                       str(tmp_path / "demo.yaml"), "-n", "--quiet", "rules")
    assert result.returncode == 0, result.stderr[-2000:]
    jobs = set(re.findall(r"^(voids_\w+)\s+\d+$", result.stdout + result.stderr, flags=re.M))
    assert jobs == {"voids_figures"}, jobs


def test_bad_config_key_stops_before_any_output(repo_root, tmp_path):
    (tmp_path / "bad.yaml").write_text("voids:\n  subboxes:\n    strid: 8\n")
    result = snakemake(repo_root, tmp_path, "--configfile", str(repo_root / "configs/smoke.yaml"),
                       str(tmp_path / "bad.yaml"))
    assert result.returncode != 0
    assert "config key voids.subboxes: unknown key(s) ['strid']" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def test_bad_catalogue_file_fails_cleanly(repo_root, tmp_path):
    rows = np.random.default_rng(0).random((100, 3)) * 192
    rows[5, 1] = np.nan
    np.savetxt(tmp_path / "gal_list", rows)
    (tmp_path / "file.yaml").write_text(f"voids:\n  galaxies:\n    source: file\n    path: {tmp_path / 'gal_list'}\n")
    result = snakemake(repo_root, tmp_path, "--configfile", str(repo_root / "configs/smoke.yaml"),
                       str(tmp_path / "file.yaml"))
    assert result.returncode != 0
    log = (tmp_path / "logs/voids/galaxies/galaxies.log").read_text()
    assert "column 'y' has 1 NaN" in log
    assert "column 'y' has 1 NaN" in result.stdout + result.stderr
    assert not list(tmp_path.rglob("*.fits"))  # no partial or complete catalogue left behind


def test_url_catalogue_through_snakemake(repo_root, tmp_path):
    """source: url end to end: loopback download (checksummed) -> galaxies.fits with the same rows."""
    import functools
    import hashlib
    import http.server
    import threading

    rows = np.random.default_rng(2).random((500, 3)) * 192
    served = tmp_path / "www"
    served.mkdir()
    np.savetxt(served / "gal_list", rows)
    sha = hashlib.sha256((served / "gal_list").read_bytes()).hexdigest()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/gal_list"
        (tmp_path / "url.yaml").write_text(f"voids:\n  galaxies:\n    source: url\n    url: {url}\n    sha256: {sha}\n")
        work = tmp_path / "work"
        result = snakemake(repo_root, work, "--configfile", str(repo_root / "configs/smoke.yaml"),
                           str(tmp_path / "url.yaml"), "-p", "results/voids/galaxies.fits")
        assert result.returncode == 0, result.stderr[-3000:]
        table = Table.read(work / "results/voids/galaxies.fits")
        np.testing.assert_allclose(np.stack([table["x"], table["y"], table["z"]], axis=1), rows, rtol=1e-6)
        (tmp_path / "bad.yaml").write_text(f"voids:\n  galaxies:\n    source: url\n    url: {url}\n    sha256: {'f' * 64}\n")
        bad = tmp_path / "bad"
        result = snakemake(repo_root, bad, "--configfile", str(repo_root / "configs/smoke.yaml"),
                           str(tmp_path / "bad.yaml"), "-p", "results/voids/galaxies.fits")
        assert result.returncode != 0
        assert sha in result.stdout + result.stderr  # the error names both sums
        assert not list((bad / "resources").rglob("gal_list*"))  # no partial download left
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_demo_figures_follow_n_demo_up_and_down(repo_root, smoke_run, tmp_path):
    """A larger n_demo draws the new figures; a smaller one leaves no stale figure behind."""
    work = copy_of(smoke_run, tmp_path)
    figures = work / "results/voids/figures"
    for n_demo in (3, 1):
        more = overlay(tmp_path, f"demo{n_demo}.yaml", f"voids:\n  figures:\n    n_demo: {n_demo}\n")
        result = snakemake(repo_root, work, "--configfile", str(repo_root / "configs/smoke.yaml"), more)
        assert result.returncode == 0, result.stderr[-3000:]
        assert sorted(p.name for p in figures.glob("demofigure_*.png")) == [f"demofigure_{i}.png"
                                                                            for i in range(n_demo)]


def test_a_job_that_cannot_fit_in_memory_stops_at_once_naming_the_keys(repo_root, tmp_path):
    big = overlay(tmp_path, "big.yaml", "voids:\n  galaxies:\n    mock:\n      n_grid: 1024\n")
    dry = snakemake(repo_root, tmp_path, "-n", "--configfile", str(repo_root / "configs/smoke.yaml"), big)
    assert dry.returncode == 0, dry.stderr[-3000:]
    galaxies = re.search(r"rule voids_galaxies:\n(?:    .*\n)*?    resources: ([^\n]*)", dry.stdout + dry.stderr)
    mem_mb = int(re.search(r"mem_mb=(\d+)", galaxies.group(1)).group(1))
    assert mem_mb > 40_000  # SLURM would be asked for what the job needs: ~10 float32 fields of 1024^3
    t0 = time.perf_counter()
    result = snakemake(repo_root, tmp_path, "results/voids/galaxies.fits", "--configfile",
                       str(repo_root / "configs/smoke.yaml"), big)
    assert result.returncode != 0 and time.perf_counter() - t0 < 120
    log = (tmp_path / "logs/voids/galaxies/galaxies.log").read_text()
    assert "needs about 4" in log and "voids.galaxies.mock.n_grid = 1024" in log
    assert not (tmp_path / "results/voids/galaxies.fits").exists()


@pytest.mark.parametrize("text, message", [
    ("voids:\n  subboxes:\n    size: 100\n", "voids.subboxes.size = 100 and voids.subboxes.n_cells = 96"),
    ("voids:\n  subboxes:\n    map_size: 5\n", "voids.subboxes.map_size = 5 and voids.subboxes.size = 24"),
    ("voids:\n  split:\n    test_fraction: 0.6\n    val_fraction: 0.5\n", "they must sum below 1"),
    ("voids:\n  train:\n    batch_size: 512\n", "voids.train.batch_size = 512 is larger than the spatial split"),
    ("lensing:\n  model_a:\n    noise:\n      snr: [30, 10]\n",
     "lensing.model_a.noise.snr = [30, 10]: the range is reversed"),
])
def test_inconsistent_settings_stop_the_run_before_anything_is_written(repo_root, tmp_path, text, message):
    bad = overlay(tmp_path, "bad.yaml", text)
    result = snakemake(repo_root, tmp_path, "--configfile", str(repo_root / "configs/smoke.yaml"), bad)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists()


def test_sigint_to_snakemake_during_training_does_not_lose_the_training(repo_root, smoke_run, tmp_path):
    """Snakemake alone gets SIGINT: the job finishes, its outputs are marked incomplete, and
    --rerun-incomplete writes them again from the final checkpoint instead of training again."""
    work = copy_of(smoke_run, tmp_path)
    longer = overlay(tmp_path, "longer.yaml", "voids:\n  train:\n    epochs: 4\n")
    target = "results/voids/models/map_spatial.pt"
    cmd = snakemake_cmd(repo_root, work, target, "--configfile", str(repo_root / "configs/smoke.yaml"), longer)
    log = work / "logs/voids/train/map_spatial.log"
    log.unlink()  # the copied log of the 2-epoch run
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if log.exists() and "epoch 1:" in log.read_text():
            break
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGINT)  # snakemake only, not the job
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode != 0, out[-3000:]
    assert "epoch 4:" in log.read_text()  # the job ran to its end
    checkpoints = work / "results/voids/checkpoints/map_spatial"
    assert (checkpoints / "checkpoint.pt").exists() and (checkpoints / "FINISHED").exists()
    rerun = snakemake(repo_root, work, target, "--rerun-incomplete", "--configfile",
                      str(repo_root / "configs/smoke.yaml"), longer)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    text = log.read_text()
    assert "resumed from" in text and "epoch 1:" not in text  # no training step was repeated
    assert not checkpoints.exists()  # the workflow succeeded: finished checkpoints are removed

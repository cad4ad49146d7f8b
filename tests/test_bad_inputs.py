"""Issue 19: bad settings refused at parse time (the path `make check-config` and `snakemake -n` take),
damaged or inconsistent files refused where they are read, each with one message naming what is wrong."""

import logging

import numpy as np
import pytest
import yaml

from cosmodl.config import check_files, main
from cosmodl.errors import ConfigError

PARSE_CASES = {
    "cm21 f_esc that collide in folder names": (
        {"cm21": {"f_esc": [0.07, 0.0704]}}, r"cm21.f_esc: 0.07 and 0.0704 both become 'f0.070'"),
    "cm21 redshifts that collide in file names": (
        {"cm21": {"redshifts": [6.0, 6.001, 8.0, 10.0]}}, r"cm21.redshifts: 6.0 and 6.001 both become 'z006.00'"),
    "specz forest bins beyond the pixels": (
        {"specz": {"baselines": {"forest_bins": 5000}}},
        r"specz.baselines.forest_bins = 5000 is more than the \d+ pix"),
    "cm21 split fractions over 1": (
        {"cm21": {"split": {"test_fraction": 0.6, "val_fraction": 0.5}}}, r"cm21.split: test_fraction = 0.6"),
    "cm21 batch larger than the training set": (
        {"cm21": {"train": {"batch_size": 5000}}}, r"cm21.train.batch_size = 5000 .* larger than the training set"),
    "cm21 buffer larger than the box, in Mpc": (
        {"cm21": {"split": {"buffer": 200.0}}},
        r"cm21.split.buffer = 200.0 Mpc leaves a set without slices in the 120 Mpc"),
    "lensing devices that do not divide the batch": (
        {"lensing": {"train": {"devices": 3}}}, r"lensing.train.batch_size = 20 and lensing.train.devices = 3: the "
                                                r"batch size must be a multiple of the number of processes"),
    "lensing without networks": ({"lensing": {"models": []}}, r"lensing.models: \[\] should be non-empty"),
    "no stage at all": ({"stages": []}, r"stages: \[\] should be non-empty"),
    "train_overrides of a network not in use": (
        {"lensing": {"train_overrides": {"vae": {"lr": -1.0}}}}, r"lensing.train \(\+ train_overrides.vae\)"),
    "specz spike heights in the wrong order": (
        {"specz": {"data": "realistic", "realistic": {"spike_amplitude": [20.0, 5.0]}}},
        r"specz.realistic.spike_amplitude = \[20.0, 5.0\]: need 0 <= low <= high"),
    "voids gap at every face with no room for it": (
        {"voids": {"split": {"faces": "all"}}}, r"voids.split and voids.subboxes, split.buffer = auto \(auto: twice "
                                                r"the largest radius of voids.catalogue.find.radii\): .* the val slab"),
    "cm21 test source seeds that are training seeds": (
        {"cm21": {"test_source": {"seeds": [150, 170]}}},
        r"cm21.test_source.seeds \[150\] are also training seeds \(cm21.seeds\) of the same source \(simulate\)"),
    "cm21 test source directory that is missing": (
        {"cm21": {"test_source": {"source": "directory", "directory": "/no/such/boxes"}}},
        r"cm21.test_source.directory = /no/such/boxes: no such folder"),
    "cm21 test source directory without a directory source": (
        {"cm21": {"test_source": {"directory": "/no/such/boxes"}}},
        r"cm21.test_source.directory = /no/such/boxes is read only when test_source.source is directory"),
    "cm21 patch that does not divide the slice": (
        {"cm21": {"methods": ["fc"], "slices": {"patch": 30}}}, r"cm21.slices.patch = 30 does not divide the 80-cell "
                                                               r"slices: .* leave out 44%"),
}


def write_override(tmp_path, override: dict):
    path = tmp_path / "override.yaml"
    path.write_text(yaml.safe_dump(override))
    return path


@pytest.mark.parametrize("case", sorted(PARSE_CASES))
def test_bad_settings_are_refused_at_parse_time_naming_the_key(repo_root, tmp_path, case, capsys):
    override, message = PARSE_CASES[case]
    paths = [repo_root / "configs" / "smoke.yaml", write_override(tmp_path, override)]
    with pytest.raises(ConfigError, match=message):
        check_files(paths)
    assert main(["check", *map(str, paths)]) == 2  # make check-config: the same verdict, one line
    err = capsys.readouterr().err
    assert err.startswith("config error:") and err.count("\n") == 1


def test_the_smoke_config_itself_passes(repo_root):
    check_files([repo_root / "configs" / "smoke.yaml"])


def test_check_config_prints_a_box_error_as_one_line(repo_root, tmp_path, capsys):
    """A directory source whose box is damaged: BoxFormatError, not a 20-line traceback."""
    for name in ("f0.070_s150", "f0.130_s150"):
        folder = tmp_path / "boxes" / name
        folder.mkdir(parents=True)
        (folder / "delta_T_v3_z006.00_nf0.5_useTs0_xx_120Mpc").write_bytes(b"\0" * 16)
    override = {"cm21": {"source": "directory", "directory": str(tmp_path / "boxes")}}
    assert main(["check", str(repo_root / "configs" / "smoke.yaml"), str(write_override(tmp_path, override))]) == 2
    err = capsys.readouterr().err
    assert err.startswith("config error:") and err.count("\n") == 1 and "f0.070_s150" in err


def test_the_pca_baseline_records_the_components_it_fitted(caplog):
    from cosmodl.lensing.baselines import pca_baseline

    rng = np.random.default_rng(0)
    with caplog.at_level(logging.WARNING):
        out = pca_baseline(rng.random((5, 8, 8)), rng.random((3, 8, 8)), n_components=50, nu=0.1)
    assert out["components"] == 4
    assert "4 components fitted, not the 50 asked for" in caplog.text


@pytest.mark.parametrize("kind, values, message", [
    ("delta_T", 1e6, r"delta_T_b in \[.*1e\+06\] mK, beyond the \+-2000 mK"),
    ("delta_T", -5.0, r"delta_T_b down to -5 mK, but a useTs0 box"),
    ("density", -3.0, r"density contrast down to -3, below -1"),
])
def test_boxes_out_of_physical_range_are_refused_naming_the_file(tmp_path, kind, values, message):
    from cosmodl.cm21.boxes import BoxFormatError, delta_t_name, density_name, read_box, write_box

    name = delta_t_name(8.0, 0.5, 4, 12) if kind == "delta_T" else density_name(8.0, 4, 12)
    box = np.full((4, 4, 4), 10.0 if kind == "delta_T" else 0.5, np.float32)
    box[1, 2, 3] = values
    write_box(tmp_path / name, box)
    with pytest.raises(BoxFormatError, match=f"{name}: {message}"):
        read_box(tmp_path / name)


def test_realizations_on_different_grids_are_named_before_any_box_is_stacked(tmp_path):
    from cosmodl.cm21.boxes import write_realization
    from cosmodl.cm21.stage import make_slices
    from stage_contract import tiny_config

    cfg = tiny_config("cm21", {"cm21": {"redshifts": [8.0, 10.0]}})
    folders = []
    for dim, f in ((8, 0.07), (12, 0.13)):
        folders.append(tmp_path / f"f{f:.3f}_s150")
        box = np.full((dim,) * 3, 5.0, np.float32)
        write_realization(folders[-1], {z: {"delta_T": box, "density": box * 0, "x_hi": 0.5} for z in (8.0, 10.0)},
                          12.0)
    with pytest.raises(ConfigError, match=r"realizations on different grids .*f0.070_s150.*\(8, 1.5\).*\(12, 1.0\)"):
        make_slices(cfg, folders, tmp_path / "s.npy", tmp_path / "s.csv", tmp_path / "split.json")
    assert not (tmp_path / "s.npy").exists()


def test_a_truncated_array_names_the_file_and_the_rule_that_remakes_it(tmp_path):
    from cosmodl.io import load_array

    path = tmp_path / "images.npy"
    np.save(path, np.zeros((10, 8, 8), np.float32))
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(ValueError, match=r"images.npy: not a readable .npy array .*--forcerun lensing_merge"):
        load_array(path, "lensing_merge")


def test_a_parameter_table_short_of_the_images_is_refused(tmp_path):
    import pandas as pd

    from cosmodl.lensing.data import read_params

    rows = [{"split": s, "class": c, "index": i} for s, n in (("train", 3), ("val", 1), ("test", 2))
            for c in ("no_sub", "spherical", "vortex") for i in range(n)]
    pd.DataFrame(rows).to_csv(tmp_path / "params.csv", index=False)
    np.save(tmp_path / "images.npy", np.zeros((len(rows) + 2, 4, 4), np.float32))
    with pytest.raises(ValueError, match=r"params.csv has 18 rows for the 20 images"):
        read_params(tmp_path / "params.csv", images_path=tmp_path / "images.npy")
    with pytest.raises(ValueError, match=r"images per split/class \{'train/no_sub': 3.*lensing.sizes asks"):
        read_params(tmp_path / "params.csv", sizes={"train": 4, "val": 1, "test": 2})


def test_figure_redshifts_without_boxes_are_said_in_the_log(tmp_path, caplog):
    from cosmodl.cm21.boxes import write_realization
    from cosmodl.cm21.figures import plot_boxes

    folder = tmp_path / "f0.070_s150"
    box = np.full((8,) * 3, 5.0, np.float32)
    write_realization(folder, {z: {"delta_T": box, "density": box * 0, "x_hi": 0.5} for z in (6.0, 8.0, 10.0)}, 12.0)
    with caplog.at_level(logging.WARNING):
        plot_boxes(folder, [6.5, 8.0, 10.0], "z")
    assert "no boxes at [6.5]" in caplog.text


@pytest.mark.parametrize("damage", ["truncated", "random bytes"])
def test_a_damaged_model_record_is_named(tmp_path, damage):
    import torch

    from cosmodl.records import load_model

    path = tmp_path / "model.pt"
    torch.save({"format": 2, "model": "x", "state_dict": {"w": torch.zeros(1000)}}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncated" else np.random.default_rng(0).bytes(len(data)))
    with pytest.raises(ValueError, match=r"model.pt: not a readable model record .*--forcerun"):
        load_model(path)


def test_a_truncated_parameter_table_is_named(tmp_path):
    from cosmodl.lensing.data import read_params

    path = tmp_path / "params.csv"
    path.write_text("split,class,index,theta_e\ntrain,no_sub,0,1.2\ntrain,no_s")
    with pytest.raises(ValueError, match=r"params.csv: not a lensing parameter table .*--forcerun lensing_merge"):
        read_params(path)


@pytest.mark.parametrize("stage", ["cm21", "specz"])
def test_cm21_and_specz_steps_check_their_memory_before_they_allocate(monkeypatch, tmp_path, stage):
    """Like voids and lensing: the step stops with the keys that drive its estimate, writing nothing."""
    import cosmodl.resources
    from cosmodl.resources import InsufficientMemory
    from stage_contract import tiny_config

    monkeypatch.setattr(cosmodl.resources, "machine_memory_mb", lambda: 100.0)
    monkeypatch.delenv("COSMODL_SKIP_MEMORY_CHECK", raising=False)
    cfg = tiny_config(stage)
    if stage == "cm21":
        from cosmodl.cm21.stage import make_realization

        with pytest.raises(InsufficientMemory, match=r"cm21 step 'boxes' needs .* lower cm21.simulate.dim = 80"):
            make_realization(cfg, 0.07, 150, tmp_path / "f0.070_s150")
        assert not (tmp_path / "f0.070_s150").exists()
    else:
        from cosmodl.specz.stage import make_sets

        with pytest.raises(InsufficientMemory, match=r"specz step 'sets' needs .* lower specz.n_val = 128"):
            make_sets(cfg, tmp_path / "val.npz", tmp_path / "test.npz")
        assert not (tmp_path / "val.npz").exists()


def test_damaged_stored_sets_and_subboxes_are_named_by_the_steps_that_read_them(tmp_path):
    """The readers of a product name it and the rule that remakes it: specz's stored sets, voids' subboxes."""
    from cosmodl.specz.learn import train_network
    from cosmodl.voids.learn import train_void_model
    from stage_contract import tiny_config

    val = tmp_path / "val.npz"
    np.savez(val, noisy=np.zeros((8, 16), np.float32), label=np.zeros(8, np.int64))
    val.write_bytes(val.read_bytes()[:200])
    with pytest.raises(ValueError, match=r"val.npz: not a readable .npz archive .*--forcerun specz_sets"):
        train_network(tiny_config("specz"), 3, "noisy", 64, val, tmp_path / "m.pt", tmp_path / "h.csv", tmp_path / "w")
    images = tmp_path / "images.npy"
    np.save(images, np.zeros((20, 8, 8), np.float32))
    images.write_bytes(images.read_bytes()[:400])
    (tmp_path / "split.json").write_text('{"method": "spatial", "leaky": false, "train": [0], "val": [1], "test": [2]}')
    with pytest.raises(ValueError, match=r"images.npy: not a readable .npy array .*--forcerun voids_subboxes"):
        train_void_model(tiny_config("voids"), "map", tmp_path / "split.json", {"images": images}, None,
                         tmp_path / "m.pt", tmp_path / "h.csv", tmp_path / "w")

"""Baselines, networks and evaluation of the 21-cm stage on slices with a planted answer."""

import json

import numpy as np
import pandas as pd
import pytest

from cosmodl.cm21.baselines import physics_ablation
from cosmodl.cm21.features import power_spectrum_2d, slice_features
from cosmodl.cm21.evaluate import evaluate_task
from cosmodl.cm21.learn import train_task_network
from cosmodl.config import load_schema, validate_config
from cosmodl.errors import ConfigError
from cosmodl.splits import split_record


def test_power_spectrum_of_a_plane_wave_sits_in_its_k_bin_and_keeps_the_variance():
    s, cell, m = 64, 1.5, 8
    x = np.arange(s) * cell
    wave = 3.0 * np.cos(2 * np.pi * m * x / (s * cell))[:, None] * np.ones((1, s))
    k, power = power_spectrum_2d(wave[None], cell, n_k=10)
    k0 = 2 * np.pi * m / (s * cell)
    edges = np.geomspace(2 * np.pi / (s * cell), np.pi / cell, 11)
    b = np.digitize(k0, edges) - 1
    assert power[0].argmax() == b and np.delete(power[0], b).max() < 1e-20 * power[0, b]
    # Parseval: the variance (4.5 mK^2) is the sum over modes of P / area; the wave's two modes carry it
    ft = np.fft.fft2(wave)
    assert np.sum(np.abs(ft) ** 2) / s**4 == pytest.approx(4.5)


def test_physics_features_read_the_moments_and_ionised_fraction():
    slices = np.zeros((2, 16, 16), np.float32)
    slices[0, :8] = 10.0
    f = slice_features(slices, 1.5, cm21_cfg(families=["moments", "ionised", "power"], n_k=4))
    assert [v.shape[1] for v in f.values()] == [4, 1, 4]
    np.testing.assert_allclose(np.column_stack([f["moments"], f["ionised"]]),
                               [[5.0, 25.0, 0.0, -2.0, 0.5],  # two equal halves: kurtosis 1 - 3
                                [0.0, 0.0, 0.0, 0.0, 1.0]])


def test_the_ablation_finds_the_family_that_carries_the_answer():
    """Classes planted in the variance only: the moments alone score as well as all families; the
    ionised fraction alone (0 in every slice: all cells near +100 mK) is at chance."""
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 60)
    slices = (rng.standard_normal((120, 16, 16)) * np.where(y, 3.0, 1.0)[:, None, None] + 100).astype(np.float32)
    fam = slice_features(slices, 1.5, cm21_cfg(families=["moments", "ionised", "power"], n_k=4))
    split = lambda d, rows: {k: v[rows] for k, v in d.items()}  # noqa: E731
    train, test = np.arange(0, 120, 2), np.arange(1, 120, 2)
    out = physics_ablation("classification", 0, split(fam, train), split(fam, test), y[train], y[test])
    assert out["metric"] == "accuracy" and out["all"] == 1.0 and out["alone"]["moments"] == 1.0
    assert out["alone"]["ionised"] == 0.5 and out["without"]["ionised"] == 1.0


def planted(tmp_path, n_per=12, side=80):
    """Slices whose mean follows z (3 classes) and whose scatter follows zeta; seeds 1, 2, 3 -> train, val, test."""
    rng = np.random.default_rng(0)
    rows, slices = [], []
    for seed in (1, 2, 3):
        for f in (0.07, 0.1):
            for z in (6.0, 8.0, 10.0):
                for p in range(n_per):
                    img = rng.normal(10.0 * (z - 5), 25 * f, (side, side))
                    slices.append(img)
                    rows.append({"seed": seed, "f_esc": f, "zeta": 250 * f, "z": z, "position": p, "x_hi": 0.5})
    table = pd.DataFrame(rows)
    roles = table["seed"].map({1: 0, 2: 1, 3: 2}).to_numpy().astype(np.int8)
    paths = {"slices": tmp_path / "slices.npy", "table": tmp_path / "slices.csv", "split": tmp_path / "split.json"}
    np.save(paths["slices"], np.array(slices, np.float32))
    table.to_csv(paths["table"], index=False)
    paths["split"].write_text(json.dumps(split_record(roles, "seeds", {}, leaky=False)))
    return paths


def cm21_cfg(families=("moments", "ionised", "power"), n_k=10, **train):
    """The tests' cm21 section: the cheap physics families unless told otherwise (the library ones
    are tested in test_cm21_features.py)."""
    cfg = validate_config({"cm21": {"simulate": {"dim": 80}, "slices": {"patch": 16},
                                    "methods": ["physics", "pca_knn", "cnn"],
                                    "baselines": {"families": list(families), "n_k": n_k},
                                    "train": {"epochs": 6, "batch_size": 12, "lr": 0.003, **train}}},
                          load_schema())["cm21"]
    return cfg


def test_a_network_and_the_baselines_recover_a_planted_redshift_and_zeta(tmp_path):
    paths = planted(tmp_path)
    cfg = cm21_cfg()
    records = {}
    for task in ("z_all", "zeta"):
        records[task] = tmp_path / f"{task}_cnn.pt"
        summary = train_task_network(cfg, task, "cnn", paths["slices"], paths["table"], paths["split"],
                                     records[task], tmp_path / f"{task}.csv", tmp_path / f"w_{task}", threads=2)
        assert summary["n_train"] == 72 and summary["n_val"] == 72
    z = evaluate_task(cfg, "z_all", paths["slices"], paths["table"], paths["split"], {"cnn": records["z_all"]}, 1.5,
                      tmp_path / "z.json", tmp_path / "z.npz")
    m = z["methods"]
    assert m["physics_logistic"]["accuracy"] == 1.0 and m["pca_knn"]["accuracy"] == 1.0
    assert m["cnn"]["accuracy"] > 0.6 and m["cnn"]["chance"] == pytest.approx(1 / 3)
    assert np.sum(m["cnn"]["confusion"]) == m["cnn"]["n_test"] == 72
    assert m["pca_knn"]["unit"] == "patches" and m["pca_knn"]["n_test"] == 72 * 25
    zeta = evaluate_task(cfg, "zeta", paths["slices"], paths["table"], paths["split"], {"cnn": records["zeta"]}, 1.5,
                         tmp_path / "zeta.json", tmp_path / "zeta.npz")["methods"]
    assert zeta["physics_ridge"]["rmse"] < 0.2 * zeta["physics_ridge"]["rmse_train_mean"]
    assert zeta["cnn"]["rmse"] < zeta["cnn"]["rmse_train_mean"]
    saved = np.load(tmp_path / "zeta.npz")
    assert saved["pred_cnn"].shape == (72,) and 15 < saved["pred_cnn"].mean() < 27  # zeta units, not standardised


@pytest.mark.parametrize("cm21, match", [
    ({"tasks_fixed": {"z": 7.25}}, "tasks_fixed.z = 7.25 is not one of cm21.redshifts"),
    ({"tasks_fixed": {"f_esc": 0.5}}, "tasks_fixed.f_esc = 0.5 is not one of cm21.f_esc"),
    ({"simulate": {"dim": 64}}, "simulate.dim: 64 cells per side; the autoencoder needs"),
    ({"simulate": {"dim": 80, "box_len": 120.5}}, "box_len = 120.5: .* must be an integer"),
    ({"simulate": {"dim": 80}, "slices": {"patch": 100}}, "patch = 100 is larger"),
    ({"simulate": {"dim": 80}, "slices": {"patch": 16}, "baselines": {"scattering": {"J": 7}}},
     "scattering.J = 7: the largest wavelet"),
    ({"source": "directory"}, "needs cm21.directory"),
    ({"source": "directory", "directory": "/nonexistent"}, "no such folder"),
])
def test_settings_that_cannot_work_together_are_one_clear_error(cm21, match):
    from cosmodl.cm21.checks import check_config

    with pytest.raises(ConfigError, match=match):
        check_config(validate_config({"cm21": cm21}, load_schema()))


def test_networks_are_judged_against_the_best_physics_or_pca_baseline_by_accuracy_or_rmse():
    from cosmodl.cm21.evaluate import baseline_verdict

    methods = {"physics_logistic": 0.9, "physics_boosting": 0.8, "pca_knn": 0.95, "fc": 0.7, "cnn": 0.97}
    doc = baseline_verdict({"kind": "classification", "methods": {k: {"accuracy": v} for k, v in methods.items()}})
    assert (doc["best_baseline"], {k: v["beats"] for k, v in doc["models"].items()}) == \
        ("pca_knn", {"fc": False, "cnn": True})
    doc = baseline_verdict({"kind": "regression", "methods": {k: {"rmse": v} for k, v in methods.items()}})
    assert (doc["metric"], doc["best_baseline"], doc["models"]["fc"]["beats"]) == ("rmse", "physics_boosting", True)

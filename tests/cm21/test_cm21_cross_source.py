"""Cross-source evaluation, per-box answers and the f_esc power-spectrum signal of the 21-cm stage."""

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cosmodl.cm21.baselines import fesc_power_signal
from cosmodl.cm21.boxes import write_realization
from cosmodl.cm21.data import box_ids, class_index
from cosmodl.cm21.evaluate import Method, cross_source_scores, mean_predicted, per_box
from cosmodl.cm21.features import SliceSet
from cosmodl.cm21.stage import make_cross_slices, cross_realizations, cross_source_of
from cosmodl.errors import ConfigError
from stage_contract import tiny_config


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n_boxes=st.integers(1, 6), per=st.integers(1, 5), n_classes=st.integers(2, 4))
def test_a_box_answers_with_the_argmax_of_its_mean_probabilities(seed, n_boxes, per, n_classes):
    rng = np.random.default_rng(seed)
    boxes = np.repeat(rng.permutation(50)[:n_boxes], per)
    box_truth = rng.integers(0, n_classes, n_boxes)
    truth = np.repeat(box_truth, per)
    scores = rng.dirichlet(np.ones(n_classes), len(boxes))
    out = per_box({"kind": "classification"}, scores, boxes, truth)
    in_order = boxes[::per]  # the boxes in the order box_truth gives them
    right = [scores[boxes == b].mean(axis=0).argmax() == box_truth[i] for i, b in enumerate(in_order)]  # brute force
    assert out["n_boxes"] == n_boxes
    assert out["accuracy"] == pytest.approx(np.mean(right))


def test_a_box_of_a_regression_answers_with_its_mean_zeta():
    boxes = np.array([0, 0, 1, 1, 1])
    truth = np.array([20.0, 20.0, 30.0, 30.0, 30.0])
    values = np.array([18.0, 24.0, 27.0, 30.0, 30.0])  # box means 21 and 29
    assert per_box({"kind": "regression"}, values, boxes, truth) == {"rmse": pytest.approx(1.0), "n_boxes": 2}


def test_majority_of_slices_can_be_wrong_where_the_box_is_right():
    """Two slices lean weakly to class 0, one strongly to class 1: per slice 1 of 3, per box right."""
    scores = np.array([[0.55, 0.45], [0.55, 0.45], [0.0, 1.0]])
    out = per_box({"kind": "classification"}, scores, np.zeros(3, int), np.ones(3, int))
    assert out == {"accuracy": 1.0, "n_boxes": 1}


def test_mean_predicted_is_per_true_value():
    out = mean_predicted(np.array([7.0, 7.0, 8.0]), np.array([7.0, 8.0, 9.0]))
    assert out == [{"true": 7.0, "mean": 7.5, "n": 2}, {"true": 8.0, "mean": 9.0, "n": 1}]


def test_box_ids_and_class_index():
    table = pd.DataFrame({"seed": [1, 1, 2, 1], "f_esc": [0.07, 0.07, 0.07, 0.13], "z": [7.0, 7.0, 7.0, 7.0]})
    ids = box_ids(table)
    assert ids[0] == ids[1] and len(set(ids)) == 3
    np.testing.assert_array_equal(class_index([7.0, 6.5, 8.0], [7.0, 8.0]), [0, -1, 1])


def _cross_table(zs, per_z=4):
    return pd.DataFrame([{"seed": 160, "f_esc": 0.07, "zeta": 17.5, "z": z, "position": i, "x_hi": 0.5}
                         for z in zs for i in range(per_z)])


def test_a_shifted_model_shows_its_shift_and_slices_off_the_classes_count_in_the_mean_only():
    """A planted model that answers the next redshift class up on every slice: accuracy 0, mean shift
    +1 at each class but the last; the z 7.5 slices (no training class) enter the mean only."""
    cfg = tiny_config("cm21", {"cm21": {"redshifts": [6.0, 7.0, 8.0]}})
    classes = [6.0, 7.0, 8.0]
    table = _cross_table([6.0, 7.0, 7.5, 8.0])
    slices = np.zeros((len(table), 4, 4), np.float32)
    slices[:, 0, 0] = table["z"].to_numpy()  # the planted model reads z from a pixel

    def up_one(s):
        idx = np.minimum(np.searchsorted(classes, s.slices[:, 0, 0]) + 1, 2)
        return np.eye(3)[idx]

    info = {"kind": "classification", "classes": classes}
    out = cross_source_scores(cfg, "z_all", info, {"shifted": Method("slices", up_one, {})},
                              {"shifted": {"accuracy": 0.9}}, SliceSet(slices, {}), table, "planted")
    m = out["methods"]["shifted"]
    assert out["n"] == 16 and out["n_out_of_class"] == 4
    assert m["accuracy"] == pytest.approx(1 / 3)  # of the 12 in-class slices, the z 8 ones (clipped to 8) are right
    assert m["in_source"] == 0.9
    assert [(e["true"], e["mean"]) for e in m["mean_predicted"]] == [(6.0, 7.0), (7.0, 8.0), (7.5, 8.0), (8.0, 8.0)]
    assert m["per_box"] == {"accuracy": pytest.approx(1 / 3), "n_boxes": 3}  # 7.5 is no box of a class


def test_patch_methods_are_scored_per_patch_on_the_other_source():
    cfg = tiny_config("cm21", {"cm21": {}})
    table = _cross_table([17.5], per_z=2).assign(z=8.0)
    slices = np.zeros((2, 4, 4), np.float32)
    per_patch = Method("patches", lambda x: np.repeat(np.array([20.0, 15.0]), 4), {})  # 4 patches a slice
    out = cross_source_scores(cfg, "zeta", {"kind": "regression", "classes": []}, {"p": per_patch},
                              {"p": {"rmse": 1.0}}, SliceSet(slices, {}), table, "planted")
    m = out["methods"]["p"]
    assert m["rmse"] == pytest.approx(2.5) and m["per_box"]["rmse"] == pytest.approx(0.0)
    assert m["mean_predicted"] == [{"true": 17.5, "mean": 17.5, "n": 8}]


def _write(folder, dim, box_len, zs=(8.0, 10.0), seed=0):
    rng = np.random.default_rng(seed)
    boxes = {z: {"delta_T": rng.random((dim,) * 3, dtype=np.float32) * 20, "density": np.zeros((dim,) * 3, np.float32),
                 "x_hi": 0.5} for z in zs}
    write_realization(folder, boxes, box_len)
    return boxes


def _split_file(path, dim, cell):
    path.write_text(json.dumps({"grid": {"dim": dim, "cell_mpc": cell}}))
    return path


def test_other_source_slices_are_cut_into_tiles_of_the_training_side(tmp_path):
    cfg = tiny_config("cm21", {"cm21": {"redshifts": [8.0, 10.0], "slices": {"per_box": 2, "axis": "z"},
                                        "test_source": {"source": "directory", "directory": str(tmp_path / "real")}}})

    boxes = _write(tmp_path / "real" / "f0.070_s7", 16, 24.0)  # 1.5 Mpc cells, twice the training side
    (tmp_path / "real" / "notes").mkdir()
    assert cross_realizations(cfg) == ["f0.070_s7"]
    split = _split_file(tmp_path / "split.json", 8, 1.5)
    table = make_cross_slices(cfg, [tmp_path / "real" / "f0.070_s7"], split, tmp_path / "t.npy", tmp_path / "t.csv")
    tiles = np.load(tmp_path / "t.npy")
    assert tiles.shape == (2 * 2 * 4, 8, 8) and len(table) == 16
    assert list(table["tile"][:4]) == [0, 1, 2, 3] and set(table["z"]) == {8.0, 10.0}
    # the second tile of the first slice (z 8, cell 0 along z) is its top-right 8 x 8 corner
    np.testing.assert_array_equal(tiles[1], boxes[8.0]["delta_T"][:8, 8:16, 0])
    np.testing.assert_array_equal(pd.read_csv(tmp_path / "t.csv")["tile"], table["tile"])


def test_other_source_cells_of_another_size_are_refused_without_output(tmp_path):
    cfg = tiny_config("cm21", {"cm21": {"redshifts": [8.0, 10.0],
                                        "test_source": {"source": "directory", "directory": str(tmp_path)}}})
    _write(tmp_path / "f0.070_s7", 16, 32.0)  # 2 Mpc cells
    split = _split_file(tmp_path / "split.json", 8, 1.5)
    with pytest.raises(ConfigError, match=r"cells of 2 Mpc, but the training slices have 1.5 Mpc cells"):
        make_cross_slices(cfg, [tmp_path / "f0.070_s7"], split, tmp_path / "t.npy", tmp_path / "t.csv")
    assert not (tmp_path / "t.npy").exists() and not (tmp_path / "t.csv").exists()


def test_the_test_source_is_off_without_seeds_and_names_itself():
    cfg = tiny_config("cm21", {"cm21": {"test_source": {"seeds": []}}})
    assert cross_source_of(cfg) is None and cross_realizations(cfg) == []
    cfg = tiny_config("cm21", {"cm21": {"f_esc": [0.07, 0.13], "test_source": {"seeds": [160]}}})
    assert cross_source_of(cfg)["label"] == "our generator, seeds 160"
    assert cross_realizations(cfg) == ["f0.070_s160", "f0.130_s160"]


def test_fesc_signal_is_the_planted_power_ratio_against_the_planted_scatter():
    """Slices of f_esc class j are a seed's field times a_j: log10 P moves by 2 log10(a_1 / a_0) between
    the classes, while seeds (fields of rms 1 and 2) scatter by log10(4) / sqrt(2)."""
    rng = np.random.default_rng(1)
    fields = {s: rng.standard_normal((6, 16, 16)) * (1 + s) for s in (0, 1)}  # 6 slices per box
    rows, slices = [], []
    for f, a in ((0.07, 1.0), (0.13, 3.0)):
        for s in (0, 1):
            slices.append(fields[s] * a)
            rows += [{"seed": s, "f_esc": f, "z": 7.0}] * 6
    out = fesc_power_signal(np.concatenate(slices), pd.DataFrame(rows), 1.0, n_k=3)
    z = out["z"]["7"]
    np.testing.assert_allclose(z["neighbour_change"], 2 * np.log10(3.0), rtol=1e-6)
    np.testing.assert_allclose(np.mean(z["seed_scatter"]), np.log10(4.0) / np.sqrt(2), rtol=0.15)
    assert z["median_ratio_seed"] > 1 and len(out["k"]) == 3


def test_the_evaluation_memory_estimate_counts_the_test_source_slices():
    from cosmodl.cm21.resources import CROSS_COPIES, MB, estimate_mb

    off = tiny_config("cm21", {"cm21": {"test_source": {"seeds": []}}})
    on = tiny_config("cm21", {"cm21": {"test_source": {"seeds": [160, 161]}}})
    n = len(on["f_esc"]) * 2 * len(on["redshifts"]) * on["slices"]["per_box"]  # whole 80-cell slices, one tile each
    expected = CROSS_COPIES * n * on["simulate"]["dim"] ** 2 * 4 / MB
    assert estimate_mb("evaluate", on) - estimate_mb("evaluate", off) == pytest.approx(expected, abs=1)
    assert estimate_mb("train", on) == estimate_mb("train", off)
    # the features step holds one set at a time: the larger of the two
    n_train = len(on["f_esc"]) * len(on["seeds"]) * len(on["redshifts"]) * on["slices"]["per_box"]
    many = tiny_config("cm21", {"cm21": {"test_source": {"seeds": list(range(160, 160 + 2 * len(on["seeds"])))}}})
    per_slice = on["simulate"]["dim"] ** 2 * 4 / MB
    assert estimate_mb("features", on) - estimate_mb("features", off) == pytest.approx(
        2 * max(0, n - n_train) * per_slice, abs=1)
    assert estimate_mb("features", many) - estimate_mb("features", off) == pytest.approx(
        2 * n_train * per_slice, abs=1)

"""Slices, patches, tasks and the leakage-free split of the 21-cm stage."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cosmodl.cm21.boxes import write_realization
from cosmodl.cm21.data import collect_slices, patches_of, slice_positions, split_slices, take_slices, task_rows
from cosmodl.errors import ConfigError
from cosmodl.splits import TEST, TRAIN, VAL


def test_slices_are_perpendicular_to_their_axis_and_keep_the_other_axes_in_order():
    box = np.arange(4 * 4 * 4, dtype=np.float32).reshape(4, 4, 4)
    np.testing.assert_array_equal(take_slices(box, 2, [1])[0], box[:, :, 1])
    np.testing.assert_array_equal(take_slices(box, 0, [3])[0], box[3])
    np.testing.assert_array_equal(take_slices(box, 1, [0, 2])[1], box[:, 2, :])
    np.testing.assert_array_equal(slice_positions(200, 32)[:3], [0, 6, 12])
    assert len(slice_positions(200, 200)) == 200


def test_patches_tile_each_slice_without_overlap():
    slices = np.random.default_rng(0).random((3, 10, 10), dtype=np.float32)
    p = patches_of(slices, 5)
    assert p.shape == (12, 5, 5)
    np.testing.assert_array_equal(p[4 + 1], slices[1, 0:5, 5:10])  # slice 1, tile (row 0, column 1)
    np.testing.assert_array_equal(p[4 * 2 + 3], slices[2, 5:10, 5:10])


def _table(seeds, positions, f_escs=(0.07, 0.1), zs=(7.0, 8.0)):
    rows = [{"seed": s, "f_esc": f, "zeta": 250 * f, "z": z, "position": p, "x_hi": 0.5}
            for s in seeds for f in f_escs for z in zs for p in positions]
    return pd.DataFrame(rows)


@settings(max_examples=25, deadline=None)
@given(n_seeds=st.integers(3, 7), seed=st.integers(0, 50))
def test_with_three_or_more_seeds_no_seed_is_in_two_roles(n_seeds, seed):
    table = _table(range(100, 100 + n_seeds), [0, 8, 16])
    roles, record = split_slices(table, 32, 1.5, {"test_fraction": 0.25, "val_fraction": 0.25, "seed": seed,
                                                   "buffer": 10.0})
    owners = table.assign(role=roles).groupby("seed")["role"].nunique()
    assert (owners == 1).all()
    assert {TRAIN, VAL, TEST} <= set(roles) and record["method"] == "seeds" and not record["leaky"]


@settings(max_examples=40, deadline=None)
@given(per_box=st.integers(8, 40), buffer=st.one_of(st.just(0.0), st.floats(0.0, 20.0)), seed=st.integers(0, 50))
def test_with_one_seed_test_slices_lie_beyond_the_buffer_of_every_training_slice(per_box, buffer, seed):
    dim, cell = 64, 1.5
    table = _table([150], slice_positions(dim, per_box))
    try:
        roles, record = split_slices(table, dim, cell, {"test_fraction": 0.25, "val_fraction": 0.25, "seed": seed,
                                                        "buffer": buffer})
    except ConfigError:
        return  # a buffer that leaves no slab for some role is refused, not silently shrunk
    pos = table["position"].to_numpy()
    train = pos[roles == TRAIN]
    for role in (VAL, TEST):
        other = pos[roles == role]
        gap = np.abs(other[:, None] - train[None, :])
        gap = np.minimum(gap, dim - gap) * cell  # periodic distance, Mpc
        assert gap.min() >= buffer - 1e-9 and gap.min() > 0
    assert record["leaky"] == (buffer <= 0)  # neighbouring slabs of one field without a gap share structure


def test_tasks_select_their_slices_and_number_their_classes():
    table = _table([1, 2, 3], [0], f_escs=(0.07, 0.096, 0.13), zs=(7.0, 7.5, 8.0))
    roles = np.where(table["seed"] == 1, TRAIN, np.where(table["seed"] == 2, VAL, TEST))
    t = task_rows(table, roles, "z_fixed_fesc", 0.07, 7.5)
    assert t["classes"] == [7.0, 7.5, 8.0] and len(t["rows"]["train"]) == 3
    assert set(table["f_esc"][t["rows"]["test"]]) == {0.07}
    f = task_rows(table, roles, "fesc_fixed_z", 0.07, 7.5)
    assert f["classes"] == [0.07, 0.096, 0.13] and set(table["z"][f["rows"]["val"]]) == {7.5}
    np.testing.assert_array_equal(f["targets"][f["rows"]["train"]], [0, 1, 2])
    z = task_rows(table, roles, "zeta", 0.07, 7.5)
    assert z["kind"] == "regression" and z["targets"][0] == pytest.approx(17.5)
    with pytest.raises(ConfigError, match="no slices with z = 9.0"):
        task_rows(table, roles, "fesc_fixed_z", 0.07, 9.0)


def test_collect_slices_reads_every_realization_folder(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("f0.070_s1", "f0.100_s2"):
        write_realization(tmp_path / name, {z: {"delta_T": rng.random((8,) * 3, dtype=np.float32),
                                                "density": np.zeros((8,) * 3, np.float32), "x_hi": 0.25}
                                            for z in (7.0, 8.0)}, box_len=12)
    slices, table = collect_slices(sorted(tmp_path.iterdir()), [7.0, 8.0], "z", 4, 250.0)
    assert slices.shape == (16, 8, 8)
    assert table["zeta"].tolist()[:1] == [17.5] and set(table["seed"]) == {1, 2} and table["x_hi"].eq(0.25).all()
    with pytest.raises(ConfigError, match="named f<f_esc>_s<seed>"):
        collect_slices([tmp_path / "f0.070"], [7.0], "z", 4, 250.0)

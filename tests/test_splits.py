"""The split kit: whole groups kept apart, buffers honoured, records explicit about leakage."""

import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from cosmodl.errors import ConfigError
from cosmodl.splits import (DROPPED, TEST, TRAIN, VAL, group_split, load_split, occupancy, random_split, slab_split,
                            split_record, subsample, touches)


def cyclic_gap(a, b, n):
    d = abs(a - b) % n
    return min(d, n - d)


@settings(max_examples=60, deadline=None)
@given(n_groups=st.integers(3, 40), per_group=st.integers(1, 5), seed=st.integers(0, 10**6))
def test_group_split_never_puts_one_group_in_two_sets(n_groups, per_group, seed):
    groups = np.repeat(np.random.default_rng(seed).permutation(n_groups) * 7 + 3, per_group)
    roles = group_split(groups, 0.25, 0.2, seed)
    for g in np.unique(groups):
        assert len(set(roles[groups == g])) == 1
    assert {TRAIN, TEST} <= set(roles) and DROPPED not in set(roles)
    assert np.sum(roles == TEST) == max(1, round(0.25 * n_groups)) * per_group


@settings(max_examples=60, deadline=None)
@given(n_groups=st.integers(8, 60), buffer=st.integers(0, 3), seed=st.integers(0, 1000))
def test_contiguous_groups_of_different_roles_are_more_than_a_buffer_apart(n_groups, buffer, seed):
    groups = np.arange(n_groups)
    try:
        roles = group_split(groups, 0.25, 0.15, seed, contiguous=True, buffer=buffer)
    except ConfigError:
        return  # too few groups for the buffer: refused, not silently emptied
    for i in range(n_groups):
        for j in range(n_groups):
            if DROPPED not in (roles[i], roles[j]) and roles[i] != roles[j]:
                assert cyclic_gap(i, j, n_groups) > buffer
    assert np.sum(roles == DROPPED) == (3 * buffer if buffer else 0) or np.sum(roles == VAL) == 0


def test_a_buffer_needs_ordered_groups_and_an_empty_role_is_an_error():
    with pytest.raises(ConfigError, match="contiguous"):
        group_split(np.arange(10), 0.2, 0.2, 0, buffer=1)
    with pytest.raises(ConfigError, match="3 groups leave no val group"):
        group_split(np.arange(3), 0.34, 0.34, 0, contiguous=True, buffer=1)


@settings(max_examples=80, deadline=None)
@given(n=st.integers(20, 80), data=st.data())
def test_slab_split_keeps_objects_of_different_roles_a_buffer_apart(n, data):
    size = data.draw(st.integers(1, n // 6))
    buffer = data.draw(st.integers(0, 4))
    offset = data.draw(st.integers(0, n - 1))
    start = np.arange(0, n, data.draw(st.integers(1, 4)))
    try:
        roles = slab_split(start, size, n, 0.3, 0.2, offset, buffer)
    except ConfigError:
        return
    for i in np.flatnonzero(roles != DROPPED):
        for j in np.flatnonzero(roles != DROPPED):
            if roles[i] != roles[j]:
                # the gap between [s_i, s_i + size) and [s_j, s_j + size) on the circle
                gap = min((start[j] - (start[i] + size)) % n, (start[i] - (start[j] + size)) % n)
                assert gap >= buffer
    # the test slab keeps its width whatever the buffer: the same test objects
    np.testing.assert_array_equal(roles == TEST, slab_split(start, size, n, 0.3, 0.2, offset, 0) == TEST)


@settings(max_examples=80, deadline=None)
@given(n=st.integers(20, 80), data=st.data())
def test_test_train_faces_keep_only_training_a_buffer_from_test(n, data):
    size = data.draw(st.integers(1, n // 6))
    buffer = data.draw(st.integers(0, n // 3))
    offset = data.draw(st.integers(0, n - 1))
    val_fraction = data.draw(st.sampled_from([0.0, 0.05, 0.2]))
    start = np.arange(0, n, data.draw(st.integers(1, 4)))
    roles = slab_split(start, size, n, 0.3, val_fraction, offset, buffer, faces="test_train")
    plain = slab_split(start, size, n, 0.3, val_fraction, offset, 0)
    for i in np.flatnonzero(roles == TEST):  # brute force: every training object is a buffer from every test one
        for j in np.flatnonzero(roles == TRAIN):
            assert min((start[j] - (start[i] + size)) % n, (start[i] - (start[j] + size)) % n) >= buffer
    np.testing.assert_array_equal(roles == TEST, plain == TEST)  # test and validation keep their objects
    np.testing.assert_array_equal(roles == VAL, plain == VAL)
    # training keeps every object of the plain split that is a buffer from the test slab
    test_lo, test_hi = 0, int(round(0.3 * n))
    along = (start - offset) % n
    far = ((along - test_hi) % n >= buffer) & ((test_lo - (along + size)) % n >= buffer)
    np.testing.assert_array_equal(roles == TRAIN, (plain == TRAIN) & far)


@settings(max_examples=100, deadline=None)
@given(period=st.integers(5, 40), data=st.data())
def test_touches_matches_a_cell_by_cell_check(period, data):
    covered = np.array(data.draw(st.lists(st.booleans(), min_size=period, max_size=period)))
    lo = data.draw(st.floats(-2 * period, 2 * period, allow_nan=False))
    width = data.draw(st.floats(0.01, period - 0.01))
    cells = np.arange(np.floor(lo), np.ceil(lo + width)).astype(int) % period
    assert touches(np.array([lo]), np.array([lo + width]), covered)[0] == bool(covered[cells].any())


def test_occupancy_wraps_around_the_box():
    assert occupancy([8], 4, 10).tolist() == [True, True] + [False] * 6 + [True, True]


def test_random_split_is_seeded_and_sized():
    roles = random_split(1000, 0.2, 0.1, seed=3)
    assert (np.sum(roles == TEST), np.sum(roles == VAL), np.sum(roles == TRAIN)) == (200, 100, 700)
    np.testing.assert_array_equal(roles, random_split(1000, 0.2, 0.1, seed=3))
    assert not np.array_equal(roles, random_split(1000, 0.2, 0.1, seed=4))
    with pytest.raises(ConfigError, match="sum below 1"):
        random_split(10, 0.6, 0.5, 0)


def test_split_record_round_trip_with_explicit_leak_flag(tmp_path):
    roles = np.array([TRAIN, TEST, VAL, DROPPED, TRAIN], np.int8)
    record = split_record(roles, "realization", {"seed": 1}, leaky=False, note="x")
    assert record["counts"] == {"train": 2, "val": 1, "test": 1, "dropped_buffer": 1} and record["note"] == "x"
    (tmp_path / "s.json").write_text(json.dumps(record))
    back = load_split(tmp_path / "s.json")
    assert back["train"].tolist() == [0, 4] and back["train"].dtype == np.int64 and back["leaky"] is False
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="bad.json: not a split file"):
        load_split(tmp_path / "bad.json")
    with pytest.raises(TypeError):
        split_record(roles, "random", {})  # leaky must be stated


def test_subsample_is_a_sorted_seeded_subset():
    idx = np.arange(100, 300)
    cut = subsample(idx, 50, seed=0)
    assert len(cut) == 50 and np.all(np.diff(cut) > 0) and set(cut) <= set(idx)
    np.testing.assert_array_equal(cut, subsample(idx, 50, seed=0))
    assert len(subsample(idx, None, 0)) == 200 and len(subsample(idx, 500, 0)) == 200


import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from cosmodl.errors import ConfigError
from cosmodl.splits import TEST, TRAIN, VAL, random_split, split_record
from cosmodl.voids.split import (overlap_cells, planned_buffer, resolve_buffer, spatial_split,
                                 voids_crossing_faces)
from cosmodl.voids.subboxes import SubboxLattice


def brute_overlap(a, b, size, n):
    cells_a = [set((o + np.arange(size)) % n) for o in a]
    cells_b = [set((o + np.arange(size)) % n) for o in b]
    return int(np.prod([len(x & y) for x, y in zip(cells_a, cells_b)]))


@settings(max_examples=60, deadline=None)
@given(n=st.integers(4, 30), data=st.data())
def test_overlap_cells_matches_set_intersection(n, data):
    size = data.draw(st.integers(1, n))
    a = data.draw(st.lists(st.integers(0, n - 1), min_size=3, max_size=3))
    b = data.draw(st.lists(st.integers(0, n - 1), min_size=3, max_size=3))
    assert overlap_cells(np.array(a), np.array(b), size, n) == brute_overlap(a, b, size, n)


@settings(max_examples=80, deadline=None)
@given(n=st.integers(12, 60), data=st.data())
def test_spatial_split_never_shares_volume(n, data):
    size = data.draw(st.integers(2, n // 3))
    stride = data.draw(st.integers(1, size + 3))
    wrap = data.draw(st.booleans())
    test_f = data.draw(st.floats(0.05, 0.6))
    val_f = data.draw(st.sampled_from([0.0, 0.1, 0.2, 0.3]))
    assume(test_f + val_f < 0.95)
    axis = data.draw(st.integers(0, 2))
    offset = data.draw(st.integers(0, n - 1))
    lattice = SubboxLattice(100.0, n, size, stride, wrap)
    try:
        roles = spatial_split(lattice, test_f, val_f, axis, offset)
    except ConfigError:
        return  # a slab narrower than a subbox is refused, not silently emptied
    origins = lattice.origins()
    groups = {role: origins[roles == role] for role in (TRAIN, VAL, TEST)}
    assert len(groups[TRAIN]) and len(groups[TEST])
    rng = np.random.default_rng(0)
    for r1, r2 in [(TEST, TRAIN), (TEST, VAL), (VAL, TRAIN)]:
        a, b = groups[r1], groups[r2]
        # all pairs when small; otherwise 300 random boxes of each side (memory)
        a = a if len(a) <= 300 else a[rng.choice(len(a), 300, replace=False)]
        b = b if len(b) <= 300 else b[rng.choice(len(b), 300, replace=False)]
        if len(a) and len(b):
            shared = overlap_cells(a[:, None, :], b[None, :, :], size, n)
            assert shared.max() == 0


def test_random_split_leaks_and_is_flagged():
    lattice = SubboxLattice(1050.0, 1050, 224, 37, count=22)
    roles = random_split(lattice.n_subboxes, 0.2, 0.0, seed=1)
    origins = lattice.origins()
    test, train = origins[roles == TEST][:50], origins[roles == TRAIN]
    shared = overlap_cells(test[:, None, :], train[None, :, :], 224, 1050).max(axis=1)
    assert np.all(shared >= 187 * 224**2)  # every test box shares >= 187/224 = 83.5 % with a training box
    record = split_record(roles, "random", {"seed": 1}, leaky=True)
    assert record["leaky"] is True and record["counts"]["test"] == round(0.2 * 10_648)
    np.testing.assert_array_equal(roles, random_split(lattice.n_subboxes, 0.2, 0.0, seed=1))


def test_paper_spatial_split_counts():
    lattice = SubboxLattice(1050.0, 1050, 224, 37, count=22)
    roles = spatial_split(lattice, 0.25, 0.25)
    record = split_record(roles, "spatial", {}, leaky=False)
    # x-origins: test 0, 37 (2 of 22); val 296 (1); train 555 ... 777 (7); 12 dropped, each x 22^2
    assert record["counts"] == {"train": 7 * 484, "val": 484, "test": 2 * 484, "dropped_buffer": 12 * 484}
    assert record["leaky"] is False


def test_too_thin_slab_is_a_clear_error():
    lattice = SubboxLattice(1050.0, 1050, 224, 37, count=22)
    with pytest.raises(ConfigError, match="test slab"):
        spatial_split(lattice, 0.2, 0.3)


def min_gap(x, roles, a, b, size, n):
    """Fewest cells between a subbox of role a and one of role b along a periodic axis of n cells."""
    xa, xb = np.unique(x[roles == a]), np.unique(x[roles == b])
    return np.minimum((xb[None] - (xa[:, None] + size)) % n, (xa[:, None] - (xb[None] + size)) % n).min()


@pytest.mark.parametrize("faces", ["test_train", "all"])
def test_buffer_keeps_test_and_training_subboxes_apart_and_zero_changes_nothing(faces):
    lattice = SubboxLattice(512.0, 256, 32, 4)
    plain = spatial_split(lattice, 0.25, 0.25)
    np.testing.assert_array_equal(plain, spatial_split(lattice, 0.25, 0.25, buffer_mpc=0.0, faces=faces))
    buffered = spatial_split(lattice, 0.25, 0.25, buffer_mpc=39.0, faces=faces)  # 19.5 cells of 2 Mpc/h -> 20
    np.testing.assert_array_equal(buffered == TEST, plain == TEST)  # the test set does not change
    x = lattice.origins()[:, 0]
    assert min_gap(x, buffered, TEST, TRAIN, 32, 256) >= 20
    if faces == "all":
        assert min_gap(x, buffered, VAL, TRAIN, 32, 256) >= 20 and min_gap(x, buffered, TEST, VAL, 32, 256) >= 20
    else:  # validation keeps its slab next to the test slab; only training gives up cells
        np.testing.assert_array_equal(buffered == VAL, plain == VAL)
        assert min_gap(x, buffered, TEST, VAL, 32, 256) == 0
    assert (buffered == TRAIN).sum() < (plain == TRAIN).sum()


def test_test_train_gap_holds_through_a_validation_slab_thinner_than_it():
    lattice = SubboxLattice(512.0, 256, 16, 4)
    roles = spatial_split(lattice, 0.25, 0.0625, buffer_mpc=80.0)  # val slab 16 cells, gap 40
    x = lattice.origins()[:, 0]
    assert min_gap(x, roles, TEST, TRAIN, 16, 256) == 40 and np.any(roles == VAL)


def test_default_buffer_is_twice_the_largest_void_radius():
    assert resolve_buffer("auto", [10.0, 37.5, 12.0]) == 75.0 and resolve_buffer(0, [40.0]) == 0.0
    assert resolve_buffer("auto", []) == 0.0
    cfg = {"split": {"buffer": "auto"}, "catalogue": {"source": "find", "find": {"radii": [10, 40, 20]}}}
    assert planned_buffer(cfg) == 80.0
    cfg["catalogue"]["source"] = "file"  # known only once the split step reads the catalogue
    assert planned_buffer(cfg) is None


def brute_crossing(voids, lattice, roles, a, b):
    """Voids whose span along x meets a cell covered by an `a` subbox and one covered by a `b` subbox."""
    n, cell = lattice.n_cells, lattice.cell
    x = lattice.origins()[:, 0]
    cover = {r: {int(c) % n for o in np.unique(x[roles == r]) for c in range(o, o + lattice.size)} for r in (a, b)}
    count = 0
    for cx, r in zip(voids["x"], voids["radius"]):
        cells = {int(c) % n for c in range(int(np.floor((cx - r) / cell)), int(np.ceil((cx + r) / cell)))}
        count += bool(cells & cover[a]) and bool(cells & cover[b])
    return count


def test_voids_crossing_faces_counts_spheres_reaching_both_sets():
    lattice = SubboxLattice(512.0, 256, 32, 4)
    roles = spatial_split(lattice, 0.25, 0.3)
    rng = np.random.default_rng(0)
    voids = {"x": rng.random(300) * 512, "y": rng.random(300) * 512, "z": rng.random(300) * 512,
             "radius": rng.uniform(10, 40, 300)}
    crossing = voids_crossing_faces(voids, lattice, roles)
    assert crossing["test|train"] == brute_crossing(voids, lattice, roles, TEST, TRAIN) > 0
    assert crossing["val|train"] == brute_crossing(voids, lattice, roles, VAL, TRAIN) > 0
    planted = {"x": np.array([1.0, 60.0]), "y": np.zeros(2), "z": np.zeros(2), "radius": np.array([20.0, 20.0])}
    assert voids_crossing_faces(planted, lattice, roles)["test|train"] == 1  # only the one on the x = 0 face
    far = spatial_split(lattice, 0.25, 0.3, buffer_mpc=80.0, faces="all")  # 2 R_max: no sphere reaches two sets
    assert voids_crossing_faces(voids, lattice, far) == {"test|train": 0, "val|train": 0, "test|val": 0}
    default = spatial_split(lattice, 0.25, 0.3, buffer_mpc=80.0)  # the gap between training and test only
    crossing = voids_crossing_faces(voids, lattice, default)
    assert crossing["test|train"] == 0 and crossing["test|val"] > 0

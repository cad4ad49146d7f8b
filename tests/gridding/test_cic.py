import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from cosmodl.gridding import cic_deposit_3d, cic_project_z, cic_project_z_ranges, sort_by_x_cell
from cosmodl.gridding import cic as cic_module
from cosmodl.gridding.cic import cic_deposit_3d_reference


def brute_force_cic(pos, box, n, weights=None):
    """Independent pure-Python CIC with nodes at cell centres."""
    grid = np.zeros((n, n, n))
    cell = box / n
    weights = np.ones(len(pos)) if weights is None else weights
    for p, w in zip(pos.astype(np.float64), weights):
        base, frac = [], []
        for x in p:
            u = x / cell - 0.5
            i = int(np.floor(u))
            base.append(i)
            frac.append(u - i)
        for dx in (0, 1):
            for dy in (0, 1):
                for dz in (0, 1):
                    wx = frac[0] if dx else 1 - frac[0]
                    wy = frac[1] if dy else 1 - frac[1]
                    wz = frac[2] if dz else 1 - frac[2]
                    grid[(base[0] + dx) % n, (base[1] + dy) % n, (base[2] + dz) % n] += w * wx * wy * wz
    return grid


def test_matches_brute_force():
    rng = np.random.default_rng(0)
    box, n = 10.0, 8
    pos = (rng.random((300, 3)) * box).astype(np.float32)
    weights = rng.random(300).astype(np.float32)
    ref = brute_force_cic(pos, box, n, weights)
    np.testing.assert_allclose(cic_deposit_3d(pos, box, n, weights), ref, atol=2e-5)
    np.testing.assert_allclose(cic_deposit_3d_reference(pos, weights, box, n), ref, atol=2e-5)


def test_unit_weights_and_several_y_blocks_match_brute_force(monkeypatch):
    monkeypatch.setattr(cic_module, "Y_BLOCK", 4)
    rng = np.random.default_rng(3)
    box, n = 10.0, 10  # 10 y-rows: three sort blocks of 4 rows, the last one partial
    pos = (rng.random((500, 3)) * box).astype(np.float32)
    np.testing.assert_allclose(cic_deposit_3d(pos, box, n), brute_force_cic(pos, box, n), atol=2e-5)


@settings(max_examples=25, deadline=None)
@given(n_part=st.integers(1, 3000), n=st.integers(2, 24), box=st.floats(1.0, 1000.0), seed=st.integers(0, 1000))
def test_mass_conservation_and_parallel_equals_serial(n_part, n, box, seed):
    rng = np.random.default_rng(seed)
    pos = (rng.random((n_part, 3)) * box).astype(np.float32)
    pos[pos >= box] = 0.0
    grid = cic_deposit_3d(pos, box, n)
    assert grid.sum(dtype=np.float64) == pytest.approx(n_part, rel=1e-5)
    assert grid.min() >= 0
    ref = cic_deposit_3d_reference(pos, np.ones(n_part, np.float32), box, n)
    np.testing.assert_allclose(grid, ref, rtol=2e-6 * n_part, atol=1e-4)  # float32 sums, other order


def test_presorted_path_and_unsorted_guard():
    rng = np.random.default_rng(1)
    pos = (rng.random((5000, 3)) * 50).astype(np.float32)
    sorted_pos, _, offsets = sort_by_x_cell(pos, 50.0, 16)
    assert offsets[-1] == len(pos) and np.all(np.diff(offsets) >= 0)
    np.testing.assert_allclose(cic_deposit_3d(sorted_pos, 50.0, 16, presorted=True),
                               cic_deposit_3d(pos, 50.0, 16), atol=1e-4)
    buffer = np.full((16, 16, 16), 7.0, np.float32)  # reused grids are overwritten, not added to
    result = cic_deposit_3d(pos, 50.0, 16, out=buffer)
    assert np.shares_memory(result, buffer)
    np.testing.assert_allclose(buffer, cic_deposit_3d(pos, 50.0, 16), atol=1e-4)
    with pytest.raises(ValueError, match="out must be"):
        cic_deposit_3d(pos, 50.0, 16, out=np.zeros((16, 16, 16)))
    with pytest.raises(ValueError, match="not sorted"):
        cic_deposit_3d(pos, 50.0, 16, presorted=True)


def test_periodic_wrap_at_box_edge():
    box, n = 8.0, 8
    grid = cic_deposit_3d(np.array([[0.0, 4.5, 4.5]], np.float32), box, n)
    # x = 0 lies half-way between the centres of cells n-1 (at -0.5 periodic) and 0 (at 0.5)
    assert grid[0, 4, 4] == pytest.approx(0.5)
    assert grid[n - 1, 4, 4] == pytest.approx(0.5)
    # a particle at a cell centre lands wholly in that cell
    grid = cic_deposit_3d(np.array([[2.5, 3.5, 7.5]], np.float32), box, n)
    assert grid[2, 3, 7] == pytest.approx(1.0)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(4, 20), seed=st.integers(0, 100), data=st.data())
def test_projection_equals_3d_cic_summed_along_z(n, seed, data):
    z_lo = data.draw(st.integers(0, n - 1))
    depth = data.draw(st.integers(1, n))
    rng = np.random.default_rng(seed)
    box = 37.0
    pos = (rng.random((800, 3)) * box).astype(np.float32)
    grid = cic_deposit_3d(pos, box, n)
    cells = (z_lo + np.arange(depth)) % n
    np.testing.assert_allclose(cic_project_z(pos, box, n, z_lo, depth), grid[:, :, cells].sum(axis=2), atol=1e-4)


def test_projection_of_several_ranges_and_full_depth():
    rng = np.random.default_rng(2)
    pos = (rng.random((2000, 3)) * 20).astype(np.float32)
    grid = cic_deposit_3d(pos, 20.0, 10)
    images = cic_project_z_ranges(pos, 20.0, 10, [0, 3, 8], 4)
    for r, lo in enumerate([0, 3, 8]):
        np.testing.assert_allclose(images[r], grid[:, :, (lo + np.arange(4)) % 10].sum(2), atol=1e-4)
    np.testing.assert_allclose(cic_project_z(pos, 20.0, 10), grid.sum(axis=2), atol=1e-4)


def test_image_axis_order_is_x_then_y():
    box, n = 100.0, 10
    pos = np.array([[95.0, 5.0, 50.0]], dtype=np.float32)  # large x, small y
    image = cic_project_z(pos, box, n)
    ix, iy = np.unravel_index(np.argmax(image), image.shape)
    assert ix == 9 and iy == 0

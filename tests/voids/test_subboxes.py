import numpy as np
import pytest
from astropy.table import Table

from cosmodl.errors import ConfigError
from cosmodl.gridding import cic_deposit_3d
from cosmodl.voids.subboxes import PRODUCTS, SubboxLattice, build_subbox_products, void_fraction_plane


def run_products(tmp_path, pos, voids, lattice, map_size, supersample=2):
    outputs = {k: tmp_path / (f"{k}.fits" if k == "index" else f"{k}.npy") for k in PRODUCTS}
    build_subbox_products(pos, voids, lattice, map_size, supersample, outputs)
    loaded = {k: np.load(outputs[k]) for k in PRODUCTS if k != "index"}
    loaded["index"] = Table.read(outputs["index"])
    return loaded


def voids_dict(rows):
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, 4)
    return {k: rows[:, i] for i, k in enumerate(("x", "y", "z", "radius"))}


def test_paper_lattice_has_10648_overlapping_subboxes():
    lattice = SubboxLattice(1050.0, 1050, 224, 37, count=22)
    assert lattice.n_per_axis == 22 and lattice.n_subboxes == 10_648
    assert lattice.origins_1d[-1] == 777
    assert (224 - 37) / 224 == pytest.approx(0.835, abs=1e-3)


@pytest.mark.parametrize("wrap", [False, True])
def test_images_equal_windows_of_the_3d_cic(tmp_path, wrap):
    rng = np.random.default_rng(4)
    box, n = 60.0, 30
    pos = (rng.random((5000, 3)) * box).astype(np.float32)
    lattice = SubboxLattice(box, n, 12, 7, wrap)
    out = run_products(tmp_path, pos, voids_dict([30, 30, 30, 5]), lattice, 4)
    grid = cic_deposit_3d(pos, box, n)
    for s, (ox, oy, oz) in enumerate(lattice.origins()):
        w = lambda o: (o + np.arange(12)) % n  # noqa: E731
        ref = grid[np.ix_(w(ox), w(oy), w(oz))].sum(axis=2)
        np.testing.assert_allclose(out["images"][s], ref, atol=1e-4)
        assert out["index"]["n_galaxies"][s] == pytest.approx(ref.sum(), rel=1e-5)


def test_void_fraction_keeps_the_sphere_volume_at_any_map_size(tmp_path):
    box, n, size = 100.0, 50, 40  # 2 Mpc/h pixels, 80 Mpc/h subbox at the origin
    lattice = SubboxLattice(box, n, size, 100)
    sphere = voids_dict([40.3, 37.9, 41.1, 11.0])
    volume = 4 / 3 * np.pi * 11.0**3
    previous = None
    for map_size in (40, 10, 4, 1):
        (tmp_path / str(map_size)).mkdir()
        out = run_products(tmp_path / str(map_size), np.zeros((0, 3), np.float32), sphere, lattice, map_size)
        depth = size * lattice.cell
        pixel = depth / map_size
        measured = out["void_fraction"][0].sum() * pixel**2 * depth
        assert measured == pytest.approx(volume, rel=0.01)
        assert out["index"]["void_volume"][0] == pytest.approx(measured, rel=1e-5)
        if previous is not None:
            assert measured == pytest.approx(previous, rel=1e-5)  # block averaging is exact
        previous = measured
        assert out["index"]["n_voids"][0] == 1
        assert out["void_centres"][0].sum() == pytest.approx(1.0, abs=1e-5)
        assert out["index"]["void_volume_centres"][0] == pytest.approx(volume, rel=1e-5)


def test_overlapping_spheres_count_once():
    one = void_fraction_plane(voids_dict([20, 20, 20, 8]), 40.0, 20, 0.0, 40.0)
    two = void_fraction_plane(voids_dict([[20, 20, 20, 8], [20, 20, 20, 8], [20, 20, 21, 6]]), 40.0, 20, 0.0, 40.0)
    np.testing.assert_allclose(one, two, atol=1e-6)
    # the centre sight line crosses a chord of 2R = 16 out of 40
    assert one[9:11, 9:11].max() == pytest.approx(16 / 40, abs=0.01)


def test_void_fraction_is_periodic_and_clipped_to_the_depth():
    box = 40.0
    wrapped = void_fraction_plane(voids_dict([1.0, 20.0, 20.0, 6.0]), box, 20, 0.0, box)
    shifted = void_fraction_plane(voids_dict([21.0, 20.0, 20.0, 6.0]), box, 20, 0.0, box)
    np.testing.assert_allclose(wrapped, np.roll(shifted, -10, axis=0), atol=1e-6)
    # a range that stops at the sphere centre sees half of every chord
    half = void_fraction_plane(voids_dict([20.0, 20.0, 30.0, 6.0]), box, 20, 0.0, 30.0)
    full = void_fraction_plane(voids_dict([20.0, 20.0, 30.0, 6.0]), box, 20, 0.0, box)
    np.testing.assert_allclose(half * 30.0, full * box / 2, atol=1e-5)


def test_targets_are_aligned_with_the_galaxy_image_not_transposed(tmp_path):
    box, n = 100.0, 50
    rng = np.random.default_rng(0)
    pos = rng.random((100_000, 3)) * box
    centre = np.array([75.0, 25.0, 50.0])  # large x, small y
    pos = pos[np.sum((pos - centre) ** 2, axis=1) > 15.0**2].astype(np.float32)
    lattice = SubboxLattice(box, n, 50, 50)
    out = run_products(tmp_path, pos, voids_dict([*centre, 15.0]), lattice, 10)
    frac, image = out["void_fraction"][0], out["images"][0]
    ix, iy = np.unravel_index(np.argmax(frac), frac.shape)
    assert ix > 5 and iy < 5
    # the emptiest image block (5x5 pixels) is where the void map peaks
    blocks = image.reshape(10, 5, 10, 5).sum(axis=(1, 3))
    assert np.unravel_index(np.argmin(blocks), blocks.shape) == (ix, iy)


def test_map_size_must_divide_subbox(tmp_path):
    lattice = SubboxLattice(100.0, 50, 40, 10)
    with pytest.raises(ConfigError, match="map_size"):
        run_products(tmp_path, np.zeros((0, 3), np.float32), voids_dict([1, 1, 1, 5]), lattice, 7)
    assert not any(tmp_path.iterdir())  # nothing written

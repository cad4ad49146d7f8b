import h5py
import numpy as np
import pytest
from astropy.table import Table

from cosmodl.voids.data import load_catalogue, read_catalogue, validate_catalogue, write_catalogue
from cosmodl.errors import CatalogueError

BOX = 100.0


@pytest.fixture
def galaxies():
    rng = np.random.default_rng(0)
    return rng.random((50, 3)) * BOX


def test_formats_round_trip(tmp_path, galaxies):
    t = Table({"X": galaxies[:, 0], "y": galaxies[:, 1], "z": galaxies[:, 2]})
    t.write(tmp_path / "g.fits")
    t.write(tmp_path / "g.ecsv")
    with h5py.File(tmp_path / "g.h5", "w") as f:
        f["pos"] = galaxies
    np.savetxt(tmp_path / "gal_list", np.column_stack([galaxies, np.ones(50)]))  # extra column ignored
    for name in ("g.fits", "g.ecsv", "g.h5", "gal_list"):
        cols = read_catalogue(tmp_path / name, "galaxies")
        np.testing.assert_allclose(cols["x"], galaxies[:, 0], rtol=1e-6)
        np.testing.assert_allclose(cols["z"], galaxies[:, 2], rtol=1e-6)


def test_seed_so_list_in_grid_units(tmp_path):
    rows = np.array([[10.0, 20.0, 30.0, 12.0], [1.0, 2.0, 3.0, 15.0]])
    np.savetxt(tmp_path / "SO_list", rows)
    cols = read_catalogue(tmp_path / "SO_list", "voids", position_scale=0.5)
    np.testing.assert_allclose(cols["radius"], [6.0, 7.5])
    np.testing.assert_allclose(cols["y"], [10.0, 1.0])


def test_write_and_load(tmp_path, galaxies):
    cols = {k: galaxies[:, i] for i, k in enumerate("xyz")}
    write_catalogue(cols, tmp_path / "out.fits", "galaxies", BOX, "test")
    loaded, box = load_catalogue(tmp_path / "out.fits", "galaxies")
    assert box == BOX
    np.testing.assert_allclose(loaded["y"], galaxies[:, 1], rtol=1e-6)
    header = Table.read(tmp_path / "out.fits").meta
    assert header["LENUNIT"] == "Mpc/h" and header["KIND"] == "galaxies"


@pytest.mark.parametrize("problem, message", [
    ("nan", "column 'y' has 1 NaN"),
    ("outside", "outside the box"),
    ("negative", "outside the box"),
    ("empty", "is empty"),
])
def test_bad_catalogues_are_named_and_leave_no_file(tmp_path, galaxies, problem, message):
    cols = {k: galaxies[:, i].copy() for i, k in enumerate("xyz")}
    if problem == "nan":
        cols["y"][3] = np.nan
    elif problem == "outside":
        cols["x"][0] = BOX + 1
    elif problem == "negative":
        cols["z"][0] = -0.1
    else:
        cols = {k: v[:0] for k, v in cols.items()}
    with pytest.raises(CatalogueError, match=message):
        write_catalogue(cols, tmp_path / "bad.fits", "galaxies", BOX, "test")
    assert list(tmp_path.iterdir()) == []


def test_missing_column_unit_and_unreadable_files(tmp_path, galaxies):
    Table({"x": galaxies[:, 0], "y": galaxies[:, 1]}).write(tmp_path / "noz.fits")
    with pytest.raises(CatalogueError, match=r"missing column 'z' \(columns present: x, y\)"):
        read_catalogue(tmp_path / "noz.fits", "galaxies")
    Table({"x": [1.0], "y": [1.0], "z": [1.0]}).write(tmp_path / "v.fits")
    with pytest.raises(CatalogueError, match="missing column 'radius'"):
        read_catalogue(tmp_path / "v.fits", "voids")
    t = Table({"x": [1.0], "y": [1.0], "z": [1.0]})
    t["x"].unit = "kpc"
    t.write(tmp_path / "kpc.ecsv")
    with pytest.raises(CatalogueError, match="unit kpc"):
        read_catalogue(tmp_path / "kpc.ecsv", "galaxies")
    (tmp_path / "junk.fits").write_bytes(b"not a fits file")
    with pytest.raises(CatalogueError, match="junk.fits: cannot read"):
        read_catalogue(tmp_path / "junk.fits", "galaxies")
    (tmp_path / "short_list").write_text("1 2\n3 4\n")
    with pytest.raises(CatalogueError, match="at least 3 numeric"):
        read_catalogue(tmp_path / "short_list", "galaxies")
    with pytest.raises(CatalogueError, match="does not exist"):
        read_catalogue(tmp_path / "nope.fits", "galaxies")


def test_voids_need_positive_radius():
    cols = {"x": np.array([1.0]), "y": np.array([1.0]), "z": np.array([1.0]), "radius": np.array([0.0])}
    with pytest.raises(CatalogueError, match="radius <= 0"):
        validate_catalogue(cols, "voids", BOX, "v")

"""The 21cmFAST v2 box format: names, byte layout, folders and the errors of bad files."""

import struct

import numpy as np
import pytest

from cosmodl.cm21.boxes import (
    BoxFormatError,
    delta_t_name,
    density_name,
    parse_name,
    read_box,
    scan_realization,
    write_box,
    write_realization,
)


def test_names_are_the_c_format_strings_of_the_real_files():
    assert delta_t_name(8.0, 0.612527, 200, 300) == "delta_T_v3_z008.00_nf0.612527_useTs0_200_300Mpc"
    assert density_name(6.5, 200, 300) == "updated_smoothed_deltax_z006.50_200_300Mpc"
    name = parse_name("delta_T_v3_z008.00_nf0.612527_useTs0_200_300Mpc")
    assert (name.kind, name.redshift, name.x_hi, name.dim, name.box_len) == ("delta_T", 8.0, 0.612527, 200, 300.0)
    assert name.filename() == "delta_T_v3_z008.00_nf0.612527_useTs0_200_300Mpc"
    assert parse_name("updated_smoothed_deltax_z013.00_64_96Mpc").redshift == 13.0


def test_a_hand_made_box_in_the_real_layout_reads_as_x_y_z(tmp_path):
    """Bytes written one float at a time at index z + D (y + D x) must read back as box[x, y, z]."""
    d = 4
    path = tmp_path / density_name(7.0, d, 6)
    with open(path, "wb") as f:
        for x in range(d):
            for y in range(d):
                for z in range(d):
                    f.write(struct.pack("<f", 100 * x + 10 * y + z))
    box = read_box(path)
    assert box.shape == (d, d, d) and box.dtype == np.float32
    assert box[1, 2, 3] == 123 and box[3, 0, 1] == 301 and box[0, 3, 2] == 32


def test_write_then_read_round_trips(tmp_path):
    box = np.random.default_rng(0).uniform(-0.9, 3.0, size=(8, 8, 8)).astype(np.float32)  # a density contrast >= -1
    path = tmp_path / density_name(9.0, 8, 12)
    write_box(path, box)
    assert path.stat().st_size == 4 * 8**3
    np.testing.assert_array_equal(read_box(path), box)


def test_bad_files_give_one_error_naming_the_file(tmp_path):
    wrong_size = tmp_path / density_name(7.0, 8, 12)
    np.zeros(500, "<f4").tofile(wrong_size)
    with pytest.raises(BoxFormatError, match=f"{wrong_size.name}.*2000 bytes.*2048"):
        read_box(wrong_size)
    nan = tmp_path / density_name(7.5, 2, 12)
    values = np.zeros(8, "<f4")
    values[5] = np.nan
    values.tofile(nan)
    with pytest.raises(BoxFormatError, match=f"{nan.name}: 1 non-finite.*x=1, y=0, z=1"):
        read_box(nan)
    with pytest.raises(BoxFormatError, match="delta_T_z8: not a 21cmFAST v2 box name"):
        parse_name(tmp_path / "delta_T_z8")


def _realization(tmp_path, redshifts=(7.0, 8.0), dim=4):
    rng = np.random.default_rng(1)
    shape = (dim,) * 3
    boxes = {z: {"delta_T": rng.random(shape, dtype=np.float32), "density": rng.random(shape, dtype=np.float32),
                 "x_hi": 0.5} for z in redshifts}
    write_realization(tmp_path / "f0.070_s1", boxes, box_len=6)
    return tmp_path / "f0.070_s1", boxes


def test_a_realization_folder_round_trips_and_ignores_other_outputs(tmp_path):
    folder, boxes = _realization(tmp_path)
    (folder / "Nrec_z007.00_HIIfilter1_RHIImax50_4_6Mpc").write_bytes(b"x")
    found = scan_realization(folder)
    assert list(found) == [7.0, 8.0]
    for z, files in found.items():
        np.testing.assert_array_equal(read_box(files["delta_T"]), boxes[z]["delta_T"])
        np.testing.assert_array_equal(read_box(files["density"]), boxes[z]["density"])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_a_missing_redshift_is_an_error_naming_the_folder_and_redshift(tmp_path):
    folder, _ = _realization(tmp_path)
    with pytest.raises(BoxFormatError, match=r"f0.070_s1: no delta_T or density box at z = 9.00"):
        scan_realization(folder, [7.0, 9.0])
    (folder / density_name(8.0, 4, 6)).unlink()
    with pytest.raises(BoxFormatError, match=r"no density box at z = 8.00"):
        scan_realization(folder)

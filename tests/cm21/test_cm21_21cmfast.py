"""source: 21cmfast through the 21cmFAST package, where it is installed (an optional extra; skipped otherwise)."""

import numpy as np
import pytest

from cosmodl.cm21.boxes import read_box, scan_realization
from cosmodl.cm21.stage import make_realization
from cosmodl.config import load_schema, validate_config

p21c = pytest.importorskip("py21cmfast", reason="the optional 21cmFAST package is not installed")


def test_21cmfast_boxes_land_under_their_own_redshifts(tmp_path):
    cfg = validate_config({"cm21": {"source": "21cmfast", "redshifts": [7.0, 8.0, 9.0],
                                    "simulate": {"dim": 32, "box_len": 48.0, "m_min": 5.0e8, "r_max": 15}}},
                          load_schema())["cm21"]
    make_realization(cfg, 0.1, 150, tmp_path / "f0.100_s150")
    found = scan_realization(tmp_path / "f0.100_s150", [7.0, 8.0, 9.0])
    x_hi = [float(f["delta_T"].name.split("_nf")[1].split("_")[0]) for f in found.values()]
    assert np.all(np.diff(x_hi) > 0)  # 21cmFAST returns high z first; each box must keep its own z
    for files in found.values():
        t, d = read_box(files["delta_T"]), read_box(files["density"])
        assert t.shape == (32, 32, 32) and abs(float(d.mean())) < 1e-3 and t.min() >= 0

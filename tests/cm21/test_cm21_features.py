"""The physics baselines' feature families (cosmodl.cm21.features) against the libraries called
directly and against planted fields with a known answer."""

import numpy as np
import pytest

from cosmodl.cm21.features import (FAMILIES, SliceSet, bubbles, columns, k_edges, load_features, moments,
                                   power_spectrum_2d, scattering, slice_features, topology, write_features)
from cosmodl.config import load_schema, validate_config
from cosmodl.errors import ConfigError

t2c = pytest.importorskip("tools21cm")


def cm21_cfg(**baselines):
    return validate_config({"cm21": {"baselines": baselines}}, load_schema())["cm21"]


def test_power_spectrum_is_tools21cm_s_on_an_odd_grid_and_differs_on_an_even_one():
    """Same bins, same normalisation: equal to 1e-12 on 33^2. On an even side tools21cm's 2-D k grid
    is centred half a cell off ((S - 1) / 2 rather than S / 2), so its bins take other modes: why we
    keep our own (vectorised over slices) estimator."""
    rng = np.random.default_rng(1)
    for side, equal in ((33, True), (32, False)):
        field = rng.standard_normal((side, side)) * 5 + 3
        _, ours = power_spectrum_2d(field[None], 1.5, 6)
        theirs, _ = t2c.power_spectrum_1d(field, kbins=k_edges(side, 1.5, 6), box_dims=side * 1.5)
        assert np.allclose(ours[0], theirs, rtol=1e-12) is equal


def test_moments_are_scipy_s():
    from scipy import stats

    slices = np.random.default_rng(3).lognormal(1.0, 0.7, (3, 20, 20)).astype(np.float32)
    m = moments(slices)
    flat = slices.reshape(3, -1).astype(np.float64)
    np.testing.assert_allclose(m[:, 0], flat.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(m[:, 1], flat.var(axis=1), rtol=1e-6)
    np.testing.assert_allclose(m[:, 2], stats.skew(flat, axis=1), rtol=1e-6)
    np.testing.assert_allclose(m[:, 3], stats.kurtosis(flat, axis=1), rtol=1e-6)


def test_topology_counts_planted_islands_and_a_ring():
    """Three bright disks on a dark field: b0 = 3, one complement, Euler 3. A ring: b0 = 1, two
    complement regions (inside and outside), Euler 0. Above every value: nothing."""
    yy, xx = np.mgrid[:40, :40]
    disks = np.zeros((40, 40))
    for cy, cx in ((8, 8), (8, 30), (30, 20)):
        disks[(yy - cy) ** 2 + (xx - cx) ** 2 <= 16] = 20.0
    r2 = (yy - 20) ** 2 + (xx - 20) ** 2
    ring = np.where((r2 >= 36) & (r2 <= 100), 20.0, 0.0)
    out = topology(np.stack([disks, ring]), [0.0, 30.0])
    np.testing.assert_array_equal(out, [[3, 1, 3, 0, 1, 0], [1, 2, 0, 0, 1, 0]])


def test_bubbles_are_tools21cm_mfp_and_read_a_planted_disk():
    """One ionised disk of radius R in a neutral field: the mean distance from a random inner point to
    the edge along a random direction is 8 R / (3 pi); the same seed gives tools21cm's own numbers,
    and numpy's global generator is left as it was."""
    side, cell, radius = 64, 1.5, 12
    yy, xx = np.mgrid[:side, :side]
    field = np.where((yy - 32) ** 2 + (xx - 32) ** 2 <= radius**2, -1.0, 15.0)
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    out = bubbles(field[None], cell, rays=20000, n_bins=5, seed=7)
    assert np.array_equal(np.random.get_state()[1], before)
    assert out[0, -1] == pytest.approx(8 * radius * cell / (3 * np.pi), rel=0.08)
    np.random.seed(7)
    r, p = t2c.mfp((field <= 0).astype(float), xth=0.5, boxsize=side * cell, iterations=20000, verbose=False)
    radii = np.geomspace(2 * cell, side * cell / 2, 5)
    np.testing.assert_allclose(out[0, :-1], t2c.rebin_bsd(r, p, bins=radii)[1])
    assert np.array_equal(bubbles(np.full((1, side, side), 5.0), cell, 500, 5, 0), np.zeros((1, 6)))


def test_scattering_is_kymatio_s_averaged_over_orientations():
    """Against kymatio's array output, whose channels are S0, S1 by (j, theta), S2 by (j1, theta1, j2,
    theta2), averaged here by hand; a constant field keeps its value in S0 and has no S1."""
    import torch
    from kymatio.scattering2d.frontend.torch_frontend import ScatteringTorch2D

    j_scales, orient, side = 3, 4, 32
    field = np.random.default_rng(0).gamma(2.0, 5.0, (2, side, side)).astype(np.float32)
    direct = ScatteringTorch2D(J=j_scales, shape=(side, side), L=orient)(torch.from_numpy(field)).mean(dim=(-2, -1))
    direct = direct.double().numpy()
    groups, index = {(): [0]}, 1 + j_scales * orient
    for j in range(j_scales):
        groups[(j,)] = list(range(1 + j * orient, 1 + (j + 1) * orient))
    for j1 in range(j_scales):
        for _ in range(orient):
            for j2 in range(j1 + 1, j_scales):
                groups.setdefault((j1, j2), []).extend(range(index, index + orient))
                index += orient
    assert index == direct.shape[1]
    keys = [(), (0,), (1,), (2,), (0, 1), (0, 2), (1, 2)]
    expected = np.log10(np.column_stack([direct[:, groups[k]].mean(axis=1) for k in keys]))
    np.testing.assert_allclose(scattering(field, j_scales, orient), expected, rtol=1e-5)
    flat = scattering(np.full((1, side, side), 7.0, np.float32), j_scales, orient)
    assert flat[0, 0] == pytest.approx(np.log10(7.0), abs=1e-4) and (flat[0, 1:] <= -5).all()
    with pytest.raises(ConfigError, match="scattering.J = 6"):
        scattering(field, 6, orient)


def test_every_family_is_written_and_read_back_with_its_column_names(tmp_path):
    cfg = cm21_cfg(n_k=4, mfp_rays=200, mfp_bins=3, scattering={"J": 2, "L": 2})
    slices = np.random.default_rng(0).normal(5.0, 8.0, (3, 24, 24)).astype(np.float32)
    features = slice_features(slices, 1.5, cfg)
    assert list(features) == list(FAMILIES)
    path = tmp_path / "features.npz"
    write_features(features, cfg, 24, 1.5, path)
    with np.load(path) as doc:
        for family, values in features.items():
            assert values.shape == (3, len(doc[f"columns_{family}"]))
    assert list(columns("topology", cfg, 24, 1.5)[:3]) == ["b0_gt0mK", "b0_complement_gt0mK", "euler_gt0mK"]
    back = load_features(path, ["power", "bubbles"], 3)
    np.testing.assert_array_equal(back["bubbles"], features["bubbles"])
    data = SliceSet(slices, back).take([2, 0])
    np.testing.assert_array_equal(data.stacked(["power", "bubbles"])[0],
                                  np.concatenate([features["power"][2], features["bubbles"][2]]))
    with pytest.raises(ValueError, match="no shape features"):
        load_features(path, ["power", "shape"], 3)
    with pytest.raises(ValueError, match="for 5 slices; remake it"):
        load_features(path, ["power"], 5)

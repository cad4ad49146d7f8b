import numpy as np
import pytest

from cosmodl.errors import ConfigError
from cosmodl.voids.finder import density_contrast, find_voids


def carve_spheres(pos, centres, radii, box):
    keep = np.ones(len(pos), dtype=bool)
    for c, r in zip(centres, radii):
        d = pos - np.asarray(c)
        d -= box * np.round(d / box)
        keep &= np.sum(d**2, axis=1) >= r**2
    return pos[keep]


def expected_radius(r0, trial, threshold=-0.7):
    """Largest trial radius whose top-hat mean contrast around an empty sphere stays below threshold."""
    ok = [r for r in trial if -((r0 / r) ** 3) < threshold or r <= r0]
    return max(ok)


def test_recovers_planted_empty_spheres():
    box, n = 200.0, 100  # 2 Mpc/h cells
    rng = np.random.default_rng(11)
    pos = rng.random((400_000, 3)) * box  # n_bar = 0.05: Poisson voids stay far below 14 Mpc/h
    centres = [(51.0, 61.0, 71.0), (151.0, 141.0, 41.0), (1.0, 101.0, 161.0)]  # last one wraps in x
    radii0 = [20.0, 15.0, 17.0]
    pos = carve_spheres(pos, centres, radii0, box).astype(np.float32)
    trial = np.arange(8.0, 31.0, 1.0)
    voids = find_voids(density_contrast(pos, box, n), box, trial, -0.7)
    assert len(voids["radius"]) >= 3
    found = np.stack([voids["x"], voids["y"], voids["z"]], axis=1)
    for c, r0 in zip(centres, radii0):
        d = found - np.asarray(c)
        d -= box * np.round(d / box)
        best = np.argmin(np.sum(d**2, axis=1))
        assert np.all(np.abs(d[best]) <= box / n + 1e-4), (c, d[best])  # centre within a cell
        assert abs(voids["radius"][best] - expected_radius(r0, trial)) <= 1.0  # radius within a bin
    # the planted voids are the three largest
    assert set(np.argsort(voids["radius"])[-3:]) == {
        int(np.argmin(np.sum(((found - np.asarray(c) + box / 2) % box - box / 2) ** 2, axis=1))) for c in centres}


def test_voids_never_overlap_and_are_underdense():
    rng = np.random.default_rng(5)
    box, n = 160.0, 64
    pos = (rng.random((30_000, 3)) * box).astype(np.float32)
    pos = carve_spheres(pos, [(40, 40, 40), (120, 100, 60)], [18, 14], box).astype(np.float32)
    voids = find_voids(density_contrast(pos, box, n), box, [6, 8, 10, 12, 14, 16, 18, 20], -0.7)
    c = np.stack([voids["x"], voids["y"], voids["z"]], axis=1).astype(np.float64)
    r = voids["radius"].astype(np.float64)
    d = c[:, None, :] - c[None, :, :]
    d -= box * np.round(d / box)
    dist = np.sqrt(np.sum(d**2, axis=-1))
    i, j = np.triu_indices(len(r), 1)
    assert np.all(dist[i, j] >= r[i] + r[j] - 1e-4)
    assert np.all(voids["delta_in"] < -0.7)
    assert np.all(np.diff(voids["radius"]) <= 0)  # largest first


def test_bad_radii_and_threshold():
    delta = np.zeros((16, 16, 16), np.float32)
    with pytest.raises(ConfigError, match="radii"):
        find_voids(delta, 100.0, [2.0], -0.7)  # below one cell (6.25)
    with pytest.raises(ConfigError, match="threshold"):
        find_voids(delta, 100.0, [10.0], 0.5)

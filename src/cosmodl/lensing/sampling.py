"""How the uniform parameters of a lens system are drawn: independently per image, or from a lattice.

``iid`` (:class:`IidDraws`)
    Every parameter with a ``[low, high]`` range is drawn from U[low, high] by the image's own
    generator.
``lattice`` (:class:`LatticeDraws`, PyLensing's protocol)
    For each preset and class, ``n_values`` values are drawn once per ranged parameter, and the
    images take points of their Cartesian product, drawn without replacement. The lattice is one
    per class, shared by that class's train, validation and test images (PyLensing generated a
    class's images in one call, then the set was split), so a test ``no_sub`` image shares every
    parameter value with training images while the other classes lie on lattices of their own.
    The image's generator still advances as under ``iid``, so the subhaloes and the noise of an
    image are the same draws under both schemes.

A parameter is named by its dotted config key (``lens.axis_ratio``, ``source.offset``); angles
that have no config key have names of their own (``source.offset_angle``, ``vortex.angle``).
"""

from __future__ import annotations

import functools

import numpy as np

from ..errors import ConfigError

SAMPLINGS = ("iid", "lattice")
LATTICE_STREAM = 7  # the lattice's generator: (seed, preset, class, LATTICE_STREAM), apart from every image's


class IidDraws:
    """Uniform parameters from the image's generator ``rng``."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def uniform(self, name: str, bounds) -> float:
        """One draw from U[low, high]; ``low == high`` returns ``low`` and still consumes one draw, so a
        fixed parameter leaves the later draws of an image where a ranged one would."""
        low, high = float(bounds[0]), float(bounds[1])
        return low + (high - low) * self.rng.random()


class RecordingDraws(IidDraws):
    """IID draws that also record, in order, the name and bounds of every ranged parameter."""

    def __init__(self, rng: np.random.Generator):
        super().__init__(rng)
        self.ranged: list[tuple[str, tuple[float, float]]] = []

    def uniform(self, name: str, bounds) -> float:
        if bounds[0] != bounds[1]:
            self.ranged.append((name, (float(bounds[0]), float(bounds[1]))))
        return super().uniform(name, bounds)


class LatticeDraws(IidDraws):
    """The values of a lattice point for the parameters it holds, IID draws for the others."""

    def __init__(self, rng: np.random.Generator, point: dict):
        super().__init__(rng)
        self.point = point

    def uniform(self, name: str, bounds) -> float:
        value = super().uniform(name, bounds)  # the generator advances as under iid
        return self.point.get(name, value)


@functools.lru_cache(maxsize=32)
def class_lattice(key: tuple, parameters: tuple, n_values: int, n_images: int) -> tuple[dict, np.ndarray]:
    """The lattice of one class and the points its images take.

    Parameters
    ----------
    key : tuple of int
        (seed, preset index, class index): seeds the lattice's own generator.
    parameters : tuple of (name, (low, high))
        The ranged parameters, in draw order (:class:`RecordingDraws`).
    n_values : int
        Values per parameter (PyLensing's ``population``, 5).
    n_images : int
        Images of the class over all splits.

    Returns
    -------
    values : dict name -> ndarray (n_values,)
    points : ndarray (n_images, n_parameters) int
        Row j: the value index of each parameter for the class's j-th image; rows are distinct.

    Raises
    ------
    ConfigError
        If the lattice has fewer points than the class has images.
    """
    rng = np.random.default_rng(np.random.SeedSequence([*key, LATTICE_STREAM]))
    values = {name: rng.uniform(low, high, n_values) for name, (low, high) in parameters}
    n_points = float(n_values) ** len(parameters)
    if n_points < n_images:
        raise ConfigError(f"config key lensing.lattice_values = {n_values}: {len(parameters)} ranged parameters give "
                          f"{n_points:.0f} lattice points, fewer than the {n_images} images of a class")
    return values, _distinct_rows(rng, n_images, len(parameters), n_values, n_points)


def _distinct_rows(rng, n_rows: int, n_cols: int, n_values: int, n_points: float) -> np.ndarray:
    """``n_rows`` distinct rows of ``n_cols`` digits in [0, n_values), uniformly without replacement."""
    if n_points <= 4 * n_rows:  # a small lattice: a permutation of all its points
        flat = rng.permutation(int(n_points))[:n_rows]
        return np.stack([(flat // n_values**j) % n_values for j in range(n_cols)], axis=1)
    rows = rng.integers(0, n_values, (n_rows, n_cols))
    while True:  # redraw repeated rows (rare: the lattice has at least 4x more points than rows)
        _, first = np.unique(rows, axis=0, return_index=True)
        repeated = np.setdiff1d(np.arange(n_rows), first)
        if not len(repeated):
            return rows
        rows[repeated] = rng.integers(0, n_values, (len(repeated), n_cols))


def lattice_point(values: dict, parameters: tuple, digits: np.ndarray) -> dict:
    """Parameter name -> value of the lattice point with value indices ``digits`` (n_parameters,)."""
    return {name: float(values[name][d]) for (name, _), d in zip(parameters, digits)}

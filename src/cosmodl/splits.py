"""Train / validation / test splits that every stage uses, and the split file they are kept in.

A split assigns each sample a *role*: :data:`TRAIN`, :data:`VAL`, :data:`TEST`, or
:data:`DROPPED` (a buffer sample that belongs to no set). Roles are an ``int8`` array of shape
``(n_samples,)``; :func:`split_record` turns it into the JSON document a stage writes, with
index lists, counts, the parameters and an explicit ``leaky`` flag, and :func:`load_split`
reads it back.

Three ways to split
-------------------
``random_split``
    A seeded permutation. Honest only when samples are independent; flag it ``leaky`` when
    they are not (overlapping subboxes, slices of one realization).
``group_split``
    Whole groups (realizations, slabs, simulation seeds) go to one role each, so no group is
    shared between sets. Groups may be *contiguous* positions along a periodic line (slab
    indices); then the roles are contiguous blocks and ``buffer`` groups are dropped at every
    face between blocks of different roles.
``slab_split``
    Extended objects along a periodic axis (a subbox covering cells ``[start, start + size)``)
    are cut into a test, a validation and a training slab; an object takes the role of the slab
    that holds its whole extent, and straddling objects are dropped. ``buffer`` cells are taken
    out at every face between slabs (``faces="all"``) so that objects of different roles are at
    least that far apart along the axis, or only between training and test (``faces="test_train"``:
    the training slab ends ``buffer`` cells before the test slab on both sides; validation keeps
    its slab next to the test slab, so three buffers need not fit in a small box).

Where a buffer is taken, the slab that matters most keeps its width: test before validation
before training. The test set therefore does not change when the buffer does.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .errors import ConfigError

TRAIN, VAL, TEST, DROPPED = 0, 1, 2, -1
ROLE_NAMES = {TRAIN: "train", VAL: "val", TEST: "test"}
_PRIORITY = {TEST: 0, VAL: 1, TRAIN: 2}  # who keeps its width at a face: the lower number


def check_fractions(test_fraction: float, val_fraction: float, key: str = "split") -> None:
    """Raise ConfigError unless ``0 < test``, ``0 <= val`` and ``test + val < 1``."""
    if not (0 < test_fraction < 1 and 0 <= val_fraction < 1 and test_fraction + val_fraction < 1):
        raise ConfigError(f"{key}: test_fraction = {test_fraction} and val_fraction = {val_fraction} must be "
                          f"positive (val may be 0) and sum below 1")


def random_split(n_samples: int, test_fraction: float, val_fraction: float, seed: int) -> np.ndarray:
    """Roles from a seeded random permutation.

    The first ``round(test_fraction n)`` samples of the permutation are test, the next
    ``round(val_fraction n)`` validation, the rest training.

    Returns
    -------
    roles : ndarray, shape (n_samples,), int8
    """
    check_fractions(test_fraction, val_fraction)
    order = np.random.default_rng(seed).permutation(n_samples)
    n_test = int(round(test_fraction * n_samples))
    n_val = int(round(val_fraction * n_samples))
    roles = np.full(n_samples, TRAIN, dtype=np.int8)
    roles[order[:n_test]] = TEST
    roles[order[n_test:n_test + n_val]] = VAL
    return roles


def group_split(groups, test_fraction: float, val_fraction: float, seed: int = 0, contiguous: bool = False,
                buffer: int = 0) -> np.ndarray:
    """Roles that keep whole groups together.

    Parameters
    ----------
    groups : array of int, shape (n_samples,)
        Group label of each sample (realization, slab index, ...).
    test_fraction, val_fraction : float
        Shares of the *groups* (not of the samples) given to test and validation.
    seed : int
        Shuffles the groups (``contiguous=False``) or picks where the test block starts
        (``contiguous=True``).
    contiguous : bool
        Labels are positions ``0 .. n_groups - 1`` along a periodic line (e.g. slabs of a box):
        test, validation and training are contiguous blocks in that order.
    buffer : int
        With ``contiguous``: groups dropped at each face between blocks of different roles,
        taken from the training block (and from validation at the test|validation face).

    Returns
    -------
    roles : ndarray, shape (n_samples,), int8; buffer groups are :data:`DROPPED`.

    Raises
    ------
    ConfigError
        If a role with a non-zero fraction gets no group, or a buffer is asked for unordered groups.
    """
    check_fractions(test_fraction, val_fraction)
    groups = np.asarray(groups)
    labels, inverse = np.unique(groups, return_inverse=True)
    n = len(labels)
    n_test = max(1, int(round(test_fraction * n)))
    n_val = max(1, int(round(val_fraction * n))) if val_fraction > 0 else 0
    if buffer and not contiguous:
        raise ConfigError(f"split.buffer = {buffer}: a buffer needs ordered groups (contiguous=True)")
    if buffer < 0:
        raise ConfigError(f"split.buffer = {buffer} must be >= 0")
    rng = np.random.default_rng(seed)
    group_roles = np.full(n, DROPPED, dtype=np.int8)
    if contiguous:
        blocks = [(TEST, n_test), (VAL, n_val), (TRAIN, n - n_test - n_val)]
        start = int(rng.integers(n))
        for role, lo, hi in _shrunk_blocks(blocks, n, buffer):
            group_roles[(start + np.arange(lo, hi)) % n] = role
    else:
        order = rng.permutation(n)
        group_roles[order] = TRAIN
        group_roles[order[:n_test]] = TEST
        group_roles[order[n_test:n_test + n_val]] = VAL
    for role, want in ((TEST, n_test), (VAL, n_val), (TRAIN, 1)):
        if want and not np.any(group_roles == role):
            raise ConfigError(f"split: {n} groups leave no {ROLE_NAMES[role]} group with test_fraction = "
                              f"{test_fraction}, val_fraction = {val_fraction} and buffer = {buffer}")
    return group_roles[inverse]


def _shrunk_blocks(blocks, period: int, buffer: int):
    """``(role, lo, hi)`` of consecutive blocks on a periodic line after taking out the buffers.

    ``blocks`` is ``[(role, width), ...]`` in order along the line starting at 0; at each face
    (including the one where the line wraps) the block of lower priority loses ``buffer``.
    """
    edges = np.cumsum([0] + [w for _, w in blocks])
    out = []
    for i, (role, width) in enumerate(blocks):
        if width <= 0:
            continue
        prev_role = blocks[i - 1][0] if i else blocks[-1][0]
        next_role = blocks[(i + 1) % len(blocks)][0]
        lo, hi = int(edges[i]), int(edges[i + 1])
        if _PRIORITY[prev_role] < _PRIORITY[role] and prev_role != role:
            lo += buffer
        if _PRIORITY[next_role] < _PRIORITY[role] and next_role != role:
            hi -= buffer
        if hi > lo:
            out.append((role, lo, hi))
    return out


SLAB_FACES = ("all", "test_train")


def slab_bounds(period: int, test_fraction: float, val_fraction: float, offset: int = 0,
                buffer: int = 0, faces: str = "all") -> list[tuple[int, int, int]]:
    """The test, validation and training slabs of a periodic axis of ``period`` cells.

    Test is ``[offset, offset + T)``, validation the next ``V`` cells and training the rest, with
    ``T = round(test_fraction period)`` and ``V = round(val_fraction period)``. With ``faces="all"``
    ``buffer`` cells are taken out at each face (see the module notes); with ``"test_train"`` only
    the training slab shrinks, to the cells at least ``buffer`` from the test slab either way round
    (through the validation slab too when that is thinner than the buffer).

    Returns
    -------
    list of ``(role, lo, hi)``
        Slab ``[lo, hi)`` in cells relative to ``offset`` (add ``offset``, then wrap).
    """
    check_fractions(test_fraction, val_fraction)
    if buffer < 0:
        raise ConfigError(f"split.buffer = {buffer} cells must be >= 0")
    if faces not in SLAB_FACES:
        raise ConfigError(f"split faces = {faces!r} must be one of {list(SLAB_FACES)}")
    test_w = int(round(test_fraction * period))
    val_w = int(round(val_fraction * period))
    blocks = [(TEST, test_w), (VAL, val_w), (TRAIN, period - test_w - val_w)]
    if faces == "all":
        return _shrunk_blocks(blocks, period, buffer)
    train = (TRAIN, max(test_w + val_w, test_w + buffer), period - buffer)
    kept = [(TEST, 0, test_w), (VAL, test_w, test_w + val_w), train]
    return [(role, lo, hi) for role, lo, hi in kept if hi > lo]


def slab_split(start, size: int, period: int, test_fraction: float, val_fraction: float, offset: int = 0,
               buffer: int = 0, faces: str = "all") -> np.ndarray:
    """Roles of extended objects by the slab along a periodic axis that holds each one whole.

    Parameters
    ----------
    start : array of int, shape (n,)
        First cell of each object along the axis; it covers ``[start, start + size)`` mod ``period``.
    size : int
        Extent of every object, cells.
    period : int
        Cells along the axis.
    test_fraction, val_fraction : float
        Slab widths as fractions of the axis (validation may be 0).
    offset : int
        Cell where the test slab starts.
    buffer : int
        Cells taken out at each face between slabs (objects of different roles are then at least
        ``buffer`` cells apart), or only between training and test objects (``faces``).
    faces : {"all", "test_train"}
        Which faces the buffer is taken at (:func:`slab_bounds`).

    Returns
    -------
    roles : ndarray, shape (n,), int8; straddling objects are :data:`DROPPED`.
    """
    along = (np.asarray(start, dtype=np.int64) - offset) % period
    roles = np.full(len(along), DROPPED, dtype=np.int8)
    for role, lo, hi in slab_bounds(period, test_fraction, val_fraction, offset, buffer, faces):
        roles[(along >= lo) & (along + size <= hi)] = role
    return roles


def occupancy(start, size: int, period: int) -> np.ndarray:
    """Cells of a periodic axis covered by at least one object ``[start, start + size)``, shape (period,) bool."""
    covered = np.zeros(period, dtype=bool)
    for s in np.unique(np.asarray(start, dtype=np.int64) % period):
        covered[(s + np.arange(size)) % period] = True
    return covered


def touches(lo, hi, covered: np.ndarray) -> np.ndarray:
    """Whether each periodic interval ``(lo, hi)`` (cell units, floats) meets a covered cell.

    Parameters
    ----------
    lo, hi : array, shape (n,)
        Interval ends in cells, ``hi - lo < len(covered)``; cell ``k`` spans ``[k, k + 1)``.
    covered : ndarray, shape (period,), bool

    Returns
    -------
    ndarray, shape (n,), bool
    """
    period = len(covered)
    first = np.floor(np.asarray(lo, dtype=np.float64)).astype(np.int64)
    last = np.ceil(np.asarray(hi, dtype=np.float64)).astype(np.int64) - 1  # last cell with points inside
    prefix = np.concatenate([[0], np.cumsum(np.tile(covered, 3))])  # counts over [-period, 2 period)
    shift = (first // period) * period
    a, b = first - shift + period, last - shift + period
    b = np.minimum(b, a + period - 1)
    return prefix[b + 1] - prefix[a] > 0


def split_record(roles: np.ndarray, method: str, params: dict, leaky: bool, **extra) -> dict:
    """The split file's content.

    Parameters
    ----------
    roles : ndarray, shape (n_samples,), int8
    method : str
        Name of the rule that made the split (``spatial``, ``random``, ``realization``...).
    params : dict
        Everything that determined it (fractions, seed, buffer, geometry).
    leaky : bool
        True when test samples are known to share information with training samples (e.g. a
        random split of overlapping subboxes). Stated by the caller, never guessed.
    **extra
        More entries (e.g. leakage diagnostics), stored as given.

    Returns
    -------
    dict with ``method``, ``leaky``, ``params``, ``counts`` (train, val, test, dropped_buffer),
    the index lists ``train``, ``val``, ``test`` and ``extra``'s entries.
    """
    record = {"method": method, "leaky": bool(leaky), "params": params,
              "counts": {name: int(np.sum(roles == role)) for role, name in ROLE_NAMES.items()}}
    record["counts"]["dropped_buffer"] = int(np.sum(roles == DROPPED))
    record.update(extra)
    for role, name in ROLE_NAMES.items():
        record[name] = np.flatnonzero(roles == role).tolist()
    return record


def load_split(path: str | Path) -> dict:
    """A split file as a dict whose ``train``, ``val`` and ``test`` are int64 arrays.

    Raises
    ------
    ValueError
        If the file is not a split record (names the file and the missing key).
    """
    record = json.loads(Path(path).read_text())
    for name in ("train", "val", "test", "leaky", "method"):
        if name not in record:
            raise ValueError(f"{path}: not a split file (no '{name}')")
    for name in ROLE_NAMES.values():
        record[name] = np.asarray(record[name], dtype=np.int64)
    return record


def subsample(indices, size: int | None, seed: int) -> np.ndarray:
    """``size`` of ``indices`` chosen at random (seeded) and sorted; all of them if ``size`` is None or larger.

    Used to give two splits the same training-set size, so that only what differs between them
    (e.g. leakage) differs in the results.
    """
    indices = np.asarray(indices, dtype=np.int64)
    if size is not None and size < len(indices):
        rng = np.random.default_rng(seed)
        indices = np.sort(rng.choice(indices, size=size, replace=False))
    return indices

"""Summary statistics of 21-cm slices, by family: what the physics baselines see (rule ``cm21_features``).

Each family is an (N, d) array for N slices of delta_T_b (mK); :data:`FAMILIES` in column order:

==========  ===========================================================================================
family      columns (computed by)
==========  ===========================================================================================
moments     mean (mK), variance (mK^2), skewness, excess kurtosis (numpy; equal to ``scipy.stats``)
ionised     the fraction of cells with delta_T_b <= 0
power       log10 of the azimuthally averaged 2-D power spectrum in ``n_k`` logarithmic k-bins (ours,
            vectorised over slices; equal to ``tools21cm.power_spectrum_1d`` on the same bins)
topology    per threshold t of ``thresholds_mk``: Betti number b0 of the excursion set delta_T_b > t
            (``tools21cm.betti0``, 4-connected), the components of its complement
            (``tools21cm.betti2``) and the set's Euler characteristic (``skimage.measure.euler_number``)
bubbles     the ionised regions' size distribution by mean free path (``tools21cm.mfp``: rays from
            ``mfp_rays`` random ionised cells), r dP/dr at ``mfp_bins`` radii from 2 cells to half the
            slice side (``tools21cm.rebin_bsd``), and the mean ray length (Mpc)
scattering  log10 of the 2-D wavelet scattering coefficients (``kymatio``, J scales, L orientations),
            averaged over positions and orientations: S0, S1 per scale j, S2 per pair j1 < j2
==========  ===========================================================================================

The library families are computed once per slice set (rule ``cm21_features``), not in each
task's evaluation: ``tools21cm`` takes about 10 s to import and its rays about 15 ms a slice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..io import atomic_output, load_npz

log = logging.getLogger(__name__)

FAMILIES = ("moments", "ionised", "power", "topology", "bubbles", "scattering")


def power_spectrum_2d(slices: np.ndarray, cell_mpc: float, n_k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Azimuthally averaged 2-D power spectra of slices.

    Parameters
    ----------
    slices : ndarray (N, S, S), mK
    cell_mpc : float
        Cell side, comoving Mpc.
    n_k : int
        Logarithmic bins between the fundamental mode and the Nyquist frequency.

    Returns
    -------
    k : ndarray (n_k,), 1/Mpc, bin centres (geometric)
    power : ndarray (N, n_k), mK^2 Mpc^2; ``P(k) = |FFT|^2 cell^2 / S^2`` averaged over the
        modes in each bin (the convention of a continuous field's 2-D power spectrum, and of
        ``tools21cm.power_spectrum_1d``).
    """
    n, s, _ = slices.shape
    ft = np.fft.rfft2(slices - slices.mean(axis=(1, 2), keepdims=True))
    kx = 2 * np.pi * np.fft.fftfreq(s, d=cell_mpc)
    ky = 2 * np.pi * np.fft.rfftfreq(s, d=cell_mpc)
    kmag = np.sqrt(kx[:, None] ** 2 + ky[None, :] ** 2)
    # rfft2 keeps half the plane: the modes with ky > 0 stand for two, the ky = 0 (and Nyquist) column for one
    weight = np.full(kmag.shape, 2.0)
    weight[:, 0] = 1.0
    if s % 2 == 0:
        weight[:, -1] = 1.0
    edges = k_edges(s, cell_mpc, n_k)
    which = np.digitize(kmag, edges) - 1
    power = np.abs(ft) ** 2 * cell_mpc**2 / s**2
    out = np.zeros((n, n_k))
    for b in range(n_k):
        m = which == b
        w = weight[m]
        out[:, b] = (power[:, m] * w).sum(axis=1) / max(w.sum(), 1e-30)
    return np.sqrt(edges[:-1] * edges[1:]), out


def k_edges(side_cells: int, cell_mpc: float, n_k: int) -> np.ndarray:
    """(n_k + 1,) logarithmic k-bin edges, 1/Mpc, from the fundamental mode to the Nyquist frequency."""
    return np.geomspace(2 * np.pi / (side_cells * cell_mpc), np.pi / cell_mpc, n_k + 1)


def moments(slices: np.ndarray) -> np.ndarray:
    """(N, 4): mean (mK), variance (mK^2), skewness and excess kurtosis of each slice (0 for a constant one)."""
    x = slices.reshape(len(slices), -1).astype(np.float64)
    mean = x.mean(axis=1)
    centred = x - mean[:, None]
    var = (centred**2).mean(axis=1)
    safe = np.where(var > 0, var, 1.0)
    skew = np.where(var > 0, (centred**3).mean(axis=1) / safe**1.5, 0.0)
    kurt = np.where(var > 0, (centred**4).mean(axis=1) / safe**2 - 3.0, 0.0)
    return np.column_stack([mean, var, skew, kurt])


def topology(slices: np.ndarray, thresholds_mk) -> np.ndarray:
    """Betti numbers and Euler characteristic of the excursion sets delta_T_b > t.

    Parameters
    ----------
    slices : ndarray (N, S, S), mK
    thresholds_mk : sequence of float
        The thresholds t, mK (t = 0: the neutral cells, whose complement is the ionised regions).

    Returns
    -------
    ndarray (N, 3 * len(thresholds_mk))
        Per threshold: b0 of the set (its 4-connected components), the components of the complement
        (8-connected - with b0 - 1 of them holes, for a set touching no edge), the Euler characteristic.
    """
    import tools21cm as t2c
    from skimage.measure import euler_number

    out = np.zeros((len(slices), 3 * len(thresholds_mk)))
    for i, s in enumerate(slices):
        for j, t in enumerate(thresholds_mk):
            out[i, 3 * j:3 * j + 3] = (t2c.betti0(s, thres=t, neighbors=4), t2c.betti2(s, thres=t, neighbors=8),
                                       euler_number(s > t, connectivity=1))
    return out


def bubble_radii(side_cells: int, cell_mpc: float, n_bins: int) -> np.ndarray:
    """(n_bins,) radii, Mpc, at which the bubble-size distribution is read: 2 cells to half the slice side."""
    return np.geomspace(2 * cell_mpc, side_cells * cell_mpc / 2, n_bins)


def bubbles(slices: np.ndarray, cell_mpc: float, rays: int, n_bins: int, seed: int) -> np.ndarray:
    """Size distribution of the ionised regions (delta_T_b <= 0) by mean free path.

    ``tools21cm.mfp`` casts ``rays`` rays in random directions from random ionised cells and records
    where each leaves the region. Its draws come from numpy's global generator, seeded here with
    ``seed + i`` for slice i (the generator's state is restored afterwards).

    Parameters
    ----------
    slices : ndarray (N, S, S), mK
    cell_mpc : float
    rays : int
    n_bins : int
    seed : int

    Returns
    -------
    ndarray (N, n_bins + 1)
        r dP/dr at :func:`bubble_radii` (``tools21cm.rebin_bsd``), then the mean ray length (Mpc);
        zeros for a slice without ionised cells.
    """
    import tools21cm as t2c

    side = slices.shape[1]
    radii = bubble_radii(side, cell_mpc, n_bins)
    out = np.zeros((len(slices), n_bins + 1))
    state = np.random.get_state()
    try:
        for i, s in enumerate(slices):
            ionised = (s <= 0).astype(np.float64)
            if not ionised.any():
                continue
            np.random.seed((seed + i) % 2**32)
            r, p = t2c.mfp(ionised, xth=0.5, boxsize=side * cell_mpc, iterations=rays, verbose=False)
            steps = r / cell_mpc
            n = np.divide(p, steps, out=np.zeros_like(p), where=steps > 0)  # p = steps * (fraction of rays)
            out[i, -1] = np.sum(r * n) / max(np.sum(n), 1e-30)
            out[i, :-1] = t2c.rebin_bsd(r, p, bins=radii)[1]
    finally:
        np.random.set_state(state)
    return out


def check_scattering_scale(j_scales: int, side_cells: int) -> None:
    """Raise ConfigError when kymatio's largest wavelet (2^J cells) is wider than the slices."""
    if 2**j_scales > side_cells:
        raise ConfigError(f"cm21.baselines.scattering.J = {j_scales}: the largest wavelet (2^J = {2**j_scales} "
                          f"cells) is wider than the {side_cells}-cell slices")


def scattering(slices: np.ndarray, j_scales: int, orientations: int, threads: int | None = None) -> np.ndarray:
    """2-D wavelet scattering coefficients (kymatio), averaged over positions and orientations.

    Parameters
    ----------
    slices : ndarray (N, S, S), mK
    j_scales, orientations : int
        kymatio's J and L (2^J cells the largest wavelet scale).
    threads : int, optional
        torch threads.

    Returns
    -------
    ndarray (N, 1 + J + J (J - 1) / 2)
        log10 of S0, of S1 for j = 0 .. J-1, then of S2 for each pair j1 < j2 (mK; floored at 1e-6).
    """
    import torch
    from kymatio.scattering2d.frontend.torch_frontend import ScatteringTorch2D

    side = slices.shape[1]
    check_scattering_scale(j_scales, side)
    if threads:
        torch.set_num_threads(threads)
    transform = ScatteringTorch2D(J=j_scales, shape=(side, side), L=orientations, out_type="list")
    pairs = [(j1, j2) for j1 in range(j_scales) for j2 in range(j1 + 1, j_scales)]
    keys = [()] + [(j,) for j in range(j_scales)] + pairs
    out = np.zeros((len(slices), len(keys)))
    with torch.no_grad():
        for start in range(0, len(slices), 256):
            batch = torch.from_numpy(np.ascontiguousarray(slices[start:start + 256], dtype=np.float32))
            sums = {key: 0.0 for key in keys}
            counts = {key: 0 for key in keys}
            for c in transform(batch):
                sums[tuple(c["j"])] = sums[tuple(c["j"])] + c["coef"].mean(dim=(-2, -1)).double().numpy()
                counts[tuple(c["j"])] += 1
            out[start:start + len(batch)] = np.column_stack([sums[k] / counts[k] for k in keys])
    return np.log10(np.maximum(out, 1e-6))


def columns(family: str, cfg: dict, side_cells: int, cell_mpc: float) -> list[str]:
    """Names of a family's columns (units in the name where there is one)."""
    base = cfg["baselines"]
    if family == "moments":
        return ["mean_mK", "variance_mK2", "skewness", "kurtosis"]
    if family == "ionised":
        return ["ionised_fraction"]
    if family == "power":
        edges = k_edges(side_cells, cell_mpc, base["n_k"])
        return [f"log10P_k{k:.3f}" for k in np.sqrt(edges[:-1] * edges[1:])]
    if family == "topology":
        return [f"{name}_gt{t:g}mK" for t in base["thresholds_mk"] for name in ("b0", "b0_complement", "euler")]
    if family == "bubbles":
        radii = bubble_radii(side_cells, cell_mpc, base["mfp_bins"])
        return [f"rdPdr_r{r:.1f}Mpc" for r in radii] + ["mean_ray_Mpc"]
    j = base["scattering"]["J"]
    return (["log10S0"] + [f"log10S1_j{a}" for a in range(j)]
            + [f"log10S2_j{a}{b}" for a in range(j) for b in range(a + 1, j)])


def slice_features(slices: np.ndarray, cell_mpc: float, cfg: dict, threads: int | None = None) -> dict[str, np.ndarray]:
    """Every family of ``cfg['baselines']['families']`` for a set of slices.

    Parameters
    ----------
    slices : ndarray (N, S, S), mK
    cell_mpc : float
    cfg : dict
        ``config['cm21']`` (``seed`` and ``baselines``).
    threads : int, optional

    Returns
    -------
    dict : family -> ndarray (N, d), float64.
    """
    base = cfg["baselines"]
    compute = {
        "moments": lambda: moments(slices),
        "ionised": lambda: (slices.reshape(len(slices), -1) <= 0).mean(axis=1)[:, None].astype(np.float64),
        "power": lambda: np.log10(power_spectrum_2d(slices, cell_mpc, base["n_k"])[1] + 1e-6),
        "topology": lambda: topology(slices, base["thresholds_mk"]),
        "bubbles": lambda: bubbles(slices, cell_mpc, base["mfp_rays"], base["mfp_bins"], cfg["seed"]),
        "scattering": lambda: scattering(slices, base["scattering"]["J"], base["scattering"]["L"], threads),
    }
    return {family: compute[family]() for family in base["families"]}


@dataclass
class SliceSet:
    """Slices and their summary statistics, row for row: what a method scores.

    Attributes
    ----------
    slices : ndarray (N, S, S), mK
    features : dict
        family -> ndarray (N, d) (:func:`slice_features`).
    """

    slices: np.ndarray
    features: dict

    def take(self, rows) -> SliceSet:
        """The rows ``rows`` of the set."""
        return SliceSet(self.slices[rows], self.features_of(rows))

    def features_of(self, rows) -> dict:
        """family -> the features of the rows ``rows`` (the slices are not copied)."""
        return {k: v[rows] for k, v in self.features.items()}

    def stacked(self, families, rows=slice(None)) -> np.ndarray:
        """(N, sum of d) the families side by side, in the order given; of the rows ``rows`` (all by default)."""
        return np.column_stack([self.features[f][rows] for f in families])


def write_features(features: dict, cfg: dict, side_cells: int, cell_mpc: float, out_path) -> None:
    """Save the families (``<family>``) and their column names (``columns_<family>``) to one ``.npz``."""
    names = {f"columns_{f}": np.array(columns(f, cfg, side_cells, cell_mpc)) for f in features}
    with atomic_output(out_path) as tmp:
        np.savez(tmp, **features, **names)


def load_features(path, families, n_slices: int) -> dict[str, np.ndarray]:
    """Read the families of a features file, checking that each is there with one row per slice.

    Raises
    ------
    ValueError
        The file is unreadable, lacks a family or has another row count (remade by rule ``cm21_features``).
    """
    doc = load_npz(path, "cm21_features")
    missing = [f for f in families if f not in doc]
    if missing:
        raise ValueError(f"{path}: no {', '.join(missing)} features (it has "
                         f"{', '.join(k for k in doc if not k.startswith('columns_'))}); remake it "
                         "(snakemake --forcerun cm21_features)")
    wrong = {f: len(doc[f]) for f in families if len(doc[f]) != n_slices}
    if wrong:
        raise ValueError(f"{path}: features of {wrong} rows for {n_slices} slices; remake it "
                         "(snakemake --forcerun cm21_features)")
    return {f: doc[f] for f in families}


def make_features(cfg: dict, slices_path, split_path, out_path, threads: int | None = None) -> dict:
    """Rule ``cm21_features``: the summary statistics of one slice set (the training stack or the test source's)."""
    from ..io import load_array
    from .stage import grid_of

    slices = np.asarray(load_array(slices_path, "cm21_slices"), dtype=np.float32)
    _, cell = grid_of(split_path)
    features = slice_features(slices, cell, cfg, threads)
    write_features(features, cfg, slices.shape[1], cell, out_path)
    log.info("features of %d slices: %s", len(slices), {f: v.shape[1] for f, v in features.items()})
    return features

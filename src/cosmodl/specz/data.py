"""Sets of synthetic spectra: each sample a pure function of (seed, set, position).

A *set* is a stream of draws: ``train`` (0), ``val`` (1) and ``test`` (2). Sample ``i`` of a set
is the library SED, the redshift and the noise that :func:`draws` derives from
``(seed, set, i)`` alone, by hashing (:func:`hash64`), so it does not depend on the batch it falls
in, on the worker that makes it, on the epoch or on the machine. The training set of size N is
the first N samples of the ``train`` stream, so the 40 K set lies inside the 400 K one; it is
generated while training (:class:`SpectraSet`, a :class:`~cosmodl.training.GeneratedDataset`)
and never stored; each epoch visits it in a new order. Validation and test sets are generated
once and stored (:func:`write_set`), clean and noisy from the same draws.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import ConfigError
from ..io import atomic_output
from ..training import GeneratedDataset
from .spectra import SpectrumMaker

SETS = {"train": 0, "val": 1, "test": 2}
# The arrays of a stored set (``val.npz``, ``test.npz``; :func:`write_set`): name -> (dtype, shape),
# n spectra of ``pixels`` wavelengths each.
PRODUCTS = {"clean": ("float32", ("n", "pixels")), "noisy": ("float32", ("n", "pixels")),
            "z": ("float64", ("n",)), "label": ("int64", ("n",)), "wave": ("float64", ("pixels",))}
_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def hash64(*keys) -> np.ndarray:
    """SplitMix64-style hash of integer keys (arrays broadcast), as uint64.

    Each key is mixed in turn: ``h = mix(h ^ key * golden)``. Used to give every sample its own
    seed from (seed, set, position, purpose) without a random stream to advance.
    """
    with np.errstate(over="ignore"):
        h = np.uint64(0x9E3779B97F4A7C15)
        for key in keys:
            k = np.asarray(key).astype(np.uint64)
            h = _mix(h ^ (k * np.uint64(0xBF58476D1CE4E5B9) + np.uint64(0x94D049BB133111EB)))
        return h


def _mix(x):
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def unit_uniform(h: np.ndarray) -> np.ndarray:
    """uint64 hashes to floats uniform on [0, 1) (53 bits)."""
    return (np.asarray(h, np.uint64) >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def draws(seed: int, set_name: str, positions, n_sed: int, z_min: float, z_max: float) -> dict:
    """SED index, redshift and noise seed of samples ``positions`` of a set.

    Returns
    -------
    dict
        ``sed`` (B,) int64 in [0, n_sed), ``z`` (B,) float64 uniform in [z_min, z_max),
        ``noise_seed`` (B,) int64 (a torch generator seed for the sample's noise).
    """
    if set_name not in SETS:
        raise ValueError(f"unknown specz set {set_name!r}; expected one of {list(SETS)}")
    pos = np.asarray(positions, dtype=np.int64)
    stream = SETS[set_name]
    sed = np.minimum((unit_uniform(hash64(seed, stream, pos, 1)) * n_sed).astype(np.int64), n_sed - 1)
    z = z_min + unit_uniform(hash64(seed, stream, pos, 2)) * (z_max - z_min)
    noise_seed = (hash64(seed, stream, pos, 3) >> np.uint64(1)).astype(np.int64)
    return {"sed": sed, "z": z, "noise_seed": noise_seed}


def noise(noise_seeds, n_pixels: int) -> np.ndarray:
    """Standard normal noise (B, n_pixels) float32, row b drawn from ``noise_seeds[b]`` alone."""
    gen = torch.Generator()
    out = torch.empty((len(noise_seeds), n_pixels))
    for b, s in enumerate(np.asarray(noise_seeds).tolist()):
        gen.manual_seed(s)
        torch.randn(n_pixels, generator=gen, out=out[b])
    return out.numpy()


def make_spectra(maker: SpectrumMaker, seed: int, set_name: str, positions, snr: float | None) -> dict:
    """Spectra of samples ``positions`` of a set, with their labels.

    Returns
    -------
    dict
        ``flux`` (B, n_pixels) float32, ``z`` (B,), ``label`` (B,) int64, ``sed`` (B,) int64, and
        ``noise_seed`` (B,) int64, the seed of each sample's noise (:func:`noise`).
    """
    s = maker.s
    d = draws(seed, set_name, positions, s.n_sed, s.z_min, s.z_max)
    eps = noise(d["noise_seed"], s.n_pixels) if snr is not None else None
    flux = maker.spectra(d["sed"], d["z"], eps, snr, sample_seed=d["noise_seed"])
    return {"flux": flux, "z": d["z"], "label": s.class_of(d["z"]), "sed": d["sed"], "noise_seed": d["noise_seed"]}


def check_snr(snr, key: str) -> None:
    if snr is not None and not snr > 0:
        raise ConfigError(f"{key} = {snr}: the signal-to-noise ratio per pixel must be > 0 (null for clean spectra)")


class SpectraSet(GeneratedDataset):
    """A set generated while training: batches of ``(flux (B, 1, n_pixels), label (B,))``.

    Parameters
    ----------
    maker : SpectrumMaker
    seed : int
    set_name : {'train', 'val', 'test'}
    n_samples : int
        The set's size: its samples are positions ``0 .. n_samples - 1`` of the stream.
    snr : float or None
    shuffle : bool
        Visit the positions in a new order each epoch (seeded by (seed, set, epoch)).
    """

    def __init__(self, maker: SpectrumMaker, seed: int, set_name: str, n_samples: int, snr: float | None,
                 shuffle: bool = True):
        check_snr(snr, "specz SNR")
        super().__init__(n_samples, seed=seed, stream=SETS[set_name], fixed=True, target_dtype=np.int64,
                         shuffle=shuffle)
        self.maker, self.set_name, self.snr = maker, set_name, snr

    def make_batch(self, batch: int):
        out = make_spectra(self.maker, self.seed, self.set_name, self.sample_positions(batch), self.snr)
        return torch.from_numpy(out["flux"]).unsqueeze(1), torch.from_numpy(out["label"])


def write_set(maker: SpectrumMaker, seed: int, set_name: str, n: int, snr: float | None, path,
              chunk: int = 4096) -> dict:
    """Generate samples 0 .. n-1 of a set, clean and (when ``snr``) noisy, into ``path`` (.npz).

    Arrays: ``clean`` (n, n_pixels) float32, ``noisy`` (n, n_pixels) float32 (when ``snr``),
    ``z`` (n,), ``label`` (n,), ``sed`` (n,), ``wave`` (n_pixels,) Angstrom, ``snr`` (0-d; NaN
    when clean only).
    """
    check_snr(snr, f"specz SNR of the {set_name} set")
    parts = {"clean": [], "noisy": [], "z": [], "label": [], "sed": []}
    for start in range(0, n, chunk):
        pos = np.arange(start, min(start + chunk, n))
        clean = make_spectra(maker, seed, set_name, pos, None)
        parts["clean"].append(clean["flux"])
        if snr is not None:
            parts["noisy"].append(maker.add_noise(clean["flux"], clean["noise_seed"],
                                                  noise(clean["noise_seed"], maker.s.n_pixels), snr))
        for key in ("z", "label", "sed"):
            parts[key].append(clean[key])
    arrays = {k: np.concatenate(v) for k, v in parts.items() if v}
    arrays.update(wave=maker.s.wave, snr=np.float64(np.nan if snr is None else snr))
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    return {"set": set_name, "n": n, "snr": snr}

"""Peak-memory estimates of the lensing steps (a rule's ``mem_mb``), from the config.

Simulation holds a chunk of float32 images twice (workers' results and the stacked chunk);
training reads the image stack through a memory map and holds a batch of images and the
network's activations (about 6 MB per 150 x 150 image for the autoencoders, 25 MB for ResNet-18
on a CPU); evaluation holds the normalised test images, a reconstruction and the baseline's.
"""

from __future__ import annotations

from ..resources import require_memory
from .simulate import CLASSES, PRESET_KEYS

BASE_MB = 400  # interpreter, numpy, astropy, lenstronomy
TORCH_BASE_MB = 1500  # + torch and the largest network (RBM, 22.5 M weights) with Adam state
MB = 2**20


def _num_pix(cfg: dict) -> int:
    """The largest image side of the run's presets."""
    return max(cfg[PRESET_KEYS[p]]["instrument"]["num_pix"] for p in cfg["presets"])


def _image_mb(cfg: dict) -> float:
    return _num_pix(cfg) ** 2 * 4 / MB


def estimate_mb(step: str, cfg: dict) -> int:
    """Estimated peak memory of a lensing step, MB.

    Parameters
    ----------
    step : {'simulate', 'merge', 'train', 'evaluate', 'small'}
    cfg : dict
        ``config['lensing']`` (validated).
    """
    image = _image_mb(cfg)
    if step == "simulate":
        return int(BASE_MB + 2.5 * cfg["chunk_size"] * image)
    if step == "merge":
        return int(BASE_MB + 200)
    if step == "train":
        batch = max(cfg["train"]["batch_size"], *(o.get("batch_size", 0) for o in cfg["train_overrides"].values()))
        return int(TORCH_BASE_MB + batch * 25 * image / 0.086)
    if step == "evaluate":
        return evaluate_mb(cfg["sizes"]["test"] * len(CLASSES),
                           min(cfg["baselines"]["max_fit_images"], cfg["sizes"]["train"]), _num_pix(cfg))
    if step == "small":
        return 1000
    raise ValueError(f"unknown lensing step {step!r}")


def evaluate_mb(n_test: int, n_fit: int, num_pix: int) -> int:
    """Peak memory of an evaluation, MB: test images normalised, reconstructed and PCA-reconstructed
    (float32, with copies), and the baselines' training images."""
    return int(TORCH_BASE_MB + (5 * n_test + 3 * n_fit) * num_pix**2 * 4 / MB)


MEMORY_KEYS = {"simulate": ("chunk_size",), "train": ("train.batch_size",)}


def check_memory(step: str, cfg: dict) -> None:
    """Stop before a lensing step whose estimate exceeds this machine's (or job's) memory."""
    keys = {}
    for dotted in MEMORY_KEYS.get(step, ()):
        section, _, key = dotted.rpartition(".")
        keys[f"lensing.{dotted}"] = (cfg[section] if section else cfg)[key]
    require_memory(estimate_mb(step, cfg), f"lensing step {step!r}", keys)

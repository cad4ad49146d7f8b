"""Peak-memory estimates of the specz steps (a rule's ``mem_mb``), from the config.

The stored sets hold every validation and test spectrum clean and noisy (float32); evaluation
adds each method's class probabilities over the test set, the random forest's training spectra,
the learned templates' training spectra and the template fit's orthonormal bases (classes x pixels
x 8 float32, with float64 work copies).
"""

from __future__ import annotations

BASE_MB = 1000      # interpreter, numpy, scipy, astropy, the rest-SED library
TORCH_BASE_MB = 2000  # + torch, a network with its optimiser state, batches
MB = 2**20


def estimate_mb(step: str, cfg: dict, n_networks: int | None = None) -> int:
    """Estimated peak memory of a specz step, MB.

    Parameters
    ----------
    step : {'sets', 'train', 'evaluate', 'small'}
    cfg : dict
        ``config['specz']`` (validated).
    n_networks : int, optional
        CNNs whose probabilities an evaluation job holds; by default every configured run (depths x
        noise levels x sizes).
    """
    s = cfg["spectra"]
    pixels = s["n_pixels"]
    classes = (s["z_max"] - s["z_min"]) / s["dz"]
    sets = 2 * (cfg["n_val"] + cfg["n_test"]) * pixels * 4 / MB
    if step == "sets":
        return int(BASE_MB + 2 * sets)
    if step == "train":
        return int(TORCH_BASE_MB + sets)
    if step == "evaluate":
        if n_networks is None:
            n_networks = len(cfg["depths"]) * len(cfg["noise"]) * len(cfg["sizes"]) if "cnn" in cfg["methods"] else 0
        forest = cfg["baselines"]["forest_train"] * pixels * 4 / MB
        probabilities = cfg["n_test"] * classes * 4 * (n_networks + 2) / MB
        bases = classes * pixels * 8 * (4 + 8) / MB
        # learned templates: the clean training spectra on the rest grid (about as many samples as
        # pixels), float64, with its mask and work copies
        learned = cfg["baselines"]["learned_train"] * pixels * 8 * 4 / MB if "learned" in cfg["methods"] else 0
        return int(TORCH_BASE_MB + sets + 3 * forest + probabilities + bases + learned)
    if step == "small":
        return 1500
    raise ValueError(f"unknown specz step {step!r}")


def check_memory(step: str, cfg: dict, n_networks: int | None = None) -> None:
    """Stop before a specz step whose estimate exceeds this machine's (or job's) memory, naming the
    keys that drive it (the stored sets' sizes; for an evaluation also the training spectra of the forest)."""
    from ..resources import require_memory

    keys = {"specz.n_val": cfg["n_val"], "specz.n_test": cfg["n_test"]}
    if step == "evaluate":
        keys["specz.baselines.forest_train"] = cfg["baselines"]["forest_train"]
        keys["specz.baselines.learned_train"] = cfg["baselines"]["learned_train"]
    require_memory(estimate_mb(step, cfg, n_networks), f"specz step {step!r}", keys)

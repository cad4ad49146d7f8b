"""specz benchmark (imported by run.py): spectra made while training, against what training consumes.

* generator: spectra/s that :func:`cosmodl.specz.data.make_spectra` makes in one process, clean
  and noisy (batches of 256).
* training: spectra/s of the kit's training loop (``fit``, one epoch of ``n`` spectra) on the
  3-block ADAX network and on the 1-block network, fed by :class:`cosmodl.specz.data.SpectraSet`
  (made on the fly, in the training process and with one DataLoader worker), against the same
  loop fed by the same spectra already stored in memory (:class:`~cosmodl.training.ArrayDataset`);
  after a warm-up epoch, alternated, best of two. Target: ratio >= 0.9.
* template fit: spectra/s of :class:`cosmodl.specz.baselines.TemplateFit` over the 800 classes, and
  of the non-negative fit (:class:`~cosmodl.specz.baselines.NonNegativeFit`) against it.
* realistic set (``specz.data: realistic``): its library, its generator, and the 3-block training
  loop fed on the fly against stored spectra, as above.
"""

from __future__ import annotations

import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

from cosmodl.models import build_model
from cosmodl.specz import models as _models  # noqa: F401  (registers specz_cnn)
from cosmodl.specz.baselines import NonNegativeFit, TemplateFit
from cosmodl.specz.data import SpectraSet, make_spectra
from cosmodl.specz.realistic import RealisticMaker, RealisticSettings
from cosmodl.specz.spectra import SpectrumMaker, SpectrumSettings
from cosmodl.training import ArrayDataset, TrainConfig, fit


def _rate(fn, n, repeat=3):
    best = min(_timed(fn) for _ in range(repeat))
    return n / best


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _train_rate(blocks: int, data, n: int, batch: int, num_workers: int, device: str) -> float:
    torch.manual_seed(0)
    model = build_model("specz_cnn", {"blocks": blocks})
    cfg = TrainConfig(epochs=1, batch_size=batch, optimizer="adam", lr=1e-4, weight_decay=0.0, scheduler="constant",
                      augment=False, num_workers=num_workers, device=device)
    val = ArrayDataset(np.zeros((batch, 1780), np.float32), np.zeros(batch, np.int64), target_dtype=np.int64)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        fit(model, data, val, cfg, tmp, f"{tmp}/h.csv", loss_fn=F.cross_entropy)
        return n / (time.perf_counter() - t0)


def _generator(maker) -> dict:
    t0 = time.perf_counter()
    maker.library
    library_s = time.perf_counter() - t0
    pos = np.arange(256)
    return {"library_seconds": library_s,
            "clean_spectra_per_s": _rate(lambda: make_spectra(maker, 0, "train", pos, None), 256),
            "noisy_spectra_per_s": _rate(lambda: make_spectra(maker, 0, "train", pos, 1.0), 256)}


def _fed(maker, blocks_list, n: int, batch: int, device: str, workers: bool = True) -> dict:
    """Training spectra/s fed on the fly (and by one worker) against the same spectra stored."""
    stored = make_spectra(maker, 0, "train", np.arange(n), 1.0)
    training = {}

    def stored_data():
        return ArrayDataset(stored["flux"], stored["label"], target_dtype=np.int64)

    for blocks in blocks_list:
        _train_rate(blocks, stored_data(), n, batch, 0, device)  # warm-up: kernels, allocator
        rates = {"fly": [], "worker": [], "stored": []}
        for _ in range(2):  # alternated, best of two
            rates["fly"].append(_train_rate(blocks, SpectraSet(maker, 0, "train", n, 1.0), n, batch, 0, device))
            rates["stored"].append(_train_rate(blocks, stored_data(), n, batch, 0, device))
            if workers:
                rates["worker"].append(_train_rate(blocks, SpectraSet(maker, 0, "train", n, 1.0), n, batch, 1,
                                                   device))
        on_the_fly, in_memory = max(rates["fly"]), max(rates["stored"])
        entry = {"on_the_fly_spectra_per_s": on_the_fly, "stored_spectra_per_s": in_memory,
                 "ratio_on_the_fly_to_stored": on_the_fly / in_memory}
        if workers:
            entry.update(one_worker_spectra_per_s=max(rates["worker"]),
                         ratio_one_worker_to_stored=max(rates["worker"]) / in_memory)
        training[f"cnn{blocks}"] = entry
    return training, stored


def bench_specz(n: int = 4096, batch: int = 64, device: str = "auto") -> dict:
    maker = SpectrumMaker(SpectrumSettings())
    generator = _generator(maker)
    library_s = generator.pop("library_seconds")
    training, stored = _fed(maker, (3, 1), n, batch, device)
    fit_ = TemplateFit(maker, maker.s.class_centres())
    nnls = NonNegativeFit(maker, maker.s.class_centres())
    flux = stored["flux"][:2048]
    ls_rate = _rate(lambda: fit_.predict_class(flux), len(flux))
    nnls_rate = _rate(lambda: nnls.chi2(flux[:512]), 512, repeat=1)
    template = {"spectra_per_s": ls_rate, "trial_redshifts": 800, "nnls_spectra_per_s": nnls_rate,
                "ratio_nnls_to_least_squares": nnls_rate / ls_rate}
    realistic_maker = RealisticMaker(SpectrumSettings(), RealisticSettings())
    realistic = _generator(realistic_maker)
    realistic["training"], _ = _fed(realistic_maker, (3,), n, batch, device, workers=False)
    realistic["ratio_noisy_generator_to_templates"] = (realistic["noisy_spectra_per_s"]
                                                       / generator["noisy_spectra_per_s"])
    return {"library_seconds": library_s, "n_sed": maker.s.n_sed, "generator": generator,
            "training": {"batch_size": batch, "spectra_per_epoch": n, "device": device, **training},
            "template_fit": template, "realistic": realistic, "target_ratio": 0.9,
            "threads": torch.get_num_threads()}

"""Evaluation of the specz stage: every CNN, the template fit and the random forest on the test
set of one noise level (:func:`evaluate`: probabilities, point estimates, metrics), then
``metrics.json`` and the markdown table from the per-noise-level evaluations (:func:`collect_metrics`,
:func:`write_table`).
"""

from __future__ import annotations

import json
import logging
import time

import numpy as np

from ..evaluation.compare import format_value, verdict, write_markdown_table, write_metrics
from ..io import atomic_output, load_npz, write_json
from ..records import load_model, predict
from .baselines import (NonNegativeFit, TemplateFit, chi2_gap, chi2_probabilities, clip_spikes,
                        forest_probabilities, learn_rest_templates, random_forest)
from .data import make_spectra
from .metrics import all_metrics, softmax_estimates
from .published import PUBLISHED
from .resources import check_memory
from .spectra import SpectrumMaker
from .stage import maker_of, parse_run, settings, snr_of

log = logging.getLogger(__name__)
COLUMNS = (("accuracy", "acc."), ("within_1", "±1 class"), ("sigma_nmad", "σ_NMAD"),
           ("catastrophic", "catastr. >0.003"), ("outliers_0.01", "out. >0.01"), ("outliers_0.15", "out. >0.15"))


def forest_training_set(cfg: dict, maker: SpectrumMaker, noise: str) -> dict:
    """The first ``baselines.forest_train`` spectra of the training stream (what the forest learns from)."""
    n = cfg["baselines"]["forest_train"]
    return make_spectra(maker, cfg["seed"], "train", np.arange(n), snr_of(cfg, noise))


TEMPLATE_FITS = ("template", "nnls", "learned", "robust")


def template_chi2(cfg: dict, maker: SpectrumMaker, method: str, flux: np.ndarray, noise: str) -> np.ndarray:
    """chi^2 (B, C) of one template fit (:mod:`cosmodl.specz.baselines`) at every class centre.

    All use the 5 kcorrect templates except ``learned`` (templates from the clean training
    spectra's rest frames); all weight pixels by the known noise curve.
    """
    b = cfg["baselines"]
    centres = maker.s.class_centres()
    sigma = maker.pixel_sigma
    if method == "nnls":
        return NonNegativeFit(maker, centres, b["poly_degree"], pixel_sigma=sigma).chi2(flux)
    rest = None
    if method == "learned":
        train = make_spectra(maker, cfg["seed"], "train", np.arange(b["learned_train"]), None)
        rest = learn_rest_templates(maker, train["flux"], train["z"], b["learned_components"], seed=cfg["seed"])
    if method == "robust":
        level = sigma / cfg["snr"] if noise == "noisy" else sigma * b["clean_sigma"]
        flux = clip_spikes(flux, level, b["clip_sigma"])
    return TemplateFit(maker, centres, b["poly_degree"], rest=rest, pixel_sigma=sigma).chi2(flux)


def evaluate(cfg: dict, noise: str, test_path, records: dict, metrics_out, predictions_out,
             threads: int | None = None) -> dict:
    """Score the CNNs of one noise level and the classical baselines on its test set.

    Parameters
    ----------
    records : dict
        Run name -> model record path (the CNNs trained at this noise level).

    Writes
    ------
    metrics_out : JSON
        Per method: metrics of the mode and of the softmax mean, calibration, purity against
        completeness, training size (timings go to the log: the file is the same on every rerun).
    predictions_out : npz
        ``z``, ``label``, and per method ``<method>_mode``, ``_mean``, ``_lo``, ``_hi`` (N,).
    """
    check_memory("evaluate", cfg, n_networks=len(records))
    s = settings(cfg)
    maker = maker_of(cfg)
    centres = s.class_centres()
    test = load_npz(test_path, "specz_sets")
    flux, z, labels = test[noise], test["z"], test["label"]
    probs, info, confidence = {}, {}, {}
    for name, path in sorted(records.items()):
        model, record = load_model(path)
        t0 = time.perf_counter()
        probs[name] = predict(model, flux, batch_size=512, threads=threads)
        info[name] = {"kind": "cnn", "blocks": parse_run(name)[0], "n_train": record["summary"]["n_train"]}
        log.info("%s: %.0f test spectra/s", name, len(flux) / (time.perf_counter() - t0))
    methods = cfg["methods"]
    sigma = 1.0 / cfg["snr"] if noise == "noisy" else cfg["baselines"]["clean_sigma"]
    for method in (m for m in TEMPLATE_FITS if m in methods):
        t0 = time.perf_counter()
        chi2 = template_chi2(cfg, maker, method, flux, noise)
        probs[method], confidence[method] = chi2_probabilities(chi2, sigma), chi2_gap(chi2, centres)
        n_train = cfg["baselines"]["learned_train"] if method == "learned" else 0
        info[method] = {"kind": "template", "n_train": int(n_train)}
        log.info("%s fit: %.0f test spectra/s (with its bases)", method, len(flux) / (time.perf_counter() - t0))
    if "forest" in methods:
        t0 = time.perf_counter()
        train = forest_training_set(cfg, maker, noise)
        b = cfg["baselines"]
        forest = random_forest(train["flux"], train["label"], b["forest_bins"], b["forest_trees"], cfg["seed"],
                               threads)
        probs["forest"] = forest_probabilities(forest, flux, b["forest_bins"], s.n_classes)
        info["forest"] = {"kind": "forest", "n_train": int(b["forest_train"])}
        log.info("random forest: trained and scored in %.1f s", time.perf_counter() - t0)
    results, arrays = {}, {"z": z, "label": labels}
    for name, p in probs.items():
        results[name] = {**info[name], **all_metrics(p, centres, z, labels, s.z_min, s.dz, confidence.get(name))}
        est = softmax_estimates(p, centres)
        arrays.update({f"{name}_{k}": v.astype(np.float32) for k, v in est.items()})
    doc = {"noise": noise, "snr": snr_of(cfg, noise), "data": cfg["data"], "n_test": int(len(z)), "methods": results}
    write_json(doc, metrics_out)
    with atomic_output(predictions_out) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    return doc


def collect_metrics(evaluations, schema_path, out_path) -> dict:
    """Merge the evaluations of each noise level into ``metrics.json`` (schema-checked)."""
    noise = {}
    for path in evaluations:
        doc = json.loads(open(path).read())
        doc["beats"] = baseline_verdict(doc["methods"])
        noise[doc["noise"]] = doc
    data = {level["data"] for level in noise.values()}
    doc = {"stage": "specz", "data": data.pop() if len(data) == 1 else sorted(data), "chance": 1 / 800,
           "published": PUBLISHED, "noise": noise, "table": metrics_table(noise)}
    return write_metrics(doc, schema_path, out_path)


def baseline_verdict(methods: dict) -> dict:
    """Each CNN run of a noise level against the best classical baseline (template fits, forest),
    on the catastrophic rate of the most probable class (|dz| > 0.003; lower is better)."""
    values = {name: m["mode"]["catastrophic"] for name, m in methods.items()}
    cnns = [name for name, m in methods.items() if m["kind"] == "cnn"]
    return verdict(values, cnns, [name for name in methods if name not in cnns], "catastrophic",
                   lower_is_better=True)


def _order(item):
    name, m = item
    return (m["kind"] != "cnn", m.get("blocks") or 0, m.get("n_train") or 0, name)


def metrics_table(noise: dict) -> str:
    """Markdown: per noise level and method (CNNs by depth and training size), the mode's metrics."""
    head = " | ".join(label for _, label in COLUMNS)
    lines = [f"| noise | method | n_train | {head} | compl. at 99 % purity | 68 % coverage |",
             "|---|---|---|" + "---|" * (len(COLUMNS) + 2)]
    for level, doc in noise.items():
        snr = "" if doc["snr"] is None else f" (SNR {doc['snr']:g})"
        for name, m in sorted(doc["methods"].items(), key=_order):
            scores = " | ".join(_fmt(m["mode"][k], k) for k, _ in COLUMNS)
            lines.append(f"| {level}{snr} | {name} | {m.get('n_train') or ''} | {scores} | "
                         f"{m['purity']['completeness_at_99_purity']:.3f} | {m['calibration']['coverage_68']:.2f} |")
    return "\n".join(lines)


def write_table(doc: dict, path) -> None:
    """Write the metrics table with a heading that says what the columns mean."""
    heading = (f"Data set: {doc['data']} (specz.data). Test spectra; a method's class is its most probable one "
               "(a template fit's least chi^2). ±1: within one class of 0.001. σ_NMAD, catastrophic rate "
               "(|Δz|/(1+z) > 0.003) and outliers of Δz/(1+z). Completeness at 99 % purity: the largest share of "
               "the test set a method can keep, its surest answers first (softmax peak, or a template fit's "
               "chi^2 gap), with at most 1 % catastrophic. 68 % coverage: share of true redshifts inside the "
               "method's 16-84 % interval (0.68 when calibrated). Chance = 1/800. The only verified published "
               "number is the ADAX network's validation accuracy of 0.216 on 5,000 training spectra of its own "
               "data (metrics.json, published).")
    write_markdown_table(path, f"specz: redshift classification of synthetic Euclid-like spectra ({doc['data']} set)",
                         heading, doc["table"])


def _fmt(value, key) -> str:
    return format_value(value, 5 if key == "sigma_nmad" else 3)

"""Test-set evaluation of the voids networks against their baselines, and the stage's metrics file.

``map`` models are scored per pixel against the underdensity baseline, ``counts`` models per
subbox against the training mean and a linear fit on the galaxy count. The split named
``random`` is the leaky one; ``leakage`` in ``metrics.json`` puts every split's numbers side by side.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..evaluation.baselines import MAX_FIT_IMAGES, UnderdensityBaseline, counts_baselines
from ..evaluation.compare import beats, write_metrics
from ..evaluation.metrics import map_metrics, regression_metrics
from ..io import atomic_output, write_json
from ..records import load_model, predict
from ..splits import load_split, subsample
from .learn import COUNT_TARGETS, count_targets, map_truth_transform
from .resources import check_memory

MAP_KEYS = ("roc_auc", "average_precision", "iou", "pearson_r")


def evaluate_void_model(cfg: dict, model_path, split_path, subboxes: dict, index_path, metrics_out,
                        predictions_out, threads: int | None = None) -> dict:
    """Test-set metrics of a trained model and of its baselines (same split, same test subboxes).

    Parameters
    ----------
    cfg : dict
        ``config['voids']`` (``box_size`` and the sections ``subboxes`` and ``evaluation`` are read).
    model_path, split_path : path
    subboxes : dict
        Paths of the ``images``, ``void_fraction``, ``void_centres`` stacks.
    index_path : path
        Subbox index table.
    metrics_out, predictions_out : path
        JSON of metrics; ``.npz`` with ``indices``, ``truth``, ``model`` and each baseline's predictions.
    threads : int, optional

    Predictions are made on the CPU (float32), whatever device trained the model.
    """
    check_memory("evaluate", cfg)
    model, record = load_model(model_path)
    split = load_split(split_path)
    test_idx = split["test"]
    train_idx = np.asarray(record["train_indices"], dtype=np.int64)
    images = np.load(subboxes["images"], mmap_mode="r")
    prediction = predict(model, images, test_idx, device="cpu", threads=threads)  # the record's input transform
    ev = cfg["evaluation"]
    out = {"task": record["task"], "split": split["method"], "leaky": bool(split["leaky"]),
           "n_train": int(len(train_idx)), "n_test": int(len(test_idx)), "training": record["summary"]}
    arrays = {"indices": test_idx, "model": prediction}
    if record["task"] == "map":
        target = record.get("map_target", "void_fraction")  # what the network was fitted to
        truth = np.load(subboxes[target], mmap_mode="r")
        transform_truth = map_truth_transform(target) or (lambda a: a)

        def as_truth(rows):
            return transform_truth(np.asarray(rows, dtype=np.float64))

        truth_test = as_truth(truth[test_idx])
        fit_idx = subsample(train_idx, MAX_FIT_IMAGES, seed=0)
        baseline = UnderdensityBaseline(ev["baseline_sigmas"], ev["void_threshold"]).fit(
            np.asarray(images[fit_idx]), as_truth(truth[fit_idx]))
        base_pred = baseline.predict(np.asarray(images[test_idx]), truth.shape[-1])
        out["model"] = map_metrics(prediction, truth_test, ev["void_threshold"])
        out["baselines"] = {"underdensity": dict(map_metrics(base_pred, truth_test, ev["void_threshold"]),
                                                 sigma_px=baseline.sigma_px)}
        out["truth"] = target
        arrays.update(truth=truth_test.astype(np.float32), underdensity=base_pred.astype(np.float32))
    else:
        targets, galaxies = count_targets(index_path)
        truth_test = targets[test_idx]
        base = counts_baselines(targets[train_idx], truth_test.shape, galaxies[train_idx], galaxies[test_idx])
        out["targets"] = list(COUNT_TARGETS)
        out["model"] = {name: regression_metrics(truth_test[:, j], prediction[:, j])
                        for j, name in enumerate(COUNT_TARGETS)}
        out["baselines"] = {kind: {name: regression_metrics(truth_test[:, j], base[kind][:, j])
                                   for j, name in enumerate(COUNT_TARGETS)}
                            for kind in ("training_mean", "linear_in_galaxy_count")}
        arrays.update(truth=truth_test, training_mean=base["training_mean"],
                      linear_in_galaxy_count=base["linear_in_galaxy_count"])
    with atomic_output(predictions_out) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    write_json(out, metrics_out)
    return out


def collect_metrics(evaluations: list[dict], headline_split: str) -> dict:
    """Merge per-(task, split) evaluations into the ``metrics.json`` document.

    The layout is documented by ``workflow/schemas/voids_metrics.schema.yaml``: ``maps`` and
    ``counts`` keyed by split, each with ``model``, ``baselines`` and ``beats_baselines``; and
    ``leakage``, the headline numbers of every split side by side.
    """
    doc = {"schema": "cosmodl/voids-metrics/1", "headline_split": headline_split, "maps": {}, "counts": {},
           "leakage": {"maps": {}, "counts": {}}}
    for ev in evaluations:
        entry = {k: ev[k] for k in ("leaky", "n_train", "n_test", "model", "baselines")}
        entry["best_epoch"] = ev["training"]["best_epoch"]
        if ev["task"] == "map":
            entry["beats_baselines"] = {"underdensity": beats(ev["model"], ev["baselines"]["underdensity"], MAP_KEYS)}
            doc["maps"][ev["split"]] = entry
            for key in MAP_KEYS:
                doc["leakage"]["maps"].setdefault(key, {})[ev["split"]] = ev["model"][key]
        else:
            entry["beats_baselines"] = {
                base: {t: beats(ev["model"][t], ev["baselines"][base][t], ("rmse", "pearson_r"))
                       for t in COUNT_TARGETS} for base in ev["baselines"]}
            doc["counts"][ev["split"]] = entry
            for t in COUNT_TARGETS:
                for key in ("rmse", "pearson_r"):
                    doc["leakage"]["counts"].setdefault(f"{t}_{key}", {})[ev["split"]] = ev["model"][t][key]
    return doc


def write_voids_metrics(evaluation_paths, headline_split: str, schema_path, out_path) -> dict:
    """Read evaluation JSONs, build ``metrics.json``, check it against its schema, write it."""
    doc = collect_metrics([json.loads(Path(p).read_text()) for p in evaluation_paths], headline_split)
    return write_metrics(doc, schema_path, out_path)

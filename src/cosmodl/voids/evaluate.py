"""Test-set evaluation of the voids networks against their baselines, and the stage's metrics file.

``map`` models are scored per pixel against the underdensity baseline, ``counts`` models per
subbox against the training mean and a linear fit on the galaxy count. The split named
``random`` is the leaky one; ``leakage`` in ``metrics.json`` puts every split's numbers side by side.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..evaluation.compare import beats, format_value, verdict, write_markdown_table, write_metrics
from ..evaluation.metrics import map_metrics, regression_metrics
from ..io import atomic_output, load_array, write_json
from ..records import load_model, predict
from ..splits import load_split, subsample
from .baselines import MAX_FIT_IMAGES, UnderdensityBaseline, counts_baselines
from .learn import COUNT_TARGETS, count_targets, map_truth_transform
from .published import PUBLISHED
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
    images = load_array(subboxes["images"], "voids_subboxes")
    prediction = predict(model, images, test_idx, device="cpu", threads=threads)  # the record's input transform
    ev = cfg["evaluation"]
    out = {"task": record["task"], "split": split["method"], "leaky": bool(split["leaky"]),
           "n_train": int(len(train_idx)), "n_test": int(len(test_idx)), "training": record["summary"]}
    arrays = {"indices": test_idx, "model": prediction}
    if record["task"] == "map":
        target = record.get("map_target", "void_fraction")  # what the network was fitted to
        truth = load_array(subboxes[target], "voids_subboxes")
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


def collect_metrics(evaluations, schema_path, out_path, headline_split: str) -> dict:
    """Merge the per-(task, split) evaluation files into ``metrics.json`` (schema-checked).

    The layout is documented by ``src/cosmodl/schemas/voids_metrics.schema.yaml``: ``maps`` and
    ``counts`` keyed by split, each with ``model``, ``baselines``, ``beats_baselines`` (every
    metric against every baseline) and ``beats`` (the kit's verdict: map ROC-AUC against the
    underdensity map; counts RMSE per target against the better baseline); ``leakage``, the headline
    numbers of every split side by side; ``published`` and the markdown ``table``.
    """
    doc = merge_evaluations([json.loads(Path(p).read_text()) for p in evaluations], headline_split)
    return write_metrics(doc, schema_path, out_path)


def merge_evaluations(evaluations: list[dict], headline_split: str) -> dict:
    """The ``metrics.json`` document of per-(task, split) evaluation documents (:func:`collect_metrics`)."""
    doc = {"schema": "cosmodl/voids-metrics/1", "headline_split": headline_split, "maps": {}, "counts": {},
           "leakage": {"maps": {}, "counts": {}}}
    for ev in evaluations:
        entry = {k: ev[k] for k in ("leaky", "n_train", "n_test", "model", "baselines")}
        entry["best_epoch"] = ev["training"]["best_epoch"]
        if ev["task"] == "map":
            entry["beats_baselines"] = {"underdensity": beats(ev["model"], ev["baselines"]["underdensity"], MAP_KEYS)}
            entry["beats"] = verdict({"model": ev["model"]["roc_auc"], "underdensity":
                                      ev["baselines"]["underdensity"]["roc_auc"]}, ["model"], ["underdensity"],
                                     "roc_auc")
            doc["maps"][ev["split"]] = entry
            for key in MAP_KEYS:
                doc["leakage"]["maps"].setdefault(key, {})[ev["split"]] = ev["model"][key]
        else:
            entry["beats_baselines"] = {
                base: {t: beats(ev["model"][t], ev["baselines"][base][t], ("rmse", "pearson_r"))
                       for t in COUNT_TARGETS} for base in ev["baselines"]}
            entry["beats"] = {t: verdict({"model": ev["model"][t]["rmse"],
                                          **{b: ev["baselines"][b][t]["rmse"] for b in ev["baselines"]}},
                                         ["model"], list(ev["baselines"]), "rmse", lower_is_better=True)
                              for t in COUNT_TARGETS}
            doc["counts"][ev["split"]] = entry
            for t in COUNT_TARGETS:
                for key in ("rmse", "pearson_r"):
                    doc["leakage"]["counts"].setdefault(f"{t}_{key}", {})[ev["split"]] = ev["model"][t][key]
    doc["published"] = PUBLISHED
    doc["table"] = results_table(doc)
    return doc


def results_table(doc: dict) -> str:
    """Markdown: per task and split, the network beside its baselines (and the 2019 counts figure)."""
    lines = ["| task | split | method | ROC-AUC | avg. precision | IoU | r | RMSE n_voids | r n_voids | "
             "RMSE volume | r volume |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for split, entry in doc["maps"].items():
        for name, m in (("network", entry["model"]), *entry["baselines"].items()):
            cells = " | ".join(format_value(m[k]) for k in MAP_KEYS)
            lines.append(f"| map | {split} | {name} | {cells} | | | | |")
    for split, entry in doc["counts"].items():
        for name, m in (("network", entry["model"]), *entry["baselines"].items()):
            cells = " | ".join(format_value(m[t][k], 1 if k == "rmse" and t == "void_volume" else 3)
                               for t in COUNT_TARGETS for k in ("rmse", "pearson_r"))
            lines.append(f"| counts | {split} | {name} | | | | | {cells} |")
    pub = doc["published"]["counts"]["n_voids"]
    lines.append(f"| counts | {pub['split']} | 2019 (figure) | | | | | {pub['rmse']} | {pub['pearson_r']} | | |")
    return "\n".join(lines)


def write_table(doc: dict, path) -> None:
    """Write the results table of a metrics document as markdown, with a heading that states the splits."""
    heading = (f"Test subboxes of each trained split; the headline split is {doc['headline_split']} (spatial: "
               "buffered slabs, no test subbox overlaps a training one; random: the 2019 split, which leaks). "
               "Map scores are per map pixel against the smoothed-underdensity baseline; counts per subbox against "
               "the training mean and a linear fit on the galaxy count (RMSE of volume in (Mpc/h)^3). The 2019 row "
               "is read off its counts figure (approximate, leaky split).")
    write_markdown_table(path, "Voids: void maps and counts beside their baselines", heading, doc["table"])

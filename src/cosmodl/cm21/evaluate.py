"""Evaluation of one task: every method on the test slices, beside the chance level and the seed's number.

Classification: accuracy, balanced accuracy (mean recall over classes), the confusion matrix,
the chance level ``1 / n_classes`` and the accuracy of always answering the training set's most
frequent class. Regression (zeta): RMSE and MAE in zeta units beside the RMSE of always
answering the training mean. Methods on patches (``pca_knn``, ``fc``) are scored per patch,
as the seed did, and say so (``unit``).
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

from ..evaluation.compare import format_value, verdict, write_markdown_table, write_metrics
from ..evaluation.metrics import classification_metrics, regression_errors
from ..io import atomic_output, load_array, write_json
from ..records import load_model, predict
from .baselines import pca_knn, physics_features, physics_models
from .data import patches_of, task_rows
from .learn import split_roles
from .published import PUBLISHED
from .resources import check_memory

log = logging.getLogger(__name__)


def _score(info: dict, truth, predicted, train_truth, unit: str) -> dict:
    if info["kind"] == "classification":
        out = classification_metrics(truth, predicted, len(info["classes"]), train_truth)
    else:
        out = regression_errors(truth, predicted, train_truth)
    return {**out, "unit": unit}


def evaluate_task(cfg: dict, task: str, slices_path, table_path, split_path, records: dict, cell_mpc: float,
                  out_json, out_npz, threads: int | None = None) -> dict:
    """Score every method of one task on the test set and write the task's evaluation.

    Parameters
    ----------
    cfg : dict
        ``config['cm21']``.
    task : str
    slices_path, table_path, split_path : path
    records : dict
        Network name -> model record path (the networks trained for this task).
    cell_mpc : float
        Cell side of the slices, Mpc (for the power spectrum).
    out_json, out_npz : path
        Metrics per method; test rows, truth and each method's predictions (for figures).

    Returns
    -------
    dict : the evaluation written to ``out_json``.
    """
    slices = load_array(slices_path, "cm21_slices")
    check_memory("evaluate", cfg, slices)
    slices = np.array(slices, dtype=np.float32)  # in memory: every method reads it
    table = pd.read_csv(table_path)
    roles = split_roles(split_path, len(slices))
    info = task_rows(table, roles, task, cfg["tasks_fixed"]["f_esc"], cfg["tasks_fixed"]["z"])
    rows, targets = info["rows"], info["targets"]
    truth, train_truth = targets[rows["test"]], targets[rows["train"]]
    methods, predictions = {}, {}
    base = cfg["baselines"]
    if "physics" in cfg["methods"]:
        feats = physics_features(slices[np.concatenate([rows["train"], rows["test"]])], cell_mpc, base["n_k"])
        f_train, f_test = feats[:len(rows["train"])], feats[len(rows["train"]):]
        for name, model in physics_models(info["kind"], cfg["seed"]).items():
            predictions[name] = model.fit(f_train, train_truth).predict(f_test)
            methods[name] = {**_score(info, truth, predictions[name], train_truth, "slices"),
                             "n_train": int(len(train_truth))}
    patch = cfg["slices"]["patch"]
    per = (slices.shape[1] // patch) ** 2
    if "pca_knn" in cfg["methods"]:
        def flat_patches(which):
            return patches_of(slices[which], patch).reshape(len(which) * per, -1) / cfg["slices"]["scale_mk"]

        x_train = flat_patches(rows["train"])
        y_train = np.repeat(train_truth, per)
        rng = np.random.default_rng(cfg["seed"])
        fit_rows = rng.permutation(len(x_train))[:base["max_fit_patches"]]
        n_comp = min(base["pca_components"], len(fit_rows), x_train.shape[1])
        model = pca_knn(info["kind"], n_comp, base["knn_neighbors"]).fit(x_train[fit_rows], y_train[fit_rows])
        predictions["pca_knn"] = model.predict(flat_patches(rows["test"]))
        methods["pca_knn"] = {**_score(info, np.repeat(truth, per), predictions["pca_knn"], y_train, "patches"),
                              "n_train": int(len(fit_rows)), "components": n_comp}
    for network, path in records.items():
        model, record = load_model(path)
        summary = record.get("summary", {})
        if network == "fc":
            inputs = patches_of(slices[rows["test"]], patch)
            unit, t = "patches", np.repeat(truth, per)
        else:
            inputs, unit, t = slices[rows["test"]], "slices", truth
        out = predict(model, inputs, threads=threads)  # through the record's input transform
        predictions[network] = out.argmax(axis=1) if info["kind"] == "classification" else out
        methods[network] = {**_score(info, t, predictions[network], train_truth, unit),
                            "n_train": summary.get("n_train"), "epochs": summary.get("epochs"),
                            "best_epoch": summary.get("best_epoch")}
    split = json.loads(open(split_path).read())
    evaluation = {"task": task, "kind": info["kind"], "classes": info["classes"], "patch": patch,
                  "split": {k: split[k] for k in ("method", "leaky", "counts", "params")},
                  "n": {k: int(len(v)) for k, v in rows.items()}, "methods": methods,
                  "published": PUBLISHED.get(task, {})}
    write_json(evaluation, out_json)
    with atomic_output(out_npz) as tmp:
        arrays = {f"pred_{k}": np.asarray(v) for k, v in predictions.items()}
        np.savez(tmp, test_rows=rows["test"], truth=truth, **arrays)
    for name, m in methods.items():
        log.info("%s %s: %s", task, name, {k: v for k, v in m.items() if k != "confusion"})
    return evaluation


def collect_metrics(evaluations, schema_path, out_path) -> dict:
    """Merge the per-task evaluations into ``metrics.json`` (schema-checked) with the markdown table."""
    tasks = {}
    for path in evaluations:
        doc = json.loads(open(path).read())
        doc["beats"] = baseline_verdict(doc)
        tasks[doc["task"]] = doc
    split = next(iter(tasks.values())).get("split", {})
    doc = {"stage": "cm21", "split": split, "patch": next(iter(tasks.values())).get("patch"), "tasks": tasks,
           "table": accuracy_table(tasks)}
    return write_metrics(doc, schema_path, out_path)


def baseline_verdict(task: dict) -> dict:
    """Each network of a task against the best of the physics and PCA + k-NN baselines: accuracy for
    a classification, RMSE for the zeta regression."""
    metric = "accuracy" if task["kind"] == "classification" else "rmse"
    values = {name: m.get(metric) for name, m in task["methods"].items()}
    baselines = [name for name in values if name.startswith("physics_") or name == "pca_knn"]
    networks = [name for name in values if name not in baselines]
    return verdict(values, networks, baselines, metric, lower_is_better=metric == "rmse")


def accuracy_table(tasks: dict) -> str:
    """Markdown: per task and method, our test score beside the chance level and MAIS 202's number."""
    lines = ["| task | method | unit | accuracy | balanced acc. | chance | majority | RMSE zeta | MAIS 202 | n_train |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for task, doc in tasks.items():
        for name, m in doc["methods"].items():
            pub = doc["published"].get(name)
            other = pub and not pub.get("architecture", "ours").endswith("ours")
            published = (f"{pub['accuracy']:.3f} ({pub['set']}, {pub['unit']}, {pub['classes']} classes)"
                         f"{' †' if other else ''}") if pub else ""
            scores = " | ".join(format_value(m.get(k)) for k in ("accuracy", "balanced_accuracy", "chance",
                                                                 "majority_class", "rmse"))
            lines.append(f"| {task} | {name} | {m['unit']} | {scores} | {published} | {m.get('n_train') or ''} |")
    return "\n".join(lines)


def write_table(doc: dict, path) -> None:
    """Write the accuracy table of a metrics document as markdown, with a heading that states the split."""
    split, patch = doc["split"], doc["patch"]
    heading = (f"Split: {split.get('method')} (leaky: {split.get('leaky')}). MAIS 202's numbers are validation "
               "accuracies where marked 'val' (its test cells compared booleans); patch methods are scored per "
               f"{patch} x {patch} patch as the seed did (50 x 50 there). Chance = 1 / classes; majority = always "
               "the most frequent training class; the zeta RMSE of always answering the training mean is "
               "rmse_train_mean in metrics.json. † MAIS 202's number is of another network of theirs "
               "(published.architecture in metrics.json).")
    write_markdown_table(path, "21 cm: test accuracy per task and method beside MAIS 202 (Fay 2019)", heading,
                         doc["table"])



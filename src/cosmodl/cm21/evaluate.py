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
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..evaluation.compare import format_value, verdict, write_markdown_table, write_metrics
from ..evaluation.metrics import classification_metrics, regression_errors
from ..io import atomic_output, load_array, write_json
from ..records import load_model, predict
from .baselines import fesc_power_signal, pca_knn, physics_ablation, physics_models
from .data import box_ids, class_index, patches_of, target_column, task_mask, task_rows
from .features import SliceSet, load_features, slice_features
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


@dataclass
class Method:
    """One fitted method of a task.

    Attributes
    ----------
    unit : {'slices', 'patches'}
        What it answers for: each slice, or each of the ``per`` patches of a slice (slice-major).
    scores : callable
        :class:`cosmodl.cm21.features.SliceSet` of N slices -> class probabilities (N * per,
        n_classes), or values (N * per,) for a regression (zeta).
    record : dict
        What the metrics say of its training (``n_train``, ``components``, ``epochs``...).
    """

    unit: str
    scores: Callable[[SliceSet], np.ndarray]
    record: dict


def _full_proba(model, x: np.ndarray, n_classes: int) -> np.ndarray:
    """``predict_proba`` of a scikit-learn classifier over all ``n_classes`` columns (its ``classes_``
    may lack a class that no training sample had)."""
    out = np.zeros((len(x), n_classes))
    out[:, model.classes_] = model.predict_proba(x)
    return out


def fit_methods(cfg: dict, info: dict, data: SliceSet, records: dict, threads: int | None = None) -> dict[str, Method]:
    """Fit the baselines on the task's training slices and load its trained networks.

    Parameters
    ----------
    cfg : dict
        ``config['cm21']``.
    info : dict
        :func:`cosmodl.cm21.data.task_rows` of the task.
    data : SliceSet
        Every slice and its features; the task's training rows are ``info['rows']['train']``.
    records : dict
        Network name -> model record path.

    Returns
    -------
    dict : method name -> :class:`Method`.
    """
    train = info["rows"]["train"]
    train_truth = info["targets"][train]
    classification = info["kind"] == "classification"
    n_classes = len(info["classes"])
    base, patch = cfg["baselines"], cfg["slices"]["patch"]
    methods = {}
    if "physics" in cfg["methods"]:
        families = base["families"]
        f_train = data.stacked(families, train)
        for name, model in physics_models(info["kind"], cfg["seed"]).items():
            model.fit(f_train, train_truth)
            scores = ((lambda s, m=model: _full_proba(m, s.stacked(families), n_classes)) if classification
                      else (lambda s, m=model: m.predict(s.stacked(families))))
            methods[name] = Method("slices", scores, {"n_train": int(len(train)), "features": int(f_train.shape[1])})
    if "pca_knn" in cfg["methods"]:
        def flat_patches(x):
            return patches_of(x, patch).reshape(-1, patch * patch) / cfg["slices"]["scale_mk"]

        x_train = flat_patches(data.slices[train])
        y_train = np.repeat(train_truth, len(x_train) // max(len(train), 1))
        fit_rows = np.random.default_rng(cfg["seed"]).permutation(len(x_train))[:base["max_fit_patches"]]
        n_comp = min(base["pca_components"], len(fit_rows), x_train.shape[1])
        knn = pca_knn(info["kind"], n_comp, base["knn_neighbors"]).fit(x_train[fit_rows], y_train[fit_rows])
        scores = ((lambda s: _full_proba(knn, flat_patches(s.slices), n_classes)) if classification
                  else (lambda s: knn.predict(flat_patches(s.slices))))
        methods["pca_knn"] = Method("patches", scores, {"n_train": int(len(fit_rows)), "components": n_comp})
    for network, path in records.items():
        model, record = load_model(path)
        summary = record.get("summary", {})

        def scores(s, model=model, network=network):
            inputs = patches_of(s.slices, patch) if network == "fc" else s.slices
            return predict(model, inputs, threads=threads)  # through the record's input transform

        methods[network] = Method("patches" if network == "fc" else "slices", scores,
                                  {"n_train": summary.get("n_train"), "epochs": summary.get("epochs"),
                                   "best_epoch": summary.get("best_epoch")})
    return methods


def answers(info: dict, scores: np.ndarray) -> np.ndarray:
    """Class indices (argmax of the probabilities) or the values of a regression."""
    return scores.argmax(axis=1) if info["kind"] == "classification" else scores


def mean_predicted(true_values: np.ndarray, predicted_values: np.ndarray) -> list[dict]:
    """Per true value (z, f_esc or zeta), the mean of the predicted values and the count.

    Parameters
    ----------
    true_values, predicted_values : ndarray (M,)
        Of each answer (slice or patch), in the task's units.

    Returns
    -------
    list of ``{"true", "mean", "n"}``, by increasing true value.
    """
    return [{"true": float(v), "mean": float(predicted_values[true_values == v].mean()),
             "n": int((true_values == v).sum())} for v in np.unique(true_values)]


def _values(info: dict, answer: np.ndarray) -> np.ndarray:
    """Answers in the task's units: class values, or zeta."""
    return np.asarray(info["classes"], dtype=float)[answer] if info["kind"] == "classification" else answer


def per_box(info: dict, scores: np.ndarray, boxes: np.ndarray, truth: np.ndarray) -> dict:
    """Each box's answer from its slices (or patches) together: mean probabilities, then argmax; or mean zeta.

    Parameters
    ----------
    info : dict
        The task (``kind``).
    scores : ndarray (M, n_classes) or (M,)
        Of M units (slices or patches).
    boxes : ndarray (M,) int
        Box id of each unit (:func:`cosmodl.cm21.data.box_ids`).
    truth : ndarray (M,)
        Class index or zeta of each unit (the same for every unit of a box).

    Returns
    -------
    dict : ``accuracy`` (or ``rmse``) over boxes and ``n_boxes``.
    """
    ids, inverse = np.unique(boxes, return_inverse=True)
    counts = np.bincount(inverse)
    if scores.ndim == 2:
        mean = np.zeros((len(ids), scores.shape[1]))
        np.add.at(mean, inverse, scores)
    else:
        mean = np.bincount(inverse, weights=scores, minlength=len(ids))
    mean = (mean.T / counts).T
    box_truth = np.zeros(len(ids), dtype=truth.dtype)
    box_truth[inverse] = truth
    if info["kind"] == "classification":
        return {"accuracy": float(np.mean(mean.argmax(axis=1) == box_truth)), "n_boxes": int(len(ids))}
    return {"rmse": float(np.sqrt(np.mean((mean - box_truth) ** 2))), "n_boxes": int(len(ids))}


def cross_source_scores(cfg: dict, task: str, info: dict, methods: dict, in_source: dict, other: SliceSet,
                        table: pd.DataFrame, source: str) -> dict:
    """Every method of a task on the slices of another source, beside its in-source test score.

    Parameters
    ----------
    cfg : dict
        ``config['cm21']``.
    task : str
    info : dict
        The task (:func:`cosmodl.cm21.data.task_rows`): its classes are the training classes.
    methods : dict
        :func:`fit_methods`.
    in_source : dict
        The methods' test-set metrics (name -> dict).
    other : SliceSet
        The other source's slices (every one a test slice, on the training grid) and their features.
    table : DataFrame
        Their table (``seed, f_esc, zeta, z, ...``).
    source : str
        What the other source is, in words (for the record).

    Returns
    -------
    dict
        ``source``, ``n`` (slices of the task), ``n_out_of_class`` (slices whose value is no
        training class: in ``mean_predicted`` only), and per method: the accuracy (or zeta RMSE)
        on the other source, the in-source one, the per-box score, and ``mean_predicted``: per true
        value, the mean of the predicted values (class values, or zeta) and the slice count.
    """
    keep = np.flatnonzero(task_mask(table, task, cfg["tasks_fixed"]["f_esc"], cfg["tasks_fixed"]["z"]))
    column = target_column(task)
    values = table[column].to_numpy(float)[keep]
    classification = info["kind"] == "classification"
    truth = class_index(values, info["classes"]) if classification else values
    inside = truth >= 0 if classification else np.ones(len(keep), dtype=bool)
    boxes = box_ids(table.iloc[keep])
    metric = "accuracy" if classification else "rmse"
    out = {"source": source, "n": int(len(keep)), "n_out_of_class": int((~inside).sum()), "methods": {}}
    if not len(keep):
        return out
    task_set = other.take(keep)
    for name, method in methods.items():
        scores = np.asarray(method.scores(task_set))
        per = len(scores) // len(keep)
        answer = answers(info, scores)
        unit_truth, unit_inside = np.repeat(truth, per), np.repeat(inside, per)
        entry = {"unit": method.unit, "in_source": in_source[name].get(metric),
                 "mean_predicted": mean_predicted(np.repeat(values, per), _values(info, answer))}
        if unit_inside.any():
            if classification:
                entry["accuracy"] = float(np.mean(answer[unit_inside] == unit_truth[unit_inside]))
            else:
                entry["rmse"] = float(np.sqrt(np.mean((answer - unit_truth) ** 2)))
            units_in = np.flatnonzero(unit_inside)
            entry["per_box"] = per_box(info, scores[units_in], np.repeat(boxes, per)[units_in],
                                       unit_truth[units_in])
        out["methods"][name] = entry
    return out


def evaluate_task(cfg: dict, task: str, slices_path, table_path, split_path, records: dict, cell_mpc: float,
                  out_json, out_npz, threads: int | None = None, cross: dict | None = None,
                  features_path=None) -> dict:
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
    cross : dict, optional
        The test source (:func:`cosmodl.cm21.stage.cross_source_of`): ``slices``, ``table`` and
        ``features`` paths of its slices and ``source`` in words; its scores go under ``cross_source``.
    features_path : path, optional
        The slices' summary statistics (rule ``cm21_features``); computed here when not given (and
        likewise the test source's without ``cross['features']``).

    Returns
    -------
    dict : the evaluation written to ``out_json``.
    """
    slices = load_array(slices_path, "cm21_slices")
    other = None if cross is None else load_array(cross["slices"], "cm21_cross_slices")  # a memory map
    check_memory("evaluate", cfg, slices, other)
    slices = np.array(slices, dtype=np.float32)  # in memory: every method reads it
    table = pd.read_csv(table_path)
    roles = split_roles(split_path, len(slices))
    info = task_rows(table, roles, task, cfg["tasks_fixed"]["f_esc"], cfg["tasks_fixed"]["z"])
    rows, targets = info["rows"], info["targets"]
    truth, train_truth = targets[rows["test"]], targets[rows["train"]]
    test_boxes = box_ids(table.iloc[rows["test"]])
    data = SliceSet(slices, _features(cfg, features_path, slices, cell_mpc, threads))
    fitted = fit_methods(cfg, info, data, records, threads)
    methods, predictions = {}, {}
    test_set = data.take(rows["test"])
    for name, method in fitted.items():
        scores = np.asarray(method.scores(test_set))
        per = len(scores) // max(len(truth), 1)
        predictions[name] = answers(info, scores)
        unit_truth = np.repeat(truth, per)
        methods[name] = {**_score(info, unit_truth, predictions[name], train_truth, method.unit), **method.record,
                         "per_box": per_box(info, scores, np.repeat(test_boxes, per), unit_truth),
                         "mean_predicted": mean_predicted(_values(info, unit_truth), _values(info, predictions[name]))}
    split = json.loads(open(split_path).read())
    evaluation = {"task": task, "kind": info["kind"], "classes": info["classes"], "patch": cfg["slices"]["patch"],
                  "split": {k: split[k] for k in ("method", "leaky", "counts", "params")},
                  "n": {k: int(len(v)) for k, v in rows.items()}, "methods": methods,
                  "published": PUBLISHED.get(task, {})}
    if "physics" in cfg["methods"]:
        metric = "accuracy" if info["kind"] == "classification" else "rmse"
        evaluation["physics_ablation"] = physics_ablation(  # its "all" is the physics_boosting fitted above
            info["kind"], cfg["seed"], data.features_of(rows["train"]), test_set.features, train_truth, truth,
            all_score=methods["physics_boosting"][metric])
    if task.startswith("fesc_"):
        keep = np.flatnonzero(task_mask(table, task, cfg["tasks_fixed"]["f_esc"], cfg["tasks_fixed"]["z"]))
        evaluation["fesc_power"] = fesc_power_signal(slices[keep], table.iloc[keep], cell_mpc,
                                                     cfg["baselines"]["n_k"])
    if cross is not None:
        other = np.array(other, dtype=np.float32)
        other = SliceSet(other, _features(cfg, cross.get("features"), other, cell_mpc, threads))
        evaluation["cross_source"] = cross_source_scores(cfg, task, info, fitted, methods, other,
                                                         pd.read_csv(cross["table"]), cross["source"])
    write_json(evaluation, out_json)
    with atomic_output(out_npz) as tmp:
        arrays = {f"pred_{k}": np.asarray(v) for k, v in predictions.items()}
        np.savez(tmp, test_rows=rows["test"], truth=truth, **arrays)
    for name, m in methods.items():
        log.info("%s %s: %s", task, name, {k: v for k, v in m.items() if k != "confusion"})
    for name, m in evaluation.get("cross_source", {}).get("methods", {}).items():
        log.info("%s %s on %s: %s", task, name, cross["source"], {k: v for k, v in m.items() if k != "mean_predicted"})
    return evaluation


def _features(cfg: dict, path, slices: np.ndarray, cell_mpc: float, threads: int | None) -> dict:
    """The physics families of a slice set: read from rule cm21_features' file, or computed here
    (none when the physics baseline is off)."""
    if "physics" not in cfg["methods"]:
        return {}
    if path is not None:
        return load_features(path, cfg["baselines"]["families"], len(slices))
    return slice_features(slices, cell_mpc, cfg, threads)


def collect_metrics(evaluations, schema_path, out_path) -> dict:
    """Merge the per-task evaluations into ``metrics.json`` (schema-checked) with the markdown table."""
    tasks = {}
    for path in evaluations:
        doc = json.loads(open(path).read())
        doc["beats"] = baseline_verdict(doc)
        tasks[doc["task"]] = doc
    split = next(iter(tasks.values())).get("split", {})
    first = next(iter(tasks.values()))
    doc = {"stage": "cm21", "split": split, "patch": first.get("patch"), "tasks": tasks,
           "table": accuracy_table(tasks) + ablation_table(tasks)}
    if "cross_source" in first:
        doc["test_source"] = first["cross_source"]["source"]
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
    lines = ["| task | method | unit | accuracy | balanced acc. | chance | majority | RMSE zeta | per box "
             "| other source | MAIS 202 | n_train |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for task, doc in tasks.items():
        metric = "accuracy" if doc["kind"] == "classification" else "rmse"
        cross = doc.get("cross_source", {}).get("methods", {})
        for name, m in doc["methods"].items():
            pub = doc["published"].get(name)
            other = pub and not pub.get("architecture", "ours").endswith("ours")
            published = (f"{pub['accuracy']:.3f} ({pub['set']}, {pub['unit']}, {pub['classes']} classes)"
                         f"{' †' if other else ''}") if pub else ""
            scores = " | ".join(format_value(m.get(k)) for k in ("accuracy", "balanced_accuracy", "chance",
                                                                 "majority_class", "rmse"))
            box = format_value(m.get("per_box", {}).get(metric))
            other = format_value(cross.get(name, {}).get(metric))
            lines.append(f"| {task} | {name} | {m['unit']} | {scores} | {box} | {other} | {published} "
                         f"| {m.get('n_train') or ''} |")
    return "\n".join(lines)


def ablation_table(tasks: dict) -> str:
    """Markdown (empty without the physics baseline): per task, the physics boosting on every feature
    family, on each family alone and on all but it - which family carries the accuracy."""
    ablations = {task: doc["physics_ablation"] for task, doc in tasks.items() if "physics_ablation" in doc}
    if not ablations:
        return ""
    families = list(next(iter(ablations.values()))["alone"])
    lines = ["", "", "Physics ablation (statistics + boosting): test accuracy, or zeta RMSE, on every family, on each "
             "family alone, and on all the others (cosmodl.cm21.features).", "",
             "| task | features | all | " + " | ".join(families) + " |", "|---|---|---|" + "---|" * len(families)]
    for task, a in ablations.items():
        for which in ("alone", "without"):
            cells = " | ".join(format_value(a[which].get(f)) for f in families)
            lines.append(f"| {task} | {which} | {format_value(a['all'])} | {cells} |")
    return "\n".join(lines)


def write_table(doc: dict, path) -> None:
    """Write the accuracy table of a metrics document as markdown, with a heading that states the split."""
    split, patch = doc["split"], doc["patch"]
    heading = (f"Split: {split.get('method')} (leaky: {split.get('leaky')}). MAIS 202's numbers are validation "
               "accuracies where marked 'val' (its test cells compared booleans); patch methods are scored per "
               f"{patch} x {patch} patch as the seed did (50 x 50 there). Chance = 1 / classes; majority = always "
               "the most frequent training class; the zeta RMSE of always answering the training mean is "
               "rmse_train_mean in metrics.json. Per box: each test box's (seed, f_esc, z) answer from all its slices "
               "together (mean probabilities, or mean zeta). Other source: the same models on "
               f"{doc.get('test_source') or 'another source (cm21.test_source; off in this run)'} - accuracy, or "
               "the zeta RMSE. † MAIS 202's number is of another network of theirs (published.architecture in "
               "metrics.json).")
    write_markdown_table(path, "21 cm: test accuracy per task and method beside MAIS 202 (Fay 2019)", heading,
                         doc["table"])



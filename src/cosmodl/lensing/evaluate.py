"""Test-set evaluation of the lensing networks and baselines (``results/lensing/metrics.json``).

Anomaly detectors (and the PCA baseline) are scored per image by the reconstruction MSE
``mean((x - x_hat)^2)`` over the pixels of the normalised image, in eval mode without
gradients. From it: ROC-AUC of ``no_sub`` (negative) against ``spherical``, ``vortex`` and both
(``sub``), with its standard error; the mean MSE per class; and W1 as the original defines it
(:func:`column_w1`). The one-class SVM is scored by minus its decision function on PCA
features. The supervised ResNet gets one-vs-rest AUC per class and ``sub`` (1 - p(no_sub))
against ``no_sub``.

Beside them, per data set: the **oracle** (the MSE of each min-max image against its own
noiseless smooth lens, :func:`cosmodl.lensing.simulate.oracle_mse`: the ceiling of any
reconstruction-error detector), the **chi^2 oracle** (the same against the true noise variance,
:func:`cosmodl.lensing.simulate.oracle_chi2`: the ceiling of any detector that knows the smooth
lens, supervised ones included), and what the data are (:func:`data_summary`: the corner noise
variance, effective SNRs and substructure signals). Where a run holds a data set under both
``iid`` and ``lattice`` sampling, :func:`lattice_summary` sets their AUCs side by side.
"""

from __future__ import annotations

import logging

import numpy as np

from ..evaluation.compare import format_value, verdict, write_markdown_table, write_metrics
from ..evaluation.metrics import auc_standard_error, pixel_mse, roc_auc
from ..io import atomic_output, load_array, write_json
from .baselines import pca_baseline
from .data import ANOMALY_MODELS, MinMax, normaliser, parse_dataset, read_params, select
from .published import PUBLISHED
from .simulate import CLASSES

log = logging.getLogger(__name__)
SUB_CLASSES = ("spherical", "vortex")
ORACLES = ("oracle", "oracle_chi2")
BASELINES = ("pca", "osvm")
CORNER_FRACTION = 2 / 15  # side of the corner blocks of the noise estimate: 20 pixels of 150, 8 of 64


def column_w1(images: np.ndarray, recon: np.ndarray) -> np.ndarray:
    """The original's W1 per image: 1-Wasserstein distance between the column-sum profiles.

    For image x and reconstruction r, d = x.sum(axis=0) and e = r.sum(axis=0) are two samples of
    W values each (uniform weights); W1 = mean |sort(d) - sort(e)|, which is
    ``scipy.stats.wasserstein_distance(d, e)``. It is not a spatial optimal-transport distance.

    Parameters
    ----------
    images, recon : ndarray (N, H, W)

    Returns
    -------
    ndarray (N,)
    """
    d = np.sort(np.asarray(images, np.float64).sum(axis=1), axis=1)
    e = np.sort(np.asarray(recon, np.float64).sum(axis=1), axis=1)
    return np.abs(d - e).mean(axis=1)


def strong_substructure(classes: np.ndarray, signal) -> np.ndarray:
    """Mask of the substructure images whose signal (matched-filter SNR) is above the median of theirs."""
    sub = np.isin(np.asarray(classes), SUB_CLASSES)
    if signal is None or not np.isfinite(np.asarray(signal)[sub]).any():
        return np.zeros(len(sub), bool)
    signal = np.asarray(signal, float)
    return sub & (signal > np.nanmedian(signal[sub]))


def anomaly_metrics(classes: np.ndarray, score: np.ndarray, mse=None, w1=None, signal=None) -> dict:
    """AUCs of ``no_sub`` against each substructure class and both, and per-class means.

    Parameters
    ----------
    classes : ndarray of str (N,)
    score : ndarray (N,), larger = more anomalous
    mse, w1 : ndarray (N,), optional
    signal : ndarray (N,), optional
        Substructure signal of each image (``sub_signal``); adds ``auc['sub_strong']``: no_sub
        against the half of the substructure images with the stronger signal.
    """
    classes = np.asarray(classes)
    neg = classes == "no_sub"
    out = {"auc": {}, "auc_se": {}}
    strong = strong_substructure(classes, signal)
    for name, pos in (("spherical", classes == "spherical"), ("vortex", classes == "vortex"),
                      ("sub", np.isin(classes, SUB_CLASSES)), ("sub_strong", strong)):
        if name == "sub_strong" and not strong.any():
            continue
        keep = neg | pos
        out["auc"][name] = roc_auc(pos[keep], score[keep])
        out["auc_se"][name] = auc_standard_error(out["auc"][name], int(pos.sum()), int(neg.sum()))
    groups = {"no_sub": neg, "sub": ~neg, "spherical": classes == "spherical", "vortex": classes == "vortex"}
    for key, values in (("mse", mse), ("w1", w1)):
        if values is not None:
            out[key] = {g: float(np.mean(values[m])) for g, m in groups.items()}
    return out


def corner_noise_variance(images: np.ndarray, block: int | None = None) -> np.ndarray:
    """Per image, the mean variance of its four ``block`` x ``block`` corner blocks.

    Far from the lens the corners hold sky only, so on min-max normalised images this is the
    background noise variance in the units the networks see (the published AAE's mean no_sub MSE,
    1.28e-4, bounds the original images' from above).

    Parameters
    ----------
    images : ndarray (N, H, W)
    block : int, optional
        Corner side in pixels; by default 2/15 of the image side (20 of 150; 8 of 64, whose
        smaller fields would otherwise reach the Einstein ring).

    Returns
    -------
    ndarray (N,)
    """
    x = np.asarray(images, np.float64)
    block = block or max(2, round(x.shape[-1] * CORNER_FRACTION))
    blocks = (x[:, :block, :block], x[:, :block, -block:], x[:, -block:, :block], x[:, -block:, -block:])
    return np.mean([b.var(axis=(1, 2)) for b in blocks], axis=0)


def data_summary(params, test_idx: np.ndarray, images) -> dict:
    """What the test data are: corner noise variance, effective SNR and substructure signal.

    Returns
    -------
    dict
        ``corner_noise_variance``: median over the ``no_sub`` test images of
        :func:`corner_noise_variance` of the min-max image; ``snr_effective_median`` and
        ``substructure_signal_median`` per class (``sub_signal``; NaN for noiseless images).
    """
    test = params.iloc[test_idx]
    classes = test["class"].to_numpy()
    no_sub = test_idx[classes == "no_sub"]
    corner = corner_noise_variance(MinMax()(np.asarray(images[no_sub], np.float32)))
    return {"corner_noise_variance": float(np.median(corner)),
            "snr_effective_median": {c: _median(test["snr_effective"].to_numpy(float)[classes == c]) for c in CLASSES},
            "substructure_signal_median": {c: _median(test["sub_signal"].to_numpy(float)[classes == c])
                                           for c in SUB_CLASSES}}


def classifier_metrics(classes: np.ndarray, probability: np.ndarray) -> dict:
    """One-vs-rest AUC per class, sub-vs-no_sub AUC (score 1 - p(no_sub)) and accuracy; probability (N, 3)."""
    classes = np.asarray(classes)
    labels = np.array([CLASSES.index(c) for c in classes])
    auc = {cls: roc_auc(labels == k, probability[:, k]) for k, cls in enumerate(CLASSES)}
    auc["sub"] = roc_auc(classes != "no_sub", 1.0 - probability[:, 0])
    return {"auc": auc, "accuracy": float(np.mean(probability.argmax(axis=1) == labels))}


def load_images(images, indices, transform=None) -> np.ndarray:
    """``images[indices]`` as float32 (N, H, W), through ``transform`` (e.g. :class:`~.data.MinMax`) if given."""
    x = np.asarray(images[np.asarray(indices)], np.float32)
    return transform(x) if transform is not None else x


def evaluate_dataset(cfg: dict, dataset: str, images_path, params_path, model_paths: dict, metrics_out,
                     scores_out, threads: int | None = None, split_path=None) -> dict:
    """Score every trained network, the baselines and the oracle on the test images of one data set.

    Parameters
    ----------
    cfg : dict
        ``config['lensing']`` (seed, model, baselines, substructure).
    dataset : str
        A name of :func:`cosmodl.lensing.data.dataset_names`.
    images_path, params_path, split_path : path
        The data set's image stack, parameter table and split record (the last checked against the
        table, :func:`cosmodl.lensing.data.read_params`; optional).
    model_paths : dict
        Network name -> model record.
    metrics_out : path
        JSON: per model and baseline, AUCs with standard errors, mean MSE and W1 per class, training
        size and epochs; the ``oracle``'s AUCs; the ``data`` summary; the published values.
    scores_out : path
        ``.npz`` with the test ``classes`` and ``sub_signal``, each scorer's ``score_<name>`` (the
        oracle's ``score_oracle``), the ResNet's ``proba_resnet`` and, for one test image per class,
        the ``example_input`` and its ``example_<name>`` reconstructions.
    """
    from ..resources import require_memory
    from .resources import evaluate_mb

    preset, sampling = parse_dataset(dataset)
    params = read_params(params_path, split_path, images_path, cfg["sizes"])
    images = load_array(images_path, "lensing_merge")
    test_idx = select(params, "test")
    base = cfg["baselines"]
    fit_idx = select(params, "train", ["no_sub"])[:base["max_fit_images"]]
    require_memory(evaluate_mb(len(test_idx), len(fit_idx), images.shape[1]), f"lensing evaluation of {dataset}",
                   {"lensing.sizes.test": len(test_idx) // len(CLASSES),
                    "lensing.baselines.max_fit_images": base["max_fit_images"]})
    test = {"classes": params["class"].to_numpy()[test_idx].astype(str),
            "signal": params["sub_signal"].to_numpy(float)[test_idx]}
    transform = normaliser(cfg["model"]["normalisation"])  # the baselines' input, as the networks' default
    raw = load_images(images, test_idx)
    test["x"] = transform(raw) if transform is not None else raw
    test["examples"] = np.array([np.flatnonzero(test["classes"] == c)[0] for c in CLASSES])
    arrays = {"classes": test["classes"], "test_index": test_idx, "sub_signal": test["signal"],
              "example_input": test["x"][test["examples"]]}
    results = {}
    for name in ANOMALY_MODELS:
        if name in model_paths:
            results[name] = score_autoencoder(name, model_paths[name], raw, test, arrays, threads)
    results |= score_baselines(load_images(images, fit_idx, transform), test, base, cfg["seed"], arrays)
    if "resnet" in model_paths:
        results["resnet"] = score_classifier(model_paths["resnet"], raw, test, arrays, threads)
    doc = {"dataset": dataset, "preset": preset, "sampling": sampling, "substructure": cfg["substructure"],
           "normalisation": cfg["model"]["normalisation"],
           "n_test": {c: int((test["classes"] == c).sum()) for c in CLASSES}, "models": results,
           "data": data_summary(params, test_idx, images),
           "published": PUBLISHED.get(preset, {}) if cfg["substructure"] == "real" else {}}
    for key, column in zip(ORACLES, ("oracle_mse", "oracle_chi2")):
        score = params[column].to_numpy(float)[test_idx]
        if np.isfinite(score).all():
            arrays[f"score_{key}"] = score
            doc[key] = anomaly_metrics(test["classes"], score, mse=score if key == "oracle" else None,
                                       signal=test["signal"])
    write_json(doc, metrics_out)
    with atomic_output(scores_out) as tmp:
        np.savez(tmp, **arrays)
    log.info("%s: %s; oracle %s", dataset, {k: v["auc"].get("sub") for k, v in results.items()},
             doc.get("oracle", {}).get("auc", {}).get("sub"))
    return doc


def score_autoencoder(name: str, record_path, raw_x: np.ndarray, test: dict, arrays: dict, threads=None) -> dict:
    """Metrics of one anomaly detector on the test images ``raw_x`` (N, H, W, counts/s), scored in the
    units of its input (the record's transform: min-max by default).

    Adds ``score_<name>`` (N,) and ``example_<name>`` (3, H, W) to ``arrays``.
    """
    from ..records import load_model, predict

    model, record = load_model(record_path)
    x = model.input_transform(raw_x) if model.input_transform is not None else raw_x
    recon = predict(model, raw_x, batch_size=100, threads=threads).reshape(x.shape)
    mse = pixel_mse(x, recon)
    arrays[f"score_{name}"], arrays[f"example_{name}"] = mse, recon[test["examples"]]
    return anomaly_metrics(test["classes"], mse, mse, column_w1(x, recon), test["signal"]) | _training(record)


def score_baselines(train_x: np.ndarray, test: dict, base: dict, seed: int, arrays: dict) -> dict:
    """Metrics of the PCA and one-class-SVM baselines fitted on ``train_x`` (no_sub, normalised)."""
    bl = pca_baseline(train_x, test["x"], base["pca_components"], base["osvm_nu"], seed)
    arrays |= {"score_pca": bl["pca_score"], "score_osvm": bl["osvm_score"],
               "example_pca": bl["pca_recon"][test["examples"]]}
    n_fit = {"n_train": int(len(train_x))}
    pca = anomaly_metrics(test["classes"], bl["pca_score"], bl["pca_score"], column_w1(test["x"], bl["pca_recon"]),
                          test["signal"])
    return {"pca": pca | n_fit | {"components": bl["components"]},
            "osvm": anomaly_metrics(test["classes"], bl["osvm_score"], signal=test["signal"]) | n_fit}


def score_classifier(record_path, raw_x: np.ndarray, test: dict, arrays: dict, threads=None) -> dict:
    """Metrics of the supervised ResNet on the test images ``raw_x`` (counts/s, normalised as it was trained)."""
    from ..records import load_model, predict

    model, record = load_model(record_path)
    proba = predict(model, raw_x, threads=threads)  # through the record's transform
    arrays["proba_resnet"] = proba
    metrics = classifier_metrics(test["classes"], proba) | _training(record)
    strong = strong_substructure(test["classes"], test["signal"])
    if strong.any():
        keep = (test["classes"] == "no_sub") | strong
        metrics["auc"]["sub_strong"] = roc_auc(strong[keep], 1.0 - proba[keep, 0])
    n_neg = int(np.sum(test["classes"] == "no_sub"))
    metrics["auc_se"] = {"sub": auc_standard_error(metrics["auc"]["sub"], len(proba) - n_neg, n_neg)}
    return metrics


def _median(values) -> float | None:
    values = np.asarray(values, float)
    return float(np.median(values)) if np.isfinite(values).all() and len(values) else None


def _training(record: dict) -> dict:
    s = record.get("summary", {})
    return {"n_train": s.get("n_train"), "epochs": s.get("epochs"), "best_epoch": s.get("best_epoch")}


def collect_metrics(evaluations, schema_path, out_path) -> dict:
    """Merge the per-data-set evaluations into ``metrics.json`` (schema-checked) with a markdown table.

    ``lattice`` is added when a data set was evaluated under both samplings (:func:`lattice_summary`).
    """
    import json

    datasets = {}
    for path in evaluations:
        doc = json.loads(open(path).read())
        doc["beats"] = baseline_verdict(doc["models"])
        datasets[doc["dataset"]] = doc
    kinds = sorted({d.get("normalisation", "minmax") for d in datasets.values()})
    images = {"minmax": "the min-max normalised image", "none": "the image in counts/s"}
    score = "; ".join(images.get(k, k) for k in kinds)
    doc = {"stage": "lensing", "score": f"per-image reconstruction MSE of {score} (anomaly models)",
           "oracle": "MSE of the min-max image against its own noiseless rendering without substructure (same lens, "
                     "same source, the image's min-max map): the ceiling of a reconstruction-error detector; "
                     "oracle_chi2: the reduced chi^2 against the same rendering with the true noise variance, the "
                     "ceiling of any detector that knows the smooth lens",
           "datasets": datasets, "table": comparison_table(datasets)}
    lattice = lattice_summary(datasets)
    if lattice:
        doc["lattice"] = lattice
    return write_metrics(doc, schema_path, out_path)


def baseline_verdict(models: dict) -> dict:
    """Each network of a data set against the better of PCA and the one-class SVM on the sub AUC,
    with its difference in combined standard errors (``z``)."""
    values = {name: m["auc"]["sub"] for name, m in models.items()}
    errors = {name: m.get("auc_se", {}).get("sub") for name, m in models.items()}
    networks = [name for name in models if name not in BASELINES]
    return verdict(values, networks, BASELINES, "auc_sub", standard_errors=errors)


def lattice_summary(datasets: dict) -> dict:
    """Per preset evaluated under both samplings: each scorer's AUC (no_sub vs sub) and its standard
    error under ``iid`` and under ``lattice``, and the difference in units of their combined error.

    Returns
    -------
    dict
        ``{preset: {substructure, models: {name: {iid, iid_se, lattice, lattice_se, z}}}}``; empty
        when no preset has both.
    """
    out = {}
    for name, lat in datasets.items():
        if lat.get("sampling") != "lattice" or lat["preset"] not in datasets:
            continue
        iid = datasets[lat["preset"]]
        rows = {}
        for model in sorted(set(iid["models"]) & set(lat["models"]) | (set(ORACLES) & set(iid) & set(lat))):
            a, b = (iid[model], lat[model]) if model in ORACLES else (iid["models"][model], lat["models"][model])
            ai, al = a["auc"]["sub"], b["auc"]["sub"]
            si, sl = a.get("auc_se", {}).get("sub"), b.get("auc_se", {}).get("sub")
            z = float((al - ai) / np.hypot(si, sl)) if si and sl else None
            rows[model] = {"iid": ai, "iid_se": si, "lattice": al, "lattice_se": sl, "z": z}
        out[lat["preset"]] = {"substructure": lat.get("substructure", "real"), "models": rows}
    return out


def write_table(doc: dict, path) -> None:
    """Write the comparison table of a metrics document as markdown (with a heading that states the scale)."""
    heading = ("Published models: 25,000 no_sub training images, 500 epochs (author's blog); DeepLenseSim Models "
               "I-III: ML4SCI DeepLense (about 30,000 per class). Ours: n_train and epochs per row. AUC sub = no_sub "
               "vs spherical + vortex (standard error in brackets); AUC strong half = no_sub vs the half of the "
               "substructure images whose substructure signal (matched-filter SNR of what the subhaloes change in "
               "the noiseless image) is larger. The oracle row is the ceiling: the MSE of each image against its own "
               "noiseless smooth lens; the oracle_chi2 row, its reduced chi^2 with the true noise variance.")
    write_markdown_table(path, "Lensing: our AUC and W1 beside the published and the oracle", heading, doc["table"])


def comparison_table(datasets: dict) -> str:
    """Markdown table: sub-vs-no_sub AUC and no_sub W1 of each scorer, ours beside the published and the oracle."""
    lines = ["| data set | model | AUC sub (ours) | AUC sub (published) | AUC sub (oracle) | AUC spherical | "
             "AUC vortex | AUC strong half | W1 no_sub (ours) | W1 no_sub (published) | n_train | epochs |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, doc in sorted(datasets.items()):
        oracle = doc.get("oracle", {}).get("auc", {}).get("sub")
        rows = dict(doc["models"])
        rows |= {key: doc[key] for key in ORACLES if key in doc}
        for model, m in rows.items():
            pub = doc["published"].get(model, {})
            se = m.get("auc_se", {}).get("sub")
            ours = format_value(m["auc"].get("sub")) + (f" ({se:.3f})" if se is not None and se == se else "")
            cells = [pub.get("auc_sub"), oracle, m["auc"].get("spherical"), m["auc"].get("vortex"),
                     m["auc"].get("sub_strong"), m.get("w1", {}).get("no_sub"), pub.get("w1_no_sub")]
            scores = " | ".join(format_value(v) for v in cells)
            scale = f"{m.get('n_train') or ''} | {m.get('epochs') or ''}"
            lines.append(f"| {name} | {model} | {ours} | {scores} | {scale} |")
    return "\n".join(lines)

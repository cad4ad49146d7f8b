"""Training and test-set evaluation of the voids networks (map and counts), with baselines.

Tasks
-----
``map``
    :class:`~cosmodl.models.VoidMapNet`, BCE-with-logits against ``void_fraction`` (or the void
    centre map clipped to 1), evaluated per pixel against the underdensity baseline.
``counts``
    :class:`~cosmodl.models.VoidCountNet`, MSE on standardised (number of voids, void volume) per
    subbox, evaluated against the training mean and a linear fit on the galaxy count.

Both use the subbox products of :mod:`cosmodl.voids.subboxes` and a split file of
:mod:`cosmodl.voids.split`. The split named ``random`` is the leaky one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..evaluation.baselines import UnderdensityBaseline, counts_baselines
from ..evaluation.metrics import map_metrics, regression_metrics
from ..io import atomic_output, write_json
from ..models import build_void_model
from ..training import ArrayDataset, TrainConfig, make_loader, pick_device, train
from ..training.device import autocast_context, memory_format

log = logging.getLogger(__name__)
TASKS = ("map", "counts")
COUNT_TARGETS = ("n_voids", "void_volume")


class ImageTransform:
    """Galaxy-count image → network input: ``log1p`` or ``overdensity`` (counts / mean − 1).

    Picklable (DataLoader workers). ``mean`` is the training-set mean pixel count.
    """

    def __init__(self, kind: str, mean: float):
        self.kind, self.mean = kind, float(mean)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.kind == "log1p":
            return np.log1p(x)
        return x / self.mean - 1.0

    def describe(self) -> dict:
        return {"kind": self.kind, "mean": self.mean}


class Standardise:
    """Target → (target − mean) / std with training-set statistics (picklable)."""

    def __init__(self, mean, std):
        self.mean, self.std = np.asarray(mean, np.float32), np.asarray(std, np.float32)

    def __call__(self, y: np.ndarray) -> np.ndarray:
        return (y - self.mean) / self.std


def clip_to_one(y: np.ndarray) -> np.ndarray:
    """Void-centre counts → a {0..1} target for BCE (a pixel holds a centre or not)."""
    return np.minimum(y, 1.0)


def dihedral(x: torch.Tensor, y: torch.Tensor, generator: torch.Generator, spatial_target: bool):
    """Apply one of the 8 flips/90° rotations of the x-y plane to each sample (and its map).

    Parameters
    ----------
    x : tensor (B, 1, H, W)
    y : tensor (B, m, m) when ``spatial_target`` else (B, T) (left unchanged)
    generator : torch.Generator (CPU) choosing the operation per sample
    """
    ops = torch.randint(0, 8, (x.shape[0],), generator=generator).tolist()
    xs, ys = [], []
    for i, op in enumerate(ops):
        xi, yi = x[i], y[i]
        if op & 4:
            xi, yi = xi.flip(-1), (yi.flip(-1) if spatial_target else yi)
        k = op & 3
        xi = torch.rot90(xi, k, dims=(-2, -1))
        yi = torch.rot90(yi, k, dims=(-2, -1)) if spatial_target else yi
        xs.append(xi)
        ys.append(yi)
    return torch.stack(xs), torch.stack(ys)


def _augment_map(x, y, generator):
    return dihedral(x, y, generator, spatial_target=True)


def _augment_counts(x, y, generator):
    return dihedral(x, y, generator, spatial_target=False)


def map_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """BCE with logits; logits (B, 1, m, m), target (B, m, m) in [0, 1]."""
    return F.binary_cross_entropy_with_logits(logits[:, 0], target)


def counts_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE of standardised targets, (B, T)."""
    return F.mse_loss(prediction, target)


def load_split(path: str | Path) -> dict:
    """Split file → dict with int arrays ``train``, ``val``, ``test`` and the record's metadata."""
    record = json.loads(Path(path).read_text())
    for name in ("train", "val", "test"):
        record[name] = np.asarray(record[name], dtype=np.int64)
    return record


def training_indices(split: dict, match_size: int | None, seed: int) -> np.ndarray:
    """The split's training subboxes, subsampled (seeded, sorted) to ``match_size`` if smaller."""
    train_idx = split["train"]
    if match_size is not None and match_size < len(train_idx):
        rng = np.random.default_rng(seed)
        train_idx = np.sort(rng.choice(train_idx, size=match_size, replace=False))
    return train_idx


def count_targets(index_path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(targets (N, 2) = number of void centres and void volume in (Mpc/h)^3, galaxy count (N,))."""
    from astropy.table import Table

    table = Table.read(index_path, format="fits")
    targets = np.stack([np.asarray(table[c], dtype=np.float32) for c in COUNT_TARGETS], axis=1)
    return targets, np.asarray(table["n_galaxies"], dtype=np.float64)


def _fingerprint(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def map_truth_transform(map_target: str):
    """How a stored map becomes the BCE target and the evaluation truth: centres clipped to 1."""
    return clip_to_one if map_target == "void_centres" else None


def _task_data(cfg: dict, task: str, subboxes: dict, index_path):
    """(targets source, target transform, augment, loss) of a task; training stats filled later."""
    if task == "map":
        target = cfg["model"]["map_target"]
        return subboxes[target], map_truth_transform(target), _augment_map, map_loss
    if task == "counts":
        targets, _ = count_targets(index_path)
        return targets, None, _augment_counts, counts_loss
    raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")


def train_void_model(cfg: dict, task: str, split_path, subboxes: dict, index_path, model_out, history_out,
                     workdir, threads: int | None = None, match_split_path=None) -> dict:
    """Train the ``task`` network on a split; write the model file and its per-epoch history.

    Parameters
    ----------
    cfg : dict
        ``config['voids']``.
    task : {'map', 'counts'}
    split_path : path
        Split JSON (train/val/test indices).
    subboxes : dict
        Paths of ``images``, ``void_fraction``, ``void_centres`` ``.npy`` stacks.
    index_path : path
        Subbox index FITS table (targets of the counts task, galaxy counts).
    model_out, history_out : path
        ``.pt`` with weights and everything needed to predict; CSV of the epochs.
    workdir : path
        Checkpoint directory (resume after interruption; removed after success).
    match_split_path : path, optional
        Another split whose training-set size this one's is subsampled to (leakage experiment).

    Returns
    -------
    dict : summary (task, split, n_train, best epoch and validation loss, device).
    """
    split = load_split(split_path)
    match = len(load_split(match_split_path)["train"]) if match_split_path else None
    train_idx = training_indices(split, match, cfg["train"]["seed"])
    images = np.load(subboxes["images"], mmap_mode="r")
    targets, target_transform, augment, loss_fn = _task_data(cfg, task, subboxes, index_path)
    mean_count = float(np.mean(images[np.sort(train_idx)], dtype=np.float64))
    transform = ImageTransform(cfg["model"]["input_transform"], mean_count)
    torch.manual_seed(cfg["train"]["seed"])
    model = build_void_model(task, cfg["model"])
    extra = {}
    if task == "counts":
        stats_mean, stats_std = targets[train_idx].mean(axis=0), targets[train_idx].std(axis=0)
        model.set_target_scaling(stats_mean, stats_std)
        target_transform = Standardise(model.target_mean.numpy(), model.target_std.numpy())
        extra = {"target_mean": stats_mean.tolist(), "target_std": stats_std.tolist(), "targets": list(COUNT_TARGETS)}
    tcfg = TrainConfig.from_config(cfg["train"], threads)
    device = pick_device(tcfg.device, threads)
    pin = device.type == "cuda"
    train_ds = ArrayDataset(subboxes["images"], targets, train_idx, transform, target_transform)
    val_ds = ArrayDataset(subboxes["images"], targets, split["val"], transform, target_transform)
    train_loader = make_loader(train_ds, tcfg.batch_size, True, tcfg.seed, tcfg.num_workers, pin)
    val_loader = make_loader(val_ds, tcfg.batch_size, False, tcfg.seed, tcfg.num_workers, pin)
    fingerprint = _fingerprint(task, cfg["model"], cfg["train"], train_idx.tolist(), split["val"].tolist(),
                               Path(subboxes["images"]).stat().st_size, mean_count)
    result = train(model, loss_fn, train_loader, val_loader, tcfg, workdir, history_out, fingerprint, augment)
    if int(os.environ.get("RANK", "0")) != 0:  # DistributedDataParallel: rank 0 writes the files
        return {}
    summary = {"task": task, "split": split["method"], "leaky": bool(split["leaky"]), "n_train": int(len(train_idx)),
               "n_val": int(len(split["val"])), "best_epoch": result.best_epoch,
               "best_val_loss": result.best_val_loss, "device": result.device, "epochs": tcfg.epochs}
    with atomic_output(model_out) as tmp:
        torch.save({"task": task, "model_cfg": cfg["model"], "state_dict": model.cpu().state_dict(),
                    "input_transform": transform.describe(), "map_target": cfg["model"]["map_target"],
                    "train_indices": train_idx.tolist(), "summary": summary, **extra}, tmp)
    checkpoint = Path(workdir) / "checkpoint.pt"
    if checkpoint.exists():
        checkpoint.unlink()
    log.info("trained %s on split %s: %s", task, split["method"], summary)
    return summary


def train_void_model_distributed(devices: int, threads: int | None, log_path, **kwargs) -> None:
    """Run :func:`train_void_model` in ``devices`` processes with torchrun (one job, one node).

    Each process gets ``threads // devices`` CPU threads; on SIGTERM/SIGUSR1 torchrun forwards the
    signal, every rank stops at the same batch and rank 0 saves the checkpoint.
    """
    args = dict(kwargs, threads=max(1, (threads or 1) // devices), log_path=str(log_path))
    args_file = Path(kwargs["workdir"]) / "torchrun_args.json"
    args_file.parent.mkdir(parents=True, exist_ok=True)
    args_file.write_text(json.dumps(args, default=str))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={devices}",
           "-m", "cosmodl.voids.train_cli", str(args_file)]
    log.info("launching %s", " ".join(cmd))
    proc = subprocess.run(cmd)
    if proc.returncode != 0:
        raise RuntimeError(f"torchrun with {devices} processes failed (exit {proc.returncode}); see {log_path}")
    args_file.unlink(missing_ok=True)


def load_void_model(path):
    """(model in eval mode, input transform, saved record) from a file written by :func:`train_void_model`."""
    record = torch.load(path, map_location="cpu", weights_only=False)
    cfg = dict(record["model_cfg"], pretrained_weights=None, allow_download=False)  # weights come from the file
    model = build_void_model(record["task"], cfg)
    model.load_state_dict(record["state_dict"])
    model.eval()
    transform = ImageTransform(record["input_transform"]["kind"], record["input_transform"]["mean"])
    return model, transform, record


def predict(model, transform: ImageTransform, images: np.ndarray, indices, batch_size: int = 64,
            device: str = "auto", threads: int | None = None) -> np.ndarray:
    """Network outputs for ``images[indices]``: void probability maps (N, m, m) or counts (N, T)."""
    dev = pick_device(device, threads)
    model.to(dev, memory_format=memory_format(dev))
    outputs = []
    with torch.no_grad():
        for start in range(0, len(indices), batch_size):
            rows = np.asarray(indices[start:start + batch_size])
            x = torch.from_numpy(transform(np.asarray(images[rows], dtype=np.float32))).unsqueeze(1)
            x = x.to(dev).contiguous(memory_format=memory_format(dev))
            with autocast_context(dev):
                if hasattr(model, "predict"):
                    out = model.predict(x)
                else:
                    out = torch.sigmoid(model(x).float())[:, 0]
            outputs.append(out.float().cpu().numpy())
    return np.concatenate(outputs)


def evaluate_void_model(cfg: dict, model_path, split_path, subboxes: dict, index_path, metrics_out,
                        predictions_out, threads: int | None = None) -> dict:
    """Test-set metrics of a trained model and of its baselines (same split, same test subboxes).

    Writes ``metrics_out`` (JSON) and ``predictions_out`` (``.npz`` with ``indices``, ``truth``,
    ``model`` and, for counts, each baseline's predictions).
    """
    model, transform, record = load_void_model(model_path)
    split = load_split(split_path)
    test_idx = split["test"]
    train_idx = np.asarray(record["train_indices"], dtype=np.int64)
    images = np.load(subboxes["images"], mmap_mode="r")
    prediction = predict(model, transform, images, test_idx, device=cfg["train"]["device"], threads=threads)
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
        fit_idx = train_idx if len(train_idx) <= 2000 else np.sort(
            np.random.default_rng(0).choice(train_idx, 2000, replace=False))
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


MAP_KEYS = ("roc_auc", "average_precision", "iou", "pearson_r")
LOWER_IS_BETTER = ("rmse",)


def _beats(model: dict, baseline: dict, keys) -> dict:
    """Per metric, whether the model is better; an undefined baseline r (constant predictor) counts as 0."""
    result = {}
    for k in keys:
        m, b = model[k], baseline[k]
        if m is None:
            result[k] = False
        elif b is None:
            result[k] = bool(m > 0) if k == "pearson_r" else True
        else:
            result[k] = bool(m < b) if k in LOWER_IS_BETTER else bool(m > b)
    return result


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
            entry["beats_baselines"] = {"underdensity": _beats(ev["model"], ev["baselines"]["underdensity"], MAP_KEYS)}
            doc["maps"][ev["split"]] = entry
            for key in MAP_KEYS:
                doc["leakage"]["maps"].setdefault(key, {})[ev["split"]] = ev["model"][key]
        else:
            entry["beats_baselines"] = {
                base: {t: _beats(ev["model"][t], ev["baselines"][base][t], ("rmse", "pearson_r"))
                       for t in COUNT_TARGETS} for base in ev["baselines"]}
            doc["counts"][ev["split"]] = entry
            for t in COUNT_TARGETS:
                for key in ("rmse", "pearson_r"):
                    doc["leakage"]["counts"].setdefault(f"{t}_{key}", {})[ev["split"]] = ev["model"][t][key]
    return doc


def write_metrics(evaluation_paths, headline_split: str, schema_path, out_path) -> dict:
    """Read evaluation JSONs, build ``metrics.json``, check it against its schema, write it."""
    import jsonschema

    from ..config import load_yaml

    doc = collect_metrics([json.loads(Path(p).read_text()) for p in evaluation_paths], headline_split)
    jsonschema.validate(doc, load_yaml(schema_path))
    write_json(doc, out_path)
    return doc

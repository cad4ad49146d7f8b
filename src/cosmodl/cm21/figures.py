"""Figures of the 21-cm stage: boxes, reionisation history, reconstructions, curves, confusion, accuracy."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..figures.common import plot_training_curves, plt, read_history, save_figure
from ..records import load_model, predict
from .boxes import DELTA_T, DENSITY, parse_name, read_box, scan_realization
from .data import AXES, parse_realization, take_slices

log = logging.getLogger(__name__)

# the real f_esc 0.096 boxes' global neutral fraction (note 21cm.md), for reference
REAL_HISTORY = {5.5: 0.0, 6.0: 0.0109, 6.5: 0.1259, 7.0: 0.3133, 7.5: 0.4808, 8.0: 0.6125, 9.0: 0.7849, 10.0: 0.8823,
                11.0: 0.9371, 12.0: 0.9672, 13.0: 0.9834}
METHOD_NAME = {"physics_logistic": "statistics + logistic", "physics_boosting": "statistics + boosting",
               "physics_ridge": "statistics + ridge", "pca_knn": "PCA + k-NN (patches)", "fc": "FC (patches)",
               "ae_cnn": "encoder + CNN", "cnn": "CNN (raw)", "resnet": "ResNet-18"}
LOSS_NAME = {"zeta": "MSE (standardised ζ)"}
TASK_NAME = {"z_fixed_fesc": "z at fixed f_esc", "z_all": "z, all f_esc", "fesc_fixed_z": "f_esc at fixed z",
             "fesc_all": "f_esc, all z", "zeta": "zeta regression"}


def plot_boxes(folder, redshifts, axis: str, position: int = 0, zeta_per_fesc: float = 250.0):
    """Density contrast (top) and delta_T_b (bottom) slices of one realization at several redshifts."""
    f_esc, seed = parse_realization(Path(folder).name)
    found = scan_realization(folder)
    zs = [z for z in redshifts if round(z, 2) in found]
    missing = [z for z in redshifts if round(z, 2) not in found]
    if len(zs) < 2:  # the figure's redshifts are not among the boxes': four spread over what there is
        available = sorted(found)
        zs = [available[i] for i in np.unique(np.linspace(0, len(available) - 1, 4).round().astype(int))]
    if missing:
        log.warning("cm21.figures.redshifts %s: no boxes at %s (the boxes are at %s); boxes.png shows z = %s",
                    list(redshifts), missing, sorted(found), zs)
    fig, axes = plt.subplots(2, len(zs), figsize=(3.1 * len(zs), 6.2), squeeze=False, constrained_layout=True)
    panels = []
    for z in zs:
        files = found[round(z, 2)]
        panels.append((take_slices(read_box(files[DENSITY]), AXES[axis], [position])[0],
                       take_slices(read_box(files[DELTA_T]), AXES[axis], [position])[0],
                       parse_name(files[DELTA_T]).x_hi))
    t_max = max(float(t.max()) for _, t, _ in panels)  # one colour scale for every panel (one colorbar)
    for j, (z, (density, temp, x_hi)) in enumerate(zip(zs, panels)):
        im0 = axes[0, j].imshow(density.T, origin="lower", cmap="viridis", vmin=-1, vmax=2)
        axes[0, j].set_title(f"z = {z:g}  (x_HI = {x_hi:.2f})")
        im1 = axes[1, j].imshow(temp.T, origin="lower", cmap="magma", vmin=0, vmax=t_max)
        for ax in axes[:, j]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.colorbar(im0, ax=axes[0, :], shrink=0.8, label="density contrast δ")
    fig.colorbar(im1, ax=axes[1, :], shrink=0.8, label="δT_b (mK)")
    zeta = zeta_per_fesc * f_esc
    fig.suptitle(f"One slice (cell {position} along {axis}) of realization f_esc = {f_esc:.3f} (ζ = {zeta:g}), "
                 f"seed {seed}: density (top), 21-cm brightness (bottom; black = ionised)")
    return fig


def plot_history(table: pd.DataFrame, zeta_per_fesc: float = 250.0):
    """Global neutral fraction vs redshift of every realization, coloured by zeta, with the real boxes'."""
    fig, ax = plt.subplots(figsize=(6.5, 4.2), constrained_layout=True)
    boxes = table.drop_duplicates(["seed", "f_esc", "z"])
    cmap = plt.get_cmap("viridis")
    fescs = sorted(boxes["f_esc"].unique())
    for i, f in enumerate(fescs):
        colour = cmap(i / max(len(fescs) - 1, 1))
        for k, (seed, group) in enumerate(boxes[boxes["f_esc"] == f].groupby("seed")):
            g = group.sort_values("z")
            ax.plot(g["z"], g["x_hi"], color=colour, lw=1.2, alpha=0.8,
                    label=f"ours, ζ = {zeta_per_fesc * f:g}" if k == 0 else None)
    z, x = zip(*sorted(REAL_HISTORY.items()))
    ax.plot(z, x, "ko", ms=4, label="real 21cmFAST v2 boxes, ζ = 24")
    ax.set_xlabel("redshift z")
    ax.set_ylabel("global neutral fraction x_HI")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Reionisation history (one line per realization)")
    ax.legend(fontsize=7, loc="lower right")
    return fig


def plot_reconstructions(model_path, slices: np.ndarray, table: pd.DataFrame, rows):
    """Autoencoder input, reconstruction and residual for test slices at three redshifts (in the units
    of the record's input transform)."""
    model, _ = load_model(model_path)
    scale_mk = model.input_transform.params()["scale_mk"]
    test = table.iloc[rows]
    zs = sorted(test["z"].unique())
    pick = [zs[0], zs[len(zs) // 2], zs[-1]] if len(zs) >= 3 else zs
    chosen = [int(rows[np.flatnonzero(test["z"].to_numpy() == z)[0]]) for z in pick]
    raw = np.asarray(slices[chosen], dtype=np.float32)
    x = model.input_transform(raw)  # as the autoencoder saw them (its record's transform)
    recon = predict(model, raw)[:, 0]
    fig, axes = plt.subplots(len(chosen), 3, figsize=(8.4, 2.8 * len(chosen)), squeeze=False, constrained_layout=True)
    for i, row in enumerate(chosen):
        err = float(np.sqrt(np.mean((recon[i] - x[i]) ** 2)))
        for j, (img, title, cmap, lim) in enumerate([(x[i], f"input δT_b / {scale_mk:g} mK", "magma", (0, 1)),
                                                     (recon[i], "reconstruction", "magma", (0, 1)),
                                                     (recon[i] - x[i], f"residual (rms {err:.3f})", "RdBu_r",
                                                      (-0.3, 0.3))]):
            im = axes[i, j].imshow(img.T, origin="lower", cmap=cmap, vmin=lim[0], vmax=lim[1])
            axes[i, j].set_title(f"z = {table['z'].iloc[row]:g}: {title}", fontsize=9)
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
        fig.colorbar(im, ax=axes[i, 2], shrink=0.8)
    fig.suptitle("Autoencoder (4,385 parameters) on test slices")
    return fig


def plot_accuracy(metrics: dict):
    """Test accuracy per method and task (bars) with the chance level and MAIS 202's number; zeta RMSE."""
    tasks = metrics["tasks"]
    classif = [t for t, d in tasks.items() if d["kind"] == "classification"]
    n = len(classif) + ("zeta" in tasks)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 4.2), squeeze=False, constrained_layout=True)
    for ax, task in zip(axes[0], classif):
        doc = tasks[task]
        names = list(doc["methods"])
        acc = [doc["methods"][m]["accuracy"] for m in names]
        ax.bar(range(len(names)), acc, color="tab:blue")
        for i, m in enumerate(names):
            pub = doc["published"].get(m)
            unit = doc["methods"][m]["unit"]
            comparable = pub and pub["classes"] == len(doc["classes"]) and (unit == "slices" or doc.get("patch") == 50)
            if comparable:  # the same classes, and patches of MAIS 202's size
                ax.plot(i, pub["accuracy"], "r*", ms=11, label="MAIS 202" if "MAIS 202" not in
                        ax.get_legend_handles_labels()[1] else None)
        chance = doc["methods"][names[0]]["chance"]
        ax.axhline(chance, color="k", ls="--", lw=1, label=f"chance {chance:.2f}")
        ax.set_xticks(range(len(names)), [METHOD_NAME.get(m, m) for m in names], rotation=45, ha="right", fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_ylabel("test accuracy")
        ax.set_title(f"{TASK_NAME.get(task, task)} ({len(doc['classes'])} classes)")
        ax.legend(fontsize=7)
    if "zeta" in tasks:
        ax = axes[0, -1]
        doc = tasks["zeta"]
        names = list(doc["methods"])
        ax.bar(range(len(names)), [doc["methods"][m]["rmse"] for m in names], color="tab:green")
        base = doc["methods"][names[0]]["rmse_train_mean"]
        ax.axhline(base, color="k", ls="--", lw=1, label=f"training mean {base:.2f}")
        ax.set_xticks(range(len(names)), [METHOD_NAME.get(m, m) for m in names], rotation=45, ha="right", fontsize=8)
        ax.set_ylabel("test RMSE of ζ")
        ax.set_title("ζ regression (lower is better)")
        ax.legend(fontsize=7)
    split = metrics["split"]
    fig.suptitle(f"21 cm: test scores per task (split by {split['method']}; stars: MAIS 202 where it had the same "
                 "classes, often a validation number)")
    return fig


def plot_confusion(metrics: dict, prefer=("ae_cnn", "cnn", "resnet", "fc", "physics_boosting")):
    """Row-normalised confusion matrix of one method per classification task (the first of ``prefer`` present)."""
    tasks = {t: d for t, d in metrics["tasks"].items() if d["kind"] == "classification"}
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.4 * len(tasks), 4.2), squeeze=False, constrained_layout=True)
    for ax, (task, doc) in zip(axes[0], tasks.items()):
        method = next((m for m in prefer if m in doc["methods"]), next(iter(doc["methods"])))
        cm = np.array(doc["methods"][method]["confusion"], dtype=float)
        cm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        im = ax.imshow(cm, cmap="Blues", vmin=0, vmax=1, origin="upper")
        labels = [f"{c:g}" for c in doc["classes"]]
        ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{TASK_NAME.get(task, task)}: {METHOD_NAME.get(method, method)}\n"
                     f"accuracy {doc['methods'][method]['accuracy']:.2f}", fontsize=9)
    fig.colorbar(im, ax=axes[0, -1], shrink=0.8, label="fraction of the true class")
    return fig


TASK_UNIT = {"z_fixed_fesc": "z", "z_all": "z", "fesc_fixed_z": "f_esc", "fesc_all": "f_esc", "zeta": "ζ"}


def plot_cross_source(metrics: dict):
    """Mean predicted minus true value (z, f_esc or ζ) per true value, for every method: on the test
    source's slices (solid) and the in-source test set (dashed), one panel per task.

    A bias that is the same on both sources is the model's; one only on the other source is a
    shift between the simulations.
    """
    tasks = {t: d for t, d in metrics["tasks"].items() if "cross_source" in d}
    ncols = min(3, len(tasks))
    nrows = -(-len(tasks) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.9 * nrows), squeeze=False,
                             constrained_layout=True)
    for ax in axes.flat[len(tasks):]:
        ax.set_visible(False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (task, doc) in zip(axes.flat, tasks.items()):
        for i, (name, m) in enumerate(doc["methods"].items()):
            colour = colours[i % len(colours)]
            for entries, style, source in ((doc["cross_source"]["methods"].get(name, {}).get("mean_predicted"), "-o",
                                            "other source"), (m.get("mean_predicted"), "--", "in source")):
                if entries:
                    true = np.array([e["true"] for e in entries])
                    bias = np.array([e["mean"] for e in entries]) - true
                    ax.plot(true, bias, style, color=colour, ms=3, lw=1.2,
                            label=METHOD_NAME.get(name, name) if source == "other source" else None)
        ax.axhline(0, color="k", lw=0.8)
        unit = TASK_UNIT.get(task, task)
        ax.set_xlabel(f"true {unit}")
        ax.set_ylabel(f"mean predicted {unit} − true {unit}")
        ax.set_title(TASK_NAME.get(task, task), fontsize=10)
        ax.legend(fontsize=7)
    fig.suptitle(f"Trained on the training source, scored on {metrics.get('test_source', 'another source')} (solid)\n"
                 "and on the in-source test set (dashed); 0 = no bias", fontsize=10)
    return fig


def plot_telescope(doc: dict):
    """Accuracy (or zeta RMSE) of each method against the thermal-noise rms, per slice (solid) and per
    box (dashed), with the chance level; a second axis gives the noise in units of the signal's rms.

    ``doc``: :func:`cosmodl.cm21.telescope.telescope_curve`.
    """
    fig, ax = plt.subplots(figsize=(6.4, 4.4), constrained_layout=True)
    noise = np.array([level["noise_mk"] for level in doc["levels"]])
    metric = doc["metric"]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    names = list(doc["levels"][0]["methods"]) if doc["levels"] else []
    for i, name in enumerate(names):
        colour = colours[i % len(colours)]
        for key, style, suffix in ((metric, "-o", "per slice"), ("per_box", "--s", "per box")):
            values = [level["methods"][name][key] for level in doc["levels"]]
            ax.plot(noise, values, style, color=colour, ms=4, lw=1.4 if key == metric else 1.0,
                    label=f"{METHOD_NAME.get(name, name)}, {suffix}")
    if doc["chance"] is not None:
        ax.axhline(doc["chance"], color="k", ls=":", lw=1,
                   label="chance" if metric == "accuracy" else "always the training mean")
    ax.set_xlabel("thermal noise rms per cell (mK)")
    ax.set_ylabel("test accuracy" if metric == "accuracy" else "test RMSE of ζ")
    if metric == "accuracy":
        ax.set_ylim(0, 1.02)
    signal = doc["signal_rms_mk"]
    top = ax.secondary_xaxis("top", functions=(lambda x: x / signal, lambda r: r * signal))
    top.set_xlabel(f"noise / signal rms ({signal:.1f} mK, fluctuations of the true slices)")
    beam = (f"{doc['beam_mpc']:g} Mpc (comoving FWHM) Gaussian beam" if doc.get("beam_mpc")
            else f"{doc['beam_arcmin']:g}′ Gaussian beam" if doc["beam_arcmin"] else "no beam")
    mean = "mean removed" if doc["remove_mean"] else "mean kept"
    ax.set_title(f"{TASK_NAME.get(doc['task'], doc['task'])}: trained and tested on observed slices\n"
                 f"({beam}, {mean}, noise as the level shown)", fontsize=10)
    ax.legend(fontsize=7)
    return fig


def plot_accuracy_curves(runs: dict, classes: dict):
    """Validation accuracy per epoch of every network, one panel per classification task.

    ``runs``: {(task, network): history CSV}; ``classes``: {task: number of classes} (chance = 1 / n).
    """
    tasks = [t for t in dict.fromkeys(t for t, _ in runs) if t in classes]
    fig, axes = plt.subplots(1, max(len(tasks), 1), figsize=(4.2 * max(len(tasks), 1), 3.6), squeeze=False,
                             constrained_layout=True)
    colours = {"fc": "tab:orange", "ae_cnn": "tab:blue", "cnn": "tab:green", "resnet": "tab:red"}
    for ax, task in zip(axes[0], tasks):
        for (t, network), path in runs.items():
            h = read_history(path)
            if t == task and "val_accuracy" in h:
                ax.plot(h["epoch"], h["val_accuracy"], color=colours[network], label=METHOD_NAME[network])
        ax.axhline(1 / classes[task], color="k", ls="--", lw=1, label="chance")
        ax.set_ylim(0, 1)
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation accuracy")
        ax.set_title(TASK_NAME.get(task, task))
        ax.legend(fontsize=7)
    fig.suptitle("Validation accuracy per epoch (patch methods per patch)")
    return fig


def cm21_figures(cfg: dict, metrics: dict, slices_path, table_path, split_path, boxes, histories, out_dir,
                 autoencoder_path=None) -> None:
    """Write every 21-cm figure into ``out_dir`` (see the rule ``cm21_figures``)."""
    from ..splits import TEST
    from .learn import split_roles

    out_dir = Path(out_dir)
    table = pd.read_csv(table_path)
    folders = sorted(boxes, key=lambda f: (abs(parse_realization(Path(f).name)[0] - cfg["tasks_fixed"]["f_esc"]),
                                           Path(f).name))
    save_figure(plot_boxes(folders[0], cfg["figures"]["redshifts"], cfg["slices"]["axis"],
                           zeta_per_fesc=cfg["zeta_per_fesc"]), out_dir / "boxes.png")
    save_figure(plot_history(table, cfg["zeta_per_fesc"]), out_dir / "history.png")
    save_figure(plot_accuracy(metrics), out_dir / "accuracy.png")
    save_figure(plot_confusion(metrics), out_dir / "confusion.png")
    if "test_source" in metrics:
        save_figure(plot_cross_source(metrics), out_dir / "cross_source.png")
    slices = np.load(slices_path, mmap_mode="r")
    if autoencoder_path:
        rows = np.flatnonzero(split_roles(split_path, len(slices)) == TEST)
        save_figure(plot_reconstructions(autoencoder_path, slices, table, rows),
                    out_dir / "reconstructions.png")
    if histories:
        runs = {}
        for path in histories:
            task, network = re.match(r"(\w+?)_(fc|ae_cnn|cnn|resnet)_history", Path(path).name).groups()
            runs[(task, network)] = path
        colours = {"fc": "tab:orange", "ae_cnn": "tab:blue", "cnn": "tab:green", "resnet": "tab:red"}
        fig = plot_training_curves(runs, panel_of=lambda label: TASK_NAME.get(label[0], label[0]),
                                   ylabels={TASK_NAME.get(t, t): LOSS_NAME.get(t, "cross-entropy") for t, _ in runs},
                                   colour_of=lambda label: colours[label[1]],
                                   name_of=lambda label: METHOD_NAME[label[1]], ncols=3)
        save_figure(fig, out_dir / "training_curves.png")
        classes = {t: len(d["classes"]) for t, d in metrics["tasks"].items() if d["kind"] == "classification"}
        if classes:
            save_figure(plot_accuracy_curves(runs, classes), out_dir / "accuracy_curves.png")

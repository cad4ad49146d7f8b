"""Figures of the specz stage (results/specz/figures).

* ``redshift_density.png`` - z_true against z_pred (most probable class), one panel per method
  and noise level, counts on a log colour scale.
* ``accuracy_vs_size.png`` - class accuracy and accuracy within 5 classes against the training
  size, CNNs of each depth, clean and noisy, with the template fit and the forest as lines.
* ``examples.png`` - test spectra (noisy over clean) with the true and predicted redshifts and
  the emission lines marked where they fall at the true z.
* ``calibration.png`` - PIT histograms per method (flat when the probabilities are calibrated).
* ``training_curves.png`` - loss per epoch of every CNN.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from matplotlib.colors import LogNorm

from ..figures.common import plot_training_curves, plt, save_figure
from .spectra import LINES

METHOD_NAME = {"template": "template fit", "forest": "random forest"}
NOISE_COLOUR = {"clean": "tab:blue", "noisy": "tab:red"}


def method_name(name: str, m: dict | None = None) -> str:
    """Legend name: 'CNN, 3 blocks, 40k' for a CNN run, else the baseline's name."""
    match = re.match(r"cnn(\d)_(clean|noisy)_(\w+)", name)
    if match:
        return f"CNN {match.group(1)} block{'s' if match.group(1) != '1' else ''}, {match.group(3)}"
    return METHOD_NAME.get(name, name)


def shown_methods(methods: dict) -> list[str]:
    """The largest-size CNN of each depth, then the baselines."""
    best = {}
    for name, m in methods.items():
        if m["kind"] == "cnn" and m["n_train"] >= best.get(m["blocks"], ("", -1))[1]:
            best[m["blocks"]] = (name, m["n_train"])
    return [best[b][0] for b in sorted(best)] + [n for n in ("template", "forest") if n in methods]


def method_grid(metrics: dict, panel_size: tuple, **subplots):
    """A figure with a row per noise level and a column per shown method (:func:`shown_methods`).

    Returns
    -------
    fig, axes, panels
        The figure, its axes (rows x columns) and a list of ``(ax, level, column, method name,
        method metrics)``; unused axes are switched off.
    """
    levels = list(metrics["noise"])
    rows = {level: shown_methods(metrics["noise"][level]["methods"]) for level in levels}
    n_cols = max(len(r) for r in rows.values())
    fig, axes = plt.subplots(len(levels), n_cols, figsize=(panel_size[0] * n_cols, panel_size[1] * len(levels)),
                             constrained_layout=True, squeeze=False, **subplots)
    panels = []
    for r, level in enumerate(levels):
        for c in range(n_cols):
            if c < len(rows[level]):
                name = rows[level][c]
                panels.append((axes[r, c], level, c, name, metrics["noise"][level]["methods"][name]))
            else:
                axes[r, c].axis("off")
    return fig, axes, panels


def plot_redshift_density(metrics: dict, predictions: dict, z_min: float, z_max: float):
    """z_true vs z_pred per method (columns) and noise level (rows)."""
    fig, axes, panels = method_grid(metrics, (3.2, 3.1))
    bins = np.linspace(z_min, z_max, 81)
    for ax, level, c, name, m in panels:
        p = predictions[level]
        h = ax.hist2d(p["z"], p[f"{name}_mode"], bins=bins, norm=LogNorm(), cmap="viridis")
        ax.plot([z_min, z_max], [z_min, z_max], "w:", lw=0.8)
        snr = metrics["noise"][level]["snr"]
        ax.set_title(f"{method_name(name)}\n{level}{f' (SNR {snr:g})' if snr else ''}: "
                     f"acc. {m['mode']['accuracy']:.2f}", fontsize=9)
        ax.set_xlabel("true z")
        if c == 0:
            ax.set_ylabel("predicted z (most probable class)")
    fig.colorbar(h[3], ax=axes, shrink=0.6, label="test spectra per cell")
    return fig


def plot_accuracy_vs_size(metrics: dict):
    """Accuracy (left) and accuracy within 5 classes (right) against training size."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    styles = {1: "--o", 2: "-.s", 3: "-s"}
    for level, doc in metrics["noise"].items():
        colour = NOISE_COLOUR[level]
        runs = {}
        for name, m in doc["methods"].items():
            if m["kind"] == "cnn":
                runs.setdefault(m["blocks"], []).append((m["n_train"], m["mode"]))
        for ax, key in zip(axes, ("accuracy", "within_5")):
            for blocks, points in sorted(runs.items()):
                points.sort(key=lambda t: t[0])
                ax.plot([n for n, _ in points], [s[key] for _, s in points], styles.get(blocks, "-^"), c=colour,
                        label=f"CNN {blocks} block{'s' if blocks > 1 else ''}, {level}")
            for name, ls, lw in (("template", "-.", 2.0), ("forest", ":", 1.5)):
                if name in doc["methods"]:
                    ax.axhline(doc["methods"][name]["mode"][key], ls=ls, c=colour, lw=lw, alpha=0.7,
                               label=f"{METHOD_NAME[name]}, {level}"
                                     + (f" ({doc['methods'][name]['n_train']} spectra)" if name == "forest" else ""))
    sizes = sorted({m["n_train"] for doc in metrics["noise"].values() for m in doc["methods"].values()
                    if m["kind"] == "cnn"})
    for ax, title in zip(axes, ("class accuracy (Δz = 0.001)", "within ±5 classes")):
        ax.set_xscale("log")
        if sizes:
            ax.set_xticks(sizes, [f"{n:,}" for n in sizes])
            ax.minorticks_off()
        ax.set_xlabel("training spectra")
        ax.set_ylabel(title)
        ax.set_ylim(0, 1.02)
        ax.axhline(1 / 800 if "within" not in title else 11 / 800, c="grey", lw=0.8)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="lower right")
    axes[0].set_title("grey: chance", fontsize=8, loc="right")
    return fig


def plot_examples(test: dict, predictions: dict, wave: np.ndarray, n: int, snr):
    """``n`` test spectra, noisy (grey) over clean (black), lines marked at the true redshift."""
    fig, axes = plt.subplots(n, 1, figsize=(11, 2.0 * n), constrained_layout=True, sharex=True, squeeze=False)
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(len(test["z"]), size=n, replace=False))
    level = "noisy" if "noisy" in predictions else "clean"
    names = [k.removesuffix("_mode") for k in predictions[level] if k.endswith("_mode")]
    cnns = sorted((k for k in names if k.startswith("cnn")), key=lambda k: (k[3], len(k), k))
    shown = ([cnns[-1]] if cnns else []) + [k for k in ("template",) if k in names]
    for ax, i in zip(axes[:, 0], rows):
        z = test["z"][i]
        if "noisy" in test:
            ax.plot(wave, test["noisy"][i], c="0.7", lw=0.5, label=f"noisy (SNR {snr:g} per pixel)")
        ax.plot(wave, test["clean"][i], c="k", lw=0.8, label="clean")
        for line, rest in LINES:
            obs = rest * (1 + z)
            if wave[0] < obs < wave[-1]:
                ax.axvline(obs, c="tab:green", lw=0.6, alpha=0.6)
                if line != "[NII]":  # 20 A from H-alpha: its label would cover H-alpha's
                    ax.text(obs, 0.97, line, transform=ax.get_xaxis_transform(), fontsize=7, ha="center",
                            va="top", color="tab:green")
        preds = ", ".join(f"{method_name(k)}: {predictions[level][f'{k}_mode'][i]:.3f}" for k in shown)
        ax.set_title(f"true z = {z:.4f}   predicted ({level}) - {preds}", fontsize=8, loc="left")
        ax.set_ylabel("flux / mean")
    axes[-1, 0].set_xlabel("observed wavelength (Å)")
    axes[0, 0].legend(fontsize=7, loc="upper right")
    return fig


def plot_calibration(metrics: dict):
    """PIT histograms per method and noise level; 68 % coverage in each title."""
    fig, _, panels = method_grid(metrics, (3.0, 2.6), sharey=True)
    for ax, level, c, name, m in panels:
        hist = np.asarray(m["calibration"]["pit_histogram"])
        edges = np.linspace(0, 1, len(hist) + 1)
        ax.stairs(hist, edges, fill=True, color=NOISE_COLOUR[level], alpha=0.6)
        ax.axhline(1, c="k", lw=0.8, ls=":")
        ax.set_title(f"{method_name(name)}, {level}\n68 % interval holds the truth "
                     f"{m['calibration']['coverage_68']:.0%}", fontsize=8)
        ax.set_xlabel("PIT (CDF at the true z)")
        if c == 0:
            ax.set_ylabel("density (1 = calibrated)")
    return fig


def specz_figures(cfg: dict, metrics: dict, test_path, prediction_paths, history_paths, out_dir) -> list[Path]:
    """Draw every figure of the stage into ``out_dir``."""
    out_dir = Path(out_dir)
    s = cfg["spectra"]
    predictions = {}
    for path in prediction_paths:
        level = Path(path).stem
        with np.load(path) as p:
            predictions[level] = dict(p)
    with np.load(test_path) as t:
        test = {k: t[k] for k in t.files}
    written = [save_figure(plot_redshift_density(metrics, predictions, s["z_min"], s["z_max"]),
                           out_dir / "redshift_density.png"),
               save_figure(plot_accuracy_vs_size(metrics), out_dir / "accuracy_vs_size.png"),
               save_figure(plot_examples(test, predictions, test["wave"], cfg["figures"]["examples"], cfg["snr"]),
                           out_dir / "examples.png"),
               save_figure(plot_calibration(metrics), out_dir / "calibration.png")]
    if history_paths:
        runs = {Path(p).name.removesuffix("_history.csv"): p for p in history_paths}
        fig = plot_training_curves(runs, panel_of=lambda name: name.split("_")[1],
                                   ylabels={"clean": "cross-entropy", "noisy": "cross-entropy"},
                                   name_of=method_name)
        written.append(save_figure(fig, out_dir / "training_curves.png"))
    return written

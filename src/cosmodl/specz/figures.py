"""Figures of the specz stage (results/specz/figures).

* ``redshift_density.png`` - z_true against z_pred (most probable class), one panel per method
  and noise level, counts on a log colour scale.
* ``learning_curve.png`` - class accuracy, catastrophic rate and sigma_NMAD against the training
  size, CNNs of each depth, clean and noisy, with the classical baselines as lines.
* ``purity_completeness.png`` - purity against completeness, surest answers first, per method.
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
from matplotlib.ticker import FormatStrFormatter, LogLocator, NullLocator

from ..figures.common import plot_training_curves, plt, save_figure
from .spectra import LINES

METHOD_NAME = {"template": "template fit", "nnls": "non-negative template fit",
               "learned": "learned-template fit", "robust": "spike-clipped template fit", "forest": "random forest"}
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


METHOD_COLOUR = {"cnn1": "tab:blue", "cnn3": "tab:red", "template": "k", "nnls": "tab:purple",
                 "learned": "tab:green", "robust": "tab:orange", "forest": "tab:brown"}
BASELINE_STYLE = {"template": "-", "nnls": "--", "learned": "-.", "robust": ":", "forest": (0, (1, 3))}
CURVE_PANELS = (("accuracy", "class accuracy (Δz = 0.001)", "linear"),
                ("catastrophic", "catastrophic rate (|Δz|/(1+z) > 0.003)", "log"),
                ("sigma_nmad", "σ_NMAD of Δz/(1+z)", "log"))


def plot_learning_curve(metrics: dict):
    """Accuracy, catastrophic rate and sigma_NMAD (columns) against training size, one row per noise
    level: CNNs as curves, the classical baselines (a fixed training set or none) as horizontal lines."""
    levels = list(metrics["noise"])
    fig, axes = plt.subplots(len(levels), 3, figsize=(15, 3.6 * len(levels)), constrained_layout=True,
                             squeeze=False)
    sizes = sorted({m["n_train"] for doc in metrics["noise"].values() for m in doc["methods"].values()
                    if m["kind"] == "cnn"})
    for row, level in zip(axes, levels):
        doc = metrics["noise"][level]
        runs = {}
        for name, m in doc["methods"].items():
            if m["kind"] == "cnn":
                runs.setdefault(m["blocks"], []).append((m["n_train"], m["mode"]))
        for ax, (key, title, scale) in zip(row, CURVE_PANELS):
            for blocks, points in sorted(runs.items()):
                points.sort(key=lambda t: t[0])
                ax.plot([n for n, _ in points], [max(v[key], 1e-5) for _, v in points], "-o", lw=2,
                        c=METHOD_COLOUR.get(f"cnn{blocks}", "tab:gray"),
                        label=f"CNN {blocks} block{'s' if blocks > 1 else ''}")
            for name, ls in BASELINE_STYLE.items():
                if name in doc["methods"]:
                    m = doc["methods"][name]
                    ax.axhline(max(m["mode"][key], 1e-5), ls=ls, c=METHOD_COLOUR[name], lw=1.5,
                               label=method_name(name) + (f" ({m['n_train']:,} spectra)" if m["n_train"] else ""))
            ax.set_xscale("log")
            ax.set_yscale(scale)
            if scale == "log":  # ticks at 1, 2, 5 per decade: a panel may span less than one decade
                ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
                ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
                ax.yaxis.set_minor_locator(NullLocator())
            if sizes:
                ax.set_xticks(sizes, [f"{n:,}" for n in sizes])
                ax.minorticks_off()
            snr = doc["snr"]
            ax.set_title(f"{title}, {level}{f' (SNR {snr:g})' if snr else ''}", fontsize=9)
            ax.grid(alpha=0.3, which="both")
        row[0].set_ylim(0, 1.02)
        row[2].axhline(1e-3, c="grey", lw=0.8)
    for ax in axes[-1]:
        ax.set_xlabel("training spectra (CNNs)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="outside right center")
    fig.suptitle(f"specz, {metrics.get('data', '')} set: test-set scores against the CNNs' training size "
                 "(horizontal lines: classical baselines; grey line at σ_NMAD = 1e-3)", fontsize=11)
    return fig


def plot_purity_completeness(metrics: dict):
    """Purity (share not catastrophic) against completeness (share kept, surest first), per method."""
    levels = list(metrics["noise"])
    fig, axes = plt.subplots(1, len(levels), figsize=(5.5 * len(levels), 4.2), constrained_layout=True,
                             squeeze=False, sharey=True)
    for ax, level in zip(axes[0], levels):
        methods = metrics["noise"][level]["methods"]
        for name in shown_methods(methods) + [n for n in BASELINE_STYLE if n in methods and n not in ("template",
                                                                                                      "forest")]:
            m = methods[name]
            curve = m["purity"]["curve"]
            colour = METHOD_COLOUR.get(f"cnn{m.get('blocks')}" if m["kind"] == "cnn" else name, "tab:gray")
            ax.plot(curve["completeness"], curve["purity"], ls=BASELINE_STYLE.get(name, "-"), c=colour, lw=1.8,
                    label=f"{method_name(name)} ({m['purity']['completeness_at_99_purity']:.2f} at 99 %)")
        ax.axhline(0.99, c="grey", lw=0.8)
        snr = metrics["noise"][level]["snr"]
        ax.set_title(f"{level}{f' (SNR {snr:g})' if snr else ''}", fontsize=10)
        ax.set_xlabel("completeness (share of test spectra kept, surest first)")
        ax.set_xlim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower left")
    axes[0, 0].set_ylabel("purity (share with |Δz|/(1+z) ≤ 0.003)")
    fig.suptitle("Purity against completeness (grey: 99 %; legend: completeness there)", fontsize=11)
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
               save_figure(plot_learning_curve(metrics), out_dir / "learning_curve.png"),
               save_figure(plot_purity_completeness(metrics), out_dir / "purity_completeness.png"),
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

"""Figures of the voids stage: demo maps, predicted vs true counts, training curves, leakage.

Images are indexed ``[x, y]``; they are drawn with x to the right and y up
(``imshow(a.T, origin='lower')``), axes in Mpc/h.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..figures.common import plot_training_curves, plt, remove_stale, save_figure

SPLIT_COLOURS = {"spatial": "tab:blue", "random": "tab:orange"}
LOSS_LABELS = {"map model": "BCE per pixel", "counts model": "MSE of standardised targets"}


def plot_demo(image: np.ndarray, truth: np.ndarray, probability: np.ndarray, side_mpc: float, title: str = ""):
    """Galaxy image | true void fraction | predicted void probability for one test subbox.

    Parameters
    ----------
    image : (S, S) projected galaxy counts per pixel, indexed [x, y]
    truth, probability : (m, m) in [0, 1], indexed [x, y]; drawn with one shared colour scale
    side_mpc : float
        Side of the subbox, Mpc/h.
    """
    extent = [0, side_mpc, 0, side_mpc]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.1), constrained_layout=True)
    im0 = axes[0].imshow(image.T, origin="lower", extent=extent, cmap="magma", interpolation="nearest")
    fig.colorbar(im0, ax=axes[0], shrink=0.85, label="galaxies per pixel (projected CIC)")
    axes[0].set_title("galaxy image")
    panels = ((axes[1], truth, "true void fraction"), (axes[2], probability, "predicted void probability"))
    for ax, data, name in panels:
        im = ax.imshow(data.T, origin="lower", extent=extent, cmap="Blues", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(name)
    fig.colorbar(im, ax=axes[1:], shrink=0.85, label="fraction of sight line in voids / probability")
    for ax in axes:
        ax.set_xlabel("x [Mpc/h]")
        ax.set_ylabel("y [Mpc/h]")
    if title:
        fig.suptitle(title)
    return fig


def plot_counts(truth: np.ndarray, predicted: np.ndarray, baseline: np.ndarray | None, title: str = ""):
    """Predicted vs true number of voids and void volume per test subbox, with y = x in red.

    Parameters
    ----------
    truth, predicted : (N, 2): number of void centres, void volume in (Mpc/h)^3
    baseline : (N, 2), optional
        Linear-in-galaxy-count baseline, drawn in grey for comparison.
    """
    from ..evaluation.metrics import pearson_r, rmse

    labels = ("number of voids", "void volume [(Mpc/h)$^3$]")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), constrained_layout=True)
    for j, ax in enumerate(axes):
        t, p = truth[:, j], predicted[:, j]
        if baseline is not None:
            ax.scatter(t, baseline[:, j], s=8, c="0.6", alpha=0.6,
                       label=f"baseline: linear in galaxy count (r={pearson_r(t, baseline[:, j]):.2f}, "
                             f"RMSE={rmse(t, baseline[:, j]):.3g})")
        ax.scatter(t, p, s=10, c="tab:blue", alpha=0.8,
                   label=f"ResNet (r={pearson_r(t, p):.2f}, RMSE={rmse(t, p):.3g})")
        shown = [t, p] if baseline is None else [t, p, baseline[:, j]]
        lo, hi = min(a.min() for a in shown), max(a.max() for a in shown)
        ax.plot([lo, hi], [lo, hi], "r-", lw=1.5, label="y = x")
        ax.set_xlabel(f"true {labels[j]}")
        ax.set_ylabel(f"predicted {labels[j]}")
        ax.legend(fontsize=8, loc="upper left")
    if title:
        fig.suptitle(title)
    return fig


def plot_voids_training_curves(histories: dict):
    """Train (dashed) and validation (solid) loss per epoch for each run, one panel per task.

    Parameters
    ----------
    histories : dict
        ``{(task, split): history CSV path}``.
    """
    return plot_training_curves(histories, panel_of=lambda label: f"{label[0]} model", ylabels=LOSS_LABELS,
                                colour_of=lambda label: SPLIT_COLOURS.get(label[1], "k"),
                                name_of=lambda label: f"{label[1]} split")


def plot_leakage(metrics: dict):
    """Test metrics on the spatial (leakage-free) and random (leaky) splits, with the baselines."""
    panels = []
    if metrics["maps"]:
        keys = ["roc_auc", "average_precision", "iou", "pearson_r"]
        panels.append(("void map (per pixel)", keys,
                       {s: [e["model"][k] for k in keys] for s, e in metrics["maps"].items()},
                       {s: [e["baselines"]["underdensity"][k] for k in keys] for s, e in metrics["maps"].items()},
                       "underdensity baseline"))
    if metrics["counts"]:
        keys = [("n_voids", "pearson_r"), ("void_volume", "pearson_r")]
        panels.append(("void counts (Pearson r per subbox)", [f"{t}" for t, _ in keys],
                       {s: [e["model"][t][k] for t, k in keys] for s, e in metrics["counts"].items()},
                       {s: [e["baselines"]["linear_in_galaxy_count"][t][k] for t, k in keys]
                        for s, e in metrics["counts"].items()}, "linear-in-galaxy-count baseline"))
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.2), constrained_layout=True, squeeze=False)
    for ax, (title, keys, model, base, base_name) in zip(axes[0], panels):
        splits = sorted(model, key=lambda s: s != "spatial")
        width = 0.8 / len(splits)
        x = np.arange(len(keys))
        for i, split in enumerate(splits):
            label = f"{split} split" + (" (leaky)" if split == "random" else " (no shared volume)")
            ax.bar(x + i * width, model[split], width, color=SPLIT_COLOURS.get(split, "k"), label=label)
            ax.scatter(x + i * width, base[split], marker="_", s=300, c="k", zorder=3,
                       label=base_name if i == 0 else None)
        ax.set_xticks(x + width * (len(splits) - 1) / 2, keys)
        lowest = min(min(v for v in vals if v is not None) for vals in list(model.values()) + list(base.values()))
        ax.set_ylim(min(0.0, lowest - 0.05), 1)
        ax.axhline(0, c="k", lw=0.5)
        ax.set_title(title)
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle("Test-set scores: leakage-free vs leaky split (black ticks: baseline on the same split)")
    return fig


def voids_figures(metrics: dict, predictions: dict, histories: dict, images_path, side_mpc: float, out_dir,
                  n_demo: int = 8, headline_split: str = "spatial") -> list[Path]:
    """All voids figures into ``out_dir``; returns the paths written.

    Demo figures beyond ``n_demo`` left by an earlier run are removed, so the directory always
    holds exactly the figures of the current settings.

    Parameters
    ----------
    predictions : dict
        ``{(task, split): .npz path}`` from :func:`cosmodl.voids.evaluate.evaluate_void_model`.
    histories : dict
        ``{(task, split): history CSV path}``.
    """
    out_dir = Path(out_dir)
    written = []
    images = np.load(images_path, mmap_mode="r")
    if ("map", headline_split) in predictions:
        pred = np.load(predictions[("map", headline_split)])
        chosen = np.linspace(0, len(pred["indices"]) - 1, n_demo).round().astype(int)
        for i, row in enumerate(chosen):
            idx = int(pred["indices"][row])
            fig = plot_demo(np.asarray(images[idx]), pred["truth"][row], pred["model"][row], side_mpc,
                            f"test subbox {idx} ({headline_split} split)")
            written.append(save_figure(fig, out_dir / f"demofigure_{i}.png"))
    remove_stale(out_dir, r"demofigure_\d+\.png", written)
    if ("counts", headline_split) in predictions:
        pred = np.load(predictions[("counts", headline_split)])
        fig = plot_counts(pred["truth"], pred["model"], pred["linear_in_galaxy_count"],
                          f"void counts of the {len(pred['truth'])} test subboxes ({headline_split} split)")
        written.append(save_figure(fig, out_dir / "counts_result.png"))
    written.append(save_figure(plot_voids_training_curves(histories), out_dir / "training_curves.png"))
    if len({s for _, s in predictions}) > 1:
        written.append(save_figure(plot_leakage(metrics), out_dir / "leakage.png"))
    return written

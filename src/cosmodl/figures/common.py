"""Figure helpers for every stage: saving, training curves of any set of runs, stale-file cleanup.

Figures are drawn with matplotlib's Agg backend and saved as PNG at 120 dpi, atomically.
Plotting functions return the :class:`matplotlib.figure.Figure` so tests can check what is drawn;
:func:`save_figure` writes and closes it.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from ..io import atomic_output  # noqa: E402

DPI = 120


def save_figure(fig, path) -> Path:
    """Write ``fig`` as PNG to ``path`` (atomically) and close it."""
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=DPI, bbox_inches="tight", format="png")
    plt.close(fig)
    return Path(path)


def read_history(path) -> dict:
    """A training history CSV as ``{column: float array}`` (empty cells are NaN)."""
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return {k: np.array([float(r[k]) if r[k] not in ("", None) else np.nan for r in rows]) for k in rows[0]} \
        if rows else {}


def plot_training_curves(runs: dict, panel_of=None, ylabels: dict | None = None, colour_of=None, name_of=None,
                         ncols: int | None = None):
    """Training (dashed) and validation (solid) loss per epoch for a set of runs.

    Parameters
    ----------
    runs : dict
        ``{label: history CSV path}``; a label is a string or a tuple.
    panel_of : callable, optional
        ``panel_of(label) -> panel title``; runs with the same title share a panel (default: one panel).
    ylabels : dict, optional
        ``{panel title: y-axis label}`` (the loss each panel's runs minimise).
    colour_of : callable, optional
        ``colour_of(label) -> matplotlib colour``.
    name_of : callable, optional
        ``name_of(label) -> legend name`` (default: the label, a tuple joined by spaces).
    ncols : int, optional
        Panels per row (default: all in one row).

    Returns
    -------
    matplotlib.figure.Figure
    """
    panel_of = panel_of or (lambda label: "")
    panels = sorted({panel_of(label) for label in runs})
    ncols = min(ncols or len(panels), len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.5 * ncols, 4 * nrows), constrained_layout=True, squeeze=False)
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, panel in zip(axes.ravel(), panels):
        for i, (label, path) in enumerate(sorted(runs.items(), key=lambda kv: str(kv[0]))):
            if panel_of(label) != panel:
                continue
            h = read_history(path)
            c = colour_of(label) if colour_of else cycle[i % len(cycle)]
            name = name_of(label) if name_of else label if isinstance(label, str) else " ".join(map(str, label))
            ax.plot(h["epoch"], h["train_loss"], "--", c=c, label=f"{name}: train")
            ax.plot(h["epoch"], h["val_loss"], "-o", c=c, ms=3, label=f"{name}: validation")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel((ylabels or {}).get(panel, "loss"))
        if panel:
            ax.set_title(panel)
        ax.legend(fontsize=8)
    return fig


def remove_stale(out_dir, pattern: str, keep) -> list[Path]:
    """Delete files in ``out_dir`` matching the regular expression ``pattern`` that are not in ``keep``.

    A figure set whose size follows a setting (``n_demo``) must not leave the figures of a larger
    earlier setting behind. Returns the files removed.
    """
    keep = {Path(p).name for p in keep}
    removed = []
    out_dir = Path(out_dir)
    if out_dir.is_dir():
        for path in sorted(out_dir.iterdir()):
            if re.fullmatch(pattern, path.name) and path.name not in keep:
                path.unlink()
                removed.append(path)
    return removed

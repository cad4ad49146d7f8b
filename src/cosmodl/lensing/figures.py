"""Figures of the lensing stage: example images, reconstructions, ROC curves, score histograms, training curves.

Figures are per data set (``A``, ``II``, ``A-lattice``: :func:`cosmodl.lensing.data.dataset_names`);
the ROC figure has a panel per data set with the oracle's curve (the ceiling) beside the scorers'.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..figures.common import plot_training_curves, plt, save_figure
from .data import MODELS, MinMax, parse_dataset, read_params
from .simulate import CLASSES

CLASS_COLOUR = {"no_sub": "tab:blue", "spherical": "tab:orange", "vortex": "tab:green"}
SCORERS = ("dcae", "vae", "aae", "rbm", "pca", "osvm")
SCORER_NAME = {"dcae": "DCAE", "vae": "VAE", "aae": "AAE", "rbm": "RBM", "pca": "PCA baseline",
               "osvm": "one-class SVM", "resnet": "ResNet-18 (supervised)"}
LOSS_NAME = {"resnet": "cross-entropy (3 classes)", "vae": "MSE + β KL per latent dimension (no_sub)"}
SCORER_STYLE = {"pca": ":", "osvm": ":", "resnet": "--"}
ORACLE_NAME = {"oracle": "oracle (MSE vs the true smooth lens)",
               "oracle_chi2": "χ² oracle (true smooth lens and noise)"}
ORACLE_STYLE = {"oracle": ("-.", "k"), "oracle_chi2": (":", "k")}


def dataset_label(dataset: str) -> str:
    """'Model A', 'Model II', 'Model A, lattice sampling' for a data-set name."""
    preset, sampling = parse_dataset(dataset)
    return f"Model {preset}" + (f", {sampling} sampling" if sampling != "iid" else "")


def training_scale(models: dict) -> str:
    """'trained on N no_sub images, E epochs' of a preset's anomaly detectors (metrics.json models), or ''."""
    runs = {(m.get("n_train"), m.get("epochs")) for name, m in models.items() if name in SCORERS[:4]}
    if len(runs) != 1 or None in next(iter(runs)):
        return ""
    n, epochs = runs.pop()
    return f"networks trained on {n:,} no_sub images, {epochs} epoch{'s' if epochs != 1 else ''}"


def plot_examples(images, params, n_examples: int, dataset: str, field: float | None = None):
    """Grid of test images (rows: classes), min-max normalised as the networks see them.

    Parameters
    ----------
    images : ndarray (N, H, W), counts/s
    params : DataFrame (read_params)
    dataset : str
    field : float, optional
        Side of the field, arcsec (for the title).
    """
    fig, axes = plt.subplots(len(CLASSES), n_examples, figsize=(2.3 * n_examples, 2.5 * len(CLASSES)),
                             constrained_layout=True, squeeze=False)
    test = params[params["split"] == "test"]
    for row, cls in enumerate(CLASSES):
        rows = test[test["class"] == cls].head(n_examples)
        for col in range(n_examples):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            if col >= len(rows):
                ax.axis("off")
                continue
            p = rows.iloc[col]
            ax.imshow(MinMax()(np.asarray(images[[p.name]], np.float32))[0], origin="lower", cmap="gray")
            title = f"θE={p.theta_e:.2f}″"
            if p.snr_effective == p.snr_effective:  # NaN for noiseless images
                title += f" SNR={p.snr_effective:.0f}"
            title += f"\nN_sub={int(p.n_subhalos)}" if cls != "no_sub" else "\nno substructure"
            ax.set_title(title, fontsize=8)
            if col == 0:
                ax.set_ylabel(cls, fontsize=10)
    size = f", {field:.2f}″ field" if field else ""
    fig.suptitle(f"{dataset_label(dataset)}: test images per class (min-max normalised{size}; "
                 "SNR = lensed-source peak / noise rms there)")
    return fig


def plot_reconstructions(scores: dict, dataset: str, scale: str = ""):
    """One test image per class (rows): input, then each model's reconstruction and residual (columns).

    ``scale`` (:func:`training_scale`) goes into the title: a short training reconstructs poorly.
    """
    models = [m for m in SCORERS if f"example_{m}" in scores]
    x = scores["example_input"]
    ncol = 1 + 2 * len(models)
    fig, axes = plt.subplots(len(CLASSES), ncol, figsize=(1.6 * ncol, 1.8 * len(CLASSES)), constrained_layout=True,
                             squeeze=False)
    lim = max(float(np.abs(x - scores[f"example_{m}"]).max()) for m in models) if models else 1.0
    for row, cls in enumerate(CLASSES):
        axes[row, 0].imshow(x[row], origin="lower", cmap="gray", vmin=0, vmax=1)
        axes[row, 0].set_ylabel(cls)
        for k, m in enumerate(models):
            recon = scores[f"example_{m}"][row]
            axes[row, 1 + 2 * k].imshow(recon, origin="lower", cmap="gray", vmin=0, vmax=1)
            im = axes[row, 2 + 2 * k].imshow(x[row] - recon, origin="lower", cmap="RdBu_r", vmin=-lim, vmax=lim)
            if row == 0:
                axes[row, 1 + 2 * k].set_title(SCORER_NAME[m], fontsize=8)
                axes[row, 2 + 2 * k].set_title("input − recon.", fontsize=8)
    axes[0, 0].set_title("input", fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    if models:
        fig.colorbar(im, ax=axes[:, -1], shrink=0.6, label="residual (min-max units)")
    fig.suptitle(f"{dataset_label(dataset)}: reconstructions of one test image per class"
                 + (f" ({scale})" if scale else ""))
    return fig


def plot_roc(scores_by_dataset: dict, metrics: dict):
    """ROC of no_sub against substructure (both classes), one panel per data set, one curve per scorer,
    and the oracle's (black): how far each scorer is from what the data allow."""
    from sklearn.metrics import roc_curve

    datasets = sorted(scores_by_dataset)
    ncols = min(len(datasets), 3)
    nrows = -(-len(datasets) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 4.8 * nrows), constrained_layout=True,
                             squeeze=False)
    for ax in axes.ravel()[len(datasets):]:
        ax.axis("off")
    for ax, dataset in zip(axes.ravel(), datasets):
        s = scores_by_dataset[dataset]
        sub = s["classes"] != "no_sub"
        doc = metrics["datasets"][dataset]
        models = doc["models"]
        for name in (*SCORERS, "resnet"):
            score = 1 - s["proba_resnet"][:, 0] if name == "resnet" and "proba_resnet" in s else s.get(f"score_{name}")
            if score is None or name not in models:
                continue
            fpr, tpr, _ = roc_curve(sub, score)
            label = f"{SCORER_NAME[name]}: AUC {models[name]['auc']['sub']:.3f}"
            ax.plot(fpr, tpr, SCORER_STYLE.get(name, "-"), label=label)
        for key, (style, colour) in ORACLE_STYLE.items():
            if f"score_{key}" in s and key in doc:
                fpr, tpr, _ = roc_curve(sub, s[f"score_{key}"])
                label = f"{ORACLE_NAME[key]}: AUC {doc[key]['auc']['sub']:.3f}"
                ax.plot(fpr, tpr, style, c=colour, lw=1.6, label=label)
        ax.plot([0, 1], [0, 1], c="0.7", lw=0.8)
        ax.set_xlabel("false positive rate (no_sub flagged)")
        ax.set_ylabel("true positive rate (substructure found)")
        scale = training_scale(models)
        title = f"{dataset_label(dataset)}: no_sub vs spherical + vortex"
        if doc.get("substructure") == "null":
            title += "\n(null substructure: no subhaloes rendered)"
        ax.set_title(title + (f"\n{scale}" if scale else ""), fontsize=10)
        ax.legend(fontsize=7, loc="lower right")
    return fig


def plot_score_histograms(scores: dict, dataset: str):
    """Histogram of each anomaly score per class (one panel per scorer)."""
    models = [m for m in (*SCORERS, *ORACLE_NAME) if f"score_{m}" in scores]
    ncols = min(3, len(models))
    nrows = -(-len(models) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4 * ncols, 3 * nrows), constrained_layout=True, squeeze=False)
    for ax in axes.ravel()[len(models):]:
        ax.axis("off")
    classes = scores["classes"]
    for ax, m in zip(axes.ravel(), models):
        score = scores[f"score_{m}"]
        bins = np.histogram_bin_edges(score, bins=30)
        for cls in CLASSES:
            ax.hist(score[classes == cls], bins=bins, histtype="step", color=CLASS_COLOUR[cls], label=cls, density=True)
        ax.set_title(SCORER_NAME.get(m) or ORACLE_NAME[m], fontsize=9)
        ax.set_xlabel({"osvm": "−decision function", "oracle_chi2": "reduced χ² vs the smooth lens"}.get(
            m, "reconstruction MSE"))
        ax.set_ylabel("density")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"{dataset_label(dataset)}: anomaly scores of the test images per class")
    return fig


def lensing_figures(metrics: dict, scores: dict, images: dict, params: dict, histories, out_dir, n_examples: int,
                    fields: dict | None = None):
    """Write every lensing figure into ``out_dir`` (see the rule ``lensing_figures``).

    ``scores``, ``images``, ``params``: data set -> path; ``fields``: data set -> field side in arcsec.
    """
    out_dir = Path(out_dir)
    loaded = {d: dict(np.load(path, allow_pickle=False)) for d, path in scores.items()}
    for dataset in scores:
        table = read_params(params[dataset])
        stack = np.load(images[dataset], mmap_mode="r")
        save_figure(plot_examples(stack, table, n_examples, dataset, (fields or {}).get(dataset)),
                    out_dir / f"examples_{dataset}.png")
        scale = training_scale(metrics["datasets"][dataset]["models"])
        save_figure(plot_reconstructions(loaded[dataset], dataset, scale), out_dir / f"reconstructions_{dataset}.png")
        save_figure(plot_score_histograms(loaded[dataset], dataset), out_dir / f"scores_{dataset}.png")
    save_figure(plot_roc(loaded, metrics), out_dir / "roc.png")
    runs = {}
    pattern = re.compile(rf"(.+)_({'|'.join(MODELS)})_history")
    for path in histories:
        dataset, model = pattern.match(Path(path).name).groups()
        runs[(model, dataset)] = path
    colours = {d: plt.rcParams["axes.prop_cycle"].by_key()["color"][k % 10] for k, d in enumerate(sorted(scores))}
    fig = plot_training_curves(runs, panel_of=lambda label: SCORER_NAME[label[0]],
                               ylabels={SCORER_NAME[m]: LOSS_NAME.get(m, "reconstruction MSE (no_sub)")
                                        for m, _ in runs},
                               ncols=3,
                               colour_of=lambda label: colours.get(label[1], "k"),
                               name_of=lambda label: dataset_label(label[1]))
    save_figure(fig, out_dir / "training_curves.png")

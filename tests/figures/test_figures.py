"""Figures show what they claim: the plotted data, the axes and the labels, not only a file."""

import numpy as np
import pytest

from cosmodl.figures.common import plot_training_curves, remove_stale, save_figure
from cosmodl.voids.figures import plot_counts, plot_demo, plot_leakage, plot_voids_training_curves


def write_history(path, train, val):
    rows = ["epoch,train_loss,val_loss,lr,samples_per_s,seconds,peak_memory_mb"]
    rows += [f"{i + 1},{t},{v},0.001,100,1.0,500" for i, (t, v) in enumerate(zip(train, val))]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_training_curves_plot_each_run_in_its_panel(tmp_path):
    runs = {("map", "spatial"): write_history(tmp_path / "a.csv", [0.7, 0.6, 0.5], [0.72, 0.65, 0.66]),
            ("map", "random"): write_history(tmp_path / "b.csv", [0.7, 0.55, 0.45], [0.7, 0.6, 0.5]),
            ("counts", "spatial"): write_history(tmp_path / "c.csv", [1.0, 0.8], [1.2, 1.1])}
    fig = plot_voids_training_curves(runs)
    panels = {ax.get_title(): ax for ax in fig.axes}
    assert set(panels) == {"map model", "counts model"}
    assert panels["map model"].get_ylabel() == "BCE per pixel"
    lines = {line.get_label(): line for line in panels["map model"].lines}
    assert set(lines) == {"spatial split: train", "spatial split: validation", "random split: train",
                          "random split: validation"}
    np.testing.assert_allclose(lines["spatial split: validation"].get_ydata(), [0.72, 0.65, 0.66])
    np.testing.assert_allclose(lines["random split: train"].get_xdata(), [1, 2, 3])
    assert lines["spatial split: train"].get_linestyle() == "--" and lines["spatial split: train"].get_color() == \
        lines["spatial split: validation"].get_color()
    counts = {line.get_label(): line.get_ydata() for line in panels["counts model"].lines}
    np.testing.assert_allclose(counts["spatial split: train"], [1.0, 0.8])
    path = save_figure(fig, tmp_path / "curves.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_generic_training_curves_take_any_labels(tmp_path):
    runs = {"dcae": write_history(tmp_path / "d.csv", [3, 2], [4, 3]), "vae": write_history(tmp_path / "v.csv",
                                                                                            [5, 1], [6, 2])}
    fig = plot_training_curves(runs)
    assert len(fig.axes) == 1 and sorted(line.get_label() for line in fig.axes[0].lines) == [
        "dcae: train", "dcae: validation", "vae: train", "vae: validation"]


def test_training_curves_wrap_panels_into_rows(tmp_path):
    runs = {name: write_history(tmp_path / f"{name}.csv", [2, 1], [3, 2]) for name in "abcde"}
    fig = plot_training_curves(runs, panel_of=lambda label: label, ncols=3)
    visible = [ax for ax in fig.axes if ax.axison]
    assert len(fig.axes) == 6 and [ax.get_title() for ax in visible] == list("abcde")
    assert {ax.get_subplotspec().rowspan.start for ax in visible} == {0, 1}


def test_lensing_roc_curves_are_the_scores_with_their_auc_in_the_legend():
    from sklearn.metrics import roc_auc_score

    from cosmodl.lensing.figures import plot_roc

    rng = np.random.default_rng(0)
    classes = np.repeat(["no_sub", "spherical", "vortex"], 30)
    score = rng.random(90) + (classes != "no_sub")
    auc = roc_auc_score(classes != "no_sub", score)
    oracle = score + 3 * (classes != "no_sub")
    metrics = {"datasets": {"A": {"models": {"dcae": {"auc": {"sub": auc}}}, "oracle": {"auc": {"sub": 1.0}}}}}
    fig = plot_roc({"A": {"classes": classes, "score_dcae": score, "score_oracle": oracle}}, metrics)
    (line, ceiling, diagonal) = fig.axes[0].lines
    assert line.get_label() == f"DCAE: AUC {auc:.3f}"
    assert np.trapezoid(line.get_ydata(), line.get_xdata()) == pytest.approx(auc)
    assert ceiling.get_label() == "oracle (MSE vs the true smooth lens): AUC 1.000"
    assert np.trapezoid(ceiling.get_ydata(), ceiling.get_xdata()) == pytest.approx(1.0)


def test_lensing_titles_state_the_training_scale_only_when_the_detectors_share_it():
    from cosmodl.lensing.figures import training_scale

    models = {m: {"n_train": 5000, "epochs": 15} for m in ("dcae", "vae", "aae", "rbm")}
    models |= {"pca": {"n_train": 160}, "resnet": {"n_train": 15000, "epochs": 4}}  # not detectors' training
    assert training_scale(models) == "networks trained on 5,000 no_sub images, 15 epochs"
    models["rbm"]["epochs"] = 9  # stopped early: no single scale to state
    assert training_scale(models) == ""


def test_demo_figure_draws_the_image_and_maps_with_x_to_the_right():
    image = np.arange(64, dtype=float).reshape(8, 8)  # [x, y]
    truth, prob = np.eye(2) * 0.9, np.full((2, 2), 0.25)
    fig = plot_demo(image, truth, prob, side_mpc=16.0, title="test subbox 3")
    axes = [ax for ax in fig.axes if ax.get_images()]
    assert [ax.get_title() for ax in axes] == ["galaxy image", "true void fraction", "predicted void probability"]
    np.testing.assert_array_equal(axes[0].get_images()[0].get_array(), image.T)  # rows are y
    assert axes[0].get_images()[0].origin == "lower" and axes[0].get_xlabel() == "x [Mpc/h]"
    assert list(axes[0].get_images()[0].get_extent()) == [0, 16.0, 0, 16.0]
    for ax, data in zip(axes[1:], (truth, prob)):
        im = ax.get_images()[0]
        np.testing.assert_array_equal(im.get_array(), data.T)
        assert im.get_clim() == (0, 1)  # one colour scale for truth and prediction
    assert fig._suptitle.get_text() == "test subbox 3"


def test_counts_figure_scatters_predictions_against_truth_with_scores():
    truth = np.array([[10.0, 1e5], [20.0, 2e5], [30.0, 3e5]])
    predicted = truth * [1.0, 1.1] + [1.0, 0.0]
    fig = plot_counts(truth, predicted, baseline=truth * 0 + truth.mean(axis=0))
    ax = fig.axes[0]
    model = [c for c in ax.collections if c.get_label().startswith("ResNet")][0]
    np.testing.assert_allclose(model.get_offsets(), np.stack([truth[:, 0], predicted[:, 0]], axis=1))
    assert "r=1.00" in model.get_label() and "RMSE=1" in model.get_label()
    diagonal = [line for line in ax.lines if line.get_label() == "y = x"][0]
    np.testing.assert_allclose(diagonal.get_xdata(), diagonal.get_ydata())
    assert ax.get_xlabel() == "true number of voids" and fig.axes[1].get_ylabel().startswith("predicted void volume")


def test_leakage_figure_bars_are_the_metrics():
    def maps(auc):
        return {"model": {"roc_auc": auc, "average_precision": 0.6, "iou": 0.4, "pearson_r": 0.7},
                "baselines": {"underdensity": {"roc_auc": 0.8, "average_precision": 0.5, "iou": 0.3,
                                               "pearson_r": 0.6}}}
    metrics = {"maps": {"spatial": maps(0.87), "random": maps(0.93)}, "counts": {}}
    fig = plot_leakage(metrics)
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    assert heights[:4] == pytest.approx([0.87, 0.6, 0.4, 0.7]) and heights[4:] == pytest.approx([0.93, 0.6, 0.4, 0.7])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["roc_auc", "average_precision", "iou", "pearson_r"]
    assert {t.get_text() for t in ax.get_legend().get_texts()} >= {"spatial split (no shared volume)",
                                                                   "random split (leaky)", "underdensity baseline"}


def test_remove_stale_keeps_what_was_just_drawn(tmp_path):
    for name in ("demofigure_0.png", "demofigure_1.png", "demofigure_2.png", "counts_result.png"):
        (tmp_path / name).write_bytes(b"x")
    removed = remove_stale(tmp_path, r"demofigure_\d+\.png", [tmp_path / "demofigure_0.png"])
    assert sorted(p.name for p in removed) == ["demofigure_1.png", "demofigure_2.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counts_result.png", "demofigure_0.png"]

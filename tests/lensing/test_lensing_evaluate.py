"""Lensing scores and metrics against scipy / scikit-learn and planted answers."""

import numpy as np
import pytest
from scipy.stats import wasserstein_distance
from sklearn.metrics import roc_auc_score

from cosmodl.evaluation.metrics import auc_standard_error, pixel_mse
from cosmodl.lensing.baselines import pca_baseline
from cosmodl.lensing.evaluate import (anomaly_metrics, classifier_metrics, column_w1, corner_noise_variance,
                                     lattice_summary)


def test_column_w1_is_scipys_wasserstein_distance_of_the_column_sums():
    rng = np.random.default_rng(0)
    x, r = rng.random((4, 20, 15)), rng.random((4, 20, 15))
    expected = [wasserstein_distance(x[i].sum(0), r[i].sum(0)) for i in range(4)]
    np.testing.assert_allclose(column_w1(x, r), expected, rtol=1e-12)
    assert column_w1(x, x[:, ::-1, ::-1]).max() < 1e-12  # a permutation of columns (and rows) costs nothing


def test_anomaly_metrics_match_sklearn_per_class_and_for_both():
    rng = np.random.default_rng(1)
    classes = np.repeat(["no_sub", "spherical", "vortex"], [50, 30, 20])
    score = rng.random(100) + (classes != "no_sub") * 0.3
    m = anomaly_metrics(classes, score, mse=score)
    keep = classes != "vortex"
    assert m["auc"]["spherical"] == pytest.approx(roc_auc_score(classes[keep] == "spherical", score[keep]))
    assert m["auc"]["sub"] == pytest.approx(roc_auc_score(classes != "no_sub", score))
    assert m["mse"]["vortex"] == pytest.approx(score[classes == "vortex"].mean())
    # each AUC's standard error from its own class sizes: 30 spherical and 50 no_sub images
    assert m["auc_se"]["spherical"] == pytest.approx(auc_standard_error(m["auc"]["spherical"], 30, 50))
    assert m["auc_se"]["sub"] == pytest.approx(auc_standard_error(m["auc"]["sub"], 50, 50))


def test_a_perfect_score_has_auc_one_and_a_reversed_one_zero():
    classes = np.array(["no_sub"] * 3 + ["spherical"] * 2 + ["vortex"] * 2)
    score = np.array([0, 1, 2, 5, 6, 7, 8.0])
    assert anomaly_metrics(classes, score)["auc"] == {"spherical": 1.0, "vortex": 1.0, "sub": 1.0}
    assert anomaly_metrics(classes, -score)["auc"]["sub"] == 0.0


def test_classifier_metrics_one_vs_rest():
    classes = np.array(["no_sub", "spherical", "vortex", "vortex"])
    proba = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.5, 0.1, 0.4]])
    m = classifier_metrics(classes, proba)
    assert m["accuracy"] == 0.75
    assert m["auc"]["vortex"] == pytest.approx(roc_auc_score([0, 0, 1, 1], proba[:, 2]))
    assert m["auc"]["sub"] == pytest.approx(roc_auc_score([0, 1, 1, 1], 1 - proba[:, 0]))


def test_pca_baseline_flags_images_off_its_training_subspace():
    rng = np.random.default_rng(2)
    basis = rng.standard_normal((3, 12, 12))
    train = np.einsum("nk,kij->nij", rng.standard_normal((200, 3)), basis)
    normal = np.einsum("nk,kij->nij", rng.standard_normal((20, 3)), basis)
    odd = normal + 0.5 * rng.standard_normal((20, 12, 12))
    out = pca_baseline(train, np.concatenate([normal, odd]), n_components=3, nu=0.1)
    assert out["pca_score"][:20].max() < 1e-10 < 0.1 < out["pca_score"][20:].min()
    np.testing.assert_allclose(out["pca_score"], pixel_mse(np.concatenate([normal, odd]), out["pca_recon"]))


@pytest.mark.parametrize("side, block", [(150, 20), (64, 8)])
def test_corner_noise_variance_is_the_variance_of_the_sky_far_from_a_bright_centre(side, block):
    rng = np.random.default_rng(3)
    images = rng.normal(0, 0.01, (50, side, side))
    r = np.hypot(*np.mgrid[:side, :side] - (side - 1) / 2)
    images += np.where(r < side / 2 - block * 1.5, 5.0, 0.0)  # a bright disc up to the corner blocks
    np.testing.assert_allclose(np.median(corner_noise_variance(images)), 1e-4, rtol=0.05)
    images[:, :block // 2, :block] += 1.0  # a step across the corner block now counts as well (variance 0.25)
    assert np.median(corner_noise_variance(images)) == pytest.approx(0.25 / 4 + 1e-4, rel=0.05)


def test_lattice_summary_sets_iid_and_lattice_side_by_side_in_standard_errors():
    def doc(sampling, auc):
        return {"preset": "A", "sampling": sampling, "substructure": "null",
                "models": {"pca": {"auc": {"sub": auc}, "auc_se": {"sub": 0.02}}},
                "oracle": {"auc": {"sub": 0.5}, "auc_se": {"sub": 0.02}}}

    out = lattice_summary({"A": doc("iid", 0.51), "A-lattice": doc("lattice", 0.81),
                           "B": doc("iid", 0.5) | {"preset": "B"}})
    assert set(out) == {"A"} and out["A"]["substructure"] == "null"
    assert out["A"]["models"]["pca"]["z"] == pytest.approx(0.30 / np.hypot(0.02, 0.02))
    assert out["A"]["models"]["oracle"]["lattice"] == 0.5
    assert lattice_summary({"A": doc("iid", 0.5)}) == {}


def test_each_network_is_judged_against_the_better_of_pca_and_the_one_class_svm():
    from cosmodl.lensing.evaluate import baseline_verdict

    def scorer(auc, se):
        return {"auc": {"sub": auc}, "auc_se": {"sub": se}}

    models = {"dcae": scorer(0.60, 0.01), "resnet": scorer(0.90, 0.02), "pca": scorer(0.55, 0.01),
              "osvm": scorer(0.58, 0.02)}
    doc = baseline_verdict(models)
    assert (doc["metric"], doc["best_baseline"]) == ("auc_sub", "osvm")
    assert sorted(doc["models"]) == ["dcae", "resnet"]
    assert doc["models"]["dcae"]["z"] == pytest.approx(0.02 / (0.01 ** 2 + 0.02 ** 2) ** 0.5)

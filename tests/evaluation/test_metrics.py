import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from cosmodl.voids.baselines import UnderdensityBaseline, counts_baselines, underdensity_score
from cosmodl.evaluation.metrics import (auc_standard_error, average_precision, fitted_slope, iou, map_metrics,
                                        pearson_r, reliability_curve, rmse, roc_auc)


def test_hand_computed_case():
    labels = np.array([0, 0, 1, 1])
    scores = np.array([0.1, 0.4, 0.35, 0.8])
    # pairs (pos, neg): (0.35>0.1) (0.35<0.4) (0.8>0.1) (0.8>0.4) -> 3/4
    assert roc_auc(labels, scores) == pytest.approx(0.75)
    # ranked: 0.8(+) P=1 R=.5; 0.4(-); 0.35(+) P=2/3 R=1 -> AP = .5*1 + .5*2/3
    assert average_precision(labels, scores) == pytest.approx(0.5 + 1 / 3)
    assert iou([1, 1, 0, 0], [1, 0, 1, 0]) == pytest.approx(1 / 3)
    assert rmse([1, 2, 3], [1, 2, 5]) == pytest.approx(np.sqrt(4 / 3))
    assert fitted_slope([0, 1, 2, 3], [1, 3, 5, 7]) == pytest.approx(2.0)
    assert pearson_r([0, 1, 2], [0, 2, 4]) == pytest.approx(1.0)
    assert np.isnan(pearson_r([1, 2, 3], [5, 5, 5]))


def test_ties_count_half():
    assert roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)
    assert average_precision([0, 1], [0.5, 0.5]) == pytest.approx(0.5)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 5)), min_size=2, max_size=40))
def test_auc_equals_pairwise_brute_force(pairs):
    labels = np.array([p[0] for p in pairs], float)
    scores = np.array([p[1] for p in pairs], float)
    pos, neg = scores[labels == 1], scores[labels == 0]
    if len(pos) == 0 or len(neg) == 0:
        assert np.isnan(roc_auc(labels, scores))
        return
    brute = np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg])
    assert roc_auc(labels, scores) == pytest.approx(brute)


@pytest.mark.parametrize("scale, n_pos, n_neg", [(1.0, 300, 300), (2.0, 200, 400), (3.0, 500, 100), (9.0, 300, 300)])
def test_auc_standard_error_matches_the_scatter_of_repeated_experiments(scale, n_pos, n_neg):
    # Hanley-McNeil's formula is exact for exponential scores (here with means 1 and ``scale``);
    # 600 repeated experiments measure the AUC's scatter to about 3 %
    rng = np.random.default_rng(4)
    labels = np.r_[np.ones(n_pos), np.zeros(n_neg)]
    aucs = [roc_auc(labels, np.r_[rng.exponential(scale, n_pos), rng.exponential(1, n_neg)]) for _ in range(600)]
    assert auc_standard_error(float(np.mean(aucs)), n_pos, n_neg) == pytest.approx(np.std(aucs), rel=0.1)
    assert np.isnan(auc_standard_error(0.7, 0, 10))


def test_reliability_curve_of_a_calibrated_and_a_biased_predictor():
    p = np.array([0.05, 0.05, 0.95, 0.95])
    calibrated = reliability_curve(p, [0.05, 0.05, 0.95, 0.95], n_bins=10)
    assert calibrated["ece"] == pytest.approx(0.0)
    assert calibrated["count"][0] == 2 and calibrated["count"][9] == 2 and calibrated["mean_target"][5] is None
    biased = reliability_curve(p, [0.25, 0.25, 0.75, 0.75], n_bins=10)
    assert biased["ece"] == pytest.approx(0.2)


def test_map_metrics_thresholds_the_true_fraction():
    truth = np.array([[0.6, 0.4], [0.9, 0.1]])
    prob = np.array([[0.7, 0.2], [0.4, 0.5]])
    m = map_metrics(prob, truth, threshold=0.5)
    assert m["positive_fraction"] == 0.5
    assert m["roc_auc"] == pytest.approx(0.75)  # positives 0.7, 0.4; negatives 0.2, 0.5
    assert m["iou"] == pytest.approx(1 / 3)  # predicted {0.7, 0.5}, true {0.6, 0.9}


def test_linear_baseline_recovers_a_planted_relation():
    rng = np.random.default_rng(0)
    gal = rng.uniform(1000, 2000, 200)
    targets = np.stack([300 - 0.05 * gal, 1e5 - 20 * gal], axis=1)
    test_gal = np.array([1200.0, 1800.0])
    base = counts_baselines(targets, (2, 2), gal, test_gal)
    np.testing.assert_allclose(base["linear_in_galaxy_count"], [[240, 1e5 - 24000], [210, 1e5 - 36000]], rtol=1e-9)
    np.testing.assert_allclose(base["training_mean"], np.broadcast_to(targets.mean(0), (2, 2)))


def test_underdensity_baseline_finds_planted_empty_patches():
    rng = np.random.default_rng(1)
    images = rng.poisson(3.0, (20, 32, 32)).astype(float)
    truth = np.zeros((20, 8, 8))
    for i in range(20):
        a, b = rng.integers(0, 6, 2)
        images[i, 4 * a:4 * a + 12, 4 * b:4 * b + 12] = 0
        truth[i, a:a + 3, b:b + 3] = 1
    base = UnderdensityBaseline(sigmas=[1, 8]).fit(images, truth)
    assert base.sigma_px == 1  # the small scale resolves 12-pixel holes
    prob = base.predict(images, 8)
    assert roc_auc(truth >= 0.5, prob) > 0.95
    assert np.all(np.diff(base.values) >= 0)  # monotone calibration
    assert underdensity_score(images, 1, 8).shape == (20, 8, 8)
    with pytest.raises(ValueError, match="not a multiple"):
        underdensity_score(images, 1, 5)

"""The 1-D CNNs, the template fit and the metrics of the specz stage."""

import numpy as np
import pytest
import torch

from cosmodl.models import build_model
from cosmodl.specz.models import keras_parameter_count, pooled_length
from cosmodl.specz.baselines import TemplateFit, binned_flux
from cosmodl.specz.metrics import pit, redshift_metrics, sigma_nmad, softmax_estimates
from cosmodl.specz.spectra import SpectrumMaker, SpectrumSettings


def test_the_adax_network_has_the_published_2242192_parameters():
    model = build_model("specz_cnn", {"blocks": 3})
    assert keras_parameter_count(model) == 2_242_192
    assert sum(p.numel() for p in model.parameters()) == 2_242_192 - 3 * 32  # BN running stats are buffers here
    assert pooled_length(1780, 3) == 223
    out = model(torch.zeros(4, 1, 1780))
    assert out.shape == (4, 800)


def test_the_one_block_network_feeds_890_x_16_features_to_the_dense_layer():
    model = build_model("specz_cnn", {"blocks": 1})
    assert model.classifier[2].in_features == 890 * 16
    assert model.predict(torch.zeros(2, 1, 1780)).sum(dim=1).allclose(torch.ones(2))


@pytest.fixture(scope="module")
def maker():
    return SpectrumMaker(SpectrumSettings(n_sed=200, av_max=0.0, line_scatter_dex=0.0))


def test_template_fit_chi2_equals_a_brute_force_least_squares_fit(maker):
    centres = maker.s.class_centres()[::100]
    fit = TemplateFit(maker, centres, poly_degree=2)
    flux = maker.spectra(np.array([3, 17]), np.array([1.23, 1.61]), np.random.default_rng(0).standard_normal(
        (2, 1780)), snr=5.0)
    rest = maker.rest_templates()
    x = np.linspace(-1, 1, 1780)
    chi2 = fit.chi2(flux)
    for c, z in enumerate(centres):
        i, w = maker.interpolation(np.array([z]))
        a = np.column_stack([rest[k, i[0]] * (1 - w[0]) + rest[k, i[0] + 1] * w[0] for k in range(5)]
                            + [np.ones_like(x), x, 1.5 * x**2 - 0.5])
        a /= np.linalg.norm(a, axis=0)  # the templates' flux units are ~1e-16: unscaled, lstsq drops them
        for b in range(2):
            coef, *_ = np.linalg.lstsq(a, flux[b].astype(np.float64), rcond=None)
            residual = np.sum((a @ coef - flux[b]) ** 2)
            assert chi2[b, c] == pytest.approx(residual, rel=2e-3, abs=1e-3)


def test_template_fit_finds_the_redshift_of_clean_template_mixtures(maker):
    fit = TemplateFit(maker, maker.s.class_centres())
    rng = np.random.default_rng(1)
    z = rng.uniform(1.0, 1.8, 60)
    flux = maker.spectra(rng.integers(0, 200, 60), z)
    predicted = fit.predict_class(flux)
    assert np.mean(np.abs(predicted - maker.s.class_of(z)) <= 1) == 1.0


def test_binned_flux_is_the_mean_of_each_run_of_pixels():
    flux = np.arange(24, dtype=np.float32).reshape(2, 12)
    assert binned_flux(flux, 3).tolist() == [[1.5, 5.5, 9.5], [13.5, 17.5, 21.5]]


def test_sigma_nmad_of_a_normal_sample_is_its_sigma():
    dz = np.random.default_rng(0).normal(0.01, 0.003, 200000)
    assert sigma_nmad(dz) == pytest.approx(0.003, rel=0.01)


def test_metrics_count_classes_and_outliers():
    z_true = np.array([1.0, 1.2, 1.4, 1.6])
    z_pred = np.array([1.0, 1.2 + 0.002, 1.4 + 0.05, 1.6 + 0.5])
    m = redshift_metrics(z_true, z_pred, np.array([0, 200, 400, 600]), np.array([0, 202, 450, 799]))
    assert m["accuracy"] == 0.25 and m["within_1"] == 0.25 and m["within_5"] == 0.5
    assert m["outliers_0.15"] == 0.25 and m["outliers_0.01"] == 0.5


def test_softmax_interval_and_pit_of_a_planted_distribution():
    centres = 1.0 + (np.arange(100) + 0.5) * 0.01
    prob = np.zeros((1, 100))
    prob[0, 40:60] = 1.0  # uniform over [1.40, 1.60)
    est = softmax_estimates(prob, centres)
    assert est["mean"][0] == pytest.approx(1.5)
    assert est["lo"][0] == pytest.approx(1.40 + 0.16 * 0.2) and est["hi"][0] == pytest.approx(1.40 + 0.84 * 0.2)
    assert pit(prob, centres, np.array([1.45]))[0] == pytest.approx(0.25)
    # a calibrated forecaster: truths drawn from the forecast give uniform PIT values
    rng = np.random.default_rng(0)
    truth = rng.uniform(1.40, 1.60, 5000)
    values = pit(np.repeat(prob, 5000, axis=0), centres, truth)
    assert np.histogram(values, bins=5, range=(0, 1))[0].min() > 900


def test_each_cnn_run_is_judged_against_the_best_classical_baseline_on_the_catastrophic_rate():
    from cosmodl.specz.evaluate import baseline_verdict

    def method(kind, rate):
        return {"kind": kind, "mode": {"catastrophic": rate}}

    doc = baseline_verdict({"cnn3_clean_2k": method("cnn", 0.1), "cnn1_clean_2k": method("cnn", 0.5),
                            "template": method("template", 0.4), "nnls": method("template", 0.3),
                            "forest": method("forest", 0.6)})
    assert (doc["best_baseline"], doc["baseline_value"], doc["lower_is_better"]) == ("nnls", 0.3, True)
    assert {k: v["beats"] for k, v in doc["models"].items()} == {"cnn3_clean_2k": True, "cnn1_clean_2k": False}

import numpy as np
import pytest
from scipy.integrate import quad

from cosmodl.cosmology import growth_factor, linear_power, planck18, tophat_window
from cosmodl.errors import ConfigError


def test_eh98_matches_colossus_reference_values():
    # colossus 1.4 'planck18' with eisenstein98_zb: P(0.1) = 5742.8, P(1) = 65.10 (Mpc/h)^3
    cosmo = planck18(Om0=0.3111, Ob0=0.0490)
    pk = linear_power(np.array([0.1, 1.0]), cosmo)
    assert pk[0] == pytest.approx(5742.8, rel=2e-5)
    assert pk[1] == pytest.approx(65.10, rel=1e-4)


def test_sigma8_normalisation_by_independent_quadrature():
    cosmo = planck18()

    def integrand(log_k):
        k = np.exp(log_k)
        return k**3 * linear_power(k, cosmo) * tophat_window(k * 8.0) ** 2 / (2 * np.pi**2)

    sigma2, _ = quad(integrand, np.log(1e-4), np.log(50.0), limit=400)
    assert np.sqrt(sigma2) == pytest.approx(cosmo.sigma8, rel=1e-3)


@pytest.mark.parametrize("z", [0.5, 1.0, 3.0])
def test_growth_factor_matches_exact_integral(z):
    om = 0.31
    cosmo = planck18(Om0=om)

    def hubble(a):
        return np.sqrt(om / a**3 + 1 - om)

    def d_unnorm(a):
        return hubble(a) * quad(lambda x: 1 / (x * hubble(x)) ** 3, 0, a)[0]

    exact = d_unnorm(1 / (1 + z)) / d_unnorm(1.0)
    assert growth_factor(0.0, cosmo) == pytest.approx(1.0)
    assert growth_factor(z, cosmo) == pytest.approx(exact, rel=0.01)


def test_bad_cosmology_is_named():
    with pytest.raises(ConfigError, match="Om0"):
        planck18(Om0=-0.1)
    with pytest.raises(ConfigError, match="unknown cosmology"):
        planck18(omega=0.3)

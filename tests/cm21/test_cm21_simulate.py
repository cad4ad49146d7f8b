"""The reionisation generator against the real 21cmFAST v2 boxes' statistics (note 21cm.md) and its own invariants.

The note's figures come from 200^3 boxes of 1.5 Mpc cells; ours run at 64^3 in 96 Mpc (the same
cells), so sample variance of a smaller box is part of each tolerance.
"""

import math

import numpy as np
import pytest

from cosmodl.cm21.simulate import (
    Reionisation,
    brightness_temperature,
    filter_radii,
    mass_of_virial_temperature,
    mean_collapsed_fraction,
    simulate_realization,
)
from cosmodl.cosmology import planck18
from cosmodl.errors import ConfigError

COSMO = planck18(h=0.68, Om0=0.31, Ob0=0.048, sigma8=0.81, n_s=0.97)  # the MAIS 202 boxes' cosmology
# global x_HI of the real f_esc 0.096 (zeta 24) boxes, from their file names
REAL_HISTORY = {6.5: 0.1259, 7.0: 0.3133, 7.5: 0.4808, 8.0: 0.6125, 9.0: 0.7849, 10.0: 0.8823, 11.0: 0.9371,
                12.0: 0.9672, 13.0: 0.9834}


@pytest.fixture(scope="module")
def zeta24():
    return simulate_realization(Reionisation(64, 96.0, 24.0), list(REAL_HISTORY) + [6.0], 150, COSMO, workers=2)


@pytest.fixture(scope="module")
def zeta17():
    return simulate_realization(Reionisation(64, 96.0, 17.5), [6.5, 7.0, 7.5], 150, COSMO, workers=2)


def test_neutral_fraction_history_follows_the_real_boxes(zeta24):
    for z, real in REAL_HISTORY.items():
        assert zeta24[z]["x_hi"] == pytest.approx(real, abs=0.1), z
    history = [zeta24[z]["x_hi"] for z in sorted(zeta24)]
    assert np.all(np.diff(history) > 0)  # reionisation only proceeds


def test_density_spread_matches_the_real_boxes(zeta17):
    assert zeta17[6.5]["density"].std() == pytest.approx(0.446, abs=0.03)
    assert zeta17[7.0]["density"].std() == pytest.approx(0.418, abs=0.03)
    assert abs(zeta17[7.0]["density"].mean()) < 1e-4


def test_brightness_temperature_statistics_match_the_real_f_esc_0070_boxes(zeta17):
    """Not used to set the defaults (those follow the zeta-24 history): an independent check.

    Ours: zero fraction 0.621 and 0.315, mean 5.48 and 12.62 mK, std 7.30 and 9.20 mK.
    """
    for z, zero, mean, std in ((6.5, 0.556, 5.594, 6.627), (7.5, 0.279, 12.177, 8.453)):
        t = zeta17[z]["delta_T"]
        assert (t == 0).mean() == pytest.approx(zero, abs=0.08), z
        assert t.mean() == pytest.approx(mean, rel=0.15), z
        assert t.std() == pytest.approx(std, rel=0.15), z
        assert t.min() >= 0


def test_neutral_cells_have_the_formula_temperature(zeta17):
    box = zeta17[6.5]
    prefactor = 27 * (0.048 * 0.68**2 / 0.023) * math.sqrt(0.15 / (0.31 * 0.68**2) * 7.5 / 10)
    assert prefactor == pytest.approx(23.08, abs=0.01)  # the note's prefactor at z = 6.5
    ratio = box["delta_T"] / (1 + box["density"])
    assert 0.99 * prefactor < ratio.max() <= prefactor * (1 + 1e-6)  # x_HI <= 1, nearly 1 in the emptiest voids
    np.testing.assert_allclose(brightness_temperature(np.ones((2, 2, 2), np.float32), np.zeros((2, 2, 2), np.float32),
                                                      6.5, COSMO), prefactor, rtol=1e-6)


def test_realizations_of_one_seed_share_the_density_and_more_efficient_sources_ionise_more(zeta17):
    other = simulate_realization(Reionisation(64, 96.0, 24.0), [7.0], 150, COSMO, workers=2)
    np.testing.assert_array_equal(other[7.0]["density"], zeta17[7.0]["density"])
    assert other[7.0]["x_hi"] < zeta17[7.0]["x_hi"]
    assert ((other[7.0]["delta_T"] > 0) <= (zeta17[7.0]["delta_T"] > 0)).all()  # bubbles only grow with zeta
    again = simulate_realization(Reionisation(64, 96.0, 17.5), [7.0], 150, COSMO, workers=2)
    np.testing.assert_array_equal(again[7.0]["delta_T"], zeta17[7.0]["delta_T"])


def test_mean_collapsed_fractions():
    m = 1e9
    from cosmodl.cm21.simulate import sigma_of_mass
    from cosmodl.cosmology import growth_factor
    nu = 1.68 / (sigma_of_mass(m, COSMO) * growth_factor(8.0, COSMO))
    assert mean_collapsed_fraction(8.0, m, COSMO, kind="press_schechter") == pytest.approx(math.erfc(nu / math.sqrt(2)))
    # Sheth-Tormen puts more mass in rare haloes than Press-Schechter
    assert mean_collapsed_fraction(8.0, m, COSMO) > mean_collapsed_fraction(8.0, m, COSMO, kind="press_schechter")
    from scipy.integrate import quad

    big_a, a, p = 0.353, 0.73, 0.175  # 21cmFAST's Sheth-Tormen parameters
    st, _ = quad(lambda x: big_a * math.sqrt(2 * a / math.pi) * (1 + (a * x * x) ** -p) * math.exp(-a * x * x / 2),
                 nu, math.inf)
    assert mean_collapsed_fraction(8.0, m, COSMO) == pytest.approx(st, rel=1e-4)


def test_virial_mass_matches_21cmfast_ttom_by_hand():
    """21cmFAST's TtoM: 7030.97 / h sqrt(Om(z) / (Om Delta_c)) (T / (mu (1 + z)))^1.5 with mu 0.59."""
    om_z = 0.31 * 9**3 / (0.31 * 9**3 + 0.69)
    d = om_z - 1
    delta_c = 18 * math.pi**2 + 82 * d - 39 * d**2
    theirs = 7030.97 / 0.68 * math.sqrt(om_z / (0.31 * delta_c)) * (5e4 / (0.59 * 9)) ** 1.5
    assert mass_of_virial_temperature(5e4, 8.0, COSMO, mu=0.59) == pytest.approx(theirs, rel=0.01)


def test_filter_radii_run_from_r_max_down_to_the_cell_scale():
    radii = filter_radii(Reionisation(64, 96.0, 20.0, r_max=15.0))
    assert radii[0] == 15.0 and radii[-1] == pytest.approx(0.620350491 * 1.5)
    np.testing.assert_allclose(radii[:-2] / radii[1:-1], 1.1)
    assert radii[-2] / radii[-1] <= 1.1


@pytest.mark.parametrize("kwargs, key", [({"zeta": -1.0}, "zeta"), ({"box_len": 0.0}, "box_len"),
                                         ({"dim": 4}, "dim"), ({"t_vir_min": 100.0}, "t_vir_min")])
def test_bad_parameters_are_one_clear_error(kwargs, key):
    args = {"dim": 16, "box_len": 24.0, "zeta": 20.0} | kwargs
    with pytest.raises(ConfigError, match=key):
        Reionisation(**args)

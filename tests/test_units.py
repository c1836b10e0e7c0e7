import numpy as np
import pandas as pd
import pytest

from landuse.core import units


def test_mu_definition():
    # 1 亩 = 10000/15 m²; a hectare is 15 亩; a km² is 1500 亩.
    assert units.M2_PER_MU == pytest.approx(666.6666667)
    assert units.m2_to_mu(10_000.0) == 15.0
    assert units.m2_to_mu(units.M2_PER_KM2) == pytest.approx(1500.0)
    assert units.mu_to_m2(1.0) == pytest.approx(10000 / 15)
    assert units.m2_to_ha(25_000.0) == 2.5
    assert units.ha_to_m2(2.5) == 25_000.0


def test_vectorised_and_round_trip():
    a = np.array([0.0, 666.6666666666666, 5000.0])
    np.testing.assert_allclose(units.m2_to_mu(a), [0.0, 1.0, 7.5])
    s = pd.Series([7.5, 15.0], index=["x", "y"])
    back = units.m2_to_mu(units.mu_to_m2(s))
    pd.testing.assert_series_equal(back, s)

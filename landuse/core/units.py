"""Area and money units used in Chinese land administration.

1 亩 (mu) = 10000/15 m² ≈ 666.667 m²; 1 公顷 (hectare) = 15 亩 = 10 000 m²;
1 km² = 1500 亩.  Money is in 万元 (10⁴ yuan); 1 亿元 = 10 000 万元.

Functions accept scalars, numpy arrays and pandas Series alike.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import pandas as pd

__all__ = [
    "M2_PER_HA",
    "M2_PER_KM2",
    "M2_PER_MU",
    "WAN_PER_YI",
    "ha_to_m2",
    "m2_to_ha",
    "m2_to_mu",
    "mu_to_m2",
]

Number = TypeVar("Number", float, np.ndarray, pd.Series)

M2_PER_MU: float = 10000.0 / 15.0
M2_PER_HA: float = 10000.0
M2_PER_KM2: float = 1_000_000.0
WAN_PER_YI: float = 10000.0


def m2_to_mu(area_m2: Number) -> Number:
    """Convert square metres to 亩.

    Examples
    --------
    >>> m2_to_mu(10000.0)
    15.0
    """
    return area_m2 * 15.0 / 10000.0


def mu_to_m2(area_mu: Number) -> Number:
    """Convert 亩 to square metres.

    Examples
    --------
    >>> mu_to_m2(15.0)
    10000.0
    """
    return area_mu * 10000.0 / 15.0


def m2_to_ha(area_m2: Number) -> Number:
    """Convert square metres to hectares (公顷).

    Examples
    --------
    >>> m2_to_ha(25000.0)
    2.5
    """
    return area_m2 / M2_PER_HA


def ha_to_m2(area_ha: Number) -> Number:
    """Convert hectares (公顷) to square metres.

    Examples
    --------
    >>> ha_to_m2(2.5)
    25000.0
    """
    return area_ha * M2_PER_HA

import numpy as np
import pandas as pd
import pytest

from landuse.errors import SchemaError
from landuse.rates import FORMULAS, disposal_rates, idle_periods, unsupplied_rates

# Ledger (effective rows):            identified   area   disposed
#   A  park 甲                          2023-06-01   10     2024-05-01
#   B  park 甲                          2024-02-01   20     —
#   C  park 乙                          2024-07-01   30     2024-12-31
#   D  park 乙                          2022-01-01   40     2023-12-31 (before the period)
#   E  park 乙                          2025-01-01   50     — (after the period)
# Period 2024: stock at start (end of 2023-12-31) = A 10; identified = B 20 + C 30 = 50;
# disposed = A 10 + C 30 = 40; stock at end = B 20.
# Rate = 40 / (10 + 50) = 2/3; net reduction = (10 − 20) / 10 = −1.
# 甲: 10 / (10 + 20) = 1/3, net −1.  乙: 30 / (0 + 30) = 1, net undefined (no stock).
ENTRIES = pd.DataFrame(
    {
        "parcel_id": ["A", "B", "C", "D", "E", "A", "C", "D", "C"],
        "event": ["认定闲置"] * 5 + ["处置完成", "处置完成", "处置完成", "调查通知"],
        "method": [None] * 5 + ["动工开发", "无偿收回", "司法拍卖", None],
        "event_date": [
            "2023-06-01",
            "2024-02-01",
            "2024-07-01",
            "2022-01-01",
            "2025-01-01",
            "2024-05-01",
            "2024-12-31",
            "2023-12-31",
            "2024-06-01",
        ],
        "area_mu": [10, 20, 30, 40, 50, None, None, None, None],
    }
)
PARKS = pd.Series({"A": "甲", "B": "甲", "C": "乙", "D": "乙", "E": "乙"})


def test_idle_periods():
    p = idle_periods(ENTRIES).set_index("parcel_id")
    assert p.loc["A", "disposed"] == pd.Timestamp("2024-05-01")
    assert pd.isna(p.loc["B", "disposed"])
    assert p.loc["C", "method"] == "无偿收回"
    assert p["area_mu"].sort_index().tolist() == [10, 20, 30, 40, 50]


def test_disposal_rates_by_hand():
    t = disposal_rates(idle_periods(ENTRIES), "2024-01-01", "2024-12-31").iloc[0]
    assert (t["stock_start_mu"], t["identified_mu"], t["disposed_mu"], t["stock_end_mu"]) == (
        10,
        50,
        40,
        20,
    )
    assert t["disposal_rate"] == pytest.approx(2 / 3)
    assert t["net_reduction_rate"] == pytest.approx(-1.0)
    g = disposal_rates(idle_periods(ENTRIES), "2024-01-01", "2024-12-31", groups=PARKS)
    g = g.set_index("group")
    assert g.loc["甲", "disposal_rate"] == pytest.approx(1 / 3)
    assert g.loc["乙", "disposal_rate"] == pytest.approx(1.0)
    assert np.isnan(g.loc["乙", "net_reduction_rate"])
    assert g.loc["合计", "disposal_rate"] == pytest.approx(2 / 3)


def test_period_edges():
    # A period of one day, 2024-05-01: A is disposed that day.
    t = disposal_rates(idle_periods(ENTRIES), "2024-05-01", "2024-05-01").iloc[0]
    assert t["stock_start_mu"] == 30 and t["disposed_mu"] == 10 and t["stock_end_mu"] == 20
    with pytest.raises(SchemaError, match="before it starts"):
        disposal_rates(idle_periods(ENTRIES), "2024-12-31", "2024-01-01")


def test_disposed_before_identified_is_an_error():
    bad = pd.DataFrame(
        {
            "parcel_id": ["X", "X"],
            "event": ["认定闲置", "处置完成"],
            "method": [None, "收回"],
            "event_date": ["2024-05-01", "2024-01-01"],
            "area_mu": [5, None],
        }
    )
    with pytest.raises(SchemaError, match="X disposed before"):
        idle_periods(bad)


def test_unsupplied_rate_by_hand():
    # U1 in stock, not supplied (10); U2 in stock, supplied in 2024 (20); U3 approved
    # during 2024 (not in the start stock); U4 supplied before 2024; U5 never approved.
    # Stock 30, supplied 20 → 2/3.
    parcels = pd.DataFrame(
        {
            "parcel_id": ["U1", "U2", "U3", "U4", "U5"],
            "approval_date": ["2023-05-01", "2023-01-01", "2024-02-01", "2022-01-01", ""],
            "supply_date": ["", "2024-03-01", "2024-06-01", "2023-12-31", ""],
            "area_mu": [10.0, 20.0, 30.0, 40.0, 50.0],
        }
    )
    t = unsupplied_rates(parcels, "2024-01-01", "2024-12-31").iloc[0]
    assert t["unsupplied_stock_mu"] == 30 and t["unsupplied_supplied_mu"] == 20
    assert t["unsupplied_rate"] == pytest.approx(2 / 3)
    assert "期初批而未供土地存量" in FORMULAS["unsupplied_rate"]

import numpy as np
import pandas as pd
import pytest

from landuse.analysis.rates import (
    FORMULAS,
    approved_within,
    disposal_rates,
    idle_periods,
    supply_rates,
    unsupplied_batches,
    unsupplied_rates,
)
from landuse.core.errors import SchemaError

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


# Approval-year windows, cumulative counting and batches (批次):
#        approved     supplied     mu  batch
#   U1   2010-05-01   —            10  A
#   U2   2010-06-01   2024-03-01   20  A
#   U3   2015-03-01   2025-05-01   30  B
#   U4   2018-12-31   —            40  B   (last day of the window: in)
#   U5   2019-01-01   —            50  C   (day after the window: out)
#   U6   2008-12-31   2025-02-01   60  —   (day before the window: out)
#   U7   —            —            70  —   (no approval date: in no window)
#   U8   2012-01-01   2025-07-01    5  D
#   U9   2013-01-01   —             8  ""  (no batch)
STOCK = pd.DataFrame(
    {
        "parcel_id": [f"U{i}" for i in range(1, 10)],
        "approval_date": [
            "2010-05-01",
            "2010-06-01",
            "2015-03-01",
            "2018-12-31",
            "2019-01-01",
            "2008-12-31",
            "",
            "2012-01-01",
            "2013-01-01",
        ],
        "supply_date": ["", "2024-03-01", "2025-05-01", "", "", "2025-02-01", "", "2025-07-01", ""],
        "area_mu": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 5.0, 8.0],
        "approval_batch": ["A", "A", "B", "B", "C", None, None, "D", ""],
    }
)


def test_approval_window_edges():
    inside = approved_within(STOCK, "2009-01-01", "2018-12-31")
    assert STOCK.loc[inside, "parcel_id"].tolist() == ["U1", "U2", "U3", "U4", "U8", "U9"]
    assert approved_within(STOCK, None, "2008-12-31").tolist() == [False] * 5 + [True] + [False] * 3


def test_unsupplied_in_a_window_per_period_and_cumulative():
    window = STOCK[approved_within(STOCK, "2009-01-01", "2018-12-31")]
    # 2025: stock at the start U1 10 + U3 30 + U4 40 + U8 5 + U9 8 = 93 (U2 supplied in
    # 2024); supplied in 2025 U3 30 + U8 5 = 35.
    t = unsupplied_rates(window, "2025-01-01", "2025-12-31").iloc[0]
    assert (t["unsupplied_stock_mu"], t["unsupplied_supplied_mu"]) == (93, 35)
    assert t["unsupplied_rate"] == pytest.approx(35 / 93)
    # Cumulative since the window's first day: every parcel of the window (113 mu), of
    # which U2 20 + U3 30 + U8 5 = 55 supplied by the end of 2025.
    c = unsupplied_rates(window, "2009-01-01", "2025-12-31", cumulative=True).iloc[0]
    assert (c["unsupplied_stock_mu"], c["unsupplied_supplied_mu"]) == (113, 55)
    assert c["unsupplied_rate"] == pytest.approx(55 / 113)
    # The whole stock in 2025: + U5 50 + U6 60 in the stock, + U6 60 supplied.
    w = unsupplied_rates(STOCK, "2025-01-01", "2025-12-31").iloc[0]
    assert (w["unsupplied_stock_mu"], w["unsupplied_supplied_mu"]) == (203, 95)


def test_unsupplied_counted_per_batch():
    window = STOCK[approved_within(STOCK, "2009-01-01", "2018-12-31")]
    b = unsupplied_batches(window, "2025-01-01", "2025-12-31").set_index("approval_batch")
    # A: U1 10 left, nothing supplied; B: U3 30 of 70 supplied; D: U8 5 of 5; U9 unbatched.
    assert b.index.tolist() == ["A", "D", "未填批次", "B"]  # by the batch's first approval
    assert b["parcels"].tolist() == [1, 1, 1, 2]
    assert b["unsupplied_stock_mu"].tolist() == [10, 5, 8, 70]
    assert b["unsupplied_end_mu"].tolist() == [10, 0, 8, 40]
    assert b["batch_status"].tolist() == ["未处置", "处置完毕", "未处置", "部分处置"]
    assert b.loc["B", "unsupplied_rate"] == pytest.approx(30 / 70)
    assert b.loc["A", "approval_date"] == pd.Timestamp("2010-05-01")


# 供地率 of the last five approval years:
#        approved     supplied     mu
#   S1   2021-03-01   2022-01-01   10
#   S2   2023-06-01   —            30
#   S3   2025-12-31   2026-01-05   20   (supplied after the end: not yet)
#   S4   2020-12-31   2021-01-01  100   (approved in 2020)
#   S5   2024-01-01   2024-06-01   40
SUPPLY = pd.DataFrame(
    {
        "approval_date": ["2021-03-01", "2023-06-01", "2025-12-31", "2020-12-31", "2024-01-01"],
        "supply_date": ["2022-01-01", "", "2026-01-05", "2021-01-01", "2024-06-01"],
        "area_mu": [10.0, 30.0, 20.0, 100.0, 40.0],
    }
)


def test_five_year_supply_rate():
    # To 2025-12-31: years 2021–2025; supplied 10 + 40 = 50 of 10 + 30 + 20 + 40 = 100.
    t = supply_rates(SUPPLY, "2025-12-31").set_index("approval_year")
    assert t.index.tolist() == ["2021", "2022", "2023", "2024", "2025", "合计"]
    assert t["approved_mu"].tolist() == [10, 0, 30, 40, 20, 100]
    assert t["supplied_mu"].tolist() == [10, 0, 0, 40, 0, 50]
    assert t.loc["合计", "supply_rate"] == pytest.approx(0.5)
    assert np.isnan(t.loc["2022", "supply_rate"])
    # To 2025-06-30, 2025 is not a whole year: 2020–2024, 150 of 180.
    t = supply_rates(SUPPLY, "2025-06-30").set_index("approval_year")
    assert t.index[0] == "2020" and t.loc["合计", "supply_rate"] == pytest.approx(150 / 180)
    assert "近五年平均供地率" in FORMULAS["supply_rate"]


def test_missing_approval_fields_are_named():
    with pytest.raises(SchemaError, match="lacks approval_date"):
        unsupplied_rates(SUPPLY.drop(columns="approval_date"), "2025-01-01", "2025-12-31")

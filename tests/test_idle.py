import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import rasterio
import shapely

from landuse.analysis.idle import (
    NOT_STARTED,
    PROCEDURE_STEPS,
    SUSPENDED,
    class_cover,
    find_idle,
    procedure_status,
)
from landuse.core.errors import SchemaError
from landuse.core.options import IdleOptions
from landuse.io import Raster
from landuse.ledger import EVENTS

CRS = "EPSG:4545"


def parcels(**cols):
    n = len(next(iter(cols.values())))
    geoms = [shapely.box(i * 200, 0, i * 200 + 100, 100) for i in range(n)]
    data = {"parcel_id": [f"P{i}" for i in range(n)], **cols}
    return gpd.GeoDataFrame(data, geometry=geoms, crs=CRS)


def one(as_of, **cols):
    """Judge a single parcel; price 100 万元 unless given."""
    cols = {"land_price_wan": ["100"], **{k: [v] for k, v in cols.items()}}
    return find_idle(parcels(**cols), as_of).iloc[0]


# idle_days counts from the agreed start 2023-03-01, the first day not counted:
# to 2024-03-01 is 366 days (2024-02-29 lies between), so 2024-03-02 is day 367;
# 2025-03-01 is 366 + 365 = 731 and 2025-03-02 is 732.
@pytest.mark.parametrize(
    ("as_of", "idle", "years", "days", "fee", "recover"),
    [
        ("2024-03-01", False, None, None, None, False),  # day of the anniversary: not yet
        ("2024-03-02", True, 1, 367, 20.0, False),  # day after: idle, fee 20 % of 100 万元
        ("2025-03-01", True, 1, 731, 20.0, False),  # day before two years
        ("2025-03-02", True, 2, 732, None, True),  # two full years: recovery without compensation
    ],
)
def test_not_started_boundaries(as_of, idle, years, days, fee, recover):
    row = one(as_of, agreed_start_date="2023-03-01")
    assert row["idle"] == idle
    assert row["recover_without_compensation"] == recover
    if idle:
        assert row["idle_type"] == NOT_STARTED
        assert row["idle_since"] == pd.Timestamp("2024-03-02")
        assert row["idle_years"] == years
        assert row["idle_days"] == days
    else:
        assert pd.isna(row["idle_days"])
    if fee is None:
        assert pd.isna(row["idle_fee_wan"])
    else:
        assert row["idle_fee_wan"] == pytest.approx(fee)


def test_leap_day_start():
    assert not one("2025-02-28", agreed_start_date="2024-02-29")["idle"]
    row = one("2025-03-01", agreed_start_date="2024年2月29日")
    assert row["idle"] and row["idle_since"] == pd.Timestamp("2025-03-01")


def test_started_land_is_not_idle_unless_suspended():
    assert not one("2025-01-01", agreed_start_date="2023-03-01", actual_start_date="2024-06-01")[
        "idle"
    ]
    # Started only after the day judged: still not started on that day.
    assert one("2024-05-01", agreed_start_date="2023-03-01", actual_start_date="2024-06-01")["idle"]


@pytest.mark.parametrize(
    ("developed", "invested", "as_of", "idle"),
    [
        ("0.30", "0.5", "2024-03-01", False),  # suspended one year exactly: not yet
        ("0.30", "0.5", "2024-03-02", True),  # developed under 1/3
        ("0.34", "24.99%", "2024-03-02", True),  # invested under 25 %
        (str(1 / 3), "0.25", "2024-03-02", False),  # exactly 1/3 and 25 %: not idle
        ("0.3333", "0.9", "2024-03-02", True),  # just under 1/3
        ("0.5", "0.5", "2030-01-01", False),  # enough developed: suspension alone is not idle
    ],
)
def test_suspended_thresholds(developed, invested, as_of, idle):
    row = one(
        as_of,
        agreed_start_date="2021-06-01",
        actual_start_date="2022-01-01",
        developed_share=developed,
        invested_share=invested,
        suspended_since="2023-03-01",
    )
    assert row["idle"] == idle
    if idle:
        assert row["idle_type"] == SUSPENDED
        assert row["idle_since"] == pd.Timestamp("2024-03-02")


def test_government_caused_gets_options_not_fee():
    row = one("2026-01-01", agreed_start_date="2023-03-01", gov_caused="是")
    assert row["idle"] and row["gov_caused"]
    assert pd.isna(row["idle_fee_wan"]) and not row["recover_without_compensation"]
    assert row["consequence"].startswith("政府原因") and "临时使用" in row["consequence"]


def test_every_parcel_is_kept_and_unknowns_are_flagged():
    p = parcels(
        supply_status=["已供", "未供", "已供"],
        agreed_start_date=["2020-01-01", "2020-01-01", ""],
        land_price_wan=["1,000", "", "0.1亿元"],
    )
    out = find_idle(p, "2025-01-01")
    assert len(out) == 3 and out.index.equals(p.index)
    assert out["idle"].tolist() == [True, False, False]
    assert out["undetermined"].tolist() == [False, False, True]
    assert out["recover_without_compensation"].tolist() == [True, False, False]


def test_bad_values_are_errors():
    with pytest.raises(SchemaError, match="agreed_start_date"):
        find_idle(parcels(agreed_start_date=["2023-02-30"]), "2025-01-01")
    with pytest.raises(SchemaError, match="lacks agreed_start_date"):
        find_idle(parcels(parcel_name=["x"]), "2025-01-01")


# A 3 × 3 raster of 10 m cells, top-left corner (0, 30); 0 = nodata.
#   row 0 (y 20–30): 4 1 1
#   row 1 (y 10–20): 4 4 1
#   row 2 (y  0–10): 0 1 5
RASTER = Raster(
    array=np.array([[4, 1, 1], [4, 4, 1], [0, 1, 5]], dtype="uint8"),
    transform=rasterio.Affine(10, 0, 0, 0, -10, 30),
    crs=pyproj.CRS.from_user_input(CRS),
    nodata=0,
)


def test_class_cover_against_hand_computation():
    geoms = [
        shapely.box(5, 15, 15, 25),  # 4 quarter cells: three of class 4 → 75 / 100
        shapely.box(21, 1, 23, 3),  # 4 m², inside one class-5 cell → 1.0
        shapely.box(5, 0, 15, 10),  # half on nodata, half on class 1 → 0, coverage 0.5
        shapely.box(25, 25, 35, 35),  # a quarter on the raster (class 1) → 0, coverage 0.25
        shapely.Polygon([(0, 30), (10, 30), (0, 20)]),  # triangle in a class-4 cell → 1.0
    ]
    gdf = gpd.GeoDataFrame(geometry=geoms, crs=CRS, index=[10, 11, 12, 13, 14])
    got = class_cover(gdf, RASTER, (4, 5))
    assert got.index.tolist() == [10, 11, 12, 13, 14]
    np.testing.assert_allclose(got["share"], [0.75, 1.0, 0.0, 0.0, 1.0])
    np.testing.assert_allclose(got["coverage"], [1.0, 1.0, 0.5, 0.25, 1.0])
    # Tiny batches give the same answer.
    np.testing.assert_allclose(class_cover(gdf, RASTER, (4, 5), max_pairs=1)["share"], got["share"])


def test_suspect_idle_from_raster():
    p = gpd.GeoDataFrame(
        {
            "parcel_id": ["ghost", "busy"],
            "agreed_start_date": ["2023-01-01", "2023-01-01"],
            "actual_start_date": ["2023-06-01", "2023-06-01"],
            "construction_status": ["在建", "在建"],
        },
        geometry=[shapely.box(11, 21, 19, 29), shapely.box(5, 15, 15, 25)],
        crs=CRS,
    )
    out = find_idle(p, "2025-01-01", landcover=RASTER)
    assert out["suspect_idle"].tolist() == [True, False]
    np.testing.assert_allclose(out["evidence_share"], [0.0, 0.75])


def test_sample_idle(sample_data):
    out = find_idle(sample_data.layers["parcels"], "2025-12-31")
    assert len(out) == len(sample_data.layers["parcels"])
    idle = out[out["idle"]]
    assert len(idle) > 50
    # Independent re-check of the not-started rule on the sample's own strings.
    waiting = out["actual_start_date"].isna() & out["agreed_start_date"].notna()
    agreed = pd.to_datetime(out["agreed_start_date"])
    anniversary = agreed + pd.DateOffset(years=1)
    expect = waiting & (pd.Timestamp("2025-12-31") > anniversary)
    assert (out.loc[waiting, "idle"] == expect[waiting]).all()


# --- government-caused extension: the clock restarts from the new agreed date (Art. 12).
# Agreed 2022-03-01, extended to 2023-03-01: a year from 2023-03-01 is complete at the
# end of 2024-03-01, so idle from 2024-03-02; two years complete at the end of 2025-03-01.
# Without the extension the same day 2024-03-02 is two full years from 2022-03-01.
@pytest.mark.parametrize(
    ("as_of", "idle", "years", "recover"),
    [
        ("2024-03-01", False, None, False),
        ("2024-03-02", True, 1, False),
        ("2025-03-01", True, 1, False),
        ("2025-03-02", True, 2, True),
    ],
)
def test_extension_restarts_the_clock(as_of, idle, years, recover):
    row = one(as_of, agreed_start_date="2022-03-01", new_agreed_start_date="2023-03-01")
    assert row["idle"] == idle and row["recover_without_compensation"] == recover
    if idle:
        assert row["idle_years"] == years
        assert row["clock_start"] == pd.Timestamp("2023-03-01")
        assert row["idle_since"] == pd.Timestamp("2024-03-02")
        assert row["clock_basis"].startswith("新约定动工日期")
    before = one(as_of, agreed_start_date="2022-03-01")  # two full years from 2024-03-02
    assert before["idle"] and before["recover_without_compensation"] == (as_of >= "2024-03-02")


def test_extension_before_the_agreed_date_is_an_error():
    p = parcels(agreed_start_date=["2023-03-01"], new_agreed_start_date=["2023-02-28"])
    with pytest.raises(SchemaError, match=r"新约定动工日期.*P0"):
        find_idle(p, "2025-01-01")


# --- investment without the land price (Art. 30).  Suspended parcels with half their
# area developed, so only the 25 % test can make them idle.  Total 1 000 万元 and land
# price 200 万元 in the table: without the land price the total is 800.
#   invested 401 → (401 − 200) / 800 = 0.25125  ≥ 25 %: not idle
#   invested 400 → 200 / 800 = 0.25 exactly       ≥ 25 %: not idle
#   invested 399 → 199 / 800 = 0.24875          < 25 %: idle (0.399 with the land price in)
@pytest.mark.parametrize(
    ("invested", "share", "idle"),
    [("401", 201 / 800, False), ("400", 0.25, False), ("399", 199 / 800, True)],
)
def test_land_price_is_subtracted_either_side_of_25_percent(invested, share, idle):
    row = one(
        "2024-03-02",
        agreed_start_date="2021-06-01",
        actual_start_date="2022-01-01",
        developed_share="0.5",
        invested_share="0.9",  # the figures win over a stated share
        suspended_since="2023-03-01",
        land_price_wan="200",
        invested_incl_land_wan=invested,
        total_investment_incl_land_wan="1000",
    )
    assert row["investment_share"] == pytest.approx(share)
    assert row["idle"] == idle
    assert row["investment_rule"].startswith("(已投资额−出让价款)÷(总投资额−出让价款)")


def test_investment_rules_per_parcel():
    p = parcels(
        land_price_wan=["200", "200", "", "200"],
        invested_wan=["199", "", "", ""],
        total_investment_wan=["800", "800", "", ""],
        invested_incl_land_wan=["", "399", "399", ""],
        total_investment_incl_land_wan=["", "", "1000", ""],
        invested_share=["", "", "0.3", "0.3"],
        agreed_start_date=["2020-01-01"] * 4,
    )
    out = find_idle(p, "2025-01-01")
    # 199 / 800; (399 − 200) / 800; no land price: the stated 0.3; the stated 0.3.
    np.testing.assert_allclose(out["investment_share"], [199 / 800, 199 / 800, 0.3, 0.3])
    assert out["investment_rule"].tolist() == [
        "已投资额÷总投资额（不含土地价款，第三十条）",
        "(已投资额−出让价款)÷总投资额（不含土地价款，第三十条）",
        "投资额含土地价款但缺出让价款，未能扣除；按已投资比例（表中填报）",
        "已投资比例（表中填报）",
    ]


@pytest.mark.parametrize(
    ("invested", "total", "message"),
    [("300", "200", "总投资额扣除土地价款后不大于零"), ("150", "1000", "已投资额小于出让价款")],
)
def test_investment_that_cannot_include_the_land_price_is_an_error(invested, total, message):
    p = parcels(
        agreed_start_date=["2020-01-01"],
        land_price_wan=["200"],
        invested_incl_land_wan=[invested],
        total_investment_incl_land_wan=[total],
    )
    with pytest.raises(SchemaError, match=rf"{message}.*P0"):
        find_idle(p, "2025-01-01")


# --- Art. 14 and suspended development: recovery is an interpretation, switchable.
def test_suspended_two_years_recovery_can_be_turned_off():
    cols = {
        "agreed_start_date": ["2020-06-01"],
        "actual_start_date": ["2021-01-01"],
        "developed_share": ["0.1"],
        "suspended_since": ["2022-03-01"],
        "land_price_wan": ["100"],
    }
    on = find_idle(parcels(**cols), "2024-03-02").iloc[0]  # two full years suspended
    assert on["recover_without_compensation"] and "解释适用" in on["consequence"]
    off = find_idle(
        parcels(**cols), "2024-03-02", options=IdleOptions(recover_suspended=False)
    ).iloc[0]
    assert off["idle"] and not off["recover_without_compensation"]
    assert off["idle_fee_wan"] == pytest.approx(20.0) and "第十四条" in off["consequence"]
    # Land not started is recovered at two years whatever the switch says.
    waiting = find_idle(
        parcels(agreed_start_date=["2022-03-01"], land_price_wan=["100"]),
        "2024-03-02",
        options=IdleOptions(recover_suspended=False),
    ).iloc[0]
    assert waiting["recover_without_compensation"]


# --- the "started" evidence (Art. 30).
def test_start_without_evidence_is_flagged():
    p = parcels(
        agreed_start_date=["2023-01-01"] * 5,
        actual_start_date=["2023-06-01"] * 4 + [""],
        construction_status=["在建", "在建", "在建", "已竣工", ""],
        start_evidence=["施工许可证、基础桩打入完毕", "", "施工许可证", "", ""],
    )
    out = find_idle(p, "2025-01-01")
    assert out["start_unverified"].tolist() == [False, True, True, False, False]
    assert out["start_check"].iloc[1].startswith("有实际动工日期但未登记动工依据")
    assert out["start_check"].iloc[2].startswith("仅有施工许可证")
    with pytest.raises(SchemaError, match=r"动工依据无法识别.*P0"):
        find_idle(parcels(agreed_start_date=["2023-01-01"], start_evidence=["已开工"]), "2025")


def test_start_evidence_against_the_raster():
    p = gpd.GeoDataFrame(
        {
            "parcel_id": ["ghost", "busy"],
            "agreed_start_date": ["2023-01-01", "2023-01-01"],
            "actual_start_date": ["2023-06-01", "2023-06-01"],
            "construction_status": ["在建", "在建"],
            "start_evidence": ["基坑开挖完毕", ""],
        },
        geometry=[shapely.box(11, 21, 19, 29), shapely.box(5, 15, 15, 25)],
        crs=CRS,
    )
    out = find_idle(p, "2025-01-01", landcover=RASTER)
    assert out["start_check"].tolist() == [
        "登记有动工依据但影像无建设迹象，需实地核查",
        "有实际动工日期但未登记动工依据（第三十条），需核查；影像有建设迹象",
    ]


# --- the procedure: next step, deadlines (Art. 5, Art. 17), day 30 and day 31.
def ledger_rows(*rows):
    """(parcel, event, date, method) tuples as effective ledger entries."""
    return pd.DataFrame(
        [
            {"parcel_id": p, "event": e, "event_date": d, "method": m, "doc_no": n}
            for p, e, d, m, n in (r if len(r) == 5 else (*r, None) for r in rows)
        ]
    )


# Found (or served) 2025-03-03: the first day is not counted, day 30 is 2025-04-02
# (a Wednesday), day 31 is 2025-04-03.
@pytest.mark.parametrize(
    ("as_of", "overdue", "days_left"), [("2025-04-02", False, 0), ("2025-04-03", True, -1)]
)
def test_investigation_deadline_day_30_and_31(as_of, overdue, days_left):
    r = procedure_status(ledger_rows(("A", "发现疑似闲置", "2025-03-03", None)), as_of).iloc[0]
    assert r["next_step"] == "调查通知" and r["deadline"] == pd.Timestamp("2025-04-02")
    assert r["overdue"] == overdue and r["days_to_deadline"] == days_left
    assert r["deadline_basis"].startswith("第五条")


@pytest.mark.parametrize(
    ("notice", "late"), [("2025-04-02", ""), ("2025-04-03", "调查通知逾期1天")]
)
def test_investigation_done_on_day_30_or_31(notice, late):
    rows = ledger_rows(("A", "发现疑似闲置", "2025-03-03", None), ("A", "调查通知", notice, None))
    r = procedure_status(rows, "2025-06-01").iloc[0]
    assert r["next_step"] == "认定书" and r["late_steps"].startswith(late)
    assert (r["late_steps"] == "") == (late == "")


def decided(method, *more):
    return ledger_rows(
        ("A", "调查通知", "2024-10-01", None),
        ("A", "认定闲置", "2024-11-01", None, "兴自然资闲认〔2024〕1号"),
        ("A", "公示", "2024-11-10", None),
        ("A", "听证告知", "2025-01-10", None),
        ("A", "处置决定", "2025-02-20", method, "兴自然资闲决〔2025〕3号"),
        ("A", "决定书送达", "2025-03-03", None),
        *more,
    )


@pytest.mark.parametrize(
    ("method", "step"), [("征缴闲置费", "缴纳闲置费"), ("无偿收回", "交回土地")]
)
@pytest.mark.parametrize(
    ("as_of", "overdue", "days_left"), [("2025-04-02", False, 0), ("2025-04-03", True, -1)]
)
def test_payment_or_hand_back_deadline_day_30_and_31(method, step, as_of, overdue, days_left):
    r = procedure_status(decided(method), as_of).iloc[0]
    assert r["last_step"] == "决定书送达" and r["next_step"] == step
    assert r["deadline"] == pd.Timestamp("2025-04-02") and r["overdue"] == overdue
    assert r["days_to_deadline"] == days_left and r["deadline_basis"].startswith("第十七条")
    assert r["determination_no"] == "兴自然资闲认〔2024〕1号"
    assert r["decision_no"] == "兴自然资闲决〔2025〕3号"
    assert r["served_date"] == pd.Timestamp("2025-03-03") and r["issues"] == ""


@pytest.mark.parametrize(
    ("paid", "late"), [("2025-04-02", ""), ("2025-04-03", "缴纳闲置费逾期1天")]
)
def test_fee_paid_on_day_30_or_31(paid, late):
    rows = decided("征缴闲置费", ("A", "缴纳闲置费", paid, None))
    rows.loc[rows.index[-1], "amount_wan"] = 20.0
    r = procedure_status(rows, "2025-05-01").iloc[0]
    assert r["paid_date"] == pd.Timestamp(paid) and r["paid_wan"] == 20.0
    assert r["next_step"] == "处置完成" and r["late_steps"].startswith(late)
    assert (r["late_steps"] == "") == (late == "") and not r["overdue"]


def test_recovery_steps_after_hand_back():
    rows = decided("无偿收回", ("A", "交回土地", "2025-03-20", None))
    assert procedure_status(rows, "2025-05-01").iloc[0]["next_step"] == "注销登记"
    rows = decided(
        "无偿收回", ("A", "交回土地", "2025-03-20", None), ("A", "注销登记", "2025-03-25", None)
    )
    assert procedure_status(rows, "2025-05-01").iloc[0]["next_step"] == "处置完成"
    done = decided("无偿收回", ("A", "处置完成", "2025-04-01", "无偿收回"))
    r = procedure_status(done, "2025-05-01").iloc[0]
    assert r["next_step"] == "" and r["last_step"] == "处置完成" and not r["overdue"]


def test_deadline_on_a_holiday_moves_on():
    # Served 2025-09-05: day 30 is Sunday 2025-10-05 in the National Day holiday
    # (1–8 October), so the fee is due by 2025-10-09 (Civil Code Art. 203).
    rows = decided("征缴闲置费")
    rows.loc[rows["event"] == "决定书送达", "event_date"] = "2025-09-05"
    r = procedure_status(rows, "2025-10-09").iloc[0]
    assert r["deadline"] == pd.Timestamp("2025-10-09") and not r["overdue"]
    assert procedure_status(rows, "2025-10-10").iloc[0]["overdue"]
    plain = procedure_status(rows, "2025-10-09", options=IdleOptions(holiday_rollover=False))
    assert plain.iloc[0]["deadline"] == pd.Timestamp("2025-10-05") and plain.iloc[0]["overdue"]


def test_procedure_issues_and_unknown_parcels():
    rows = ledger_rows(
        ("A", "认定闲置", "2025-01-10", None),  # no investigation notice recorded
        ("A", "处置决定", "2025-02-01", "征缴闲置费"),  # nor the hearing notice
        ("B", "认定书", "2025-01-10", None),
        ("B", "公示", "2025-01-20", None),
        ("C", "发现疑似闲置", "2026-01-01", None),  # after the day judged: not yet known
    )
    idle = pd.DataFrame(
        {
            "parcel_id": ["B", "D", "E"],
            "idle": [True, True, False],
            "gov_caused": [True, False, False],
        }
    )
    got = procedure_status(rows, "2025-06-01", idle=idle).set_index("parcel_id")
    assert got.index.tolist() == ["A", "B", "D"]
    assert got.loc["A", "next_step"] == "决定书送达"
    assert (
        got.loc["A", "issues"]
        == "认定前未登记调查通知（第五条）；处置决定前未登记听证告知（第十五条）"
    )
    # Government-caused: no hearing notice before its disposal decision.
    assert got.loc["B", "next_step"] == "处置决定"
    assert got.loc["D", "next_step"] == "调查通知" and pd.isna(got.loc["D", "deadline"])
    assert got.loc["D", "issues"].startswith("判定为闲置但台账无记录")


def test_procedure_steps_are_ledger_events():
    assert set(PROCEDURE_STEPS) <= set(EVENTS)


def test_sample_carries_the_new_cases(sample_data):
    from landuse.ledger import read_ledger_file
    from landuse.sample import get_path

    p = sample_data.layers["parcels"]
    out = find_idle(p, "2025-12-31")
    # Extensions: a few government-caused parcels, still idle, counted from the new date
    # (checked with pandas' own calendar arithmetic).
    ext = out[out["new_agreed_start_date"].notna()]
    assert 3 <= len(ext) <= 20 and ext["gov_caused"].all() and ext["idle"].all()
    new = pd.to_datetime(ext["new_agreed_start_date"])
    assert (new >= pd.to_datetime(ext["agreed_start_date"])).all()
    assert (new + pd.DateOffset(years=1) < pd.Timestamp("2025-12-31")).all()
    assert (ext["clock_start"] == new).all()
    # Investment figures with the land price in: net share = TZBL once it is taken out.
    amounts = out[out["invested_incl_land_wan"].notna()]
    assert len(amounts) >= 5
    assert (
        amounts["investment_rule"].str.startswith("(已投资额−出让价款)÷(总投资额−出让价款)").all()
    )
    net = (amounts["invested_incl_land_wan"] - amounts["land_price_wan"]) / (
        amounts["total_investment_incl_land_wan"] - amounts["land_price_wan"]
    )
    np.testing.assert_allclose(amounts["investment_share"], net)
    np.testing.assert_allclose(net, amounts["invested_share"].astype(float), atol=0.005)
    # Starts without the Art. 30 evidence, and starts with only a permit.
    flagged = out[out["start_unverified"]]
    assert len(flagged) >= 3
    assert flagged["start_evidence"].fillna("").isin(["", "施工许可证"]).all()
    assert (flagged["start_evidence"] == "施工许可证").any()
    # Approval batches: most approved parcels in one, a few without.
    approved = p[p["approval_date"].notna()]
    assert approved["approval_batch"].notna().mean() > 0.9
    assert approved["approval_batch"].isna().sum() >= 3
    # The ledger holds every step of the procedure, with 文号, and overdue cases.
    ledger = read_ledger_file(get_path("ledger"))
    assert set(PROCEDURE_STEPS) - {"认定书"} <= set(ledger["event"])
    assert ledger.loc[ledger["event"] == "处置决定", "doc_no"].notna().all()
    status = procedure_status(ledger, "2025-12-31", idle=out)
    overdue = status.loc[status["overdue"], "next_step"]
    assert {"调查通知", "缴纳闲置费", "交回土地"} <= set(overdue)
    assert (status["late_steps"] != "").sum() >= 3
    assert status["issues"].str.contains("听证告知").any()

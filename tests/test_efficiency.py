import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from landuse.efficiency import EfficiencyOptions, allocate_land, evaluate
from landuse.errors import ConfigError, SchemaError
from landuse.options import parse_options

CRS = "EPSG:4545"


@pytest.fixture
def parcels():
    # P1, P3, P4, P5: 100 m squares = 15 亩; P2 200 × 100 m = 30 亩.
    boxes = [
        (0, 0, 100, 100),
        (200, 0, 400, 100),
        (500, 0, 600, 100),
        (700, 0, 800, 100),
        (900, 0, 1000, 100),
    ]
    return gpd.GeoDataFrame(
        {
            "parcel_id": ["P1", "P2", "P3", "P4", "P5"],
            "enterprise_id": ["E1", "E1", "E9", None, "E6"],
            "plot_ratio": [1.0, 1.0, 2.0, None, 1.2],
            "park": ["甲", "甲", "甲", "乙", "乙"],
            "parent_park": "总园",
            "area_mu": [15.0, 30.0, 15.0, 15.0, 15.0],
        },
        geometry=[shapely.box(*b) for b in boxes],
        crs=CRS,
    )


def table():
    """2024 figures as bureaus write them; 2023 tax is half of 2024."""
    rows_2024 = [
        # id, tax, revenue, VA, energy, electricity, emission, staff, R&D, above, leased, floor
        ("E1", "450", "1.2亿元", "3,000", "600", "", "3", "100", "240", "是", "", ""),
        ("E6", "75万元", "3000", "750", "250吨标准煤", "", "—", "25人", "30", "是", "", ""),
        ("E2", "37.5", "", "", "", "75,000", "", "", "", "否", "P3", "5000"),
        ("E3", "15", "", "", "", "3万千瓦时", "", "", "", "否", "P3", "10,000"),
        ("E9", "0", "", "", "", "", "", "", "", "否", "", ""),
        ("E4", "—", "", "", "", "", "", "", "", "否", "P4", ""),
        ("E5", "30", "", "", "", "1.5万千瓦时", "", "", "", "否", "P4", ""),
    ]
    cols = [
        "enterprise_id",
        "tax_wan",
        "revenue_wan",
        "value_added_wan",
        "energy_tce",
        "electricity_kwh",
        "emission_t",
        "employees",
        "rd_wan",
        "above_size",
        "leased_parcel_id",
        "leased_floor_m2",
    ]
    t24 = pd.DataFrame(rows_2024, columns=cols).assign(year="2024")
    half = {"450": "225", "75万元": "37.5", "37.5": "18.75", "15": "7.5", "30": "15"}
    t23 = t24.assign(year="2023年", tax_wan=t24["tax_wan"].map(lambda v: half.get(v, v)))
    return pd.concat([t23, t24], ignore_index=True)


def test_land_allocation_rules(parcels):
    t = table()
    from landuse.efficiency import _enterprise_table

    links = allocate_land(parcels, _enterprise_table(t[t["year"] == "2024"]))
    land = links.groupby("enterprise_id")["land_mu"].sum()
    # P3: plot ratio 2 → 15 亩 × 2 = 20 000 m² of floor; E2 leases 5 000 (¼ → 3.75 亩),
    # E3 10 000 (½ → 7.5 亩); the holder E9 keeps 3.75 亩.  P4: no floor areas → equal.
    assert land.to_dict() == pytest.approx(
        {"E1": 45.0, "E2": 3.75, "E3": 7.5, "E4": 7.5, "E5": 7.5, "E6": 15.0, "E9": 3.75}
    )
    # Conservation: allocated land sums to each occupied parcel's area.
    per_parcel = links.groupby("parcel_id")["land_mu"].sum()
    assert per_parcel.to_dict() == pytest.approx({"P1": 15, "P2": 30, "P3": 15, "P4": 15, "P5": 15})
    rules = links.set_index(["enterprise_id", "parcel_id"])["land_rule"]
    assert rules[("E2", "P3")] == "按租赁建筑面积占比分摊"
    assert rules[("E4", "P4")] == "平均分摊"
    assert rules[("E1", "P1")] == "自有用地"


def test_scores_and_classes_by_hand(parcels):
    r = evaluate(parcels, table())
    assert r.year == 2024
    e = r.enterprises.set_index("enterprise_id")
    # Above-size benchmarks (sum over sum): tax/mu 525/60 = 8.75; VA/mu 3750/60 = 62.5;
    # VA/tce 3750/850; VA/emission 3000/3 = 1000 (E1 only); VA/staff 3750/125 = 30;
    # R&D 270/15000 = 1.8 %.
    # E1: 30·10/8.75 + 20·66.667/62.5 + 20·5/4.41176 + 10 + 10 + 10·2/1.8 = 109.3968
    # E6: 30·5/8.75 + 20·50/62.5 + 20·3/4.41176 + 10 (emission missing: average)
    #     + 10 + 10·1/1.8 = 72.2984
    assert e.loc["E1", "score"] == pytest.approx(109.3968, abs=1e-4)
    assert e.loc["E6", "score"] == pytest.approx(72.2984, abs=1e-4)
    assert e.loc["E1", "tax_per_mu_wan"] == pytest.approx(10.0)
    assert e.loc["E1", "revenue_per_mu_wan"] == pytest.approx(12000 / 45)
    assert e.loc["E6", "score_va_per_emission_wan"] == pytest.approx(10.0)
    assert "缺少单位排放增加值数据，按平均分计" in e.loc["E6", "reason"]
    # Below-size: tax/mu benchmark 82.5/22.5; tax/kWh 82.5/120 000.
    # E2 172.7273, E3 63.6364, E5 200.0, E9 0 (no tax, no electricity: that item 0).
    for firm, score in {"E2": 172.7273, "E3": 63.6364, "E5": 200.0, "E9": 0.0}.items():
        assert e.loc[firm, "score"] == pytest.approx(score, abs=1e-4)
    assert "缺少单位电耗税收数据，该项0分" in e.loc["E9", "reason"]
    # Classes: A ≤ ceil(25 %·n), B ≤ ceil(70 %·n), C ≤ ceil(95 %·n).
    assert e["grade"].to_dict() == {
        "E1": "A",
        "E6": "B",
        "E2": "B",
        "E3": "B",
        "E9": "C",
        "E4": "未参评",
        "E5": "A",
    }
    assert e.loc["E4", "reason"] == "缺少税收数据，不参评"
    assert e.loc["E5", "policy"] == "优先发展"
    assert "规下企业第 1/4 名，A 类" in e.loc["E5", "reason"]


def test_parcel_figures_conserve_tax(parcels):
    r = evaluate(parcels, table())
    p = r.parcels.set_index("parcel_id")
    # E1's 450 万元 split by land: P1 15/45 → 150, P2 300; P3 = 37.5 + 15 + 0.
    assert p["tax_wan"].to_dict() == pytest.approx(
        {"P1": 150.0, "P2": 300.0, "P3": 52.5, "P4": 30.0, "P5": 75.0}
    )
    assert p.loc["P3", "tax_per_mu_wan"] == pytest.approx(3.5)
    assert p["tax_wan"].sum() == pytest.approx(r.enterprises["tax_wan"].sum())
    assert p.loc["P3", "enterprises_on_parcel"] == 3
    assert p.loc["P1", "grade"] == "A"


def test_park_summary_and_year_on_year(parcels):
    s = evaluate(parcels, table()).parks.set_index(["level", "group"])
    # 甲: 450 + 37.5 + 15 + 0 = 502.5 万元 on 60 亩 → 8.375; 2023: 251.25 → 4.1875 (+100 %).
    assert s.loc[("子园区", "甲"), "tax_per_mu_wan_2024"] == pytest.approx(8.375)
    assert s.loc[("子园区", "甲"), "tax_per_mu_wan_2023"] == pytest.approx(4.1875)
    assert s.loc[("子园区", "甲"), "yoy"] == pytest.approx(1.0)
    # 乙: E5 30 on 7.5 亩 + E6 75 on 15 亩 (E4 without tax is left out) → 105 / 22.5.
    assert s.loc[("子园区", "乙"), "tax_per_mu_wan_2024"] == pytest.approx(105 / 22.5)
    assert s.loc[("县区", "全县（区）"), "tax_wan_2024"] == pytest.approx(607.5)
    assert s.loc[("县区", "全县（区）"), "land_mu_2024"] == pytest.approx(82.5)
    assert s.loc[("园区", "总园"), "tax_per_mu_wan_2024"] == pytest.approx(607.5 / 82.5)


def test_options_and_errors(parcels):
    t = table()
    # Coverage threshold: at 5 亩 E2 (3.75) and E9 (3.75) drop out of the below-size group.
    r = evaluate(parcels, t, options=EfficiencyOptions(min_land_mu_below=5))
    e = r.enterprises.set_index("enterprise_id")
    assert e.loc["E2", "grade"] == "未参评" and "不足 5 亩" in e.loc["E2", "reason"]
    bad = t.copy()
    bad.loc[0, "tax_wan"] = "约450"
    with pytest.raises(SchemaError, match="tax_wan"):
        evaluate(parcels, bad)
    with pytest.raises(SchemaError, match="No enterprise data for 2030"):
        evaluate(parcels, t, year=2030)
    with pytest.raises(ConfigError, match="unknown option 'weights'"):
        parse_options(EfficiencyOptions, {"weights": {}}, section="efficiency")
    over = t.copy()
    over.loc[over["enterprise_id"] == "E3", "leased_floor_m2"] = "30000"
    with pytest.raises(SchemaError, match="P3"):
        evaluate(parcels, over)


def test_sample_efficiency(sample_data):
    from landuse.crs import with_areas

    p = with_areas(sample_data.layers["parcels"], sample_data.crs)
    r = evaluate(p, sample_data.tables["enterprises"])
    e = r.enterprises
    assert set(e["grade"]) == {"A", "B", "C", "D", "未参评"}
    scored = e[e["scored"]]
    assert np.isclose(r.parcels["tax_wan"].sum(), e.loc[e["land_mu"] > 0, "tax_wan"].sum())
    assert (scored.groupby("size_group")["grade"].apply(lambda g: (g == "A").mean()) <= 0.26).all()

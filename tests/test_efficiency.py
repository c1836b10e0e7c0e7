import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from landuse.analysis.efficiency import EfficiencyOptions, allocate_land, evaluate
from landuse.core.errors import ConfigError, SchemaError
from landuse.core.options import parse_options

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
    from landuse.analysis.efficiency import _enterprise_table

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
    # The default scheme (zhejiang): benchmarks = this year's aggregate averages of
    # each size group, an item counts up to twice its weight.
    r = evaluate(parcels, table())
    assert r.year == 2024
    assert r.scheme.name == "zhejiang" and r.scheme.item_cap == 2
    e = r.enterprises.set_index("enterprise_id")
    # Above-size benchmarks (sum over sum): tax/mu 525/60 = 8.75; VA/mu 3750/60 = 62.5;
    # VA/tce 3750/850; VA/emission 3000/3 = 1000 (E1 only); VA/staff 3750/125 = 30;
    # R&D 270/15000 = 1.8 %.  No ratio reaches 2.
    # E1: 30·10/8.75 + 20·66.667/62.5 + 20·5/4.41176 + 10 + 10 + 10·2/1.8 = 109.3968
    # E6: 30·5/8.75 + 20·50/62.5 + 20·3/4.41176 + 10 (emission missing: the mean item
    #     score of the above-size firms that have it, E1's 10) + 10 + 10·1/1.8 = 72.2984
    assert e.loc["E1", "score"] == pytest.approx(109.3968, abs=1e-4)
    assert e.loc["E6", "score"] == pytest.approx(72.2984, abs=1e-4)
    assert e.loc["E1", "tax_per_mu_wan"] == pytest.approx(10.0)
    assert e.loc["E1", "revenue_per_mu_wan"] == pytest.approx(12000 / 45)
    # 万元/公顷 = 万元/亩 × 15 (1 公顷 = 15 亩).
    assert e.loc["E1", "tax_per_ha_wan"] == pytest.approx(150.0)
    assert e.loc["E6", "score_va_per_emission_wan"] == pytest.approx(10.0)
    assert "缺少单位排放增加值数据，按同组平均得分计" in e.loc["E6", "reason"]
    # Below-size: tax/mu benchmark 82.5/22.5 = 3.6667 万元/亩; tax/kWh 82.5 万元 over
    # 120 000 kWh = 6.875 元/千瓦时.  E2: 10/3.6667 = 2.73 → capped at 2 → 100,
    # + 50·5/6.875 = 36.3636 → 136.3636.  E3: 50·2/3.6667 + 50·5/6.875 = 63.6364.
    # E5: 50·4/3.6667 = 54.5455, 20/6.875 = 2.91 → capped → 100 → 154.5455.
    # E9 0 (no tax, no electricity: that item 0).
    expected = {"E2": 136.3636, "E3": 63.6364, "E5": 154.5455, "E9": 0.0}
    for firm, score in expected.items():
        assert e.loc[firm, "score"] == pytest.approx(score, abs=1e-4)
    assert e.loc["E2", "tax_per_kwh_yuan"] == pytest.approx(5.0)  # 37.5 万元 / 75 000 kWh
    assert "亩均税收100.0/50（封顶）" in e.loc["E2", "reason"]
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
    b = r.benchmarks.set_index(["size_group", "indicator"])
    assert b.loc[("规下", "tax_per_kwh_yuan"), "benchmark"] == pytest.approx(6.875)
    assert b.loc[("规上", "tax_per_mu_wan"), "basis"] == "2024年规上参评企业平均值（总量÷总量）"


def test_the_cap_bounds_each_item(parcels):
    # Without a cap E2 scores its full ratio: 50·10/3.6667 + 36.3636 = 172.7273, and
    # E5 50·4/3.6667 + 50·20/6.875 = 54.5455 + 145.4545 = 200.
    free = evaluate(parcels, table(), options=EfficiencyOptions(item_cap=math.inf))
    e = free.enterprises.set_index("enterprise_id")
    assert e.loc["E2", "score"] == pytest.approx(172.7273, abs=1e-4)
    assert e.loc["E5", "score"] == pytest.approx(200.0, abs=1e-4)
    # A cap of 1: no item above its weight; E2 50 + 36.3636, E5 50 + 50.
    tight = evaluate(parcels, table(), options=EfficiencyOptions(item_cap=1))
    e = tight.enterprises.set_index("enterprise_id")
    assert e.loc["E2", "score"] == pytest.approx(86.3636, abs=1e-4)
    assert e.loc["E5", "score"] == pytest.approx(100.0)
    # A cap of 0.5: E2, E3 and E5 reach it on both items (25 + 25 = 50): equal scores
    # are ranked by 亩均税收, E2 10 > E5 4 > E3 2 万元/亩.
    tied = evaluate(parcels, table(), options=EfficiencyOptions(item_cap=0.5)).enterprises
    tied = tied.set_index("enterprise_id")
    assert tied.loc[["E2", "E5", "E3"], "score"].tolist() == [50.0, 50.0, 50.0]
    assert tied.loc[["E2", "E5", "E3", "E9"], "score_rank"].tolist() == [1, 2, 3, 4]
    assert tied.loc[["E2", "E5", "E3", "E9"], "grade"].tolist() == ["A", "B", "B", "C"]
    items = [c for c in e.columns if c.startswith("score_") and c.endswith(("_wan", "_yuan"))]
    weights = {**tight.scheme.above_weights, **tight.scheme.below_weights}
    for col in items:
        assert (e[col].dropna() <= weights[col.removeprefix("score_")] + 1e-9).all()


def test_benchmark_modes_by_hand(parcels):
    t = table()
    # Last year's below-size averages (2023 tax is half): tax/mu 41.25/22.5 = 1.8333;
    # tax/kWh 41.25 万元 / 120 000 kWh = 3.4375 元/千瓦时.  E2 (10 万元/亩, 5 元/kWh):
    # 50·10/1.8333 + 50·5/3.4375 = 272.7273 + 72.7273 = 345.4545 (no cap).
    previous = EfficiencyOptions(benchmark="previous_year_average", item_cap=math.inf)
    e = evaluate(parcels, t, options=previous).enterprises.set_index("enterprise_id")
    assert e.loc["E2", "score"] == pytest.approx(345.4545, abs=1e-4)
    # Twice last year's average = this year's average here: 3.6667 and 6.875, so E2
    # scores as in the uncapped group-average run, 172.7273.
    twice = EfficiencyOptions(
        benchmark="previous_year_average", benchmark_multiple=2, item_cap=math.inf
    )
    r = evaluate(parcels, t, options=twice)
    e = r.enterprises.set_index("enterprise_id")
    assert e.loc["E2", "score"] == pytest.approx(172.7273, abs=1e-4)
    b = r.benchmarks.set_index(["size_group", "indicator"])
    assert b.loc[("规下", "tax_per_mu_wan"), "benchmark"] == pytest.approx(82.5 / 22.5)
    assert b.loc[("规下", "tax_per_mu_wan"), "basis"].startswith("2023年规下参评企业平均值")
    assert b.loc[("规下", "tax_per_mu_wan"), "basis"].endswith("× 2")
    # Published values: E2 50·10/5 + 50·5/10 = 125; E5 50·4/5 + 50·20/10 = 140.
    fixed = EfficiencyOptions(
        benchmark="fixed",
        item_cap=math.inf,
        above_benchmarks={k: 1.0 for k in EfficiencyOptions().resolved().above_weights},
        below_benchmarks={"tax_per_mu_wan": 5.0, "tax_per_kwh_yuan": 10.0},
    )
    e = evaluate(parcels, t, options=fixed).enterprises.set_index("enterprise_id")
    assert e.loc["E2", "score"] == pytest.approx(125.0)
    assert e.loc["E5", "score"] == pytest.approx(140.0)
    # Last year's average without last year's figures: the error says how to get out.
    with pytest.raises(SchemaError, match=r'no 2023 figures.*benchmark = "group_average"'):
        evaluate(parcels, t[t["year"] == "2024"], options=previous)


def test_class_t_firms_are_listed_with_their_reason(parcels):
    t = table().assign(
        industry=lambda d: d["enterprise_id"].map({"E6": "4430 热力生产和供应", "E3": "1344"}),
        under_construction=lambda d: np.where(d["enterprise_id"] == "E5", "是", "否"),
        exempt_reason=lambda d: d["enterprise_id"].map({"E9": "重大项目建设期"}),
    )
    r = evaluate(parcels, t)
    e = r.enterprises.set_index("enterprise_id")
    assert e["grade"].to_dict() == {
        "E1": "A",
        "E6": "T",  # division 44, heat supply
        "E2": "A",
        "E3": "B",  # "1344" is not division 44: a code matches from the start only
        "E9": "T",
        "E4": "未参评",
        "E5": "T",
    }
    assert e.loc["E6", "reason"] == "T类（不定等级）：行业“4430 热力生产和供应”属方案不定等级的行业"
    assert e.loc["E5", "reason"] == "T类（不定等级）：在建企业"
    assert e.loc["E9", "reason"] == "T类（不定等级）：重大项目建设期"
    assert e.loc["E6", "policy"] == "不定等级" and np.isnan(e.loc["E6", "score"])
    # T firms are out of the benchmarks and the ranking: E1 alone sets the above-size
    # averages, so each of its ratios is 1 and it scores the weights' sum, 100.
    assert e.loc["E1", "score"] == pytest.approx(100.0)
    assert e.loc["E1", "group_size"] == 1
    # Below size: E2 and E3 remain; tax/mu 52.5/11.25 = 4.6667, tax/kWh 52.5 万元 /
    # 105 000 kWh = 5 元/千瓦时.  E2 50·10/4.6667 = 107.1 → capped 100, + 50·5/5 = 150.
    assert e.loc["E2", "score"] == pytest.approx(150.0)
    assert r.notes == []  # every rule could be judged


def test_new_firms_and_years_in_production(parcels):
    t = table().assign(
        production_start=lambda d: d["enterprise_id"].map(
            {"E3": "2023年", "E5": "2022-06-30", "E2": 2019, "E1": "2010", "E6": "2015"}
        )
    )
    # New firms (淮安: 投产不到 2 年): E3 started 2023, 2024 − 2023 = 1 year → T.
    r = evaluate(parcels, t, options=EfficiencyOptions(t_new_firm_years=2))
    e = r.enterprises.set_index("enterprise_id")
    assert e.loc["E3", "grade"] == "T"
    assert e.loc["E3", "reason"] == "T类（不定等级）：2023年投产，投产不满 2 年"
    assert e.loc["E5", "grade"] != "T"  # 2024 − 2022 = 2 years
    assert e.loc["E5", "years_in_production"] == 2
    # E4 and E9 have no date: counted as established, and a note says so.
    assert r.notes[-1] == "2 家企业缺少投产日期，按已投产满年限处理"
    # Coverage by years: below-size firms from 4 years; E5 (2) and E3 (1) are out.
    e = evaluate(parcels, t, options=EfficiencyOptions(min_years_below=4)).enterprises
    e = e.set_index("enterprise_id")
    assert e.loc["E5", "grade"] == "未参评"
    assert e.loc["E5", "reason"] == "规下企业 2022 年投产，不满 4 年，不参评"
    assert e.loc["E2", "grade"] != "未参评"  # 2019: 5 years


def test_coverage_by_leased_floor(parcels):
    t = table()
    # 5 亩 or 3000 m² of leased floor: E2 has 3.75 亩 but leases 5000 m² → covered;
    # E9 holds 3.75 亩 and leases nothing → out; E3 and E5 have 7.5 亩.
    rule = EfficiencyOptions(min_land_mu_below=5, min_leased_floor_m2_below=3000)
    e = evaluate(parcels, t, options=rule).enterprises.set_index("enterprise_id")
    assert e.loc["E2", "scored"] and not e.loc["E9", "scored"]
    assert e.loc["E9", "reason"] == "规下企业用地不足 5 亩、租赁建筑面积不足 3,000 平方米，不参评"
    assert e.loc["E2", "group_size"] == 3  # E2, E3, E5
    # Without the floor route E2 is out too.
    e = evaluate(parcels, t, options=EfficiencyOptions(min_land_mu_below=5)).enterprises
    assert not e.set_index("enterprise_id").loc["E2", "scored"]


def test_bonus_and_penalty_items(parcels):
    t = table().assign(
        高新技术企业=lambda d: np.where(d["enterprise_id"] == "E3", "是", "否"),
        safety_accident=lambda d: np.where(d["enterprise_id"] == "E2", "是", ""),
    )
    # Columns by canonical name (safety_accident) or as the table heads them.
    opts = EfficiencyOptions(bonus={"高新技术企业": 5}, penalty={"safety_accident": 10})
    e = evaluate(parcels, t, options=opts).enterprises.set_index("enterprise_id")
    # E3 63.6364 + 5; E2 136.3636 − 10 (the default run's item scores, see above).
    assert e.loc["E3", "score"] == pytest.approx(68.6364, abs=1e-4)
    assert e.loc["E2", "score"] == pytest.approx(126.3636, abs=1e-4)
    assert e.loc["E3", "score_bonus"] == 5 and e.loc["E2", "score_penalty"] == 10
    assert "加分 高新技术企业 +5" in e.loc["E3", "reason"]
    assert "减分 安全生产事故 −10" in e.loc["E2", "reason"]
    with pytest.raises(ConfigError, match=r"bonus/penalty items read column.*high_tech"):
        evaluate(parcels, t, options=EfficiencyOptions(bonus={"high_tech": 5}))


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
    from landuse.core.crs import with_areas

    p = with_areas(sample_data.layers["parcels"], sample_data.crs)
    r = evaluate(p, sample_data.tables["enterprises"])
    e = r.enterprises
    assert set(e["grade"]) == {"A", "B", "C", "D", "未参评"}
    scored = e[e["scored"]]
    assert np.isclose(r.parcels["tax_wan"].sum(), e.loc[e["land_mu"] > 0, "tax_wan"].sum())
    assert (scored.groupby("size_group")["grade"].apply(lambda g: (g == "A").mean()) <= 0.26).all()


def _firms_on_own_parcels(areas: dict[str, float]) -> gpd.GeoDataFrame:
    """One parcel per firm, ``area_mu`` as given (the geometry only has to exist)."""
    return gpd.GeoDataFrame(
        {
            "parcel_id": [f"P{k}" for k in areas],
            "enterprise_id": list(areas),
            "park": "甲",
            "area_mu": list(areas.values()),
        },
        geometry=[shapely.box(i * 200, 0, i * 200 + 100, 100) for i in range(len(areas))],
        crs=CRS,
    )


def test_huangyan_2022_preset_reproduces_the_published_formula():
    # 规上 = 亩均税收 ÷ 24.097 × 30 + 亩均增加值 ÷ 136.16 × 20 + 单位能耗增加值 ÷ 2.694 × 20
    #      + 单位排放增加值 ÷ 4929.81 × 10 + 全员劳动生产率 ÷ 18.14 × 10 + R&D ÷ 0.0302 × 10;
    # 规下 = 亩均税收 ÷ 11.5932 × 50 + 单位用电税收 ÷ 0.2352 × 50 (黄岩区, 2023-09-25).
    parcels = _firms_on_own_parcels({"H1": 10.0, "H2": 20.0, "L1": 5.0})
    t = pd.DataFrame(
        {
            "enterprise_id": ["H1", "H2", "L1"],
            "year": 2022,
            "tax_wan": [481.94, 241.94, 57.966],
            "value_added_wan": [1361.6, 1361.6, None],
            "revenue_wan": [5000, 4000, None],
            "rd_wan": [151, 60.4, None],
            "energy_tce": [1000, 500, None],
            "emission_t": [0.5, None, None],
            "employees": [50, 100, None],
            "electricity_kwh": [None, None, 1_000_000],
            "above_size": ["是", "是", "否"],
        }
    )
    r = evaluate(parcels, t, options=EfficiencyOptions(scheme="huangyan_2022"))
    e = r.enterprises.set_index("enterprise_id")
    # H1: 48.194/24.097 = 2 → 60; 136.16/136.16 → 20; 1.3616/2.694 × 20 = 10.10839;
    #     2723.2/4929.81 × 10 = 5.52394; 27.232/18.14 × 10 = 15.01213; 0.0302/0.0302 → 10.
    #     Sum 120.64446 (no cap: the ratio 2 counts in full).
    assert e.loc["H1", "score"] == pytest.approx(120.64446, abs=1e-4)
    assert e.loc["H1", "score_tax_per_mu_wan"] == pytest.approx(60.0)
    # H2: 12.097/24.097 × 30 = 15.06038; 68.08/136.16 × 20 = 10; 2.7232/2.694 × 20 =
    #     20.21678; no emission figure: the above-size firms' mean for the item, H1's
    #     5.52394; 13.616/18.14 × 10 = 7.50606; 0.0151/0.0302 × 10 = 5.  Sum 63.30716.
    assert e.loc["H2", "score"] == pytest.approx(63.30716, abs=1e-4)
    # L1: 11.5932/11.5932 × 50 = 50; 579 660 元 / 1 000 000 kWh = 0.57966 元/千瓦时,
    #     ÷ 0.2352 × 50 = 123.22704.  Sum 173.22704.
    assert e.loc["L1", "score"] == pytest.approx(173.22704, abs=1e-4)
    assert r.benchmarks["basis"].eq("方案公布值").all()


def test_huaian_2024_preset_reproduces_the_published_rules():
    # 淮安 2024: 亩均税收 45, 亩均销售收入 35, 单位电耗税收 20; benchmark ≈ 2 × the county's
    # previous-year average; ranked county-wide, A 前 20 %, B to 60 %, C to 95 %; T for
    # water/power/gas suppliers and firms in production under 2 years; 规下 from 3 亩.
    areas = {"F1": 10.0, "F2": 10.0, "F3": 5.0, "F4": 4.0, "F5": 8.0, "F6": 2.0}
    parcels = _firms_on_own_parcels(areas)
    firms = list(areas)
    common = {
        "enterprise_id": firms,
        "above_size": ["是", "是", "否", "否", "是", "否"],
        "industry": ["3311", "3311", "2929", "2929", "4411 火力发电", "2929"],
        "production_start": ["2015", "2016", "2018", "2023-06-01", "2010", "2012"],
    }
    y2023 = pd.DataFrame(
        {
            **common,
            "year": 2023,
            "tax_wan": [100, 50, 10, 1000, 500, 5],
            "revenue_wan": [2000, 1000, 250, 9000, 9000, 50],
            "electricity_kwh": [1e6, 1e6, 2e5, 1e5, 1e7, 1e4],
        }
    )
    y2024 = pd.DataFrame(
        {
            **common,
            "year": 2024,
            "tax_wan": [128, 64, 19.2, 2000, 600, 6],
            "revenue_wan": [2600, 1300, 390, 9000, 9000, 60],
            "electricity_kwh": [1e6, 8e5, 2e5, 1e5, 1e7, 1e4],
        }
    )
    r = evaluate(
        parcels, pd.concat([y2023, y2024]), options=EfficiencyOptions(scheme="huaian_2024")
    )
    e = r.enterprises.set_index("enterprise_id")
    # 2023 averages of the rated firms F1-F3 (F4 new, F5 a power plant: T; F6 < 3 亩):
    # tax/mu 160/25 = 6.4 → benchmark 12.8; revenue/mu 3250/25 = 130 → 260;
    # tax/kWh 160 万元 / 2 200 000 kWh = 0.72727 元/千瓦时 → 1.45455.
    # F1: 12.8/12.8 × 45 + 260/260 × 35 + 1.28/1.45455 × 20 = 45 + 35 + 17.6 = 97.6
    # F2: 0.5 × 45 + 0.5 × 35 + 0.8/1.45455 × 20 = 22.5 + 17.5 + 11 = 51.0
    # F3 (below size, ranked with the others): 0.3 × 45 + 0.3 × 35 + 0.66 × 20 = 37.2
    for firm, score in {"F1": 97.6, "F2": 51.0, "F3": 37.2}.items():
        assert e.loc[firm, "score"] == pytest.approx(score, abs=1e-9)
    # n = 3: A ≤ ⌈0.6⌉ = 1, B ≤ ⌈1.8⌉ = 2, C ≤ ⌈2.85⌉ = 3.
    assert e["grade"].to_dict() == {
        "F1": "A",
        "F2": "B",
        "F3": "C",
        "F4": "T",
        "F5": "T",
        "F6": "未参评",
    }
    assert e.loc["F1", "policy"] == "优先发展类" and e.loc["F3", "policy"] == "监管调控类"
    assert e.loc["F4", "reason"] == "T类（不适合评价类）：2023年投产，投产不满 2 年"
    assert e.loc["F5", "policy"] == "不适合评价类"
    assert "全县（区）企业第 3/3 名，C 类" in e.loc["F3", "reason"]
    b = r.benchmarks.set_index(["size_group", "indicator"])["benchmark"]
    assert b[("规下", "tax_per_kwh_yuan")] == pytest.approx(2 * 160e4 / 2.2e6)


def test_sample_default_scheme_keeps_low_payers_out_of_class_a(sample_data):
    from landuse.core.crs import with_areas

    p = with_areas(sample_data.layers["parcels"], sample_data.crs)

    def lowest_a_ratio(options):
        e = evaluate(p, sample_data.tables["enterprises"], options=options).enterprises
        scored = e[e["scored"]]
        median = scored.groupby("rank_group")["tax_per_mu_wan"].transform("median")
        a = scored["grade"] == "A"
        return (scored.loc[a, "tax_per_mu_wan"] / median[a]).min()

    # With the cap (default) every A-class firm pays at least half its group's median
    # 亩均税收; without it, a firm carried by 单位电耗税收 alone is class A below that.
    assert lowest_a_ratio(None) >= 0.5
    assert lowest_a_ratio(EfficiencyOptions(item_cap=math.inf)) < 0.5

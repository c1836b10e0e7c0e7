"""工业项目建设用地控制指标 and 标准地 checks: formulas, boundaries, tables, step.

Parcels are 100 m squares: 10 000 m² = 1 公顷 = 15 亩, so a floor area of 6 000 m²
is a plot ratio of 0.6 and 2 300 万元 is 2 300 万元/公顷 = 153.33 万元/亩.
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner

from landuse.analysis.indicator_tables import INDICATORS, load_indicator_table, read_indicator_table
from landuse.analysis.indicators import (
    building_coverage,
    check_indicators,
    floor_area,
    green_ratio,
    indicator_summary,
    investment_intensity,
    office_share,
    plot_ratio,
)
from landuse.cli import main
from landuse.core.config import load_project, sample_project
from landuse.core.errors import ConfigError, SchemaError
from landuse.core.options import IndicatorOptions, parse_options
from landuse.io import load_project_data, write_layers
from landuse.outputs.maps import build_map, render_html
from landuse.pipeline import indicators_project, map_layers, run_report

from .conftest import GK36, X0, Y0, square

CODES_2002 = IndicatorOptions(industry_codes="GB/T 4754-2002")


def box(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def parcels(n: int = 1, **columns: list) -> gpd.GeoDataFrame:
    """``n`` 100 m squares 200 m apart, ids P1…Pn, with the given attribute columns."""
    data = {"parcel_id": [f"P{i + 1}" for i in range(n)], **columns}
    return gpd.GeoDataFrame(data, geometry=[square(200 * i, 0) for i in range(n)], crs=GK36)


def buildings(rows: list[tuple[shapely.Polygon, dict]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame([attrs for _, attrs in rows], geometry=[g for g, _ in rows], crs=GK36)


def write_table(tmp_path: Path, text: str, name: str = "省级指标.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------ 容积率 and the 8 m rule


def test_floor_area_counts_storeys_over_8_m_twice():
    b = buildings(
        [
            (box(0, 0, 10, 10), {"floors": 1, "height_m": 9.0}),  # 9 m > 8 m: 2 × 100
            (box(0, 0, 10, 10), {"floors": 1, "height_m": 8.0}),  # exactly 8 m: once
            (box(0, 0, 10, 10), {"floors": 2, "height_m": 16.2}),  # 8.1 m storeys: 2 × 2 × 100
            (box(0, 0, 10, 10), {"floors": 2, "height_m": 16.0}),  # 8 m storeys: 2 × 100
            (box(0, 0, 10, 10), {"floors": 3, "height_m": None}),  # no height: 3 × 100
            (box(0, 0, 10, 10), {"floors": None, "height_m": 6.0, "kind": "构筑物"}),  # 0
            (box(0, 0, 10, 10), {"floors": None, "height_m": None, "kind": "露天堆场"}),  # 0
            (box(0, 0, 10, 10), {"floors": None, "height_m": 5.0}),  # building, no floors
        ]
    )
    b["kind"] = b["kind"].where(b["kind"].notna(), "建筑物")
    got = floor_area(b)
    np.testing.assert_allclose(got[:7], [200, 100, 400, 200, 300, 0, 0])
    assert np.isnan(got[7])
    # The limit is an option: with 6 m, a 7 m storey counts twice.
    seven = buildings([(box(0, 0, 10, 10), {"floors": 1, "height_m": 7.0})])
    assert floor_area(seven, double_height_m=6.0).tolist() == [200.0]
    assert floor_area(seven).tolist() == [100.0]


def test_plot_ratio_splits_footprints_over_parcel_boundaries():
    p = gpd.GeoDataFrame(
        {"parcel_id": ["A", "B"]}, geometry=[square(0, 0), square(100, 0)], crs=GK36
    )
    b = buildings(
        [
            # 50 × 50 = 2 500 m², one 9 m storey: 5 000 m² counted, all on A.
            (box(10, 10, 60, 60), {"floors": 1, "height_m": 9.0}),
            # 20 × 50 = 1 000 m² over the A|B line, 3 storeys of 4 m: 1 500 m² on each.
            (box(90, 0, 110, 50), {"floors": 3, "height_m": 12.0}),
        ]
    )
    # A: (5 000 + 1 500) / 10 000 = 0.65; B: 1 500 / 10 000 = 0.15.
    np.testing.assert_allclose(plot_ratio(p, b), [0.65, 0.15])


def test_plot_ratio_from_parcel_attributes_without_footprints():
    p = parcels(2, floor_area_m2=[8000.0, None])
    got = plot_ratio(p, None)
    assert got[0] == pytest.approx(0.8) and np.isnan(got[1])


# ------------------------------------------------------------------ 建筑系数


def test_building_coverage_unions_footprints_and_adds_undrawn_yards():
    p = parcels(3, yard_m2=[None, 1000.0, 1000.0], building_base_m2=[None, None, 2000.0])
    b = buildings(
        [
            (box(10, 10, 60, 60), {"floors": 1, "height_m": 6.0, "kind": "建筑物"}),  # 2 500
            (box(70, 70, 80, 80), {"floors": None, "height_m": 20.0, "kind": "构筑物"}),  # 100
            # A 20 × 20 yard around the structure: the union adds 400 − 100 = 300.
            (box(65, 65, 85, 85), {"floors": None, "height_m": None, "kind": "露天堆场"}),
            (box(210, 10, 250, 35), {"floors": 2, "height_m": 8.0, "kind": "建筑物"}),  # 1 000
        ]
    )
    got = building_coverage(p, b)
    # P1: 2 500 + 100 + 300 = 2 900 → 29 %; P2: 1 000 drawn + 1 000 yard_m2 → 20 %;
    # P3 (nothing drawn): building_base_m2 2 000 + yard_m2 1 000 → 30 %.
    np.testing.assert_allclose(got, [0.29, 0.20, 0.30])


# ------------------------------------------------------------------ 投资强度 and the land price


def test_investment_intensity_land_price_rule():
    p = parcels(2, investment_wan=[2000.0, 2000.0], land_price_wan=[300.0, None])
    # Rule counts the price, record lacks it: (2 000 + 300) / 1 ha.
    got = investment_intensity(p, land_price_included=True)
    assert got[0] == pytest.approx(2300.0)
    assert np.isnan(got[1])  # the rule needs the land price, which is missing
    assert investment_intensity(p, land_price_included=True, per="mu")[0] == pytest.approx(
        2300 / 15
    )
    # Rule excludes the price, record lacks it: 2 000 as recorded (no price needed).
    assert investment_intensity(p, land_price_included=False).tolist() == [2000.0, 2000.0]
    # The record already contains the price: kept when the rule counts it, else taken out.
    with_price = investment_intensity(p, land_price_included=True, recorded_with_land_price=True)
    assert with_price.tolist() == [2000.0, 2000.0]
    without = investment_intensity(p, land_price_included=False, recorded_with_land_price=True)
    assert without[0] == pytest.approx(1700.0) and np.isnan(without[1])


def test_the_2008_table_counts_the_land_price_and_says_so():
    p = parcels(1, investment_wan=[2000.0], land_price_wan=[300.0])
    result = check_indicators(p)
    assert result["investment_intensity_wan_per_ha"][0] == pytest.approx(2300.0)
    assert result["land_price_rule"][0] == "含地价"
    assert "投资强度含地价" in result["calculation"][0]
    excluded = check_indicators(p, options=IndicatorOptions(land_price="exclude"))
    assert excluded["investment_intensity_wan_per_ha"][0] == pytest.approx(2000.0)
    assert excluded["land_price_rule"][0] == "不含地价"


# ------------------------------------------------------------------ office and green


def test_office_share_from_land_or_from_floor_share():
    p = parcels(2, office_land_m2=[700.0, None])
    b = buildings(
        [
            # P2: a 30 × 50 plant, one 6 m storey (1 500 m²) and a 20 × 20 office of
            # 3 storeys (1 200 m²): the office share is 1 200 / 2 700.
            (box(210, 10, 240, 60), {"floors": 1, "height_m": 6.0, "use": "生产"}),
            (box(250, 60, 270, 80), {"floors": 3, "height_m": 10.8, "use": "办公"}),
        ]
    )
    got = office_share(p, b)
    assert got[0] == pytest.approx(0.07) and got[1] == pytest.approx(1200 / 2700)
    # Without a use field the floor-share rule cannot apply.
    assert np.isnan(office_share(p, b.drop(columns="use"))[1])


def test_green_ratio():
    np.testing.assert_allclose(green_ratio(parcels(2, green_m2=[2000.0, 500.0])), [0.2, 0.05])


# ------------------------------------------------------------------ pass/fail boundaries


def _province(tmp_path: Path) -> Path:
    return write_table(
        tmp_path,
        """
[about]
title = "某省工业项目建设用地控制指标"
industry_codes = "GB/T 4754-2002"

[investment_intensity]
unit = "万元/亩"
source = "某省文件"
rows = [
    { industry = "26", region = "一类", value = 150 },
    { industry = "26", region = "二类", value = 100 },
]
""",
    )


def test_each_check_passes_at_its_threshold_and_fails_just_beyond(tmp_path):
    # Industry 26 (化学原料及化学制品制造业): plot ratio ≥ 0.6 (2008 table 2); investment
    # ≥ 150 万元/亩 = 2 250 万元/公顷 (the province table, given per 亩).
    p = parcels(
        2,
        industry_code=["26", "C26"],
        floor_area_m2=[6000.0, 5999.0],  # 0.6 passes, 0.5999 fails
        building_base_m2=[3000.0, 2999.0],  # 30 % passes, 29.99 % fails
        investment_wan=[1950.0, 1949.0],  # + 300 price: 2 250 passes, 2 249 fails
        land_price_wan=[300.0, 300.0],
        office_land_m2=[700.0, 701.0],  # 7 % passes, 7.01 % fails
        green_m2=[2000.0, 2001.0],  # 20 % passes, 20.01 % fails
    )
    table = load_indicator_table(2008, [_province(tmp_path)])
    opts = IndicatorOptions(industry_codes="GB/T 4754-2002", region_class="一类")
    result = check_indicators(p, table=table, options=opts)
    assert result["investment_intensity_min_wan_per_ha"].tolist() == [2250.0, 2250.0]
    for check in INDICATORS:
        assert result[f"{check}_ok"].tolist() == [True, False], check
    assert result["result"].tolist() == ["符合", "不符合"]
    status = result["findings"][1]
    assert status.startswith(
        "不符合：容积率 0.5999 < 0.6；建筑系数 29.99% < 30%；投资强度 2,249 < 2,250"
    )
    assert "行政办公及生活服务设施用地所占比重 7.01% > 7%；绿地率 20.01% > 20%" in status
    # Every threshold names its source; unverified values say so.
    assert result["plot_ratio_source"][0].endswith("26 化学原料及化学制品制造业")
    assert result["green_ratio_source"][0].endswith("（未核实）")
    assert result["investment_intensity_source"][0] == "某省文件：26（未核实）"


def test_not_judged_is_empty_not_false():
    p = parcels(
        3,
        industry_code=["38", None, "13"],
        construction_status=["已竣工", "已竣工", "在建"],
        floor_area_m2=[1000.0, 1000.0, 100.0],
    )
    result = check_indicators(p, options=CODES_2002)
    # 38 is no industry of GB/T 4754-2002's table; P2 has no code; P3 is not finished.
    assert result["plot_ratio_ok"].isna().all()
    assert result["plot_ratio_source"][0] == "指标表中没有行业 38 的容积率指标"
    assert result["plot_ratio_source"][1] == "缺少行业代码，无法查得容积率指标"
    assert result["building_coverage_ok"].isna().all()  # no footprint figure at all
    assert result["result"].tolist() == ["未核验"] * 3
    assert "未判定：容积率（无指标值）" in result["findings"][0]
    assert result["findings"][2].startswith("未竣工，控制指标暂不核验")


def test_summary_counts_verdicts_and_failures_per_park():
    checked = pd.DataFrame(
        {
            "park": ["A", "A", "B", None],
            "result": ["符合", "不符合", "不符合", "未核验"],
            "area_mu": [10.0, 20.0, 30.0, 40.0],
            "plot_ratio_ok": pd.array([True, False, False, None], dtype="boolean"),
            "building_coverage_ok": pd.array([True, False, True, None], dtype="boolean"),
        }
    )
    table = indicator_summary(checked).set_index("park")
    # A: one meets, one fails both (20 亩); B: fails the plot ratio (30 亩);
    # the parcel without a park is not judged (NA is no failure); 合计 adds them.
    assert table.index.tolist() == ["A", "B", "未注明", "合计"]
    assert table["parcels"].tolist() == [2, 1, 1, 4]
    assert table["pass_parcels"].tolist() == [1, 0, 0, 1]
    assert table["fail_parcels"].tolist() == [1, 1, 0, 2]
    assert table["unjudged_parcels"].tolist() == [0, 0, 1, 1]
    assert table["fail_mu"].tolist() == [20.0, 30.0, 0.0, 50.0]
    assert table["plot_ratio_fail"].tolist() == [1, 1, 0, 2]
    assert table["building_coverage_fail"].tolist() == [1, 0, 0, 1]


def test_scope_is_supplied_industrial_land():
    p = parcels(
        3,
        supply_status=["已供", "未供", "已供"],
        land_use=["工业用地", "工业用地", "仓储用地"],
        green_m2=[100.0, 100.0, 100.0],
    )
    assert check_indicators(p)["parcel_id"].tolist() == ["P1"]
    wider = IndicatorOptions(land_uses=("工业用地", "仓储用地"))
    assert check_indicators(p, options=wider)["parcel_id"].tolist() == ["P1", "P3"]


# ------------------------------------------------------------------ 标准地 targets


def test_targets_are_due_the_day_after_the_agreed_date_and_compared_with_the_firm():
    p = parcels(
        4,
        enterprise_id=["F1", "F1", "F2", "F3"],
        production_date=["2024-12-30", "2024-12-31", "2024-12-30", "2024-12-30"],
        target_tax_per_mu_wan=[3.0, 3.0, 3.0, 3.0],
        target_va_per_tce_wan=[2.0, 2.0, 2.0, None],
        floor_area_m2=[12000.0, 12000.0, 12000.0, 12000.0],
        target_plot_ratio=[1.2, 1.2, 1.3, None],
    )
    firms = pd.DataFrame(
        {
            "enterprise_id": ["F1", "F2"],
            "tax_per_mu_wan": [3.0, 2.99],  # F1 exactly on target, F2 just under
            "va_per_tce_wan": [2.5, 1.0],
        }
    )
    result = check_indicators(p, firms=firms, year=2024)  # judged as of 2024-12-31
    assert result["targets_due"].tolist() == [True, False, True, True]
    assert result["target_tax_per_mu_wan_ok"].tolist() == [True, pd.NA, False, pd.NA]
    assert result["target_va_per_tce_wan_ok"].tolist() == [True, pd.NA, False, pd.NA]
    assert result["target_plot_ratio_ok"].tolist() == [True, pd.NA, False, pd.NA]
    assert "标准地亩均税收 2.99 < 约定 3" in result["findings"][2]
    assert "标准地未到约定达产日期" in result["findings"][1]
    assert "标准地亩均税收（缺少实际数据）" in result["findings"][3]  # F3 not in the table
    # The day before: nothing is due yet.
    early = check_indicators(p, firms=firms, as_of="2024-12-30")
    assert not early["targets_due"].any()


def test_targets_need_a_day_to_judge():
    p = parcels(1, production_date=["2024-06-30"], target_plot_ratio=[1.0])
    with pytest.raises(ConfigError, match="as-of"):
        check_indicators(p)


def test_a_target_without_an_agreed_date_is_never_due():
    p = parcels(1, production_date=[None], target_plot_ratio=[1.0], floor_area_m2=[100.0])
    result = check_indicators(p, as_of="2030-01-01")
    assert not result["targets_due"][0] and pd.isna(result["target_plot_ratio_ok"][0])
    assert "标准地缺少约定达产日期" in result["findings"][0]


# ------------------------------------------------------------------ tables


# 表2 容积率 as jiwu.com/wenda/6304103.html lists it (codes 13–43 of GB/T 4754-2002; 38 is
# not a 2002 code), typed from that page, not from the shipped table.
PLOT_RATIO_2008 = {
    **dict.fromkeys(["13", "14", "15", "16", "18", "19", "24", "30"], 1.0),
    **dict.fromkeys(["17", "20", "21", "22", "23", "28", "29"], 0.8),
    "25": 0.5,
    **dict.fromkeys(["26", "32", "33"], 0.6),
    **dict.fromkeys(["27", "31", "34", "35", "36", "37", "39", "43"], 0.7),
    **dict.fromkeys(["40", "41", "42"], 1.0),
}


def test_shipped_2008_table_matches_its_sources():
    # DOMAIN.md and the copies named in the table: coverage ≥ 30 %, office ≤ 7 %,
    # green ≤ 20 %, 8 m, land price included.
    table = load_indicator_table(2008)
    codes = pd.Series(list(PLOT_RATIO_2008))
    got = table.lookup("plot_ratio", codes)
    assert len(PLOT_RATIO_2008) == 30 and len(table.by_industry("plot_ratio")) == 30
    np.testing.assert_allclose(got["value"], list(PLOT_RATIO_2008.values()))
    assert not table.lookup("plot_ratio", pd.Series(["38"]))["value"].notna().any()
    one = pd.Series(["13"])
    assert table.lookup("building_coverage", one)["value"][0] == 0.30
    assert table.lookup("office_share", one)["value"][0] == 0.07
    assert table.lookup("green_ratio", one)["value"][0] == 0.20
    assert table.double_height.value == 8.0 and table.land_price.value is True
    # Each value names its source; those found in two independent copies are verified,
    # the green-ratio cap (one copy) is not, and no 投资强度 value was found at all.
    assert all(t.source and t.note for t in table.thresholds)
    unverified = {t.indicator for t in table.thresholds if not t.verified}
    assert unverified == {"green_ratio"}
    assert table.double_height.verified and table.land_price.verified
    assert got["source"][0] == "国土资发〔2008〕24号 表2 容积率控制指标：13 农副食品加工业"
    assert table.lookup("green_ratio", one)["source"][0].endswith("（未核实）")
    assert not table.lookup("investment_intensity", one)["value"].notna().any()


def test_province_rows_win_and_longer_codes_are_more_specific(tmp_path):
    path = write_table(
        tmp_path,
        """
[about]
industry_codes = "GB/T 4754-2002"

[plot_ratio]
source = "省文件"
verified = true
rows = [
    { industry = "26", value = 0.8 },
    { industry = "2611", value = 1.2, source = "省文件附表" },
]

[green_ratio]
value = 15
unit = "%"
source = "省文件"
""",
    )
    table = load_indicator_table(2008, [path])
    got = table.lookup("plot_ratio", pd.Series(["2611", "2612", "13"]))
    assert got["value"].tolist() == [1.2, 0.8, 1.0]
    assert got["source"].tolist()[:2] == ["省文件附表：2611", "省文件：26"]
    assert table.lookup("green_ratio", pd.Series(["13"]))["value"][0] == pytest.approx(0.15)


def test_region_class_must_pick_one_of_the_tables(tmp_path):
    table = load_indicator_table(2008, [_province(tmp_path)])
    p = parcels(1, industry_code=["26"], investment_wan=[1000.0], land_price_wan=[0.0])
    with pytest.raises(ConfigError, match=r'region_class is not set.*"一类", "二类"'):
        check_indicators(p, table=table, options=CODES_2002)
    bad = IndicatorOptions(industry_codes="GB/T 4754-2002", region_class="三类")
    with pytest.raises(ConfigError, match="三类"):
        check_indicators(p, table=table, options=bad)
    two = IndicatorOptions(industry_codes="GB/T 4754-2002", region_class="二类")
    assert check_indicators(p, table=table, options=two)["investment_intensity_min_wan_per_ha"][
        0
    ] == pytest.approx(1500.0)  # 100 万元/亩 × 15


def test_a_parcel_field_gives_each_parcel_its_region_class(tmp_path):
    # A city whose districts lie in different 地区分类: 一类 150, 二类 100 万元/亩 (× 15).
    table = load_indicator_table(2008, [_province(tmp_path)])
    p = parcels(
        4,
        industry_code=["26", "26", "26", "13"],
        region_class=["一类", " 二类 ", None, "一类"],
        investment_wan=[2000.0] * 4,
        land_price_wan=[0.0] * 4,
    )
    # No option: the parcel without a class is not judged, and says why.
    result = check_indicators(p, table=table, options=CODES_2002)
    np.testing.assert_allclose(
        result["investment_intensity_min_wan_per_ha"], [2250.0, 1500.0, np.nan, np.nan]
    )
    assert result["investment_intensity_ok"].tolist()[:2] == [False, True]
    assert result["region_class"].tolist()[:2] == ["一类", "二类"]
    assert result["investment_intensity_source"][2] == "缺少地区分类，无法查得投资强度指标"
    assert "投资强度（缺少地区分类）" in result["findings"][2]
    assert result["investment_intensity_source"][3] == (
        "指标表中没有地区分类 一类、行业 13 的投资强度指标"
    )
    # The option is the class of every parcel that gives none.
    opts = IndicatorOptions(industry_codes="GB/T 4754-2002", region_class="二类")
    result = check_indicators(p, table=table, options=opts)
    np.testing.assert_allclose(
        result["investment_intensity_min_wan_per_ha"][:3], [2250.0, 1500.0, 1500.0]
    )
    # A class the tables do not know is an error naming the parcel.
    bad = p.assign(region_class=["一类", "三类", None, None])
    with pytest.raises(
        SchemaError, match=r"region_class \(地区分类\).*P2: '三类'.*\"一类\", \"二类\""
    ):
        check_indicators(bad, table=table, options=CODES_2002)


def test_industry_code_edition_must_match_the_table():
    p = parcels(1, industry_code=["39"])
    with pytest.raises(ConfigError, match="industry_codes is not set"):
        check_indicators(p)
    with pytest.raises(ConfigError, match="recode"):
        check_indicators(p, options=IndicatorOptions(industry_codes="GB/T 4754-2017"))


def test_the_2023_table_has_no_values_and_asks_for_the_rules():
    p = parcels(1, investment_wan=[1000.0], land_price_wan=[100.0], green_m2=[100.0])
    with pytest.raises(ConfigError, match="double_height_m"):
        check_indicators(p, options=IndicatorOptions(edition=2023))
    with pytest.raises(ConfigError, match='land_price = "include" or "exclude"'):
        check_indicators(p, options=IndicatorOptions(edition=2023, double_height_m=8.0))
    opts = IndicatorOptions(edition=2023, double_height_m=8.0, land_price="include")
    result = check_indicators(p, options=opts)
    assert result["green_ratio_ok"].isna().all()
    assert result["green_ratio_source"][0] == "指标表中没有绿地率指标"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[plot_ratio]\nsource='s'\nrows=[{industry='13', vale=1.0}]", "did you mean 'value'"),
        ("[building_coverage]\nvalue=0.3", "has no source"),
        ("[building_coverage]\nvalue=30\nsource='s'", "shares are written 0.30"),
        ("[plot_ratio]\nsource='s'\nrows=[{industry='13', value=1.0}]", "industry_codes"),
        (
            "[about]\nindustry_codes='GB/T 4754-2002'\n[plot_ratio]\nsource='s'\n"
            "rows=[{industry=13, value=1.0}]",
            "industry must be text",
        ),
        ("[investment_intensity]\nunit='元/亩'\nvalue=1\nsource='s'", "not a unit of 投资强度"),
        ("[plot_ratios]\n", "did you mean 'plot_ratio'"),
    ],
)
def test_bad_tables_are_one_line_errors_naming_the_file(tmp_path, text, message):
    path = write_table(tmp_path, text)
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        read_indicator_table(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_options_are_checked():
    with pytest.raises(ConfigError, match="one of 2008, 2023"):
        parse_options(IndicatorOptions, {"edition": 2009}, section="indicators")
    with pytest.raises(ConfigError, match="double_height_m must be"):
        parse_options(IndicatorOptions, {"double_height_m": 0}, section="indicators")


def test_bad_building_values_are_errors():
    p = parcels(1)
    b = buildings([(box(0, 0, 10, 10), {"floors": 1, "height_m": 5.0, "kind": "厂房"})])
    with pytest.raises(SchemaError, match=r"kind .* 厂房"):
        plot_ratio(p, b)
    b = buildings([(box(0, 0, 10, 10), {"floors": 0, "height_m": 5.0})])
    with pytest.raises(SchemaError, match="floors must be above 0"):
        plot_ratio(p, b)
    with pytest.raises(SchemaError, match="Nothing to check"):
        check_indicators(p)


# ------------------------------------------------------------------ project, CLI, map, sample


def _project(tmp_path: Path, indicators: str = "") -> Path:
    """A one-parcel project: 15 亩 held by F1, a 9 m hall, 标准地 targets due in 2024."""
    p = gpd.GeoDataFrame(
        {
            "DKBH": ["P1"],
            "TYSHXYDM": ["F1"],
            "HYDM": ["26"],
            "GDZCTZ": [2000.0],
            "CRJK": [300.0],
            "XZBGMJ": [600.0],
            "LDMJ": [1000.0],
            "YDDCRQ": ["2023-06-30"],
            "ZBMJSS": [3.0],
            "ZBTZQD": [160.0],
        },
        geometry=[square(0, 0)],
        crs=GK36,
    )
    udb = gpd.GeoDataFrame(geometry=[square(-50, -50, 300)], crs=GK36)
    # 60 × 60 = 3 600 m², one 9 m storey → 7 200 m² counted: plot ratio 0.72, coverage 36 %.
    b = buildings([(box(10, 10, 70, 70), {"CS": 1, "GD": 9.0, "JZLX": "建筑物"})])
    firms = pd.DataFrame({"TYSHXYDM": ["F1"], "ND": [2024], "SSZE": [45.0]})  # 45 / 15 亩 = 3.0
    gpkg = write_layers(
        {"parcels": p, "udb": udb, "buildings": b, "firms": firms}, tmp_path / "d.gpkg"
    )
    toml = tmp_path / "landuse.toml"
    toml.write_text(
        f"""
[layers.parcels]
path = "{gpkg.name}"
layer = "parcels"
[layers.udb]
path = "{gpkg.name}"
layer = "udb"
[layers.buildings]
path = "{gpkg.name}"
layer = "buildings"
[layers.enterprises]
path = "{gpkg.name}"
layer = "firms"
[indicators]
industry_codes = "GB/T 4754-2002"
{indicators}
""",
        encoding="utf-8",
    )
    return toml


def test_indicators_command_writes_layer_csv_and_lines(tmp_path):
    toml = _project(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["indicators", "--project", str(toml), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "建筑物（d.gpkg:buildings）：读入 1" in result.output
    assert "工业用地控制指标：已供工业用地 1 宗，核验 1 宗，不符合 0 宗" in result.output
    assert "标准地：已过约定达产日期 1 宗，其中未达约定指标 1 宗（投资强度 1、亩均税收 0）" in (
        result.output
    )
    layer = pyogrio.read_dataframe(out / "indicators.gpkg", layer="indicators")
    row = layer.iloc[0]
    assert row["plot_ratio"] == pytest.approx(0.72) and row["tall_floor_m2"] == pytest.approx(3600)
    assert row["building_coverage"] == pytest.approx(0.36)
    # (2 000 + 300) 万元 / 15 亩 = 153.33 < the agreed 160 万元/亩; tax 45 / 15 = 3.0 meets 3.0.
    assert row["investment_intensity_wan_per_mu"] == pytest.approx(2300 / 15)
    assert row["target_investment_wan_per_mu_ok"] == 0 and row["target_tax_per_mu_wan_ok"] == 1
    assert row["plot_ratio_ok"] == 1 and np.isnan(row["investment_intensity_ok"])
    table = pd.read_csv(out / "indicators.csv", encoding="utf-8-sig")
    assert table.loc[0, "容积率"] == pytest.approx(0.72)
    assert table.loc[0, "容积率达标"] == "是" and table.loc[0, "投资强度达到约定"] == "否"
    assert pd.isna(table.loc[0, "投资强度达标"])


def test_a_rule_the_table_lacks_is_a_one_line_cli_error(tmp_path):
    toml = _project(tmp_path, "edition = 2023\ndouble_height_m = 8")
    result = CliRunner().invoke(main, ["indicators", "--project", str(toml)])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert 'land_price = "include" or "exclude"' in result.output


def test_report_stops_before_writing_when_a_table_is_missing(tmp_path):
    toml = _project(tmp_path, 'tables = ["广西.toml"]')
    data = load_project_data(load_project(toml))
    with pytest.raises(ConfigError, match=r"nothing written.*广西\.toml"):
        run_report(data, tmp_path / "pack")
    assert not (tmp_path / "pack").exists()


def test_map_has_the_indicator_layer(tmp_path):
    data = load_project_data(load_project(_project(tmp_path)))
    checked, _ = indicators_project(data)
    html = render_html(
        build_map(map_layers(data, {"indicators": checked}), title="t"), offline=True
    )
    assert "工业用地控制指标核验" in html and "#41ab5d" in html  # 符合 style


def test_sample_has_parcels_failing_and_passing_each_rule(sample_data):
    checked, table = indicators_project(sample_data)
    for column in [c for c in checked.columns if c.endswith("_ok")]:
        verdicts = checked[column].value_counts()
        assert verdicts.get(False, 0) >= 3 and verdicts.get(True, 0) >= 3, column
    # The sample's halls over 8 m count twice; some are exactly 8 m and count once.
    heights = sample_data.layers["buildings"]
    storey = heights["height_m"] / heights["floors"]
    assert (storey > 8).sum() > 100 and (storey == 8).sum() >= 5
    assert checked["tall_floor_m2"].gt(0).sum() > 100
    assert any(t.table == "xingbin_sample_indicators.toml" for t in table.thresholds)
    assert sample_project().options.indicators.region_class == "示例类"


def test_readme_documents_every_shipped_table_and_its_sources():
    # Done-when of #15: the README names each shipped table and, for every value the
    # national table marks verified, at least the web sources its note cites.
    import re
    import tomllib
    from pathlib import Path

    root = Path(__file__).parents[1]
    readme = root.joinpath("README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Indicator tables and their sources") :]
    for table in sorted(root.joinpath("layers").glob("indicators_national_*.toml")):
        assert f"layers/{table.name}" in section, table.name
    doc = tomllib.loads(root.joinpath("layers/indicators_national_2008.toml").read_text("utf-8"))
    for name, entry in doc.items():
        if isinstance(entry, dict) and entry.get("verified"):
            hosts = set(re.findall(r"([a-z0-9.-]+\.(?:com|net|cn))/", entry["note"]))
            assert hosts and hosts & set(re.findall(r"[a-z0-9.-]+\.(?:com|net|cn)", section)), name

"""Land-class tabulation of a red line against DLTB: hand-computed areas on 100 m squares.

The red line is a 300 m × 100 m strip (30 000 m²) with a 20 m × 20 m hole (400 m²) in
its middle third, over three 图斑: 旱地 with KCXS 0.08 (x 0–100), 工业用地 (x 100–200,
holding the hole) and 乔木林地 (x 200–300):

- 旱地 10 000 m² × (1 − 0.08) = 9 200 m² = 0.92 公顷 = 13.8 亩,
- 田坎 10 000 m² × 0.08 = 800 m² = 0.08 公顷 = 1.2 亩,
- 工业用地 10 000 − 400 = 9 600 m² = 0.96 公顷 = 14.4 亩,
- 乔木林地 10 000 m² = 1 公顷 = 15 亩; together 29 600 m² = 2.96 公顷 = 44.4 亩.
"""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from landuse.analysis.landclass import (
    GROUPS,
    apportion,
    crosswalk,
    landclass_summary,
    tabulate_landclass,
)
from landuse.analysis.redline import analyse_redline
from landuse.core.errors import SchemaError

from .conftest import GK36, X0, Y0, square

ORIGIN = np.array([X0, Y0])


def strip(x0: float, x1: float) -> shapely.Polygon:
    """A band x0–x1 reaching 50 m beyond the red line north and south."""
    return shapely.box(X0 + x0, Y0 - 50, X0 + x1, Y0 + 150)


@pytest.fixture
def redline() -> gpd.GeoDataFrame:
    outline = shapely.union_all([square(0, 0), square(100, 0), square(200, 0)])
    hole = square(140, 40, 20)
    return gpd.GeoDataFrame(
        {"parcel_id": ["1"]}, geometry=[shapely.difference(outline, hole)], crs=GK36
    )


def patches(codes=("0103", "0601", "0301"), ratios=(0.08, None, None)) -> gpd.GeoDataFrame:
    # Each 图斑 reaches 50 m beyond the strip; the first also 50 m west of it.
    geoms = [strip(-50, 100), strip(100, 200), strip(200, 300)]
    return gpd.GeoDataFrame(
        {
            "feature_id": ["BSM1", "BSM2", "BSM3"],
            "patch_no": ["0001", "0002", "0003"],
            "land_class_code": list(codes),
            "deduction_ratio": list(ratios),
        },
        geometry=geoms,
        crs=GK36,
    )


def test_hand_computed_classes_with_a_hole_and_kcxs(redline):
    result = tabulate_landclass(redline, patches())
    table = result.table.set_index("dlbm")
    assert table.loc[["0103", "1203", "0601", "0301"], "area_m2"].tolist() == pytest.approx(
        [9_200.0, 800.0, 9_600.0, 10_000.0]
    )
    assert table["area_ha"].to_dict() == {"0103": 0.92, "0301": 1.0, "0601": 0.96, "1203": 0.08}
    assert table["area_mu"].to_dict() == {"0103": 13.8, "0301": 15.0, "0601": 14.4, "1203": 1.2}
    assert table.loc["1203", "dlmc"] == "田坎" and table.loc["0103", "category"] == "农用地"
    assert (table["area_basis"] == "plane").all()
    # The 旱地 piece carries its KCXS and both halves of its area.
    piece = result.pieces.set_index("patch_no").loc["0001"]
    assert piece["deduction_ratio"] == 0.08 and piece["deduction_code"] == "1203"
    assert (piece["area_m2"], piece["class_area_m2"], piece["deduction_area_m2"]) == (
        pytest.approx(10_000.0),
        pytest.approx(9_200.0),
        pytest.approx(800.0),
    )


def test_summary_rows_go_from_categories_to_classes_then_total(redline):
    summary = landclass_summary(tabulate_landclass(redline, patches()).table, "gbt21010")
    rows = [tuple(r) for r in summary.itertuples(index=False)]
    assert rows == [
        ("农用地", "", "", 2.0, 30.0),
        ("", "01 耕地", "", 0.92, 13.8),
        ("", "", "0103 旱地", 0.92, 13.8),
        ("", "03 林地", "", 1.0, 15.0),
        ("", "", "0301 乔木林地", 1.0, 15.0),
        ("", "12 其他土地", "", 0.08, 1.2),
        ("", "", "1203 田坎", 0.08, 1.2),
        ("建设用地", "", "", 0.96, 14.4),
        ("", "06 工矿仓储用地", "", 0.96, 14.4),
        ("", "", "0601 工业用地", 0.96, 14.4),
        ("合计", "", "", 2.96, 44.4),
    ]


def test_red_line_with_control_lines_under_the_total(redline):
    udb = gpd.GeoDataFrame(
        {"zone_type": ["城镇集中建设区", "城镇弹性发展区"]},
        geometry=[strip(100, 200), strip(200, 250)],
        crs=GK36,
    )
    farmland = gpd.GeoDataFrame(geometry=[square(0, 0, 50)], crs=GK36)
    result = analyse_redline(redline, dltb=patches(), udb=udb, farmland=farmland)
    tail = [tuple(r) for r in result.summary.iloc[11:].itertuples(index=False)]
    # Farmland 50 × 50 = 2 500 m²; inside the UDB 9 600 + 5 000 = 14 600 m²; outside
    # 10 000 + 5 000 = 15 000 m².
    assert tail == [
        ("占用永久基本农田", "", "", 0.25, 3.75),
        ("城镇开发边界内", "", "", 1.46, 21.9),
        ("", "其中：城镇集中建设区", "", 0.96, 14.4),
        ("", "其中：城镇弹性发展区", "", 0.5, 7.5),
        ("城镇开发边界外", "", "", 1.5, 22.5),
    ]
    assert result.parcels["status"].iloc[0] == "超出城镇开发边界；占用永久基本农田"


def test_rows_of_a_red_line_sum_to_its_area_on_real_shaped_data():
    # Irregular parcels over a Voronoi mosaic of 图斑, plane and ellipsoidal.
    rng = np.random.default_rng(5)
    cells = shapely.get_parts(
        shapely.voronoi_polygons(
            shapely.multipoints(rng.uniform(0, 1000, (200, 2)) + ORIGIN),
            extend_to=shapely.box(X0 - 1000, Y0 - 1000, X0 + 2000, Y0 + 2000),
        )
    )
    dltb = gpd.GeoDataFrame(
        {
            "land_class_code": rng.choice(["0101", "0103", "0301", "0601", "1107"], len(cells)),
            "deduction_ratio": np.round(rng.uniform(0, 0.15, len(cells)), 4),
        },
        geometry=cells,
        crs=GK36,
    )
    blobs = shapely.buffer(
        shapely.points(rng.uniform(100, 900, (4, 2)) + ORIGIN), [80, 120, 150, 60]
    )
    red = gpd.GeoDataFrame({"parcel_id": list("ABCD")}, geometry=blobs, crs=GK36)
    for basis in ("plane", "ellipsoid"):
        result = analyse_redline(red, dltb=dltb, basis=basis)
        table = result.landclass.table
        area = result.parcels.set_index("parcel_id")["area_m2"]
        sums = table.groupby("parcel_id")["area_m2"].sum()
        # Pieces and parcel are measured apart: on the ellipsoid their edges are cut
        # into 10 m chords at different points, a difference far below 1 mm².
        np.testing.assert_allclose(sums.loc[area.index], area, rtol=1e-12, atol=1e-4)
        # Rounded rows add up to the rounded parcel area, in whole 0.0001 units.
        for unit, per in (("area_ha", 1e4), ("area_mu", 10_000 / 15)):
            units = (table.groupby("parcel_id")[unit].sum() * 1e4).round().astype(int)
            expected = (area / per).round(4).mul(1e4).round().astype(int)
            assert units.loc[area.index].tolist() == expected.tolist()
        total = result.summary.set_index("category").loc["合计"]
        assert total["area_ha"] == pytest.approx(result.parcels["area_ha"].sum(), abs=1e-9)


def test_land_no_patch_covers_is_its_own_row(redline):
    result = tabulate_landclass(redline, patches().iloc[:2])  # no 乔木林地 patch
    table = result.table.set_index("dlbm")
    assert table.loc["", "dlmc"] == "地类图斑未覆盖"
    assert table.loc["", "area_m2"] == pytest.approx(10_000.0)
    assert table["area_m2"].sum() == pytest.approx(29_600.0)


def test_overlapping_patches_are_an_error_listing_them(redline):
    dltb = patches()
    dltb.loc[1, "geometry"] = strip(90, 200)  # 10 m × 200 m over the 旱地 patch
    with pytest.raises(SchemaError, match=r"1 对地类图斑相互重叠.*BSM1 × BSM2（2000.00 平方米）"):
        tabulate_landclass(redline, dltb)


def test_codes_are_read_in_the_project_classification(redline):
    # In the 2023 用地用海分类 1001 is 工业用地 and 0601 农村道路; 田坎 is 2303.
    dltb = patches(codes=("0103", "1001", "0601"))
    table = tabulate_landclass(redline, dltb, system="ydyh2023").table.set_index("dlbm")
    assert table.loc["1001", ["dlmc", "category"]].tolist() == ["工业用地", "建设用地"]
    assert table.loc["0601", ["dlmc", "category"]].tolist() == ["农村道路", "农用地"]
    assert table.loc["2303", "area_m2"] == pytest.approx(800.0)
    # The same file read as GB/T 21010: 1001 is 铁路用地 there.
    assert (
        tabulate_landclass(redline, dltb).table.set_index("dlbm").loc["1001", "dlmc"] == "铁路用地"
    )
    # A code only the other system has: the error says which system to set.
    with pytest.raises(SchemaError, match=r"'2303'.*system = \"ydyh2023\""):
        tabulate_landclass(redline, patches(codes=("0103", "2303", "0301")))


def test_deduction_ratio_outside_zero_to_one_is_an_error(redline):
    with pytest.raises(SchemaError, match=r"扣除系数.*0001=8"):
        tabulate_landclass(redline, patches(ratios=(8, None, None)))


def test_ellipsoidal_basis_measures_every_piece_on_the_ellipsoid(redline):
    plane = tabulate_landclass(redline, patches()).table.set_index("dlbm")["area_m2"]
    ellipsoid = tabulate_landclass(redline, patches(), basis="ellipsoid").table
    ellipsoid = ellipsoid.set_index("dlbm")["area_m2"]
    # 20 km east of the central meridian the plane is larger by about (20/6371)² ≈ 1e-5.
    ratio = ellipsoid / plane
    assert ((ratio > 1 - 2e-5) & (ratio < 1 - 5e-6)).all()
    assert ellipsoid.loc["1203"] / ellipsoid.loc["0103"] == pytest.approx(0.08 / 0.92)


def test_apportion_keeps_group_totals():
    values = np.array([1 / 3, 1 / 3, 1 / 3, 0.12344, 0.12344])
    groups = np.array([0, 0, 0, 1, 1])
    out = apportion(values, groups, np.array([1.0, 0.24688]))
    assert out.round(4).tolist() == [0.3334, 0.3333, 0.3333, 0.1235, 0.1234]


def test_crosswalks_are_complete():
    gbt = crosswalk("gbt21010")
    standard = gbt[gbt["source"].str.startswith("GB/T 21010-2017")]
    assert len(standard) == 73  # the 73 二级类 of GB/T 21010-2017
    assert standard["level1_code"].nunique() == 12
    for system in ("gbt21010", "ydyh2023"):
        walk = crosswalk(system)
        assert set(walk["group"]) <= set(GROUPS) and walk.index.is_unique
        assert set(walk["level2_code"]) <= set(walk.index)
    assert (
        pd.Series(crosswalk("gbt21010").loc[["0101", "1006", "1203"], "group"]).eq("农用地").all()
    )
    assert crosswalk("gbt21010").loc["0404", "group"] == "未利用地"

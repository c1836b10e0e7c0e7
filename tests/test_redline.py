"""`landuse redline`: the sample red line against the sample DLTB and control lines, and
conversion of red lines from other formats without a project.

Expected figures come from independent computations: a hand-written TXT parser with
pyproj.Geod for the areas, and geopandas.overlay for the land classes.
"""

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import pytest
import shapely
from click.testing import CliRunner
from openpyxl import load_workbook

from landuse.analysis.redline import analyse_redline
from landuse.cli import main
from landuse.core.config import sample_project
from landuse.io import load_project_data, read_layer
from landuse.sample import get_path


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("redline")
    result = CliRunner().invoke(
        main, ["redline", str(get_path("redline")), "--sample", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out, result.output


def _txt_parcels(path) -> dict[str, shapely.Polygon]:
    """The sample TXT read by hand: 圈 1 is the outline, further 圈 are holes (as drawn)."""
    parcels: dict[str, list[list[tuple[float, float]]]] = {}
    current = None
    in_points = False
    for line in path.read_bytes().decode("gbk").splitlines():
        if line == "[地块坐标]":
            in_points = True
        elif in_points and line.endswith("@"):
            current = line.split(",")[2]
            parcels[current] = []
        elif in_points:
            _, number, north, east = line.split(",")
            rings = parcels[current]
            if len(rings) < int(number):
                rings.append([])
            rings[-1].append((float(east), float(north)))
    return {k: shapely.Polygon(r[0], r[1:]) for k, r in parcels.items()}


def _geod_area(geom: shapely.Polygon) -> float:
    to_lonlat = pyproj.Transformer.from_crs(4524, 4490, always_xy=True)
    dense = shapely.orient_polygons(shapely.segmentize(geom, 1.0))
    lonlat = shapely.transform(dense, lambda xy: np.column_stack(to_lonlat.transform(*xy.T)))
    return abs(pyproj.Geod(ellps="GRS80").geometry_area_perimeter(lonlat)[0])


def test_sample_red_line_writes_every_output(sample_run):
    out, output = sample_run
    names = set(pyogrio.list_layers(out / "redline.gpkg")[:, 0])
    assert names == {"redline", "landclass", "landclass_pieces"}
    red = pyogrio.read_dataframe(out / "redline.gpkg", layer="redline")
    assert {"parcel_id", "area_m2", "area_ha", "area_mu", "area_ellipsoid_m2"} <= set(red)
    assert red["parcel_id"].tolist() == ["1", "2"] and (red["area_basis"] == "ellipsoid").all()
    landclass = pyogrio.read_dataframe(out / "redline.gpkg", layer="landclass")
    assert ["parcel_id", "dlbm", "dlmc", "area_m2", "area_ha", "area_mu"] == [
        c
        for c in landclass.columns
        if c in ("parcel_id", "dlbm", "dlmc", "area_m2", "area_ha", "area_mu")
    ]
    pieces = pyogrio.read_dataframe(out / "redline.gpkg", layer="landclass_pieces")
    assert pieces["deduction_ratio"].between(0.02, 0.15).any()  # sloped 耕地 was met

    # The 椭球面积 of the sample red line, computed independently: 合计 is the sum of
    # each parcel's area rounded to 0.0001 公顷.
    expected = {k: _geod_area(g) for k, g in _txt_parcels(get_path("redline")).items()}
    np.testing.assert_allclose(
        red.set_index("parcel_id")["area_ellipsoid_m2"].loc[list(expected)],
        list(expected.values()),
        rtol=1e-7,
    )
    total_ha = sum(round(a / 1e4, 4) for a in expected.values())

    wb = load_workbook(out / "用地预审.xlsx")
    ws = wb["地类面积汇总表"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("三大类", "一级类", "二级类", "面积（公顷）", "面积（亩）")
    assert rows[1][0] == "农用地" and ws["D2"].number_format == "#,##0.0000"
    labels = [r[0] for r in rows]
    total = rows[labels.index("合计")]
    assert total[3] == pytest.approx(total_ha, abs=1e-9)
    after = [r[0] or r[1] for r in rows[labels.index("合计") + 1 :] if r[0] or r[1]]
    assert after[:5] == [
        "占用永久基本农田",
        "城镇开发边界内",
        "其中：城镇集中建设区",
        "其中：城镇弹性发展区",
        "城镇开发边界外",
    ]
    # Every subtotal is the sum of the lines under it; inside + outside = 合计.
    table = pd.DataFrame(rows[1 : labels.index("合计")], columns=list("abcde"))
    assert table.loc[table["c"].notna(), "d"].sum() == pytest.approx(total[3], abs=1e-9)
    assert table.loc[table["a"].notna(), "d"].sum() == pytest.approx(total[3], abs=1e-9)
    inside, outside = (rows[labels.index(k)][3] for k in ("城镇开发边界内", "城镇开发边界外"))
    assert inside + outside == pytest.approx(total[3], abs=1e-9)

    html = (out / "redline_map.html").read_text(encoding="utf-8")
    assert "项目红线" in html and "地类图斑（三调）" in html and "城镇开发边界规划分区" in html
    # The red line written back is the file read, byte for byte.
    assert (out / "redline.txt").read_bytes() == get_path("redline").read_bytes()
    assert "地块面积核对（文件所写面积按公顷理解）：2 个地块中 0 个与坐标不符" in output
    assert re.search(r"红线三区三线：占用永久基本农田 [\d.]+ 公顷，城镇开发边界内", output)


def test_sample_land_classes_match_an_independent_overlay():
    data = load_project_data(sample_project(), ["redline", "dltb", "udb", "udb_zones"])
    red, dltb = data.layers["redline"], data.layers["dltb"]
    result = analyse_redline(
        red, dltb=dltb, udb=data.layers["udb"], udb_zones=data.layers["udb_zones"], basis="plane"
    )
    table = result.landclass.table.groupby("dlbm")["area_m2"].sum()
    # geopandas.overlay, then the survey's arithmetic by hand.
    over = gpd.overlay(red[["parcel_id", "geometry"]], dltb, how="intersection")
    over["m2"] = over.area
    ratio = over["deduction_ratio"].fillna(0.0)
    expected = (over["m2"] * (1 - ratio)).groupby(over["land_class_code"]).sum()
    expected.loc["1203"] = (over["m2"] * ratio).sum()
    expected = expected[expected > 0]
    pd.testing.assert_series_equal(
        table.loc[expected.index], expected, check_names=False, rtol=1e-9
    )
    zones = gpd.overlay(red, data.layers["udb_zones"], how="intersection")
    concentrated = zones.loc[zones["zone_type"] == "城镇集中建设区"].area.sum()
    got = result.zones.groupby("zone")["area_m2"].sum()
    assert got["城镇集中建设区"] == pytest.approx(concentrated, rel=1e-9)


@pytest.mark.parametrize(("name", "driver"), [("红线.kml", "KML"), ("红线.geojson", "GeoJSON")])
def test_red_line_without_a_project_is_converted(tmp_path, monkeypatch, name, driver):
    monkeypatch.chdir(tmp_path)  # no landuse.toml here
    # Two 100 m squares drawn in degrees (as from a KML or a web map), without ids.
    gk = gpd.GeoDataFrame(
        {"Name": ["一号", "二号"]},
        geometry=[
            shapely.box(36_520_000, 2_620_000, 36_520_100, 2_620_100),
            shapely.box(36_520_300, 2_620_000, 36_520_400, 2_620_100),
        ],
        crs="EPSG:4524",
    )
    gk.to_crs(4326).to_file(tmp_path / name, driver=driver)
    result = CliRunner().invoke(main, ["redline", name, "--out", "out"])
    assert result.exit_code == 0, result.output
    assert "未配置城镇开发边界 [layers.udb]" in result.output
    assert set(pyogrio.list_layers(tmp_path / "out" / "redline.gpkg")[:, 0]) == {"redline"}
    assert not (tmp_path / "out" / "用地预审.xlsx").exists()
    red = pyogrio.read_dataframe(tmp_path / "out" / "redline.gpkg", layer="redline")
    assert red["parcel_id"].tolist() == ["1", "2"]
    assert red["parcel_name"].tolist() == ["一号", "二号"]
    assert red["area_m2"].tolist() == pytest.approx([10_000.0, 10_000.0], abs=1e-3)
    # The TXT is written in the zone with the prefix, northing first, in 公顷.
    txt = read_layer(tmp_path / "out" / "redline.txt")
    assert txt.crs.to_epsg() == 4524
    assert txt["stated_area"].tolist() == [1.0, 1.0] and txt["stated_area_ok"].all()
    assert txt.geometry.normalize().geom_equals_exact(gk.geometry.normalize(), 0.002).all()


def test_check_takes_a_red_line_txt(tmp_path):
    result = CliRunner().invoke(
        main,
        ["check", "--sample", "--parcels", str(get_path("redline")), "--out", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output
    assert "2 个地块中 2 个存在冲突" in result.output


def test_bad_red_line_is_one_line_exit_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "坏.txt").write_bytes(
        "[地块坐标]\r\n5,1,A,甲,面,,,,@\r\nJ1,1,x,y\r\n".encode("gbk")
    )
    result = CliRunner().invoke(main, ["redline", "坏.txt"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "第 3 行" in lines[0] and lines[0].startswith("错误 Error: 坏.txt")


def test_info_describes_a_red_line_txt():
    result = CliRunner().invoke(main, ["info", str(get_path("redline"))])
    assert result.exit_code == 0, result.output
    assert "界址点坐标 TXT" in result.output and "要素 Features:  2 Polygon" in result.output
    assert "EPSG:4524) [[属性描述] 坐标系/带号]" in result.output


def test_a_rerun_leaves_no_layer_of_the_previous_run(tmp_path, sample_run):
    # The sample run wrote land classes (it has the land survey); the same red line
    # converted without a project has none: its redline.gpkg must not keep the old ones,
    # which a reader would take for this red line's land classes.
    import shutil

    out = tmp_path / "out"
    shutil.copytree(sample_run[0], out)
    assert "landclass" in set(pyogrio.list_layers(out / "redline.gpkg")[:, 0])
    result = CliRunner().invoke(main, ["redline", str(get_path("redline")), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert set(pyogrio.list_layers(out / "redline.gpkg")[:, 0]) == {"redline"}

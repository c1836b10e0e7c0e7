"""界址点坐标 TXT: reading, writing, and what real files do (hand-made files, round answers).

Coordinates sit in CGCS2000 3-degree zone 36 (CM 108°E): X = northing 2 620 000 …,
Y = easting with the zone prefix 36 520 000 …  A 100 m square is 10 000 m² = 1 公顷.
"""

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely

from landuse.core.errors import CRSError, LanduseWarning, LayerReadError
from landuse.io import read_layer, write_boundary_txt
from landuse.io.boundary_txt import format_boundary_txt, header_crs, parse_boundary_txt

from .conftest import X0, Y0

HEADER = """[属性描述]
格式版本号=1.01
数据产生单位=来宾市自然资源局
数据产生日期=2025-06-15
坐标系=2000国家大地坐标系
几度分带=3
投影类型=高斯克吕格
计量单位=米
带号=36
精度=0.001
转换参数=,,,,,,
[地块坐标]
"""


def ring(x: float, y: float, size: float, number: int, first: int = 1) -> list[str]:
    """A closed square ring as 点号,圈号,X(northing),Y(easting) lines, lower-left at (x, y)."""
    corners = [(x, y), (x + size, y), (x + size, y + size), (x, y + size), (x, y)]
    labels = [first, first + 1, first + 2, first + 3, first]
    return [
        f"J{j},{number},{Y0 + n:.3f},{X0 + e:.3f}"
        for j, (e, n) in zip(labels, corners, strict=True)
    ]


def txt(*parcels: tuple[str, list[str]], header: str = HEADER, newline: str = "\r\n") -> bytes:
    lines = header.splitlines()
    for head, points in parcels:
        lines += [head, *points]
    return (newline.join(lines) + newline).encode("gbk")


def write(tmp_path, data: bytes, name: str = "红线.txt"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_x_is_northing_and_y_the_easting_with_zone_prefix(tmp_path):
    data = txt(("5,1.0000,1,一号地块,面,,工业用地,,@", ring(0, 0, 100, 1)))
    gdf = read_layer(write(tmp_path, data))
    assert gdf.crs.to_epsg() == 4524  # CGCS2000 3-degree zone 36 with the prefix
    assert tuple(gdf.total_bounds) == (X0, Y0, X0 + 100, Y0 + 100)
    # 20 km east of 108°E at 23.7°N, not somewhere in the sea.
    lon, lat = pyproj.Transformer.from_crs(4524, 4490, always_xy=True).transform(X0, Y0)
    assert 108.15 < lon < 108.25 and 23.6 < lat < 23.8
    # Writing puts the northing first again.
    text = format_boundary_txt(gdf).decode("gb18030")
    assert f"J1,1,{Y0:.3f},{X0:.3f}" in text.splitlines()


def test_parts_holes_and_islands_nest_by_containment(tmp_path):
    # One parcel: a 100 m square (10 000 m²) with a 60 m hole (3 600 m²) holding a
    # 20 m island (400 m²), and a separate 10 m part (100 m²), listed out of order.
    points = [
        *ring(40, 40, 20, 1, first=1),  # the island, first in the file
        *ring(0, 0, 100, 2, first=5),
        *ring(300, 0, 10, 3, first=9),
        *ring(20, 20, 60, 4, first=13),  # the hole, last
    ]
    data = txt(("20,0.6900,A,一号地块,面,,工业用地,,@", points))
    gdf = read_layer(write(tmp_path, data))
    geom = gdf.geometry.iloc[0]
    assert geom.is_valid and geom.geom_type == "MultiPolygon"
    assert geom.area == pytest.approx(10_000 - 3_600 + 400 + 100)
    parts = sorted(shapely.get_parts(geom), key=lambda g: g.area)
    assert [p.area for p in parts] == [100, 400, 10_000 - 3_600]
    assert [len(p.interiors) for p in parts] == [0, 0, 1]
    assert bool(gdf["stated_area_ok"].iloc[0])  # 0.6900 公顷 = 6 900 m²


def test_round_trip_is_exact_to_the_stated_precision(tmp_path):
    # GBK, CR and CRLF mixed, a producer's extra field before @, 界址点数 without the
    # closing points in one parcel and with them in the other, odd millimetres.
    shell = ring(0, 0, 100, 1)
    shell[1] = f"J2,1,{Y0:.3f},{X0 + 100.123:.3f}"
    head = HEADER.replace("\n", "\r\n").encode("gbk")
    body = (
        "4,1.0006,DK-1,一号地块,面,F49G001001,工业用地,0601,备注甲,@\r\n"
        + "\r\n".join(shell)
        + "\r5,0.1600,DK-2,二号地块,面,,仓储用地,0604,@\r"
        + "\n".join(ring(200, 0, 40, 1, first=1))
        + "\n"
    ).encode("gbk")
    first = read_layer(write(tmp_path, head + body))
    assert first["parcel_id"].tolist() == ["DK-1", "DK-2"]
    assert first["extra_fields"].fillna("").tolist() == ["备注甲", ""]
    assert first["point_count"].tolist() == [4, 5]
    assert first["land_class_code"].tolist() == ["0601", "0604"]
    out = write_boundary_txt(first, tmp_path / "out" / "红线.txt")
    again = read_layer(out)
    # Same geometry to the millimetre, same attributes; the area unit is kept.
    assert again.geometry.normalize().geom_equals_exact(first.geometry.normalize(), 0.0005).all()
    columns = ["parcel_id", "parcel_name", "sheet_no", "land_use", "land_class_code"]
    assert again[columns].equals(first[columns])
    assert again["extra_fields"].fillna("").tolist() == ["备注甲", ""]
    assert again["stated_area"].tolist() == [1.0006, 0.16]
    # Closing points are counted when writing: 5 lines each.
    assert again["point_count"].tolist() == [5, 5]
    # A second round trip changes nothing at all.
    assert write_boundary_txt(again, tmp_path / "twice.txt").read_bytes() == out.read_bytes()
    text = out.read_bytes().decode("gb18030")
    assert "\r\n" in text and "数据产生单位=来宾市自然资源局" in text and "带号=36" in text


def test_stated_area_mismatch_is_reported_with_the_unit_assumed(tmp_path):
    data = txt(
        ("5,1.0000,A,甲,面,,,,@", ring(0, 0, 100, 1)),  # 1 公顷 = 10 000 m²: agrees
        ("5,0.5000,B,乙,面,,,,@", ring(200, 0, 100, 1)),  # 0.5 公顷 for 10 000 m²
    )
    with pytest.warns(LanduseWarning, match=r"按公顷理解.*地块 B（第 19 行）写 0.5000 公顷"):
        gdf = read_layer(write(tmp_path, data))
    assert gdf["stated_area_unit"].tolist() == ["公顷", "公顷"]
    assert gdf["stated_area_ok"].tolist() == [True, False]
    assert gdf["stated_area_diff_m2"].tolist() == [0.0, 5_000.0 - 10_000.0]


def test_stated_areas_in_square_metres_are_recognised(tmp_path):
    data = txt(("5,10000.00,A,甲,面,,,,@", ring(0, 0, 100, 1)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", LanduseWarning)
        gdf = read_layer(write(tmp_path, data))
    assert gdf["stated_area_unit"].iloc[0] == "平方米"
    assert gdf["stated_area_m2"].iloc[0] == 10_000.0


def test_malformed_lines_are_one_error_naming_every_line(tmp_path):
    points = ring(0, 0, 100, 1)
    points[1] = "J2,1,2620000.000,三六五二"  # not a number: line 15
    points[3] = "J4,1,2620100.000"  # three fields: line 17
    data = txt(("5,1.0000,A,甲,面,,,,@", points), ("x,1.0,B,乙,面,,,,@", ring(200, 0, 10, 1)))
    with pytest.raises(LayerReadError) as err:
        read_layer(write(tmp_path, data))
    message = str(err.value)
    assert "3 行格式错误" in message and "15、17、19" in message
    assert "红线.txt" in message and "\n" not in message


def test_unclosed_ring_and_wrong_point_count_are_errors(tmp_path):
    open_ring = ring(0, 0, 100, 1)[:-1]  # lines 14–17, the first point not repeated
    data = txt(("4,1.0000,A,甲,面,,,,@", open_ring), ("9,1.0,B,乙,面,,,,@", ring(200, 0, 10, 1)))
    with pytest.raises(LayerReadError, match=r"第 14–17 行的圈 1没有回到起点.*") as err:
        read_layer(write(tmp_path, data))
    assert "14、18" in str(err.value)  # the ring, and parcel B's 界址点数 9 for 5 lines


def test_crs_from_header():
    prefixed = np.array([36_520_000.0])
    bare = np.array([520_000.0])
    head = {"坐标系": "2000国家大地坐标系", "几度分带": "3", "带号": "36"}
    assert header_crs(head, prefixed).to_epsg() == 4524
    assert header_crs(head, bare).to_epsg() == 4545  # CM 108°E without the prefix
    assert header_crs({**head, "坐标系": "1980西安坐标系"}, prefixed).to_epsg() == 2360
    six = {"坐标系": "2000国家大地坐标系", "几度分带": "6", "带号": "18"}
    assert header_crs(six, np.array([18_520_000.0])).to_epsg() == 4496
    assert header_crs({**head, "坐标系": ""}, prefixed) is None
    with pytest.raises(CRSError, match="带号=37 but the eastings"):
        header_crs({**head, "带号": "37"}, prefixed)
    with pytest.raises(CRSError, match="坐标系=WGS84"):
        header_crs({**head, "坐标系": "WGS84"}, prefixed)
    with pytest.raises(CRSError, match="no 带号"):
        header_crs({"坐标系": "2000国家大地坐标系"}, bare)


def test_xian80_red_line_needs_the_datum_transformation(tmp_path):
    data = txt(
        ("5,1.0000,A,甲,面,,,,@", ring(0, 0, 100, 1)),
        header=HEADER.replace("2000国家大地坐标系", "1980西安坐标系"),
    )
    with pytest.raises(CRSError, match="datum_transform"):
        read_layer(write(tmp_path, data))
    # --crs overrides the header.
    gdf = read_layer(write(tmp_path, data), crs="EPSG:4524")
    assert gdf.crs.to_epsg() == 4524


def test_written_in_the_zone_with_prefix_from_any_crs():
    square = gpd.GeoDataFrame(
        {"parcel_id": ["1"]},
        geometry=[shapely.box(X0, Y0, X0 + 100, Y0 + 100)],
        crs="EPSG:4524",
    ).to_crs(4490)
    back = parse_boundary_txt(format_boundary_txt(square), source="t.txt")
    assert back.crs.to_epsg() == 4524
    expected = shapely.normalize(shapely.box(X0, Y0, X0 + 100, Y0 + 100))
    assert shapely.normalize(back.geometry.iloc[0]).equals_exact(expected, 0.001)
    # No stated area: the plane area is written in 公顷.
    assert back["stated_area"].iloc[0] == pytest.approx(1.0, abs=1e-4)


def test_dxf_closed_polylines_become_polygons(tmp_path):
    header = "  0\nSECTION\n  2\nHEADER\n  9\n$DWGCODEPAGE\n  3\nANSI_936\n  0\nENDSEC\n"

    def lwpolyline(layer: str, xy: list[tuple[float, float]], closed: bool) -> str:
        head = f"  0\nLWPOLYLINE\n  8\n{layer}\n 90\n{len(xy)}\n 70\n{1 if closed else 0}\n"
        return head + "".join(f" 10\n{X0 + x}\n 20\n{Y0 + y}\n" for x, y in xy)

    entities = (
        lwpolyline("红线", [(0, 0), (100, 0), (100, 100), (0, 100)], closed=True)
        + lwpolyline("0", [(0, 0), (50, 0), (50, 50)], closed=False)
        + f"  0\nTEXT\n  8\n0\n 10\n{X0}\n 20\n{Y0}\n 40\n2.5\n  1\n地块1\n"
    )
    path = tmp_path / "红线.dxf"
    path.write_bytes(
        (header + "  0\nSECTION\n  2\nENTITIES\n" + entities + "  0\nENDSEC\n  0\nEOF\n").encode(
            "gbk"
        )
    )
    with pytest.warns(LanduseWarning, match=r"2 个对象不是闭合多段线"):
        gdf = read_layer(path, crs="EPSG:4524")
    assert len(gdf) == 1 and gdf.geometry.iloc[0].geom_type == "Polygon"
    assert gdf.geometry.iloc[0].area == 10_000.0
    assert gdf["Layer"].tolist() == ["红线"]
    # --layer picks a CAD layer: all of 红线 is read, and 0 holds no closed polyline.
    with warnings.catch_warnings():
        warnings.simplefilter("error", LanduseWarning)
        assert read_layer(path, "红线", crs="EPSG:4524").geometry.area.tolist() == [10_000.0]
    with pytest.raises(LayerReadError, match="没有闭合多段线"):
        read_layer(path, "0", crs="EPSG:4524")
    with pytest.raises(LayerReadError, match=r"no CAD layer named '用地'. Layers: 0, 红线"):
        read_layer(path, "用地", crs="EPSG:4524")


def test_readme_example_reads_as_documented(tmp_path):
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Red line (用地预审)") :]
    example = section[
        section.index("```text\n") + 8 : section.index("```", section.index("```text") + 7)
    ]
    gdf = read_layer(write(tmp_path, example.replace("\n", "\r\n").encode("gbk")))
    assert gdf.crs.to_epsg() == 4524
    assert gdf.geometry.iloc[0].area == 100 * 100 - 20 * 20  # 0.9600 公顷 as stated
    assert gdf["stated_area_ok"].tolist() == [True]

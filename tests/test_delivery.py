"""landuse init: a surveyors' delivery folder (or FileGDB) becomes a working project file."""

import tomllib
import zipfile

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner

from landuse.cli import main
from landuse.core.config import load_project
from landuse.core.errors import ConfigError
from landuse.io import load_layer
from landuse.io.delivery import init_project, render_project, scan_delivery

from .conftest import GK36, X0, Y0, square
from .test_io import _shapefile

# Parcels A1, A2, A3: 100 m squares at x = 0, 200, 400 (10 000 m² = 15 亩 each).
PARCELS = {
    "宗地号": ["A1", "A2", "A3"],
    "地块名称": ["河南工业园一号地块", "凤凰工业园二号地块", "迁江工业园三号地块"],
    "土地使用者": ["来宾糖业有限公司", "广西铝业有限公司", "兴宾建材厂"],
    "用地面积": [10_000.0, 10_000.0, 10_000.0],
}
# UDB x 50–600: A1 (x 0–100) is 50 × 100 = 5 000 m² = 7.5 亩 outside.
UDB = square(50, -50, 550)
# Farmland y 70–170 over A2 (x 200–300, y 0–100): 100 × 30 = 3 000 m² = 4.5 亩.
FARMLAND = square(200, 70, 100)
# Eco red line y 80–180 over A3 (x 400–500): 100 × 20 = 2 000 m² = 3 亩.
ECO = square(400, 80, 100)


def _gdf(columns: dict, geoms: list) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=geoms, crs=GK36)


def _layers() -> dict[str, gpd.GeoDataFrame]:
    """The layers of a standard delivery, keyed by their national / Chinese names."""
    return {
        "地块": _gdf(PARCELS, [square(0, 0), square(200, 0), square(400, 0)]),
        "CZKFBJ": _gdf({"BSM": ["1"], "GHFQDM": ["11"], "GHFQMC": ["城镇集中建设区"]}, [UDB]),
        "YJJBNTTB": _gdf(
            {
                "BSM": ["1"],
                "YJJBNTTBBH": ["450000001"],
                "TBBH": ["12"],
                "DLBM": ["0101"],
                "DLMC": ["水田"],
            },
            [FARMLAND],
        ),
        "STBHHX": _gdf({"BSM": ["1"], "MC": ["大瑶山生态保护红线"]}, [ECO]),
        "DLTB": _gdf(
            {
                "BSM": ["1", "2"],
                "YSDM": ["2001010100"] * 2,
                "TBBH": ["1", "2"],
                "DLBM": ["0101", "0601"],
                "DLMC": ["水田", "工业用地"],
                "QSXZ": ["30", "10"],
                "QSDWDM": ["4513020010010000000"] * 2,
                "ZLDWDM": ["4513020010010000000"] * 2,
                "TBMJ": [10_000.0, 10_000.0],
                "KCXS": [0.05, 0.0],
                "KCMJ": [500.0, 0.0],
                "TBDLMJ": [9_500.0, 10_000.0],
                "GDLX": ["TT", ""],
                "GDPDJB": ["2", ""],
            },
            [square(0, 300), square(200, 300)],
        ),
    }


def _shapefile_delivery(folder):
    """GBK shapefiles without .cpg in subfolders, as surveyors hand them over."""
    layers = _layers()
    (folder / "地块").mkdir(parents=True)
    (folder / "三区三线").mkdir()
    (folder / "三调").mkdir()
    _shapefile(layers["地块"], folder / "地块" / "地块.shp", encoding="GBK", cpg=False)
    for name in ("CZKFBJ", "YJJBNTTB"):
        _shapefile(layers[name], folder / "三区三线" / f"{name}.shp", encoding="GBK", cpg=False)
    # No .prj: the zone prefix 36 of the eastings gives EPSG:4524.
    _shapefile(
        layers["STBHHX"], folder / "三区三线" / "STBHHX.shp", encoding="GBK", cpg=False, prj=False
    )
    _shapefile(layers["DLTB"], folder / "三调" / "DLTB.shp", encoding="GBK", cpg=False)
    (folder / "说明.txt").write_text("成果说明", encoding="utf-8")
    return folder


def _gdb_delivery(folder):
    """The same layers in one FileGDB, as the planning department delivers them."""
    folder.mkdir(parents=True)
    gdb = folder / "三区三线成果.gdb"
    for name, gdf in _layers().items():
        pyogrio.write_dataframe(gdf, gdb, driver="OpenFileGDB", layer=name)
    return folder


def _check(runner, toml, out):
    result = runner.invoke(main, ["check", "--project", str(toml), "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "conflicts.csv", encoding="utf-8-sig", dtype={"地块编号": str})
    return table.set_index("地块编号"), result.output


@pytest.mark.parametrize("build", [_shapefile_delivery, _gdb_delivery])
def test_init_then_check_gives_hand_computed_conflicts(tmp_path, build):
    runner = CliRunner()
    folder = build(tmp_path / "交付")
    toml = folder / "landuse.toml"
    result = runner.invoke(main, ["init", str(folder), "--out", str(toml)])
    assert result.exit_code == 0, result.output
    for role in ("parcels", "udb", "farmland", "eco_redline", "dltb"):
        assert role in result.output

    project = load_project(toml)
    assert set(project.layers) == {"parcels", "udb", "farmland", "eco_redline", "dltb"}
    parcels = project.layer("parcels")
    assert parcels.fields["parcel_id"] == "宗地号"
    assert parcels.fields["enterprise_name"] == "土地使用者"
    assert parcels.fields["stated_area_m2"] == "用地面积"
    assert project.layer("udb").fields == {
        "zone_id": "BSM",
        "zone_code": "GHFQDM",
        "zone_type": "GHFQMC",
    }
    assert project.layer("farmland").fields["patch_id"] == "YJJBNTTBBH"
    dltb = project.layer("dltb").fields
    assert dltb["land_class_code"] == "DLBM" and dltb["class_area_m2"] == "TBDLMJ"
    assert dltb["slope_grade"] == "GDPDJB" and len(dltb) == 14
    if build is _shapefile_delivery:
        assert parcels.path == folder / "地块" / "地块.shp" and parcels.layer is None
        assert parcels.encoding == "GB18030"  # detected from the bytes: no .cpg
        assert project.layer("eco_redline").crs == "EPSG:4524"  # no .prj: zone prefix 36
        text = toml.read_text(encoding="utf-8")
        assert 'path = "地块/地块.shp"' in text  # relative to the toml's folder
        assert "# 说明.txt" in text  # other files are listed, not lost
    else:
        assert parcels.path == folder / "三区三线成果.gdb" and parcels.layer == "地块"
        assert parcels.encoding is None  # FileGDB text is always UTF-8
    assert "# TODO" not in toml.read_text(encoding="utf-8")

    table, output = _check(runner, toml, tmp_path / "check")
    assert table.loc["A1", "开发边界外面积（亩）"] == pytest.approx(7.5)
    assert table.loc["A1", "检查结论"] == "超出城镇开发边界"
    assert table.loc["A2", "占用永久基本农田（亩）"] == pytest.approx(4.5)
    assert table.loc["A2", "检查结论"] == "占用永久基本农田"
    assert table.loc["A3", "占用生态保护红线（亩）"] == pytest.approx(3.0)
    assert table.loc["A3", "检查结论"] == "占用生态保护红线"
    assert table.loc["A1", "企业名称"] == "来宾糖业有限公司"  # 土地使用者, decoded from GBK
    assert "3 个地块中 3 个存在冲突" in output


def test_ambiguous_parcels_are_left_to_the_user(tmp_path):
    folder = _shapefile_delivery(tmp_path / "交付")
    second = _layers()["地块"].iloc[:2]
    _shapefile(second, folder / "地块" / "工业用地.shp", encoding="GBK", cpg=False)
    toml = folder / "landuse.toml"
    delivery = init_project(folder, toml)

    todos = [t for t in delivery.todos if t.role == "parcels"]
    assert len(todos) == 1 and "地块/地块.shp" in todos[0].message
    assert "地块/工业用地.shp" in todos[0].message
    assert "parcels" not in delivery.chosen()
    text = toml.read_text(encoding="utf-8")
    assert "# TODO: 有 2 个图层都像地块（parcels）" in text
    # Both candidates are written out commented, so the file still parses...
    assert text.count("# [layers.parcels]") == 2
    assert "parcels" not in tomllib.loads(text)["layers"]
    # ...and un-commenting one block gives a working table with its notes still comments.
    lines = text.splitlines()
    start = lines.index("# [layers.parcels]") - 2
    end = lines.index("", start)
    block = "\n".join(line[1:] for line in lines[start:end])
    assert tomllib.loads(block)["layers"]["parcels"]["fields"]["parcel_id"] == "宗地号"
    # Check refuses in one line instead of picking one silently.
    result = CliRunner().invoke(
        main, ["check", "--project", str(toml), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 2 and "no [layers.parcels] table" in result.output


def test_missing_required_field_and_crs_are_todos(tmp_path):
    folder = tmp_path / "交付"
    folder.mkdir()
    parcels = _layers()["地块"].rename(columns={"宗地号": "BH"})
    # Eastings without zone prefix and no .prj: the CRS cannot be proven.
    parcels = parcels.set_geometry(parcels.translate(xoff=-36_000_000))
    _shapefile(parcels, folder / "地块.shp", encoding="GBK", cpg=False, prj=False)
    delivery = scan_delivery(folder)
    messages = [t.message for t in delivery.todos if t.layer == "地块.shp"]
    assert any("未找到必需字段 parcel_id（地块编号）" in m for m in messages)
    assert any("无法推断" in m and 'crs = "EPSG:4545"' in m for m in messages)
    assert any(t.role == "udb" and "未找到城镇开发边界" in t.message for t in delivery.todos)
    text = render_project(delivery, folder / "landuse.toml")
    assert '# parcel_id = ""  # TODO' in text
    assert "未映射的字段 other fields: BH" in text
    tomllib.loads(text)


def test_recognition_by_name_fields_and_folder(tmp_path):
    folder = tmp_path / "交付"
    (folder / "生态保护红线").mkdir(parents=True)
    layers = _layers()
    # Chinese names; the head of the phrase decides (工业园区地块 holds parcels).
    _shapefile(layers["地块"], folder / "工业园区地块.shp", encoding="GBK", cpg=False)
    _shapefile(layers["CZKFBJ"], folder / "园区范围.shp", encoding="GBK", cpg=False)
    # A meaningless name: recognised by its fields; by its folder.
    _shapefile(layers["DLTB"], folder / "export1.shp", encoding="GBK", cpg=False)
    _shapefile(layers["STBHHX"], folder / "生态保护红线" / "hx.shp", encoding="GBK", cpg=False)
    # Derived and unusable layers get no role, and say why.
    _shapefile(layers["YJJBNTTB"], folder / "占用永久基本农田.shp", encoding="GBK", cpg=False)
    lines = gpd.GeoDataFrame(geometry=[shapely.LineString(UDB.exterior.coords)], crs=GK36)
    _shapefile(lines, folder / "城镇开发边界线.shp", encoding="GBK", cpg=False)
    # GDAL cuts UTF-8 field names at 10 bytes, inside a character: 土地使用者 is 15 bytes.
    _shapefile(layers["地块"], folder / "宗地.shp", encoding="UTF-8", cpg=True)
    with zipfile.ZipFile(folder / "照片.zip", "w") as zf:
        zf.writestr("1.jpg", b"\xff\xd8")

    delivery = scan_delivery(folder)
    by_name = {layer.name: layer for layer in delivery.layers}
    assert (by_name["工业园区地块.shp"].role, by_name["工业园区地块.shp"].method) == (
        "parcels",
        "name",
    )
    assert by_name["园区范围.shp"].role == "parks"
    assert (by_name["export1.shp"].role, by_name["export1.shp"].method) == ("dltb", "fields")
    hx = by_name["生态保护红线/hx.shp"]
    assert (hx.role, hx.method) == ("eco_redline", "folder")
    assert by_name["占用永久基本农田.shp"].role is None
    assert "分析结果" in by_name["占用永久基本农田.shp"].evidence
    assert by_name["城镇开发边界线.shp"].role is None
    assert "几何类型是 LineString" in by_name["城镇开发边界线.shp"].evidence
    unreadable = {p.name: why for p, why in delivery.unreadable}
    assert set(unreadable) == {"照片.zip", "宗地.shp"}
    assert "cut inside a" in unreadable["宗地.shp"]
    assert "宗地.shp" not in by_name  # not a candidate: the parcels layer stays unambiguous
    assert delivery.chosen()["parcels"].name == "工业园区地块.shp"
    text = render_project(delivery, folder / "landuse.toml")
    assert "# 占用永久基本农田.shp: Polygon, 1 个要素" in text
    assert "# 照片.zip:" in text
    # The parks layer has no park name field: a TODO, not a silent gap.
    assert any(t.role == "parks" and "park（园区名称）" in t.message for t in delivery.todos)
    tomllib.loads(text)


def test_stated_area_in_hectares_is_flagged(tmp_path):
    folder = tmp_path / "交付"
    folder.mkdir()
    parcels = _layers()["地块"]
    parcels["用地面积"] = 1.0  # 10 000 m² written as 1 公顷
    _shapefile(parcels, folder / "地块.shp", encoding="GBK", cpg=False)
    delivery = scan_delivery(folder)
    assert any("像是以公顷计" in t.message for t in delivery.todos if t.role == "parcels")


def test_zip_and_single_gdb_deliveries(tmp_path):
    folder = _shapefile_delivery(tmp_path / "交付")
    archive = tmp_path / "三区三线.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in (folder / "三区三线").iterdir():
            zf.write(f, f"成果/{f.name}")
    delivery = scan_delivery(archive)
    chosen = delivery.chosen()
    assert set(chosen) == {"udb", "farmland", "eco_redline"}
    assert chosen["udb"].layer == "CZKFBJ" and chosen["udb"].text.encoding == "GB18030"
    toml = tmp_path / "p" / "landuse.toml"
    init_project(archive, toml)
    project = load_project(toml)
    assert project.layer("udb").path.resolve() == archive and project.name == "三区三线"
    udb, _ = load_layer(project, "udb")
    assert udb["zone_type"].tolist() == ["城镇集中建设区"]  # GBK read from inside the zip

    gdb = _gdb_delivery(tmp_path / "g") / "三区三线成果.gdb"
    assert scan_delivery(gdb).chosen()["parcels"].layer == "地块"


def test_init_refuses_to_overwrite(tmp_path):
    folder = _shapefile_delivery(tmp_path / "交付")
    toml = folder / "landuse.toml"
    toml.write_text("# mine\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="--force"):
        init_project(folder, toml)
    assert toml.read_text(encoding="utf-8") == "# mine\n"
    runner = CliRunner()
    result = runner.invoke(main, ["init", str(folder), "--out", str(toml)])
    assert result.exit_code == 2 and "already exists" in result.output
    result = runner.invoke(main, ["init", str(folder), "--out", str(toml), "--force"])
    assert result.exit_code == 0, result.output
    text = toml.read_text(encoding="utf-8")
    assert "[layers.parcels]" in text and "landuse.toml" not in text.split("其他文件")[-1]


def test_buildings_layer_is_recognised_and_feeds_the_indicators(tmp_path):
    folder = _shapefile_delivery(tmp_path / "交付")
    parcels = _layers()["地块"].assign(行业代码=["13", "13", "13"])
    _shapefile(parcels, folder / "地块" / "地块.shp", encoding="GBK", cpg=False)
    # 自然幢 of the 不动产登记 database, fields as it keeps them: on A1 a 50 m × 60 m hall,
    # 2 storeys in 9 m (4.5 m each) → 3 000 × 2 = 6 000 m²: 容积率 0.6, 建筑系数 30 %;
    # on A2 a 40 m × 50 m hall, 1 storey of 10 m (> 8 m, counted twice) → 2 000 × 2 = 4 000 m²:
    # 容积率 0.4, 建筑系数 20 %.  ZCS counts the basement of the first and is not floors.
    zrz = _gdf(
        {
            "ZRZH": ["A1F0001", "A2F0001"],
            "ZDDM": ["A1", "A2"],
            "JZWMC": ["一号厂房", "二号厂房"],
            "JZWGD": [9.0, 10.0],
            "ZZDMJ": [3_000.0, 2_000.0],
            "ZCS": [3, 1],
            "DSCS": [2, 1],
            "DXCS": [1, 0],
            "GHYT": ["80", "80"],
        },
        [
            shapely.box(X0, Y0, X0 + 50, Y0 + 60),
            shapely.box(X0 + 200, Y0, X0 + 240, Y0 + 50),
        ],
    )
    (folder / "不动产").mkdir()
    _shapefile(zrz, folder / "不动产" / "ZRZ.shp", encoding="GBK", cpg=False)
    # The same halls under a Chinese name (weaker) and under a meaningless name with the
    # 自然幢 fields, which also carry ZDDM (宗地代码) but are not parcels.
    _shapefile(zrz, folder / "不动产" / "厂区建筑物.shp", encoding="GBK", cpg=False)
    _shapefile(zrz, folder / "不动产" / "export2.shp", encoding="GBK", cpg=False)

    delivery = scan_delivery(folder)
    by_name = {layer.name: layer for layer in delivery.layers}
    chosen = delivery.chosen()["buildings"]
    assert (chosen.name, chosen.method) == ("不动产/ZRZ.shp", "code")
    assert chosen.field_map == {
        "building_id": "ZRZH",
        "building_name": "JZWMC",
        "floors": "DSCS",
        "height_m": "JZWGD",
    }
    assert (by_name["不动产/厂区建筑物.shp"].role, by_name["不动产/厂区建筑物.shp"].method) == (
        "buildings",
        "name",
    )
    assert (by_name["不动产/export2.shp"].role, by_name["不动产/export2.shp"].method) == (
        "buildings",
        "fields",
    )
    assert delivery.chosen()["parcels"].name == "地块/地块.shp"

    toml = folder / "landuse.toml"
    result = CliRunner().invoke(main, ["init", str(folder), "--out", str(toml)])
    assert result.exit_code == 0, result.output
    text = toml.read_text(encoding="utf-8")
    assert '[layers.buildings]\npath = "不动产/ZRZ.shp"' in text
    assert 'floors = "DSCS"  # 层数' in text and 'height_m = "JZWGD"  # 高度' in text
    assert "# TODO" not in text
    toml.write_text(text + '\n[indicators]\nindustry_codes = "GB/T 4754-2002"\n', encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["indicators", "--project", str(toml), "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pyogrio.read_dataframe(out / "indicators.gpkg", layer="indicators").set_index(
        "parcel_id"
    )
    assert table.loc["A1", "plot_ratio"] == pytest.approx(0.6)
    assert table.loc["A1", "building_coverage"] == pytest.approx(0.3)
    assert table.loc["A2", "plot_ratio"] == pytest.approx(0.4)
    assert table.loc["A2", "tall_floor_m2"] == pytest.approx(2_000)
    assert table.loc["A2", "building_coverage"] == pytest.approx(0.2)
    # 13 农副食品加工业 needs 容积率 ≥ 1.0; A3 has neither a footprint nor a floor area: not judged.
    assert table.loc["A1", "plot_ratio_ok"] == 0 and table.loc["A2", "plot_ratio_ok"] == 0
    assert np.isnan(table.loc["A3", "plot_ratio_ok"])

import datetime as dt
import json
import os
import shutil
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from landuse import io as lio
from landuse.core.errors import CRSError, LanduseWarning, LayerNotFoundError, LayerReadError

from .conftest import GK36, square

NAMES = ["河南工业园一号地块", "凤凰工业园二号地块", "迁江工业园三号地块"]


def _shapefile(gdf, path: Path, *, encoding: str, cpg: bool, prj: bool = True) -> Path:
    """Write a shapefile the way bureau tools leave them: no .cpg, maybe no .prj."""
    pyogrio.write_dataframe(gdf, path, driver="ESRI Shapefile", encoding=encoding)
    if not cpg:
        path.with_suffix(".cpg").unlink(missing_ok=True)
    if not prj:
        path.with_suffix(".prj").unlink()
    dbf = path.with_suffix(".dbf")
    raw = bytearray(dbf.read_bytes())
    raw[29] = 0  # no DBF language byte either
    dbf.write_bytes(bytes(raw))
    return path


def test_gbk_shapefile_without_cpg_reads_chinese(tmp_path, parcels_gdf):
    shp = _shapefile(parcels_gdf, tmp_path / "地块.shp", encoding="GBK", cpg=False)
    assert not shp.with_suffix(".cpg").exists()
    # Plain GDAL garbles it: the reason this module exists.
    assert pyogrio.read_dataframe(shp)["DKMC"].tolist() != NAMES
    assert lio.detect_shapefile_encoding(shp) == "GB18030"
    gdf = lio.read_layer(shp)
    assert gdf["DKMC"].tolist() == NAMES
    assert gdf.attrs["landuse_source"]["encoding"] == "GB18030"


def test_utf8_shapefile_without_cpg(tmp_path, parcels_gdf):
    shp = _shapefile(parcels_gdf, tmp_path / "u.shp", encoding="UTF-8", cpg=False)
    assert lio.detect_shapefile_encoding(shp) == "UTF-8"
    assert lio.read_layer(shp)["SSYQ"].tolist() == ["河南工业园", "凤凰工业园", "迁江工业园"]


def test_gbk_text_cut_mid_character_still_gbk(tmp_path):
    # A field width of 5 bytes cuts the third GBK character (2 bytes each) in half.
    gdf = gpd.GeoDataFrame({"MC": ["河南工业园"]}, geometry=[square(0, 0)], crs=GK36)
    shp = tmp_path / "cut.shp"
    pyogrio.write_dataframe(gdf, shp, encoding="GBK")
    shp.with_suffix(".cpg").unlink()
    assert lio.detect_shapefile_encoding(shp) == "GB18030"


def test_cpg_is_honoured(tmp_path, parcels_gdf):
    shp = _shapefile(parcels_gdf, tmp_path / "c.shp", encoding="GBK", cpg=True)
    assert lio.detect_shapefile_encoding(shp) is None  # GDAL reads the .cpg itself
    assert lio.read_layer(shp)["DKMC"].tolist() == NAMES


def test_zipped_gbk_shapefile(tmp_path, parcels_gdf):
    _shapefile(parcels_gdf, tmp_path / "parcels.shp", encoding="GBK", cpg=False)
    archive = tmp_path / "parcels.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in tmp_path.glob("parcels.*"):
            if f.suffix != ".zip":
                zf.write(f, f"交付/{f.name}")
    gdf = lio.read_layer(archive)
    assert gdf["DKMC"].tolist() == NAMES
    assert gdf.crs.to_epsg() == 4524


def test_gk_prefixed_file_without_prj_is_recognised(tmp_path, parcels_gdf):
    shp = _shapefile(parcels_gdf, tmp_path / "noprj.shp", encoding="UTF-8", cpg=True, prj=False)
    with pytest.warns(LanduseWarning, match="zone prefix 36"):
        gdf = lio.read_layer(shp)
    assert gdf.crs.to_epsg() == 4524
    assert "inferred" in gdf.attrs["landuse_source"]["crs"]


def test_no_prj_without_prefix_is_a_clear_error(tmp_path, parcels_gdf):
    unprefixed = parcels_gdf.translate(xoff=-36_000_000)
    gdf = parcels_gdf.set_geometry(unprefixed)
    shp = _shapefile(gdf, tmp_path / "bare.shp", encoding="UTF-8", cpg=True, prj=False)
    with pytest.raises(CRSError) as err:
        lio.read_layer(shp)
    assert "bare.shp" in str(err.value) and "--crs" in str(err.value)
    # ...and the suggested fix works.
    assert lio.read_layer(shp, crs="EPSG:4545").crs.to_epsg() == 4545


def test_degrees_without_prj_suggest_4490(tmp_path, parcels_gdf):
    shp = _shapefile(
        parcels_gdf.to_crs(4490), tmp_path / "deg.shp", encoding="UTF-8", cpg=True, prj=False
    )
    with pytest.raises(CRSError, match="EPSG:4490"):
        lio.read_layer(shp)


def test_prj_contradicting_coordinates(tmp_path, parcels_gdf):
    wrong = parcels_gdf.set_crs(4490, allow_override=True)
    path = tmp_path / "wrong.gpkg"
    pyogrio.write_dataframe(wrong, path)
    with pytest.raises(CRSError, match="degrees"):
        lio.read_layer(path)
    wrong_zone = parcels_gdf.set_crs(4545, allow_override=True)  # unprefixed CRS, prefixed X
    pyogrio.write_dataframe(wrong_zone, path)
    with pytest.raises(CRSError, match="EPSG:4524"):
        lio.read_layer(path)


def test_missing_empty_and_non_spatial_files(tmp_path):
    with pytest.raises(LayerNotFoundError, match=r"nothere\.shp: file not found"):
        lio.read_layer(tmp_path / "nothere.shp")
    empty = tmp_path / "empty.shp"
    empty.touch()
    with pytest.raises(LayerReadError, match=r"empty\.shp: the file is empty"):
        lio.read_layer(empty)
    table = tmp_path / "企业.csv"
    table.write_text("TYSHXYDM,SSZE\n91451300X,12.5\n", encoding="utf-8")
    with pytest.raises(LayerReadError, match="no spatial layer") as err:
        lio.read_layer(table)
    assert "企业.csv" in str(err.value)
    garbage = tmp_path / "bad.gpkg"
    garbage.write_bytes(b"not a geopackage at all")
    with pytest.raises(LayerReadError, match=r"bad\.gpkg"):
        lio.read_layer(garbage)


def test_layer_with_no_features(tmp_path, parcels_gdf):
    path = tmp_path / "none.gpkg"
    pyogrio.write_dataframe(parcels_gdf.iloc[:0], path, layer="parcels")
    with pytest.raises(LayerReadError, match="no features"):
        lio.read_layer(path)


def test_geopackage_layers_by_name(tmp_path, parcels_gdf):
    path = tmp_path / "p.gpkg"
    lio.write_layers({"parcels": parcels_gdf, "udb": parcels_gdf.iloc[:1]}, path)
    assert len(lio.read_layer(path, "udb")) == 1
    with pytest.raises(LayerReadError, match="several layers"):
        lio.read_layer(path)
    with pytest.raises(LayerNotFoundError, match="Layers in this file: parcels, udb"):
        lio.read_layer(path, "farmland")


def test_geojson_kml_and_filegdb(tmp_path, parcels_gdf):
    geojson = tmp_path / "p.geojson"
    lio.write_layer(parcels_gdf, geojson)
    assert (
        json.loads(geojson.read_text(encoding="utf-8"))["features"][0]["properties"]["DKBH"] == "A1"
    )
    assert lio.read_layer(geojson)["DKMC"].tolist() == NAMES
    kml = tmp_path / "p.kml"
    pyogrio.write_dataframe(parcels_gdf.to_crs(4326), kml, driver="KML")
    got = lio.read_layer(kml)
    assert len(got) == 3 and got.crs.to_epsg() == 4326
    gdb = tmp_path / "p.gdb"
    pyogrio.write_dataframe(parcels_gdf, gdb, driver="OpenFileGDB", layer="地块")
    assert lio.read_layer(gdb)["DKMC"].tolist() == NAMES


def test_write_gpkg_keeps_other_layers_and_is_atomic(tmp_path, parcels_gdf, monkeypatch):
    path = tmp_path / "out.gpkg"
    lio.write_layer(parcels_gdf, path, "parcels")
    lio.write_layer(parcels_gdf.iloc[:1], path, "udb")
    assert set(lio.list_layers(path)["name"]) == {"parcels", "udb"}
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(pyogrio, "write_dataframe", crash)
    with pytest.raises(RuntimeError):
        lio.write_layer(parcels_gdf, path, "parcels")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.gpkg"]  # no temp left


def _every_output_type() -> gpd.GeoDataFrame:
    """A layer with every column type the outputs hold, missing values in each."""
    n = 4
    return gpd.GeoDataFrame(
        {
            "宗数": np.arange(n, dtype="int64"),
            "面积（亩）": [15.0, np.nan, 0.1, -2.5],
            "合规": [True, False, True, False],
            "闲置": pd.array([True, None, False, None], dtype="boolean"),
            "年度": pd.array([2024, None, 2025, 2023], dtype="Int64"),
            "税收": pd.array([1.5, None, 3.25, 4.0], dtype="double[pyarrow]"),
            "约定动工日期": pd.to_datetime(["2023-03-01", None, "2025-12-31", "2020-01-02"]),
            "时间": pd.to_datetime(
                ["2024-01-01 08:30", None, "2025-12-31 00:00", "1999-02-03 00:01"]
            ),
            "名称": ["永久基本农田", None, "城镇开发边界", "生态保护红线"],
            "园区": pd.array(["河南工业园", None, "", "凤凰工业园"], dtype="str"),
            "空": [None] * n,
            "逾期": [True, np.nan, False, np.nan],  # object booleans, as after a join
            "日期对象": [dt.date(2024, 1, 2), None, dt.date(2025, 3, 4), dt.date(2020, 1, 1)],
            "等级": pd.Categorical(["A", None, "B", "A"]),
        },
        geometry=[square(200 * i, 0) for i in range(n)],
        crs=GK36,
    )


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson"])
def test_arrow_writes_read_back_as_the_row_writer_wrote(tmp_path, suffix, monkeypatch):
    layer = _every_output_type()
    before = tmp_path / f"before{suffix}"
    pyogrio.write_dataframe(layer, before, layer="t")  # the writer landuse used before
    calls = []
    write = pyogrio.write_dataframe
    monkeypatch.setattr(
        pyogrio, "write_dataframe", lambda *a, **k: calls.append(k) or write(*a, **k)
    )
    after = lio.write_layer(layer, tmp_path / f"after{suffix}", "t")
    assert [call["use_arrow"] for call in calls] == [True]
    old, new = pyogrio.read_info(before), pyogrio.read_info(after)
    assert new["fields"].tolist() == old["fields"].tolist()
    assert new["dtypes"].tolist() == old["dtypes"].tolist()
    assert new["geometry_type"] == old["geometry_type"] and new["crs"] == old["crs"]
    for arrow in (False, True):
        pd.testing.assert_frame_equal(
            pyogrio.read_dataframe(after, use_arrow=arrow),
            pyogrio.read_dataframe(before, use_arrow=arrow),
            check_exact=True,
        )
    # The object booleans stay text, as before: "True", missing, "False", missing.
    assert pyogrio.read_dataframe(after)["逾期"].tolist()[::2] == ["True", "False"]


def test_arrow_writes_keep_layer_metadata_and_tables(tmp_path):
    path = tmp_path / "out.gpkg"
    table = pd.DataFrame(_every_output_type().drop(columns="geometry"))
    lio.write_layers(
        {"parcels": _every_output_type(), "table": table},
        path,
        metadata={"parcels": {"SYNTHETIC": "yes"}},
    )
    assert pyogrio.read_info(path, layer="parcels")["layer_metadata"] == {"SYNTHETIC": "yes"}
    assert pyogrio.read_info(path, layer="table")["geometry_type"] is None
    assert len(pyogrio.read_dataframe(path, layer="table")) == 4


def test_rewriting_every_layer_starts_a_fresh_geopackage(tmp_path, parcels_gdf, monkeypatch):
    path = tmp_path / "out.gpkg"
    layers = {"parcels": parcels_gdf, "udb": parcels_gdf.iloc[:1]}
    lio.write_layers(layers, path)
    copies = []
    copy = shutil.copy2
    monkeypatch.setattr(shutil, "copy2", lambda *a, **k: copies.append(a) or copy(*a, **k))
    lio.write_layers({"parcels": parcels_gdf.iloc[:2], "udb": parcels_gdf}, path)  # a rerun
    assert copies == []
    assert [len(pyogrio.read_dataframe(path, layer=n)) for n in ("parcels", "udb")] == [2, 3]
    lio.write_layers({"udb": parcels_gdf.iloc[:1]}, path)  # parcels kept: copied first
    assert len(copies) == 1
    assert [len(pyogrio.read_dataframe(path, layer=n)) for n in ("parcels", "udb")] == [2, 1]
    lio.write_layers({"udb": parcels_gdf}, path, only=True)  # an analysis' own file
    assert len(copies) == 1
    assert [name for name, _ in pyogrio.list_layers(path)] == ["udb"]


def test_write_shapefile_utf8_with_cpg(tmp_path, parcels_gdf):
    shp = lio.write_layer(parcels_gdf, tmp_path / "出.shp")
    assert shp.with_suffix(".cpg").read_text() == "UTF-8"
    assert lio.read_layer(shp)["DKMC"].tolist() == NAMES
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_write_table_opens_in_chinese_excel(tmp_path):
    path = lio.write_table(
        pd.DataFrame({"园区": ["河南工业园"], "面积（亩）": [15.0]}), tmp_path / "t.csv"
    )
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM
    assert raw.decode("utf-8-sig") == "园区,面积（亩）\n河南工业园,15.0\n"


@pytest.mark.parametrize("batch", [2, 100_000])
def test_write_table_keeps_codes_text(tmp_path, monkeypatch, batch):
    # Rows are formatted a batch at a time: in batches of 2 the last batch is short.
    monkeypatch.setattr("landuse.io.csv_text._BATCH", batch)
    table = pd.DataFrame(
        {
            # 13 digits, a leading zero, full-width digits (any decimal digit counts, as
            # Python's \d), 10 digits (a number Excel shows whole), a lone zero.
            "地块编号": ["4513020000001", "0771", "４５１３０２００００００１", "1234567890", "0"],
            "统一社会信用代码": pd.array(
                ["91451300MA5K00000X", "914513001234567890", None, "", "01"], dtype="str"
            ),
            # Mixed values, as after a join: a code is a code whatever its Python type;
            # numbers in a number column are numbers (no tab).
            "宗地代码": pd.Series([45130200000012, "x", None, 7, "0123"], dtype=object),
            "税号数字": [91451300123456, 1, 2, 3, 4],
            "面积（亩）": [15.0, 1.5, 2.0, 3.0, 4.0],
        }
    )
    rows = lio.write_table(table, tmp_path / "t.csv").read_text(encoding="utf-8-sig").split("\n")
    assert rows[1:-1] == [
        "\t4513020000001,91451300MA5K00000X,\t45130200000012,91451300123456,15.0",
        "\t0771,\t914513001234567890,x,1,1.5",
        "\t４５１３０２００００００１,,,2,2.0",
        "1234567890,,7,3,3.0",
        "0,\t01,\t0123,4,4.0",
    ]


def test_read_table_csv_gbk_and_utf8(tmp_path):
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes('企业名称,税收\n来宾糖业,"1,234.5"\n'.encode("gbk"))
    df = lio.read_table(gbk)
    assert df.columns.tolist() == ["企业名称", "税收"]
    assert df.iloc[0].tolist() == ["来宾糖业", "1,234.5"]
    utf = tmp_path / "u.csv"
    utf.write_text("企业名称,税收\n来宾糖业,—\n", encoding="utf-8-sig")
    assert lio.read_table(utf).iloc[0, 1] == "—"


def test_describe_layer(tmp_path, parcels_gdf):
    bad = parcels_gdf.copy()
    bad.loc[1, "geometry"] = shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])
    shp = _shapefile(bad, tmp_path / "d.shp", encoding="GBK", cpg=False)
    d = lio.describe_layer(shp)
    assert d["features"] == 3 and d["invalid"] == 1
    assert d["encoding"] == "GB18030"
    assert "DKMC" in d["fields"]
    assert d["crs"].endswith("(EPSG:4524)")


def test_paths_with_tilde_and_relative(tmp_path, parcels_gdf, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lio.write_layer(parcels_gdf, "rel.gpkg")
    assert len(lio.read_layer("rel.gpkg")) == 3
    assert os.path.exists(tmp_path / "rel.gpkg")


@pytest.mark.parametrize("suffix", [".gpkg", ".shp"])
def test_layer_parts_from_boxes_and_reading_a_part(tmp_path, suffix):
    # Six squares 100 m wide along a row (x = 0, 1000 ... 5000), the fourth without
    # geometry: two parts hold every feature once; the one without geometry comes last.
    from landuse.core.config import load_project

    geoms = [square(1000.0 * k, 0.0) for k in range(6)]
    geoms[3] = None
    path = tmp_path / f"parcels{suffix}"
    gpd.GeoDataFrame({"DKBH": [f"P{k}" for k in range(6)]}, geometry=geoms, crs=GK36).to_file(path)
    toml = tmp_path / "landuse.toml"
    toml.write_text(
        f'[layers.parcels]\npath = "{path.name}"\n[layers.parcels.fields]\nparcel_id = "DKBH"\n',
        encoding="utf-8",
    )
    project = load_project(toml)
    parts, total, crs = lio.layer_parts(project, "parcels", 2)
    first = 1 if suffix == ".gpkg" else 0  # GeoPackage fids start at 1, shapefile's at 0
    assert sorted(np.concatenate(parts).tolist()) == [first + k for k in range(6)]
    assert first + 3 in parts[-1]  # no geometry: in the last part (ids ascending in a part)
    # Boxes from x = X0 to X0 + 5000 + 100, y = Y0 to Y0 + 100.
    assert total.tolist() == [36_520_000.0, 2_620_000.0, 36_525_100.0, 2_620_100.0]
    assert crs == GK36 or pyogrio.read_info(path)["crs"] == crs
    layer, report = lio.load_layer(project, "parcels", fids=parts[-1])
    assert layer.index.tolist() == [f for f in parts[-1] if f != first + 3]
    assert report["action"].tolist() == ["dropped"] and report.index.tolist() == [first + 3]
    assert layer.attrs["landuse_source"]["path"] == str(path)


def test_layer_parts_are_the_local_engines_spatial_chunks(tmp_path):
    # 300 rectangles of random size and place: the parts, from the file's boxes alone,
    # are the chunks the local engine makes from the geometries (Hilbert order). A
    # shapefile: its boxes are exact (a GeoPackage's R-tree rounds them to float32).
    from landuse.core.chunks import spatial_chunks
    from landuse.core.config import load_project

    rng = np.random.default_rng(3)
    x, y = rng.random(300) * 5000, rng.random(300) * 3000
    w, h = rng.random(300) * 300 + 1, rng.random(300) * 200 + 1
    geoms = shapely.box(36_520_000 + x, 2_620_000 + y, 36_520_000 + x + w, 2_620_000 + y + h)
    path = tmp_path / "parcels.shp"
    ids = [f"P{k}" for k in range(300)]
    gpd.GeoDataFrame({"DKBH": ids}, geometry=geoms, crs=GK36).to_file(path)
    toml = tmp_path / "landuse.toml"
    toml.write_text(
        f'[layers.parcels]\npath = "{path.name}"\n[layers.parcels.fields]\nparcel_id = "DKBH"\n',
        encoding="utf-8",
    )
    parts, _, _ = lio.layer_parts(load_project(toml), "parcels", 7)
    chunks = spatial_chunks(np.asarray(geoms, dtype=object), 7)
    assert [part.tolist() for part in parts] == [chunk.tolist() for chunk in chunks]

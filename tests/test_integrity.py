"""Damaged files are errors, never partial reads.

Each case is a real file damaged the way files get damaged in transit or by
tools: cut short, garbage bytes, a sidecar missing or from another export.

The 60-parcel shapefile has a fixed layout (ESRI Shapefile Technical
Description): each 100 m square is a polygon record of
8 (record header) + 4 (shape type) + 32 (bbox) + 4 (parts) + 4 (points)
+ 4 (part index) + 5 points × 16 = 136 bytes, after a 100-byte header, so the
.shp is 100 + 60 × 136 = 8 260 bytes and record i starts at byte 100 + 136 i.
"""

import sqlite3
import struct
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from landuse import io as lio
from landuse.core.errors import EncodingError, LanduseWarning, LayerReadError
from landuse.core.validate import clean_geometries, intake_counts
from landuse.io import integrity
from landuse.io.integrity import fid_ranges

from .conftest import GK36, X0, Y0, square

N = 60
RECORD = 136
SHP_SIZE = 100 + N * RECORD  # 8 260 bytes
POINTS = 8 + 4 + 32 + 4 + 4 + 4  # first point's offset inside a record: 56


def _record(fid: int) -> int:
    return 100 + RECORD * fid


def _parcels() -> gpd.GeoDataFrame:
    # 10 columns × 6 rows of 100 m squares, 200 m apart: x 0–1 900 m, y 0–1 100 m.
    return gpd.GeoDataFrame(
        {"DKBH": [f"A{i:02d}" for i in range(N)]},
        geometry=[square(200 * (i % 10), 200 * (i // 10)) for i in range(N)],
        crs=GK36,
    )


@pytest.fixture
def shp(tmp_path) -> Path:
    path = tmp_path / "parcels.shp"
    pyogrio.write_dataframe(_parcels(), path, encoding="UTF-8")
    assert path.stat().st_size == SHP_SIZE
    return path


def _patch(path: Path, offset: int, data: bytes) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset : offset + len(data)] = data
    path.write_bytes(bytes(raw))


def _read_error(path: Path, *match: str) -> str:
    with pytest.raises(LayerReadError) as err:
        lio.read_layer(path)
    msg = str(err.value)
    assert "\n" not in msg
    for fragment in match:
        assert fragment in msg, msg
    return msg


def test_intact_file_reads_all_60(shp):
    gdf = lio.read_layer(shp)
    assert len(gdf) == N and gdf.geometry.notna().all()
    assert gdf.geometry.area.sum() == pytest.approx(N * 10_000.0)


def test_shp_cut_in_half(shp):
    # 4 130 bytes keep records ending at or before byte 4 130: 100 + 136 (i + 1) <= 4 130
    # for i <= 28, so features 29–59 are gone.  GDAL alone returns 60 rows, 31 empty.
    shp.write_bytes(shp.read_bytes()[: SHP_SIZE // 2])
    assert len(pyogrio.read_dataframe(shp)) == N
    _read_error(shp, "parcels.shp", "4130", "8260", "29–59", "cut short", "Export the layer again")


def test_garbage_in_coordinates(shp):
    # Points 1 and 2 of feature 30 (not the closing point 0 = 4): GDAL reads any bytes
    # as doubles, here all within 1 m of (0, 0), 36.5 million metres west of the layer,
    # and the 1-ha parcel silently becomes a sliver spanning the zone.
    garbage = bytes(range(0xA0, 0xC0))
    assert np.abs(struct.unpack("<4d", garbage)).max() < 1.0
    _patch(shp, _record(30) + POINTS + 16, garbage)
    assert pyogrio.read_dataframe(shp).geometry.iloc[30].area > 1e6
    _read_error(shp, "parcels.shp", "(FID) 30", "outside the extent")


def test_garbage_in_record_header(shp):
    _patch(shp, _record(30), b"\xde\xad\xbe\xef" * 2)
    _read_error(shp, "parcels.shp", "(FID) 30", "disagree with the .shx")


def test_garbage_in_shape_type_is_not_a_silent_null(shp):
    # GDAL reads a record of an unknown shape type as "no geometry", without a word.
    _patch(shp, _record(12) + 8, struct.pack("<i", 99))
    assert pyogrio.read_dataframe(shp).geometry.isna().sum() == 1
    _read_error(shp, "parcels.shp", "(FID) 12", "shape type")


def test_garbage_in_part_counts_is_a_gdal_error(shp):
    # nPoints of feature 40 claims 65 535 points in a 136-byte record; GDAL reports a
    # CE_Failure that pyogrio drops, and returns the feature without geometry.
    _patch(shp, _record(40) + 8 + 40, struct.pack("<i", 65_535))
    assert pyogrio.read_dataframe(shp).geometry.isna().sum() == 1
    _read_error(shp, "parcels.shp", "(FID) 40", "Corrupted .shp file : shape 40")


def test_undecodable_record_caught_without_gdal_messages(shp, monkeypatch):
    # Where landuse cannot reach GDAL's error handler, the .shp still says a shape was there.
    monkeypatch.setattr(integrity, "_libgdal", lambda: None)
    _patch(shp, _record(40) + 8 + 40, struct.pack("<i", 65_535))
    _read_error(shp, "parcels.shp", "(FID) 40", "cannot be decoded")


def test_garbage_breaking_a_ring(shp):
    # Point 0 of feature 30 moved off the closing point 4: the ring is no longer closed.
    _patch(shp, _record(30) + POINTS, struct.pack("<2d", X0 + 6050.0, Y0 + 650.0))
    msg = _read_error(shp, "parcels.shp", "(FID) 30", "cannot be built")
    assert "Non closed ring detected" in msg
    assert "OGR_GEOMETRY_ACCEPT_UNCLOSED_RING" not in msg  # no advice the user cannot follow


@pytest.mark.parametrize(("ext", "role"), [(".shx", "缺少索引"), (".dbf", "缺少属性表")])
def test_missing_sidecar(shp, ext, role):
    shp.with_suffix(ext).unlink()
    _read_error(shp, "parcels.shp", role, f"parcels{ext}", f"Copy parcels{ext}")


def test_dbf_with_fewer_records(shp):
    # A .dbf from an export of 50 features: header says 50 and the file holds 50.
    dbf = shp.with_suffix(".dbf")
    raw = bytearray(dbf.read_bytes())
    header_len, record_len = struct.unpack("<HH", raw[8:12])
    raw[4:8] = struct.pack("<I", 50)
    dbf.write_bytes(bytes(raw[: header_len + 50 * record_len]) + b"\x1a")
    assert len(pyogrio.read_dataframe(shp)) == 50  # GDAL drops 10 features silently
    _read_error(shp, "parcels.dbf", "holds 50 records", "parcels.shx indexes 60")


def test_dbf_cut_short(shp):
    dbf = shp.with_suffix(".dbf")
    raw = dbf.read_bytes()
    header_len, record_len = struct.unpack("<HH", raw[8:12])
    dbf.write_bytes(raw[: header_len + 50 * record_len])
    expected = header_len + N * record_len
    _read_error(shp, "parcels.dbf", f"{N} records of {record_len} bytes", f"{expected} bytes")


def test_shx_cut_short(shp):
    shx = shp.with_suffix(".shx")
    shx.write_bytes(shx.read_bytes()[:-8])
    _read_error(shp, "parcels.shx", f"{100 + 59 * 8} bytes", f"says {100 + N * 8}")


def test_shx_entry_pointing_past_the_shp(shp):
    shx = shp.with_suffix(".shx")
    _patch(shx, 100 + 8 * 7, struct.pack(">i", SHP_SIZE // 2))  # offset in 16-bit words
    _read_error(shp, "parcels.shx", "(FID) 7", "outside the .shp")


def test_damaged_header(shp):
    _patch(shp, 0, b"\x00\x00\x00\x00")
    _read_error(shp, "parcels.shp", "header is damaged")


def test_zipped_damaged_shapefile(shp, tmp_path):
    shp.write_bytes(shp.read_bytes()[: SHP_SIZE // 2])
    archive = tmp_path / "交付.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in tmp_path.glob("parcels.*"):
            zf.write(part, f"地块/{part.name}")
    _read_error(archive, "交付.zip/地块/parcels.shp", "29–59", "cut short")


def test_zipped_shapefile_without_dbf(shp, tmp_path):
    archive = tmp_path / "delivery.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in tmp_path.glob("parcels.*"):
            if part.suffix != ".dbf":
                zf.write(part, part.name)
    _read_error(archive, "delivery.zip/parcels.shp", "parcels.dbf")


def test_geopackage_with_garbage_geometry_bytes(tmp_path):
    gdf = _parcels()
    path = tmp_path / "p.gpkg"
    pyogrio.write_dataframe(gdf, path, layer="parcels")
    raw = bytearray(path.read_bytes())
    wkb = shapely.to_wkb(gdf.geometry.iloc[8], byte_order=1)
    at = raw.find(wkb)
    assert at > 0 and raw.count(wkb) == 1
    # The ring's point count (after byte order, type, ring count: 1 + 4 + 4 bytes).
    raw[at + 9 : at + 13] = struct.pack("<I", 2**31 - 1)
    path.write_bytes(bytes(raw))
    # Row 8 has FID 9: GeoPackage FIDs start at 1.
    _read_error(path, "p.gpkg", "(FID) 9", "cannot be built")


def test_feature_count_must_match_the_declared_count(tmp_path):
    path = tmp_path / "p.gpkg"
    pyogrio.write_dataframe(_parcels(), path, layer="parcels")
    with sqlite3.connect(path) as con:
        con.execute("UPDATE gpkg_ogr_contents SET feature_count = 61")
    assert pyogrio.read_info(path)["features"] == 61
    _read_error(path, "p.gpkg", "declares 61 features but 60 were read")


# ------------------------------------------------------------------ Arrow and encoding


def _gbk_without_cpg(gdf: gpd.GeoDataFrame, path: Path) -> Path:
    pyogrio.write_dataframe(gdf, path, encoding="GBK")
    path.with_suffix(".cpg").unlink()
    dbf = path.with_suffix(".dbf")
    raw = bytearray(dbf.read_bytes())
    raw[29] = 0  # no language byte: nothing declares the encoding
    dbf.write_bytes(bytes(raw))
    return path


def _chinese_names_ascii_values() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"地块编号": ["A1", "A2"], "面积": [15.0, 30.0]},
        geometry=[square(0, 0), square(200, 0)],
        crs=GK36,
    )


def test_gbk_field_names_with_ascii_values(tmp_path):
    shp = _gbk_without_cpg(_chinese_names_ascii_values(), tmp_path / "n.shp")
    with pytest.raises(pyogrio.errors.DataSourceError, match="use_arrow=False"):
        pyogrio.read_dataframe(shp, use_arrow=True)  # what users saw
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LanduseWarning)
        gdf = lio.read_layer(shp)
    assert gdf.columns.tolist() == ["地块编号", "面积", "geometry"]
    assert gdf["地块编号"].tolist() == ["A1", "A2"]
    assert gdf.attrs["landuse_source"]["encoding"] == "GB18030"


def test_undeclared_non_utf8_text_is_read_as_gbk_with_a_warning(tmp_path):
    shp = _gbk_without_cpg(_chinese_names_ascii_values(), tmp_path / "n.shp")
    with pytest.warns(LanduseWarning, match="GB18030.*--encoding"):
        gdf, enc = integrity._read_features(shp, "n", None, "ESRI Shapefile")
    assert enc == "GB18030" and "地块编号" in gdf.columns


def test_empty_gbk_shapefile_says_no_features(tmp_path):
    shp = _gbk_without_cpg(_chinese_names_ascii_values().iloc[:0], tmp_path / "e.shp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LanduseWarning)
        with pytest.raises(LayerReadError, match=r"e\.shp: layer 'e' has no features"):
            lio.read_layer(shp)


def test_non_utf8_geojson_with_encoding_takes_the_non_arrow_path(tmp_path):
    path = tmp_path / "gbk.geojson"
    gdf = gpd.GeoDataFrame({"名称": ["河南工业园"]}, geometry=[square(0, 0)], crs=GK36)
    path.write_bytes(gdf.to_crs(4326).to_json(ensure_ascii=False).encode("gbk"))
    with pytest.raises(EncodingError, match=r"gbk\.geojson.*--encoding"):
        lio.read_layer(path)
    assert lio.read_layer(path, encoding="GBK")["名称"].tolist() == ["河南工业园"]


def test_wrong_or_unknown_encoding_is_an_encoding_error(tmp_path, parcels_gdf):
    path = tmp_path / "u.gpkg"
    pyogrio.write_dataframe(parcels_gdf, path)  # UTF-8 by format
    with pytest.raises(EncodingError, match=r"u\.gpkg.*not GBK"):
        lio.read_layer(path, encoding="GBK")
    with pytest.raises(EncodingError, match="unknown encoding 'GKB'"):
        lio.read_layer(path, encoding="GKB")


# ------------------------------------------------------------------------ mixed layers


def test_mixed_layer_keeps_polygons_and_lists_the_rest(tmp_path):
    line = shapely.LineString([(X0, Y0), (X0 + 100, Y0)])
    geoms = [square(200 * i, 0) for i in range(9)] + [line, line, shapely.Point(X0, Y0)]
    ids = [f"P{i}" for i in range(9)] + ["L1", "L2", "D1"]
    path = tmp_path / "mixed.gpkg"
    pyogrio.write_dataframe(gpd.GeoDataFrame({"DKBH": ids}, geometry=geoms, crs=GK36), path)
    gdf = lio.read_layer(path)
    assert len(gdf) == 12
    cleaned, report = clean_geometries(gdf, layer_name="parcels", id_field="DKBH")
    assert cleaned["DKBH"].tolist() == ids[:9]
    listed = dict(zip(report["feature_id"], report["detail"], strict=True))
    assert listed == {
        "L1": "不是面要素（LineString），已剔除 not a polygon",
        "L2": "不是面要素（LineString），已剔除 not a polygon",
        "D1": "不是面要素（Point），已剔除 not a polygon",
    }
    assert intake_counts(len(gdf), report) == {"read": 12, "kept": 9, "repaired": 0, "dropped": 3}


def test_intake_counts_add_up():
    bowtie = shapely.Polygon(
        [(X0, Y0), (X0 + 100, Y0 + 100), (X0 + 100, Y0), (X0, Y0 + 100), (X0, Y0)]
    )
    empty_collection = shapely.GeometryCollection([shapely.LineString([(X0, Y0), (X0, Y0 + 1)])])
    geoms = [square(0, 0), bowtie, None, empty_collection, shapely.Point(X0, Y0), square(200, 0)]
    gdf = gpd.GeoDataFrame({"id": list("abcdef")}, geometry=geoms, crs=GK36)
    cleaned, report = clean_geometries(gdf, layer_name="parcels", id_field="id")
    counts = intake_counts(len(gdf), report)
    # a, f unchanged; b repaired; c (null), d (no polygon), e (point) dropped.
    assert counts == {"read": 6, "kept": 2, "repaired": 1, "dropped": 3}
    assert len(cleaned) == counts["kept"] + counts["repaired"]
    assert counts["read"] == counts["kept"] + counts["repaired"] + counts["dropped"]
    details = dict(zip(report["feature_id"], report["detail"], strict=True))
    assert details["d"].startswith("几何集合中没有面（GeometryCollection）")
    twice = pd.concat([report, report.iloc[:1]])
    with pytest.raises(ValueError, match="once each"):
        intake_counts(len(gdf), twice)


def test_fid_ranges():
    assert fid_ranges(np.array([3, 29, 30, 31, 59])) == "3, 29–31, 59"
    assert fid_ranges(np.arange(0, 40, 2), limit=3) == "0, 2, 4 … (20 in all)"
    assert fid_ranges(np.array([], dtype=int)) == ""

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from landuse.core.errors import DuplicateIdError, SchemaError
from landuse.core.validate import REPORT_COLUMNS, check_layer, clean_geometries, standardize_fields

from .conftest import GK36, X0, Y0, square

# Bowtie over a 100 m square: the two triangles meeting at the centre have
# area 100 · 50 / 2 = 2500 m² each, 5000 m² in all.
BOWTIE = shapely.Polygon([(X0, Y0), (X0 + 100, Y0 + 100), (X0 + 100, Y0), (X0, Y0 + 100), (X0, Y0)])


def _layer(geoms, ids):
    return gpd.GeoDataFrame({"parcel_id": ids}, geometry=geoms, crs=GK36)


def test_bowtie_is_repaired_and_reported():
    gdf = _layer([square(0, 0), BOWTIE], ["A1", "A2"])
    cleaned, report = clean_geometries(gdf, layer_name="parcels", id_field="parcel_id")
    assert len(cleaned) == 2
    fixed = cleaned.geometry.iloc[1]
    assert fixed.is_valid and fixed.geom_type == "MultiPolygon"
    assert fixed.area == pytest.approx(5000.0)
    # The two triangles, by hand: left (0,0)-(50,50)-(0,100), right (100,0)-(100,100)-(50,50).
    left = shapely.Polygon([(X0, Y0), (X0 + 50, Y0 + 50), (X0, Y0 + 100)])
    right = shapely.Polygon([(X0 + 100, Y0), (X0 + 100, Y0 + 100), (X0 + 50, Y0 + 50)])
    assert fixed.equals(shapely.MultiPolygon([left, right]))
    assert report.columns.tolist() == REPORT_COLUMNS
    # The diagonals cross at the square's centre, (X0 + 50, Y0 + 50) = (36520050, 2620050):
    # the report names the problem and where it is, so staff can find it in their GIS.
    assert report.to_dict("records") == [
        {
            "layer": "parcels",
            "feature_id": "A2",
            "action": "repaired",
            "detail": "无效面已修复 invalid polygon repaired: Self-intersection[36520050 2620050]",
        }
    ]
    assert not gdf.geometry.iloc[1].is_valid  # input untouched


def test_unusable_features_are_dropped_and_each_reported():
    line = shapely.LineString([(X0, Y0), (X0 + 10, Y0)])
    flat = shapely.Polygon([(X0, Y0), (X0 + 10, Y0), (X0 + 20, Y0), (X0, Y0)])  # zero area
    coll = shapely.GeometryCollection([square(0, 0), shapely.Point(X0, Y0)])
    geoms = [square(0, 0), None, shapely.Polygon(), line, flat, coll]
    gdf = _layer(geoms, ["ok", "null", "empty", "line", "flat", "coll"])
    cleaned, report = clean_geometries(gdf, layer_name="parcels", id_field="parcel_id")
    assert cleaned["parcel_id"].tolist() == ["ok", "coll"]
    assert cleaned.geometry.iloc[1].area == pytest.approx(10_000.0)
    actions = dict(zip(report["feature_id"], report["action"], strict=True))
    assert actions == {
        "null": "dropped",
        "empty": "dropped",
        "line": "dropped",
        "flat": "dropped",
        "coll": "repaired",
    }
    # Nothing lost silently: count in = kept + dropped.
    assert len(gdf) == len(cleaned) + (report["action"] == "dropped").sum()


def test_clean_without_ids_uses_row_numbers_and_lines_kind():
    gdf = gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (1, 1)]), square(0, 0)], crs=GK36)
    cleaned, report = clean_geometries(gdf, layer_name="roads", kind="line")
    assert len(cleaned) == 1
    assert report[["feature_id", "action"]].values.tolist() == [["1", "dropped"]]


def test_clean_is_vectorised_scale():
    # 50 000 features incl. 1 000 bowties clean in well under a second on a laptop;
    # here we only assert correctness at that size.
    n = 50_000
    geoms = [square(i * 200.0, 0) for i in range(n - 1000)] + [BOWTIE] * 1000
    gdf = _layer(geoms, [str(i) for i in range(n)])
    cleaned, report = clean_geometries(gdf, layer_name="parcels", id_field="parcel_id")
    assert len(cleaned) == n and (report["action"] == "repaired").sum() == 1000


def test_duplicate_ids_rejected_with_their_list():
    gdf = _layer([square(0, 0)] * 5, ["A1", "A2", "A1", "A3", "A3"])
    with pytest.raises(DuplicateIdError) as err:
        check_layer(gdf, layer_name="parcels", id_field="parcel_id")
    assert err.value.duplicates == ["A1", "A3"]
    assert "A1, A3" in str(err.value) and "parcels" in str(err.value)


def test_all_problems_reported_together():
    gdf = gpd.GeoDataFrame({"parcel_id": ["A1", "A1", None]}, geometry=[square(0, 0)] * 3)
    with pytest.raises(DuplicateIdError) as err:
        check_layer(gdf, layer_name="parcels", required=["parcel_id", "park"], id_field="parcel_id")
    msg = str(err.value)
    assert "missing field(s) park" in msg
    assert "no CRS" in msg
    assert "1 feature(s) without parcel_id" in msg
    assert "duplicate parcel_id value(s): A1" in msg


def test_schema_error_without_duplicates():
    df = pd.DataFrame({"x": [1]})
    with pytest.raises(SchemaError, match="missing field") as err:
        check_layer(df, layer_name="enterprises", required=["enterprise_id"])
    assert not isinstance(err.value, DuplicateIdError)


def test_standardize_fields_aliases_and_overrides():
    df = pd.DataFrame({"dkbh": ["A1"], "地块名称": ["一号"], "宗地号": ["Z1"], "other": [1]})
    aliases = {"parcel_id": ("DKBH", "地块编号"), "parcel_name": ("DKMC", "地块名称")}
    out = standardize_fields(df, aliases, layer_name="parcels")
    assert out.columns.tolist() == ["parcel_id", "parcel_name", "宗地号", "other"]
    out = standardize_fields(df, aliases, layer_name="parcels", overrides={"parcel_id": "宗地号"})
    assert out["parcel_id"].tolist() == ["Z1"]
    assert "dkbh" in out.columns  # the alias does not steal a field once overridden
    with pytest.raises(SchemaError, match="'宗地编码', which does not exist"):
        standardize_fields(df, aliases, layer_name="parcels", overrides={"parcel_id": "宗地编码"})

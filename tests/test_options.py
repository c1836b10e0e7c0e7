"""Project options (landuse.core.options) and the input checks of a project's layers."""

import datetime as dt

import geopandas as gpd
import pandas as pd
import pyogrio
import pyproj
import pytest
import shapely

from landuse.analysis.efficiency import _RATIOS
from landuse.core.config import load_project
from landuse.core.crs import apply_datum_transform, cgcs2000_equivalent, local_datum
from landuse.core.errors import ConfigError, CRSError
from landuse.core.options import (
    EFFICIENCY_INDICATORS,
    SCHEME_RULES,
    EfficiencyOptions,
    IdleOptions,
    Options,
    RatesOptions,
    efficiency_schemes,
    parse_day,
    parse_options,
)
from landuse.io import load_project_data, read_layer, write_table

from .conftest import X0, Y0, square

pytestmark = pytest.mark.filterwarnings("ignore:'crs' was not provided")


def test_efficiency_indicators_match_the_formulas():
    assert set(EFFICIENCY_INDICATORS) == set(_RATIOS)


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        (
            {"check": {"noise_area": 500}},
            "unknown option 'noise_area'; did you mean 'noise_area_m2'",
        ),
        ({"idle": {"as_off": "2025-12-31"}}, "did you mean 'as_of'"),
        ({"layer": {"parks": {"path": "x"}}}, r"unknown table \[layer\]; did you mean 'layers'"),
        ({"check": {"noise_area_m2": "500"}}, r"\[check\] noise_area_m2 must be a number"),
        ({"idle": {"as_of": "2025-13-40"}}, "is not a date"),
        ({"rates": {"period": ["2025-01-01"]}}, "must hold 2 values"),
        ({"rates": {"by": "town"}}, "must be one of 'park', 'county'"),
        ({"efficiency": {"above_weights": {"tax": 50}}}, "unknown indicator"),
        ({"efficiency": {"class_shares": [0.7, 0.25, 0.95]}}, "must rise"),
        (
            {"efficiency": {"scheme": "huaian"}},
            "unknown scheme 'huaian'; did you mean 'huaian_2024'",
        ),
        ({"efficiency": {"ranking": "city"}}, "must be one of 'by_size', 'county'"),
        ({"efficiency": {"penalty": {"safety_accident": -10}}}, "points are positive"),
        ({"efficiency": {"item_cap": 0}}, "item_cap must be above 0"),
        ({"efficiency": {"policies": {"A": "优先"}}}, "policies lacks B, C, D, T"),
        (
            {"efficiency": {"benchmark": "fixed"}},
            'benchmark = "fixed" needs above_benchmarks for tax_per_mu_wan',
        ),
        (
            {"efficiency": {"below_weights": {"tax_per_kwh_wan": 50}}},
            "tax_per_kwh_wan; did you mean 'tax_per_kwh_yuan'",
        ),
        ({"buildable": {"buffers": {"rivers": "30m"}}}, r"buffers\.rivers must be a number"),
        ({"check": 3}, "must be a table"),
        (
            {"project": {"area": "ellipse"}},
            r"one of 'plane', 'ellipsoid'.*did you mean 'ellipsoid'",
        ),
        ({"landclass": {"system": "gbt"}}, r"\[landclass\] system must be one of 'gbt21010'"),
        ({"project": {"threads": 0}}, r"\[project\] threads must be at least 1"),
        ({"project": {"threads": 1.5}}, r"\[project\] threads must be a whole number"),
    ],
)
def test_option_mistakes_are_one_line_errors(tables, message):
    with pytest.raises(ConfigError, match=message):
        Options.from_tables(tables)


def test_every_scheme_rule_can_be_set_in_the_project_file():
    names = [f for f in EfficiencyOptions.__dataclass_fields__ if f not in ("scheme", "year")]
    assert names == list(SCHEME_RULES)
    # TOML's inf switches a limit off; the rest of the preset stays.
    o = Options.from_tables(
        {"efficiency": {"scheme": "huangyan_2022", "class_shares": [0.3, 0.6, 0.9]}}
    )
    s = o.efficiency.resolved()
    assert s.class_shares == (0.3, 0.6, 0.9) and s.overridden == ("class_shares",)
    assert s.above_benchmarks["tax_per_mu_wan"] == 24.097
    assert Options.from_tables(
        {"efficiency": {"item_cap": float("inf")}}
    ).efficiency.item_cap == float("inf")


def test_presets_are_complete_and_cited():
    schemes = efficiency_schemes()
    assert set(schemes) >= {"zhejiang", "huangyan_2022", "huaian_2024"}
    assert schemes["zhejiang"].item_cap == 2  # the default is capped
    for scheme in schemes.values():
        assert scheme.title and "http" in scheme.source and scheme.overridden == ()


def test_options_are_typed():
    o = Options.from_tables(
        {
            "idle": {"as_of": "2025年12月31日"},
            "rates": {"period": ["2025/1/1", "2025-12-31"], "by": "county"},
            "buildable": {"occupied_status": ["已供", "已批"], "min_area_mu": 5},
        }
    )
    assert o.idle == IdleOptions(as_of=dt.date(2025, 12, 31))
    assert o.rates == RatesOptions(period=(dt.date(2025, 1, 1), dt.date(2025, 12, 31)), by="county")
    assert o.buildable.occupied_status == ("已供", "已批") and o.buildable.min_area_mu == 5.0
    assert parse_options(IdleOptions, {}, section="idle") == IdleOptions()


def test_parse_day_names_the_option():
    assert parse_day("2025.3.1", what="--as-of") == dt.date(2025, 3, 1)
    with pytest.raises(ConfigError, match="--as-of: '31/12/2025' is not a date"):
        parse_day("31/12/2025", what="--as-of")


def _project(tmp_path, layers: str, extra: str = "") -> object:
    toml = tmp_path / "landuse.toml"
    toml.write_text(layers + extra, encoding="utf-8")
    return load_project(toml)


def test_local_datum_is_refused_with_the_cgcs2000_twin(tmp_path):
    # Coordinates in CGCS2000 zone 36 but a .prj saying Xian 1980 zone 36 (EPSG:2360).
    gdf = gpd.GeoDataFrame({"DKBH": ["A1"]}, geometry=[square(0, 0)], crs="EPSG:2360")
    pyogrio.write_dataframe(gdf, tmp_path / "p.shp")
    with pytest.raises(CRSError, match=r"西安80 \(Xian 1980\).*EPSG:4524") as err:
        read_layer(tmp_path / "p.shp")
    assert "datum_transform" in str(err.value) and "--crs EPSG:4524" in str(err.value)


def test_datum_transform_is_applied_as_given(tmp_path):
    # A pure 3-parameter shift of +100 m along the geocentric X axis, written by hand.
    pipeline = (
        "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad "
        "+step +proj=cart +ellps=IAU76 +step +proj=helmert +x=100 +y=0 +z=0 "
        "+step +inv +proj=cart +ellps=GRS80 +step +proj=unitconvert +xy_in=rad +xy_out=deg"
    )
    gdf = gpd.GeoDataFrame({"DKBH": ["A1"]}, geometry=[square(0, 0)], crs="EPSG:2360")
    moved = apply_datum_transform(gdf, pipeline)
    assert moved.crs.to_epsg() == 4490
    # Independent route: the corner through pyproj's own CRS → geocentric → ECEF arithmetic.
    lon, lat = pyproj.Transformer.from_crs(2360, 4610, always_xy=True).transform(X0, Y0)
    xian_ecef = pyproj.Transformer.from_crs(
        pyproj.CRS.from_proj4("+proj=longlat +ellps=IAU76"),
        pyproj.CRS.from_proj4("+proj=geocent +ellps=IAU76"),
        always_xy=True,
    )
    x, y, z = xian_ecef.transform(lon, lat, 0.0)
    to_geo = pyproj.Transformer.from_crs(
        pyproj.CRS.from_proj4("+proj=geocent +ellps=GRS80"),
        pyproj.CRS.from_proj4("+proj=longlat +ellps=GRS80"),
        always_xy=True,
    )
    lon2, lat2, _ = to_geo.transform(x + 100.0, y, z)
    corner = shapely.get_coordinates(moved.geometry.iloc[0])
    assert min(abs(corner[:, 0] - lon2) + abs(corner[:, 1] - lat2)) < 1e-9
    with pytest.raises(CRSError, match="not a valid PROJ pipeline"):
        apply_datum_transform(gdf, "+proj=nonsense")


def test_local_datum_names():
    assert local_datum(pyproj.CRS.from_epsg(2435)) == "北京54 (Beijing 1954)"
    assert local_datum(pyproj.CRS.from_epsg(4545)) is None
    # Xian 1980 6-degree zone 19 with prefix → CGCS2000 6-degree zone 19 (EPSG:4497).
    assert cgcs2000_equivalent(pyproj.CRS.from_epsg(2333)).to_epsg() == 4497


def test_unprefixed_layer_gets_its_zone_from_the_other_layers(tmp_path):
    # UDB with a .prj in zone 36 (CM 108°E); parcels in unprefixed metres without one.
    udb = gpd.GeoDataFrame(geometry=[square(-50, -50, 500)], crs="EPSG:4524")
    pyogrio.write_dataframe(udb, tmp_path / "udb.gpkg")
    parcels = gpd.GeoDataFrame(
        {"DKBH": ["A1"]}, geometry=[shapely.box(520_000, 2_620_000, 520_100, 2_620_100)]
    )
    pyogrio.write_dataframe(parcels, tmp_path / "p.shp")
    (tmp_path / "p.prj").unlink(missing_ok=True)
    project = _project(
        tmp_path, '[layers.parcels]\npath = "p.shp"\n[layers.udb]\npath = "udb.gpkg"\n'
    )
    with pytest.raises(CRSError, match=r'crs = "EPSG:4545" in \[layers.parcels\]'):
        load_project_data(project)


def test_codes_stay_text_for_spreadsheets(tmp_path):
    df = pd.DataFrame(
        {
            "parcel_id": ["4513020000039", "A1"],
            "enterprise_id": ["914513000075940000", "91451300MA5K000001"],
            "town_code": ["0451", "1451"],
            "area_mu": [1.5, 2.0],
        }
    )
    path = write_table(df, tmp_path / "t.csv")
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    assert lines[1] == "\t4513020000039,\t914513000075940000,\t0451,1.5"
    assert lines[2] == "A1,91451300MA5K000001,1451,2.0"
    back = pd.read_csv(path, dtype=str, encoding="utf-8-sig").apply(lambda c: c.str.strip())
    assert back["enterprise_id"][0] == "914513000075940000"

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
import shapely.affinity

from landuse.core import crs as lcrs
from landuse.core.errors import CRSError, CRSMismatchError

from .conftest import GK36, square


@pytest.mark.parametrize(
    ("zone", "prefixed", "epsg"),
    [
        (25, True, 4513),
        (45, True, 4533),
        (25, False, 4534),
        (45, False, 4554),
        (35, True, 4523),
        (36, True, 4524),
        (37, True, 4525),
        (35, False, 4544),
        (36, False, 4545),
    ],
)
def test_gk3_epsg_table(zone, prefixed, epsg):
    # DOMAIN.md: prefixed EPSG = 4488 + n; unprefixed EPSG = 4534 + (CM - 75)/3.
    assert lcrs.gk3_epsg(zone, prefixed=prefixed) == epsg
    cm = pyproj.CRS.from_epsg(epsg).coordinate_operation.params[1].value
    assert cm == 3 * zone


def test_gk6_epsg_guangxi():
    assert lcrs.gk6_epsg(18, prefixed=True) == 4496
    assert lcrs.gk6_epsg(19, prefixed=True) == 4497
    assert lcrs.gk6_epsg(18, prefixed=False) == 4507
    assert lcrs.gk6_epsg(19, prefixed=False) == 4508


def test_zone_outside_china_raises():
    with pytest.raises(CRSError, match="outside China"):
        lcrs.gk3_epsg(50, prefixed=True)


@pytest.mark.parametrize(
    ("lon", "zone"),
    [(104.6, 35), (106.49, 35), (106.51, 36), (109.2, 36), (109.49, 36), (109.51, 37), (111.9, 37)],
)
def test_zone_for_longitude(lon, zone):
    # Zone n covers 3n ± 1.5°E.
    assert lcrs.gk3_zone_for_lon(lon) == zone


def test_infer_prefix_3_and_6_degree():
    assert lcrs.infer_crs_from_bounds((36_512_345.6, 2.6e6, 36_530_000, 2.62e6)).to_epsg() == 4524
    assert lcrs.infer_crs_from_bounds((35_400_000, 2.6e6, 35_600_000, 2.62e6)).to_epsg() == 4523
    assert lcrs.infer_crs_from_bounds((19_300_000, 2.6e6, 19_310_000, 2.62e6)).to_epsg() == 4497
    # Not provable: degrees, unprefixed metres, two prefixes, absurd offset.
    assert lcrs.infer_crs_from_bounds((109.1, 23.6, 109.3, 23.8)) is None
    assert lcrs.infer_crs_from_bounds((512_345.0, 2.6e6, 530_000.0, 2.62e6)) is None
    assert lcrs.infer_crs_from_bounds((35_999_000, 2.6e6, 36_001_000, 2.62e6)) is None
    assert lcrs.infer_crs_from_bounds((36_010_000, 2.6e6, 36_020_000, 2.62e6)) is None


def test_analysis_crs_keeps_matching_gk_and_picks_zone_for_degrees(parcels_gdf):
    assert lcrs.analysis_crs(parcels_gdf) == parcels_gdf.crs  # zone 36 data in zone 36
    geo = gpd.GeoDataFrame(geometry=[shapely.box(109.1, 23.6, 109.2, 23.7)], crs=4490)
    assert lcrs.analysis_crs(geo).to_epsg() == 4545
    east = gpd.GeoDataFrame(geometry=[shapely.box(110.8, 23.6, 110.9, 23.7)], crs=4490)
    assert lcrs.analysis_crs(east).to_epsg() == 4546
    # Data at 110.85°E delivered in zone 36: re-measured in its own zone 37.
    assert lcrs.analysis_crs(east.to_crs(GK36)).to_epsg() == 4546


def test_area_of_square_and_of_degrees(parcels_gdf):
    areas = lcrs.area_m2(parcels_gdf)
    assert areas.name == "area_m2"
    assert areas.tolist() == pytest.approx([10_000.0] * 3, rel=1e-12)
    # A 0.01° cell on the central meridian: GK scale is 1 there, so the planar
    # area equals the ellipsoidal one (pyproj.Geod, independent).
    cell = shapely.box(108.0, 23.70, 108.01, 23.71)
    geo = gpd.GeoDataFrame(geometry=[cell], crs=4490)
    geod_area = abs(pyproj.Geod(ellps="GRS80").geometry_area_perimeter(cell)[0])
    assert lcrs.area_m2(geo).iloc[0] == pytest.approx(geod_area, rel=1e-6)


def test_with_areas_units(parcels_gdf):
    out = lcrs.with_areas(parcels_gdf)
    assert out["area_mu"].tolist() == pytest.approx([15.0] * 3)
    assert out["area_ha"].tolist() == pytest.approx([1.0] * 3)
    assert "area_m2" not in parcels_gdf.columns  # input not mutated


def test_area_refuses_geographic_target(parcels_gdf):
    with pytest.raises(CRSError, match="projected"):
        lcrs.area_m2(parcels_gdf, pyproj.CRS.from_epsg(4490))


def test_check_same_crs(parcels_gdf):
    other = gpd.GeoDataFrame(geometry=[square(0, 0)], crs=GK36)
    assert lcrs.check_same_crs({"parcels": parcels_gdf, "udb": other}) == parcels_gdf.crs
    with pytest.raises(CRSMismatchError) as err:
        lcrs.check_same_crs({"parcels": parcels_gdf, "udb": other.to_crs(4490)})
    msg = str(err.value)
    assert "parcels" in msg and "udb" in msg and "EPSG:4490" in msg and "to_crs" in msg
    with pytest.raises(CRSError, match="no CRS"):
        lcrs.check_same_crs({"parcels": parcels_gdf.set_crs(None, allow_override=True)})


def _geodesic_area(geom: shapely.Geometry, crs: str) -> float:
    """Independent ellipsoidal area: edges cut at 1 m, to lon/lat, pyproj.Geod on GRS 80.

    Geod adds the signed areas of the rings: exteriors anticlockwise, holes clockwise.
    """
    to_lonlat = pyproj.Transformer.from_crs(crs, 4490, always_xy=True)
    dense = shapely.segmentize(geom, 1.0) if pyproj.CRS(crs).is_projected else geom
    dense = shapely.orient_polygons(dense)
    lonlat = shapely.transform(dense, lambda xy: np.column_stack(to_lonlat.transform(*xy.T)))
    return abs(pyproj.Geod(ellps="GRS80").geometry_area_perimeter(lonlat)[0])


# CGCS2000 3-degree zone 36 (CM 108°E) with the prefix; x 36 650 000 is 150 km east.
@pytest.mark.parametrize(
    ("geom", "crs"),
    [
        (square(0, 0), GK36),  # 100 m square near the meridian
        (shapely.box(36_650_000, 2_620_000, 36_653_162.28, 2_623_162.28), GK36),  # 10 km²
        (  # rotated irregular 10 km² parcel with a hole, 140 km west of the meridian
            shapely.affinity.translate(
                shapely.affinity.rotate(
                    shapely.Polygon(
                        [(0, 0), (3950, 0), (3950, 1500), (2500, 2900), (0, 2900)],
                        [[(1000, 1000), (1800, 1000), (1800, 1600), (1000, 1600)]],
                    ),
                    23.0,
                ),
                36_360_000,
                2_620_000,
            ),
            GK36,
        ),
        (shapely.box(150_000, 4_400_000, 153_162.28, 4_403_162.28), "EPSG:4545"),  # 40°N
        (shapely.box(108.2, 23.7, 108.2297, 23.7297), "EPSG:4490"),  # degrees, 9.96 km²
    ],
)
def test_ellipsoidal_area_agrees_with_geodesic_computation(geom, crs):
    got = lcrs.area_ellipsoid_m2([geom], crs)[0]
    expected = _geodesic_area(geom, crs)
    assert got == pytest.approx(expected, rel=1e-6)
    assert expected < 10.01e6
    # The difference from the plane is real and goes the right way (the GK plane
    # is enlarged away from its central meridian).
    if pyproj.CRS(crs).is_projected and abs(geom.centroid.x - 36_500_000) > 100_000:
        assert got < geom.area * (1 - 1e-4)

import geopandas as gpd
import numpy as np
import pyogrio
import pyproj
import pytest
import rasterio
import shapely

from landuse.core.config import sample_project
from landuse.core.crs import with_areas
from landuse.io import load_project_data
from landuse.sample import (
    DEFAULT_PARCELS,
    LANDCOVER_CLASSES,
    SUBPARKS,
    generate_sample,
    get_path,
    write_sample,
)

# GK 3-degree zone 36 written out by hand, not through an EPSG code.
TM108 = "+proj=tmerc +lat_0=0 +lon_0=108 +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m +no_defs"


def _independent_areas(geoms: np.ndarray, src_crs) -> np.ndarray:
    """Area via geographic coordinates and a hand-written TM projection (pyproj + shapely only)."""
    to_geo = pyproj.Transformer.from_crs(src_crs, "+proj=longlat +ellps=GRS80", always_xy=True)
    to_tm = pyproj.Transformer.from_crs("+proj=longlat +ellps=GRS80", TM108, always_xy=True)

    def reproject(xy):
        lon, lat = to_geo.transform(xy[:, 0], xy[:, 1])
        return np.column_stack(to_tm.transform(lon, lat))

    return shapely.area(shapely.transform(geoms, reproject))


@pytest.fixture(scope="module")
def shipped():
    return load_project_data(sample_project())


def test_sample_areas_agree_with_independent_computation(shipped):
    parcels = with_areas(shipped.layers["parcels"], shipped.crs)
    raw = pyogrio.read_dataframe(get_path("sample"), layer="parcels")
    assert len(raw) == len(parcels) == DEFAULT_PARCELS  # count in = count out
    repaired = set(shipped.report.loc[shipped.report["layer"] == "parcels", "feature_id"])
    # The sample's deliberate bowties, and only they, are repaired.
    assert repaired == set(raw.loc[~raw.is_valid, "DKBH"]) and repaired
    keep = ~raw["DKBH"].isin(repaired).to_numpy()
    expected = _independent_areas(np.asarray(raw.geometry.array)[keep], raw.crs)
    got = parcels.set_index("parcel_id").loc[raw["DKBH"][keep], "area_m2"].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    np.testing.assert_allclose(parcels["area_mu"], parcels["area_m2"] * 15 / 10000)


def test_geographic_input_is_measured_in_the_right_zone(shipped):
    geo = shipped.layers["parcels"].to_crs(4490)
    got = with_areas(geo)["area_m2"].to_numpy()
    expected = _independent_areas(np.asarray(geo.geometry.array), geo.crs)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_generator_is_deterministic_and_shipped_sample_is_current():
    a = generate_sample(300, seed=7)
    b = generate_sample(300, seed=7)
    assert a.parcels.drop(columns="geometry").equals(b.parcels.drop(columns="geometry"))
    assert a.parcels.geometry.geom_equals_exact(b.parcels.geometry, 0).all()
    assert not generate_sample(300, seed=8).parcels["GDZT"].equals(a.parcels["GDZT"])
    fresh = generate_sample()
    shipped = pyogrio.read_dataframe(get_path("sample"), layer="parcels")
    assert shipped["DKBH"].tolist() == fresh.parcels["DKBH"].tolist()
    np.testing.assert_allclose(shipped.geometry.area, fresh.parcels.geometry.area, rtol=1e-9)


def test_default_sample_shape(shipped):
    parcels = shipped.layers["parcels"]
    parks = shipped.layers["parks"]
    assert parks["park"].tolist() == [s[0] for s in SUBPARKS]
    assert set(parcels["park"]) == {s[0] for s in SUBPARKS}
    district = shipped.layers["district"].union_all()
    assert parcels.within(district).all()
    assert district.area / 1e6 == pytest.approx(4400, rel=0.02)  # 兴宾区 ≈ 4,400 km²
    ids = shipped.tables["enterprises"]["enterprise_id"]
    assert ids.str.len().eq(18).all()
    assert set(shipped.tables["enterprises"]["year"].astype(int)) == {2022, 2023, 2024}


def test_sample_has_conflicts_to_find(shipped):
    parcels = shipped.layers["parcels"]
    udb = shipped.layers["udb"].union_all()
    certified_outside = parcels["certificate_no"].notna() & ~parcels.within(udb)
    assert 20 < certified_outside.sum() < 300
    farmland = shipped.layers["farmland"]
    assert parcels.intersects(farmland.union_all()).sum() > 20
    assert parcels.intersects(shipped.layers["eco_redline"].union_all()).sum() > 10
    # Some farmland patches were digitised twice: overlapping pairs exist.
    left, right = farmland.sindex.query(farmland.geometry, predicate="overlaps")
    assert (left != right).sum() > 0


def test_sample_is_labelled_synthetic():
    info = pyogrio.read_info(get_path("sample"), layer="parcels")
    assert info["layer_metadata"]["SYNTHETIC"] == "yes"
    assert "示例数据" in info["layer_metadata"]["DESCRIPTION"]
    with rasterio.open(get_path("landcover")) as src:
        assert src.tags()["SYNTHETIC"] == "yes"
        assert src.crs.to_epsg() == 4524 and src.res == (10.0, 10.0)
        values = np.unique(src.read(1))
    assert set(values) <= set(LANDCOVER_CLASSES)
    assert {1, 4, 5} <= set(values)


def test_scales_beyond_the_named_parks(tmp_path):
    s = generate_sample(5000, seed=3)
    assert len(s.parcels) == 5000 and s.parcels["DKBH"].is_unique
    assert len(s.parks) > len(SUBPARKS)
    extra = s.parks.iloc[len(SUBPARKS) :]
    assert extra["YQMC"].tolist() == [f"扩展园区{k:04d}" for k in range(1, len(extra) + 1)]
    # Every park is the 18 × 18 block grid plus its edge road: (18 · (220 + 30) − 30 + 2 · 30) m
    # by (18 · (180 + 30) − 30 + 2 · 30) m = 4 530 m × 3 810 m = 17 259 300 m².
    assert s.parks.is_valid.all()
    np.testing.assert_allclose(s.parks.area, 4530.0 * 3810.0, rtol=1e-9)
    # Each parcel lies in the park its SSYQ names (bowties made valid first), and every
    # park laid out holds parcels: no empty benchmark park.
    own_park = s.parks.set_index("YQMC").geometry.loc[s.parcels["SSYQ"]].to_numpy()
    assert shapely.within(shapely.make_valid(s.parcels.geometry.to_numpy()), own_park).all()
    assert set(s.parcels["SSYQ"]) == set(s.parks["YQMC"])
    # Parks never overlap each other.
    left, right = s.parks.sindex.query(s.parks.geometry, predicate="overlaps")
    assert (left == right).all()
    gpkg, tif = write_sample(s, tmp_path / "big.gpkg")
    assert len(gpd.read_file(gpkg, layer="parcels")) == 5000 and tif.exists()

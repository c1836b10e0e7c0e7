import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely

from landuse.analysis.buildable import (
    BuildableOptions,
    buildable_summary,
    find_buildable,
    steep_land,
)
from landuse.core.errors import ConfigError, SchemaError
from landuse.core.options import parse_options

CRS = "EPSG:4545"


def gdf(geoms, crs=CRS, **cols):
    return gpd.GeoDataFrame(cols, geometry=list(geoms), crs=crs)


def test_hand_made_park():
    # Park 300 × 200; the UDB covers x ≤ 250 → 250 × 200 available.
    # Minus farmland [0,50]×[0,50] (2 500 m²), a supplied parcel [100,200]×[0,100]
    # (10 000 m²) and a 10 m road along y = 150 ([0,250]×[145,155]).
    # The unsupplied parcel [0,100]×[155,200] stays available.
    # Left: top strip [0,250]×[155,200] = 11 250 m² (16.875 亩) and the bottom
    # region 250·145 − 2 500 − 10 000 = 23 750 m² (35.625 亩).
    park = gdf([shapely.box(0, 0, 300, 200)], park=["甲园"])
    udb = gdf([shapely.box(-20, -20, 250, 220)])
    farm = gdf([shapely.box(0, 0, 50, 50)])
    parcels = gdf(
        [shapely.box(100, 0, 200, 100), shapely.box(0, 155, 100, 200)],
        supply_status=["已供", "未供"],
    )
    roads = gdf([shapely.LineString([(0, 150), (250, 150)])], width_m=[10.0])
    out = find_buildable(park, udb, farmland=farm, parcels=parcels, roads=roads)
    assert out["candidate_id"].tolist() == ["KJ-0001", "KJ-0002"]
    assert out["area_m2"].tolist() == pytest.approx([23_750, 11_250])
    assert out["area_mu"].tolist() == pytest.approx([35.625, 16.875])
    assert out["park"].tolist() == ["甲园", "甲园"]
    assert out["rank"].tolist() == [1, 2]
    summary = buildable_summary(out).set_index("park")
    assert summary.loc["合计", "area_mu"] == pytest.approx(52.5)


def test_zoned_udb_counts_only_the_concentrated_construction_zone():
    # Park 300 × 200 under a UDB split at x = 200: 城镇集中建设区 x ≤ 200 (40 000 m² =
    # 60 亩 of the park) and 城镇弹性发展区 beyond (20 000 m²), not available.
    park = gdf([shapely.box(0, 0, 300, 200)], park=["甲园"])
    udb = gdf(
        [shapely.box(-20, -20, 200, 220), shapely.box(200, -20, 320, 220)],
        zone_code=["0401", "0402"],
        zone_type=["城镇集中建设区", "城镇弹性发展区"],
    )
    out = find_buildable(park, udb)
    assert out["area_m2"].tolist() == pytest.approx([40_000])
    # Configurable: listing the flexible zone too (by its code) counts both.
    both = BuildableOptions(udb_zones=("城镇集中建设区", "0402"))
    assert find_buildable(park, udb, options=both)["area_m2"].sum() == pytest.approx(60_000)
    # A UDB without zones counts whole.
    plain = udb.drop(columns=["zone_code", "zone_type"])
    assert find_buildable(park, plain)["area_m2"].sum() == pytest.approx(60_000)


def test_narrow_and_small_pieces_are_dropped():
    # Strip 300 × 15 (narrower than 20 m) and a 60 × 60 square (3 600 m² = 5.4 亩 < 10 亩)
    # vanish; a 100 × 100 square (15 亩) stays.
    parks = gdf(
        [shapely.box(0, 0, 300, 15), shapely.box(0, 100, 60, 160), shapely.box(200, 100, 300, 200)],
        park=["窄", "小", "好"],
    )
    udb = gdf([shapely.box(-1, -1, 400, 400)])
    out = find_buildable(parks, udb)
    assert out["park"].tolist() == ["好"]
    assert out["area_mu"].iloc[0] == pytest.approx(15.0)
    looser = find_buildable(parks, udb, options=BuildableOptions(min_area_mu=5, min_width_m=10))
    assert sorted(looser["park"]) == ["好", "小", "窄"]


def test_buffers_and_steep_land():
    park = gdf([shapely.box(0, 0, 200, 100)], park=["乙园"])
    udb = gdf([shapely.box(0, 0, 200, 100)])
    river = gdf([shapely.LineString([(100, -10), (100, 110)])])
    # River buffer 10 m each side removes [90,110]×[0,100]: two 90 × 100 pieces.
    out = find_buildable(park, udb, buffers={"rivers": (river, 10.0)})
    assert out["area_m2"].tolist() == pytest.approx([9_000, 9_000])
    steep = gdf([shapely.box(0, 0, 90, 100)])
    out = find_buildable(park, udb, buffers={"rivers": (river, 10.0)}, steep=steep)
    assert out["area_m2"].tolist() == pytest.approx([9_000])
    assert out.geometry.iloc[0].bounds == pytest.approx((110, 0, 200, 100))


def test_steep_land_from_dem():
    # 10 m cells. Columns 0–9 rise 5 m per cell (slope atan(0.5) = 26.6°), columns
    # 10–19 are flat at 45 m. numpy.gradient gives column 9 (45−40)/20 = 0.25
    # (14.0°, under 15°) and column 10 zero, so columns 0–8 are steep:
    # 9 columns × 10 rows × 100 m² = 9 000 m².
    cols = np.arange(20)
    dem = np.tile(np.where(cols < 10, cols * 5.0, 45.0), (10, 1))
    transform = rasterio.Affine(10, 0, 500_000, 0, -10, 2_600_100)
    steep = steep_land(dem, transform, gdf([]).crs, 15.0)
    assert steep.area.sum() == pytest.approx(9_000)
    assert steep.total_bounds == pytest.approx((500_000, 2_600_000, 500_090, 2_600_100))
    nodata = dem.copy()
    nodata[:, :5] = -9999
    assert steep_land(nodata, transform, gdf([]).crs, 15.0, nodata=-9999).area.sum() < 9_000


def test_options_and_schema():
    opts = parse_options(BuildableOptions, {"min_area_mu": 5}, section="buildable")
    assert opts.min_area_mu == 5
    with pytest.raises(ConfigError, match="did you mean 'min_area_mu'"):
        parse_options(BuildableOptions, {"min_areas_mu": 5}, section="buildable")
    with pytest.raises(SchemaError, match="park"):
        find_buildable(gdf([shapely.box(0, 0, 1, 1)]), gdf([shapely.box(0, 0, 1, 1)]))


def test_sample_buildable_matches_overlay_formulation(sample_data):
    L = sample_data.layers
    opts = BuildableOptions(min_area_mu=0.0, min_width_m=0.0)
    out = find_buildable(
        L["parks"],
        L["udb"],
        farmland=L["farmland"],
        eco_redline=L["eco_redline"],
        parcels=L["parcels"],
        roads=L["roads"],
        options=opts,
    )
    # Independent: geopandas.overlay, step by step.
    area = gpd.overlay(
        L["parks"][["park", "geometry"]],
        L["udb"][["geometry"]].dissolve(),
        how="intersection",
        keep_geom_type=True,
    )
    supplied = L["parcels"][L["parcels"]["supply_status"] == "已供"]
    roads = L["roads"].assign(geometry=L["roads"].buffer(L["roads"]["width_m"] / 2))
    blockers = gpd.GeoDataFrame(
        geometry=list(L["farmland"].geometry)
        + list(L["eco_redline"].geometry)
        + list(supplied.geometry)
        + list(roads.geometry),
        crs=L["parks"].crs,
    )
    left = gpd.overlay(area, blockers, how="difference", keep_geom_type=True)
    expected = left.dissolve("park").area
    got = out.groupby("park")["area_m2"].sum()
    np.testing.assert_allclose(got.sort_index(), expected.sort_index(), rtol=1e-6)
    default = find_buildable(
        L["parks"],
        L["udb"],
        farmland=L["farmland"],
        eco_redline=L["eco_redline"],
        parcels=L["parcels"],
        roads=L["roads"],
    )
    assert 100 < len(default) < len(out)
    assert (default["area_mu"] >= 10).all()
    assert default["area_mu"].is_monotonic_decreasing


def test_threads_give_identical_candidates_on_the_sample(sample_data):
    L = sample_data.layers
    args = dict(
        farmland=L["farmland"], eco_redline=L["eco_redline"], parcels=L["parcels"], roads=L["roads"]
    )
    one = find_buildable(L["parks"], L["udb"], threads=1, **args)
    for threads in (2, 3):  # the four parks in four chunks
        got = find_buildable(L["parks"], L["udb"], threads=threads, **args)
        pd.testing.assert_frame_equal(
            pd.DataFrame(got.drop(columns="geometry")), pd.DataFrame(one.drop(columns="geometry"))
        )
        assert got.geometry.geom_equals_exact(one.geometry, 0).all()
    assert len(one) > 10

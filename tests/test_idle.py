import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import rasterio
import shapely

from landuse.errors import SchemaError
from landuse.idle import NOT_STARTED, SUSPENDED, class_cover, find_idle
from landuse.io import Raster

CRS = "EPSG:4545"


def parcels(**cols):
    n = len(next(iter(cols.values())))
    geoms = [shapely.box(i * 200, 0, i * 200 + 100, 100) for i in range(n)]
    data = {"parcel_id": [f"P{i}" for i in range(n)], **cols}
    return gpd.GeoDataFrame(data, geometry=geoms, crs=CRS)


def one(as_of, **cols):
    """Judge a single parcel; price 100 万元 unless given."""
    cols = {"land_price_wan": ["100"], **{k: [v] for k, v in cols.items()}}
    return find_idle(parcels(**cols), as_of).iloc[0]


# idle_days counts from the agreed start 2023-03-01, the first day not counted:
# to 2024-03-01 is 366 days (2024-02-29 lies between), so 2024-03-02 is day 367;
# 2025-03-01 is 366 + 365 = 731 and 2025-03-02 is 732.
@pytest.mark.parametrize(
    ("as_of", "idle", "years", "days", "fee", "recover"),
    [
        ("2024-03-01", False, None, None, None, False),  # day of the anniversary: not yet
        ("2024-03-02", True, 1, 367, 20.0, False),  # day after: idle, fee 20 % of 100 万元
        ("2025-03-01", True, 1, 731, 20.0, False),  # day before two years
        ("2025-03-02", True, 2, 732, None, True),  # two full years: recovery without compensation
    ],
)
def test_not_started_boundaries(as_of, idle, years, days, fee, recover):
    row = one(as_of, agreed_start_date="2023-03-01")
    assert row["idle"] == idle
    assert row["recover_without_compensation"] == recover
    if idle:
        assert row["idle_type"] == NOT_STARTED
        assert row["idle_since"] == pd.Timestamp("2024-03-02")
        assert row["idle_years"] == years
        assert row["idle_days"] == days
    else:
        assert pd.isna(row["idle_days"])
    if fee is None:
        assert pd.isna(row["idle_fee_wan"])
    else:
        assert row["idle_fee_wan"] == pytest.approx(fee)


def test_leap_day_start():
    assert not one("2025-02-28", agreed_start_date="2024-02-29")["idle"]
    row = one("2025-03-01", agreed_start_date="2024年2月29日")
    assert row["idle"] and row["idle_since"] == pd.Timestamp("2025-03-01")


def test_started_land_is_not_idle_unless_suspended():
    assert not one("2025-01-01", agreed_start_date="2023-03-01", actual_start_date="2024-06-01")[
        "idle"
    ]
    # Started only after the day judged: still not started on that day.
    assert one("2024-05-01", agreed_start_date="2023-03-01", actual_start_date="2024-06-01")["idle"]


@pytest.mark.parametrize(
    ("developed", "invested", "as_of", "idle"),
    [
        ("0.30", "0.5", "2024-03-01", False),  # suspended one year exactly: not yet
        ("0.30", "0.5", "2024-03-02", True),  # developed under 1/3
        ("0.34", "24.99%", "2024-03-02", True),  # invested under 25 %
        (str(1 / 3), "0.25", "2024-03-02", False),  # exactly 1/3 and 25 %: not idle
        ("0.3333", "0.9", "2024-03-02", True),  # just under 1/3
        ("0.5", "0.5", "2030-01-01", False),  # enough developed: suspension alone is not idle
    ],
)
def test_suspended_thresholds(developed, invested, as_of, idle):
    row = one(
        as_of,
        agreed_start_date="2021-06-01",
        actual_start_date="2022-01-01",
        developed_share=developed,
        invested_share=invested,
        suspended_since="2023-03-01",
    )
    assert row["idle"] == idle
    if idle:
        assert row["idle_type"] == SUSPENDED
        assert row["idle_since"] == pd.Timestamp("2024-03-02")


def test_government_caused_gets_options_not_fee():
    row = one("2026-01-01", agreed_start_date="2023-03-01", gov_caused="是")
    assert row["idle"] and row["gov_caused"]
    assert pd.isna(row["idle_fee_wan"]) and not row["recover_without_compensation"]
    assert row["consequence"].startswith("政府原因") and "临时使用" in row["consequence"]


def test_every_parcel_is_kept_and_unknowns_are_flagged():
    p = parcels(
        supply_status=["已供", "未供", "已供"],
        agreed_start_date=["2020-01-01", "2020-01-01", ""],
        land_price_wan=["1,000", "", "0.1亿元"],
    )
    out = find_idle(p, "2025-01-01")
    assert len(out) == 3 and out.index.equals(p.index)
    assert out["idle"].tolist() == [True, False, False]
    assert out["undetermined"].tolist() == [False, False, True]
    assert out["recover_without_compensation"].tolist() == [True, False, False]


def test_bad_values_are_errors():
    with pytest.raises(SchemaError, match="agreed_start_date"):
        find_idle(parcels(agreed_start_date=["2023-02-30"]), "2025-01-01")
    with pytest.raises(SchemaError, match="lacks agreed_start_date"):
        find_idle(parcels(parcel_name=["x"]), "2025-01-01")


# A 3 × 3 raster of 10 m cells, top-left corner (0, 30); 0 = nodata.
#   row 0 (y 20–30): 4 1 1
#   row 1 (y 10–20): 4 4 1
#   row 2 (y  0–10): 0 1 5
RASTER = Raster(
    array=np.array([[4, 1, 1], [4, 4, 1], [0, 1, 5]], dtype="uint8"),
    transform=rasterio.Affine(10, 0, 0, 0, -10, 30),
    crs=pyproj.CRS.from_user_input(CRS),
    nodata=0,
)


def test_class_cover_against_hand_computation():
    geoms = [
        shapely.box(5, 15, 15, 25),  # 4 quarter cells: three of class 4 → 75 / 100
        shapely.box(21, 1, 23, 3),  # 4 m², inside one class-5 cell → 1.0
        shapely.box(5, 0, 15, 10),  # half on nodata, half on class 1 → 0, coverage 0.5
        shapely.box(25, 25, 35, 35),  # a quarter on the raster (class 1) → 0, coverage 0.25
        shapely.Polygon([(0, 30), (10, 30), (0, 20)]),  # triangle in a class-4 cell → 1.0
    ]
    gdf = gpd.GeoDataFrame(geometry=geoms, crs=CRS, index=[10, 11, 12, 13, 14])
    got = class_cover(gdf, RASTER, (4, 5))
    assert got.index.tolist() == [10, 11, 12, 13, 14]
    np.testing.assert_allclose(got["share"], [0.75, 1.0, 0.0, 0.0, 1.0])
    np.testing.assert_allclose(got["coverage"], [1.0, 1.0, 0.5, 0.25, 1.0])
    # Tiny batches give the same answer.
    np.testing.assert_allclose(class_cover(gdf, RASTER, (4, 5), max_pairs=1)["share"], got["share"])


def test_suspect_idle_from_raster():
    p = gpd.GeoDataFrame(
        {
            "parcel_id": ["ghost", "busy"],
            "agreed_start_date": ["2023-01-01", "2023-01-01"],
            "actual_start_date": ["2023-06-01", "2023-06-01"],
            "construction_status": ["在建", "在建"],
        },
        geometry=[shapely.box(11, 21, 19, 29), shapely.box(5, 15, 15, 25)],
        crs=CRS,
    )
    out = find_idle(p, "2025-01-01", landcover=RASTER)
    assert out["suspect_idle"].tolist() == [True, False]
    np.testing.assert_allclose(out["evidence_share"], [0.0, 0.75])


def test_sample_idle(sample_data):
    out = find_idle(sample_data.layers["parcels"], "2025-12-31")
    assert len(out) == len(sample_data.layers["parcels"])
    idle = out[out["idle"]]
    assert len(idle) > 50
    # Independent re-check of the not-started rule on the sample's own strings.
    waiting = out["actual_start_date"].isna() & out["agreed_start_date"].notna()
    agreed = pd.to_datetime(out["agreed_start_date"])
    anniversary = agreed + pd.DateOffset(years=1)
    expect = waiting & (pd.Timestamp("2025-12-31") > anniversary)
    assert (out.loc[waiting, "idle"] == expect[waiting]).all()

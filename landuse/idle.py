"""Idle land (闲置土地) by the disposal rules (闲置土地处置办法, Ministry order No. 53, 2012).

A supplied parcel is idle as of a date when

- development has not started a full year after the start date agreed in the
  transfer contract or allocation decision (未动工开发满一年); or
- development started, but the developed area is under one third of the area
  to be developed **or** the investment made is under 25 % of the total, and
  development has been suspended for a full year (已动工但中止开发满一年).

Years are counted by the Civil Code (see :mod:`landuse.dates`): with an
agreed start of 2023-03-01 the land is idle from 2024-03-02.

Consequences when the idling is not the government's doing: idle ≥ 1 year →
idle-land fee of 20 % of the land price (土地闲置费); idle ≥ 2 years → the land
use right is recovered without compensation (无偿收回).  Government-caused
cases get the lawful disposal options instead.

Optional evidence from a land-cover raster: the share of each parcel covered
by built-up or construction-site pixels, weighted by the exact area each
pixel shares with the parcel (correct for parcels smaller than a pixel);
parcels recorded as started but with near-zero cover are flagged
"疑似闲置，需实地核查".
"""

from __future__ import annotations

from collections.abc import Iterable

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely

from landuse.dates import full_years, parse_dates, period_complete_after
from landuse.errors import SchemaError
from landuse.io import Raster
from landuse.labels import sum_by
from landuse.numbers import parse_amounts, parse_flags, parse_shares
from landuse.options import IdleOptions

__all__ = [
    "GOVERNMENT_OPTIONS",
    "IDLE_REQUIRED",
    "IdleOptions",
    "class_cover",
    "find_idle",
    "idle_summary",
]

#: Disposal options when the government caused the idling (Order No. 53, Art. 12).
GOVERNMENT_OPTIONS = (
    "延长动工开发期限（不超过一年）；调整土地用途、规划条件；安排临时使用（不超过两年）；"
    "协议有偿收回；置换土地（价款已缴清且因规划依法修改造成的）；其他处置方式"
)
NOT_STARTED = "未动工开发满一年"
SUSPENDED = "已动工但开发不足且中止开发满一年"


#: Parcel fields the idle-land rules cannot do without.
IDLE_REQUIRED = ("parcel_id", "agreed_start_date")


def _column(df: pd.DataFrame, name: str) -> pd.Series:
    return df[name] if name in df.columns else pd.Series(None, index=df.index, dtype=object)


def find_idle(
    parcels: gpd.GeoDataFrame,
    as_of: str | pd.Timestamp,
    *,
    landcover: Raster | None = None,
    options: IdleOptions | None = None,
) -> gpd.GeoDataFrame:
    """Classify parcels as idle or not as of a date, with the legal consequence.

    Parameters
    ----------
    parcels : GeoDataFrame
        Parcels with canonical fields: ``parcel_id``, ``agreed_start_date``
        and, where known, ``supply_status``, ``actual_start_date``,
        ``developed_share``, ``invested_share``, ``suspended_since``,
        ``gov_caused``, ``land_price_wan``, ``construction_status``.
        Dates and numbers may be text as bureaus write them.
    as_of : str or Timestamp
        The day the judgement is made for (inclusive).
    landcover : Raster, optional
        Land-cover raster for the evidence columns.
    options : IdleOptions, optional
        Thresholds.

    Returns
    -------
    GeoDataFrame
        Every input row (count in = count out) with ``idle`` (bool),
        ``idle_type``, ``clock_start`` (the date the year is counted from),
        ``idle_since``, ``idle_days``, ``idle_years``, ``gov_caused``,
        ``idle_fee_wan``, ``recover_without_compensation``, ``consequence``
        and ``undetermined`` (supplied but lacking the dates to judge); with a
        raster also ``evidence_share``, ``raster_coverage`` and ``suspect_idle``.
    """
    opts = options or IdleOptions()
    day = pd.Timestamp(as_of).normalize()
    missing = [c for c in IDLE_REQUIRED if c not in parcels.columns]
    if missing:
        raise SchemaError(
            f"Layer 'parcels' lacks {', '.join(missing)} for the idle-land check; map the "
            'fields in landuse.toml (e.g. agreed_start_date = "约定动工日期").'
        )
    src = "parcels"
    agreed = parse_dates(parcels["agreed_start_date"], column="agreed_start_date", source=src)
    actual = parse_dates(
        _column(parcels, "actual_start_date"), column="actual_start_date", source=src
    )
    suspended = parse_dates(
        _column(parcels, "suspended_since"), column="suspended_since", source=src
    )
    developed = parse_shares(
        _column(parcels, "developed_share"), column="developed_share", source=src
    )
    invested = parse_shares(_column(parcels, "invested_share"), column="invested_share", source=src)
    gov = parse_flags(_column(parcels, "gov_caused"), column="gov_caused", source=src)
    price = parse_amounts(_column(parcels, "land_price_wan"), column="land_price_wan", source=src)
    supplied = (
        parcels["supply_status"].isin(opts.supplied_status)
        if "supply_status" in parcels.columns
        else pd.Series(True, index=parcels.index)
    )

    started = actual.notna() & (actual <= day)
    short = (developed < opts.developed_threshold) | (invested < opts.invested_threshold)
    stopped = started & short & suspended.notna() & (suspended <= day)
    waiting = supplied & ~started & agreed.notna()
    clock = agreed.where(waiting, suspended.where(supplied & stopped))
    years = full_years(clock, day)
    idle = (years >= 1).fillna(False).astype(bool)
    recover = idle & ~gov & (years >= 2)
    fee_due = idle & ~gov & ~recover  # one consequence per parcel: the fee, or recovery

    out = parcels.copy()
    out["idle"] = idle.to_numpy()
    out["idle_type"] = np.where(idle & waiting, NOT_STARTED, np.where(idle, SUSPENDED, ""))
    out["clock_start"] = clock.where(idle)
    out["idle_since"] = period_complete_after(clock, 1).where(idle)
    out["idle_days"] = (day - clock).dt.days.where(idle)
    out["idle_years"] = years.where(idle)
    out["gov_caused"] = gov.to_numpy()
    out["idle_fee_wan"] = (price * opts.fee_rate).where(fee_due)
    out["recover_without_compensation"] = recover.to_numpy()
    out["consequence"] = np.select(
        [recover, fee_due, idle & gov],
        [
            "无偿收回国有建设用地使用权（闲置满两年）",
            f"征缴土地闲置费（出让或划拨价款的{opts.fee_rate:.0%}）",
            "政府原因造成闲置，可选：" + GOVERNMENT_OPTIONS,
        ],
        "",
    )
    out["undetermined"] = (supplied & ~started & agreed.isna()).to_numpy()
    if landcover is not None:
        cover = class_cover(parcels, landcover, opts.evidence_classes)
        out["evidence_share"] = cover["share"].to_numpy()
        out["raster_coverage"] = cover["coverage"].to_numpy()
        recorded_started = started & (_column(parcels, "construction_status") != "已竣工")
        out["suspect_idle"] = (
            recorded_started
            & ~idle
            & (out["raster_coverage"] >= opts.min_raster_coverage)
            & (out["evidence_share"] < opts.suspect_below)
        ).to_numpy()
    return out


def class_cover(
    parcels: gpd.GeoDataFrame,
    raster: Raster,
    classes: Iterable[int],
    *,
    max_pairs: int = 5_000_000,
) -> pd.DataFrame:
    """Share of each parcel covered by raster cells of some classes, exactly area-weighted.

    Every cell of a listed class that meets a parcel's bounding box counts with
    the area it shares with the parcel, so parcels smaller than a cell, or
    cutting cells, get exact shares.  ``coverage`` is the share of the parcel
    that lies on valid (non-nodata) cells of the raster.

    Parameters
    ----------
    parcels : GeoDataFrame
        Polygons; reprojected to the raster's CRS for the computation.
    raster : Raster
        Single-band class raster, north-up.
    classes : iterable of int
        Class values to count.
    max_pairs : int
        Parcel × cell pairs handled per batch (bounds memory).

    Returns
    -------
    DataFrame
        ``share`` and ``coverage`` (0–1), aligned to the input index.
    """
    t = raster.transform
    if t.b != 0 or t.d != 0 or t.e >= 0:
        raise SchemaError("The land-cover raster must be north-up (no rotation); warp it first.")
    geoms = np.asarray(parcels.to_crs(raster.crs).geometry.array, dtype=object)
    shapely.prepare(geoms)
    height, width = raster.array.shape
    hit_mask = np.isin(raster.array, list(classes))
    invalid_mask = (
        raster.array == raster.nodata if raster.nodata is not None else np.zeros_like(hit_mask)
    )
    bounds = shapely.bounds(geoms)
    col0 = np.clip(np.floor((bounds[:, 0] - t.c) / t.a), 0, width).astype(int)
    col1 = np.clip(np.ceil((bounds[:, 2] - t.c) / t.a), 0, width).astype(int)
    row0 = np.clip(np.floor((bounds[:, 3] - t.f) / t.e), 0, height).astype(int)
    row1 = np.clip(np.ceil((bounds[:, 1] - t.f) / t.e), 0, height).astype(int)
    ncols, nrows = col1 - col0, row1 - row0
    counts = ncols * nrows
    area = shapely.area(geoms)
    hit_area = np.zeros(len(geoms))
    invalid_area = np.zeros(len(geoms))
    # Batches of parcels whose windows together hold at most max_pairs cells.
    batch = np.cumsum(counts) // max_pairs
    for b in np.unique(batch):
        idx = np.flatnonzero(batch == b)
        owner = np.repeat(idx, counts[idx])
        k = np.arange(len(owner)) - np.repeat(np.cumsum(counts[idx]) - counts[idx], counts[idx])
        r = row0[owner] + k // ncols[owner]
        c = col0[owner] + k % ncols[owner]
        for mask, total in ((hit_mask, hit_area), (invalid_mask, invalid_area)):
            sel = mask[r, c]
            if not sel.any():
                continue
            x0 = t.c + c[sel] * t.a
            y1 = t.f + r[sel] * t.e
            cells = shapely.box(x0, y1 + t.e, x0 + t.a, y1)
            # Cells wholly inside count fully; only boundary cells need an intersection.
            targets = geoms[owner[sel]]
            shared = np.full(len(cells), abs(t.a * t.e))
            edge = ~shapely.contains_properly(targets, cells)
            shared[edge] = shapely.area(shapely.intersection(targets[edge], cells[edge]))
            total += np.bincount(owner[sel], shared, minlength=len(geoms))
    extent = shapely.box(*rasterio.transform.array_bounds(height, width, t))
    inside = shapely.area(shapely.intersection(geoms, extent)) - invalid_area
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame(
            {"share": hit_area / area, "coverage": inside / area}, index=parcels.index
        )


def idle_summary(idle: pd.DataFrame) -> pd.DataFrame:
    """Idle land per park from :func:`find_idle`'s output, with the 合计 row last.

    Returns
    -------
    DataFrame
        ``park``, ``idle_parcels``, ``area_mu`` (idle), ``recover_parcels`` and
        ``recover_mu`` (to recover without compensation), ``idle_fee_wan``,
        ``gov_caused_parcels`` and ``suspect_parcels`` (recorded as started,
        no construction on the imagery).
    """
    flag = idle["idle"].eq(True)  # NA (undetermined) is not idle
    recover = flag & idle["recover_without_compensation"].eq(True)
    suspect = idle["suspect_idle"].eq(True) if "suspect_idle" in idle.columns else False & flag
    frame = pd.DataFrame(
        {
            "park": idle["park"] if "park" in idle.columns else "全部",
            "idle_parcels": flag.astype(int),
            "area_mu": idle["area_mu"].where(flag, 0.0),
            "recover_parcels": recover.astype(int),
            "recover_mu": idle["area_mu"].where(recover, 0.0),
            "idle_fee_wan": idle["idle_fee_wan"].where(flag, 0.0).fillna(0.0),
            "gov_caused_parcels": (flag & idle["gov_caused"].eq(True)).astype(int),
            "suspect_parcels": suspect.astype(int),
        },
        index=idle.index,
    )
    return sum_by(frame, "park")

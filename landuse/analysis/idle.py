"""Idle land (闲置土地) by the disposal rules (闲置土地处置办法, Ministry order No. 53, 2012).

A supplied parcel is idle as of a date when

- development has not started a full year after the start date agreed in the
  transfer contract or allocation decision (未动工开发满一年); or
- development started, but the developed area is under one third of the area
  to be developed **or** the investment made is under 25 % of the total, and
  development has been suspended for a full year (已动工但中止开发满一年).

Years are counted by the Civil Code (see :mod:`landuse.core.dates`): with an
agreed start of 2023-03-01 the land is idle from 2024-03-02.

Consequences when the idling is not the government's doing: idle ≥ 1 year →
idle-land fee of 20 % of the land price (土地闲置费); idle ≥ 2 years → the land
use right is recovered without compensation (无偿收回).  Government-caused
cases get the lawful disposal options instead.

After a government-caused extension (Art. 12) the clock restarts from the new
agreed start date (``new_agreed_start_date``).  Recovery of land whose
development was *suspended* for two years goes beyond Art. 14's wording
(未动工开发满两年): it is an interpretation, on by default and switched off with
``IdleOptions.recover_suspended``.

"Started" (动工开发, Art. 30) means, with a construction permit, the foundation
pit dug, all foundation piles driven, or one third of the foundation done.  A
recorded start date without such evidence (``start_evidence``) is flagged for
checking.  Investment (已投资额, 总投资额) excludes the land price and the taxes
paid to the state (Art. 30): figures that include it have ``land_price_wan``
subtracted, and each parcel says which rule gave its share.

:func:`procedure_status` follows each parcel through the disposal procedure
recorded in the ledger and gives the next step due, its deadline (30 days to
investigate after finding suspected idle land, Art. 5; 30 days to pay the fee
or hand back the land after service, Art. 17) and what is overdue.

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

from landuse.core.dates import day_period_end, full_years, parse_dates, period_complete_after
from landuse.core.errors import SchemaError
from landuse.core.labels import sum_by
from landuse.core.numbers import parse_amounts, parse_flags, parse_shares
from landuse.core.options import IdleOptions
from landuse.io import Raster

__all__ = [
    "EVIDENCE_TYPES",
    "GOVERNMENT_OPTIONS",
    "IDLE_REQUIRED",
    "PROCEDURE_STEPS",
    "IdleOptions",
    "class_cover",
    "find_idle",
    "idle_summary",
    "procedure_status",
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

#: Words in ``start_evidence`` → the Art. 30 evidence they name.  The first three
#: are the physical work that makes a project "started"; a permit alone is not.
EVIDENCE_TYPES: dict[str, str] = {
    "基坑": "基坑开挖完毕",
    "桩": "基础桩打入完毕",
    "地基": "地基施工完成三分之一",
    "施工许可": "施工许可证",
}
_PHYSICAL = ("基坑", "桩", "地基")


def _column(df: pd.DataFrame, name: str) -> pd.Series:
    return df[name] if name in df.columns else pd.Series(None, index=df.index, dtype=object)


def _refuse(parcels: pd.DataFrame, bad: pd.Series, what: str, fix: str) -> None:
    """Raise naming the parcels (地块编号) where ``bad`` holds."""
    if bad.any():
        ids = parcels.loc[bad.to_numpy(), "parcel_id"].astype(str)
        more = " ..." if len(ids) > 20 else ""
        raise SchemaError(
            f"parcels: {len(ids)} 宗地块 {what} (地块编号 {', '.join(ids[:20])}{more}); {fix}"
        )


def _evidence(parcels: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(physical evidence recorded, construction permit recorded) per parcel."""
    text = _column(parcels, "start_evidence").astype("string").str.strip().fillna("")
    found = {word: text.str.contains(word, regex=False) for word in EVIDENCE_TYPES}
    known = pd.concat(found, axis=1).any(axis=1)
    _refuse(
        parcels,
        (text != "") & ~known,
        "动工依据无法识别 start_evidence not recognised",
        f"write one of {', '.join(EVIDENCE_TYPES.values())} (several joined by 、).",
    )
    physical = pd.concat([found[w] for w in _PHYSICAL], axis=1).any(axis=1)
    return physical, found["施工许可"]


def _investment(
    parcels: pd.DataFrame, price: pd.Series, share: pd.Series
) -> tuple[pd.Series, pd.Series]:
    """Invested share as Art. 30 counts it (land price excluded) and the rule used."""
    src = "parcels"
    amount = {
        c: parse_amounts(_column(parcels, c), column=c, source=src)
        for c in (
            "invested_wan",
            "total_investment_wan",
            "invested_incl_land_wan",
            "total_investment_incl_land_wan",
        )
    }
    gross_inv = amount["invested_incl_land_wan"].notna() & amount["invested_wan"].isna()
    gross_tot = (
        amount["total_investment_incl_land_wan"].notna() & amount["total_investment_wan"].isna()
    )
    invested = amount["invested_wan"].fillna(amount["invested_incl_land_wan"] - price)
    total = amount["total_investment_wan"].fillna(amount["total_investment_incl_land_wan"] - price)
    both = invested.notna() & total.notna()
    _refuse(
        parcels,
        both & (total <= 0),
        "总投资额扣除土地价款后不大于零 total investment without the land price is not positive",
        "check 总投资 and 出让价款, or map a figure that excludes the land price to "
        "total_investment_wan in [layers.parcels.fields].",
    )
    _refuse(
        parcels,
        both & (invested < 0),
        "已投资额小于出让价款 invested less than the land price it is said to include",
        "check 已投资额 and 出让价款, or map a figure that excludes the land price to "
        "invested_wan in [layers.parcels.fields].",
    )
    num = np.where(gross_inv, "(已投资额−出让价款)", "已投资额")
    den = np.where(gross_tot, "(总投资额−出让价款)", "总投资额")
    from_amounts = np.char.add(
        np.char.add(num, "÷"), np.char.add(den, "（不含土地价款，第三十条）")
    )
    lacking_price = (gross_inv | gross_tot) & price.isna() & ~both
    rule = np.select(
        [both, lacking_price & share.notna(), lacking_price, share.notna()],
        [
            from_amounts,
            "投资额含土地价款但缺出让价款，未能扣除；按已投资比例（表中填报）",
            "投资额含土地价款但缺出让价款，未能扣除；无法判定投资比例",
            "已投资比例（表中填报）",
        ],
        "",
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        used = (invested / total).where(both, share)
    return used, pd.Series(rule, index=parcels.index)


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
        and, where known, ``new_agreed_start_date`` (after a government-caused
        extension), ``supply_status``, ``actual_start_date``,
        ``start_evidence``, ``developed_share``, ``invested_share``,
        ``invested_wan`` / ``total_investment_wan`` (without the land price),
        ``invested_incl_land_wan`` / ``total_investment_incl_land_wan`` (with
        it), ``suspended_since``, ``gov_caused``, ``land_price_wan``,
        ``construction_status``.  Dates and numbers may be text as bureaus
        write them.
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
        ``idle_type``, ``clock_start`` (the date the year is counted from) and
        ``clock_basis`` (which date that is), ``idle_since``, ``idle_days``,
        ``idle_years``, ``gov_caused``, ``investment_share`` and
        ``investment_rule`` (the share the 25 % test used and how it was
        obtained), ``idle_fee_wan``, ``recover_without_compensation``,
        ``consequence``, ``undetermined`` (supplied but lacking the dates to
        judge), ``start_unverified`` and ``start_check`` (a recorded start
        without the Art. 30 evidence, when the layer has ``start_evidence``);
        with a raster also ``evidence_share``, ``raster_coverage`` and
        ``suspect_idle``.
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
    new_agreed = parse_dates(
        _column(parcels, "new_agreed_start_date"), column="new_agreed_start_date", source=src
    )
    _refuse(
        parcels,
        new_agreed < agreed,
        "新约定动工日期早于原约定动工日期 new agreed start before the agreed start",
        "an extension moves the start date later; correct one of the two dates.",
    )
    actual = parse_dates(
        _column(parcels, "actual_start_date"), column="actual_start_date", source=src
    )
    suspended = parse_dates(
        _column(parcels, "suspended_since"), column="suspended_since", source=src
    )
    developed = parse_shares(
        _column(parcels, "developed_share"), column="developed_share", source=src
    )
    share = parse_shares(_column(parcels, "invested_share"), column="invested_share", source=src)
    gov = parse_flags(_column(parcels, "gov_caused"), column="gov_caused", source=src)
    price = parse_amounts(_column(parcels, "land_price_wan"), column="land_price_wan", source=src)
    invested, investment_rule = _investment(parcels, price, share)
    supplied = (
        parcels["supply_status"].isin(opts.supplied_status)
        if "supply_status" in parcels.columns
        else pd.Series(True, index=parcels.index)
    )

    started = actual.notna() & (actual <= day)
    short = (developed < opts.developed_threshold) | (invested < opts.invested_threshold)
    stopped = started & short & suspended.notna() & (suspended <= day)
    # A government-caused extension restarts the clock from the new agreed date (Art. 12).
    start_from = new_agreed.fillna(agreed)
    waiting = supplied & ~started & start_from.notna()
    clock = start_from.where(waiting, suspended.where(supplied & stopped))
    years = full_years(clock, day)
    idle = (years >= 1).fillna(False).astype(bool)
    # Art. 14 names only land not started; recovering suspended land is our reading of it.
    recover = idle & ~gov & (years >= 2) & (waiting | opts.recover_suspended)
    fee_due = idle & ~gov & ~recover  # one consequence per parcel: the fee, or recovery
    fee_text = f"征缴土地闲置费（出让或划拨价款的{opts.fee_rate:.0%}）"

    out = parcels.copy()
    out["idle"] = idle.to_numpy()
    out["idle_type"] = np.where(idle & waiting, NOT_STARTED, np.where(idle, SUSPENDED, ""))
    out["clock_start"] = clock.where(idle)
    out["clock_basis"] = np.where(
        ~idle,
        "",
        np.where(
            waiting & new_agreed.notna(),
            "新约定动工日期（政府原因延期后重新起算）",
            np.where(waiting, "约定动工日期", "停工日期"),
        ),
    )
    out["idle_since"] = period_complete_after(clock, 1).where(idle)
    out["idle_days"] = (day - clock).dt.days.where(idle)
    out["idle_years"] = years.where(idle)
    out["gov_caused"] = gov.to_numpy()
    out["investment_share"] = invested.to_numpy()
    out["investment_rule"] = investment_rule.to_numpy()
    out["idle_fee_wan"] = (price * opts.fee_rate).where(fee_due)
    out["recover_without_compensation"] = recover.to_numpy()
    out["consequence"] = np.select(
        [recover & waiting, recover, fee_due & (years >= 2), fee_due, idle & gov],
        [
            "无偿收回国有建设用地使用权（闲置满两年）",
            "无偿收回国有建设用地使用权（中止开发满两年；第十四条只写未动工开发满两年，属解释适用）",
            fee_text + "（中止开发满两年：第十四条未规定收回，本项目设置不按收回处理）",
            fee_text,
            "政府原因造成闲置，可选：" + GOVERNMENT_OPTIONS,
        ],
        "",
    )
    out["undetermined"] = (supplied & ~started & agreed.isna()).to_numpy()
    done = _column(parcels, "construction_status") == "已竣工"
    recorded_started = started & ~done
    check = np.full(len(parcels), "", dtype=object)
    if "start_evidence" in parcels.columns:
        physical, permit = _evidence(parcels)
        unverified = recorded_started & ~physical
        why = np.where(
            permit,
            "仅有施工许可证，未见基坑开挖、基础桩或地基施工证明（第三十条），需核查",
            "有实际动工日期但未登记动工依据（第三十条），需核查",
        )
        check = np.where(unverified, why, check)
        out["start_unverified"] = unverified.to_numpy()
    if landcover is not None:
        cover = class_cover(parcels, landcover, opts.evidence_classes)
        out["evidence_share"] = cover["share"].to_numpy()
        out["raster_coverage"] = cover["coverage"].to_numpy()
        judged = cover["coverage"] >= opts.min_raster_coverage
        bare = judged & (cover["share"] < opts.suspect_below)
        out["suspect_idle"] = (recorded_started & ~idle & bare).to_numpy()
        if "start_evidence" in parcels.columns:
            # The register's evidence against the ground: each says what the other shows.
            seen = np.where(bare, "；影像亦无建设迹象", np.where(judged, "；影像有建设迹象", ""))
            check = np.where(unverified, check + seen, check)
            check = np.where(
                recorded_started & physical & bare,
                "登记有动工依据但影像无建设迹象，需实地核查",
                check,
            )
    if "start_evidence" in parcels.columns:
        out["start_check"] = check
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


#: The disposal procedure of Order No. 53 as ledger events (事项), in order.  认定闲置
#: counts as the determination (认定书) where no 认定书 row is recorded.
PROCEDURE_STEPS: tuple[str, ...] = (
    "发现疑似闲置",
    "调查通知",
    "认定书",
    "公示",
    "听证告知",
    "处置决定",
    "决定书送达",
    "缴纳闲置费",
    "交回土地",
    "注销登记",
    "处置完成",
)
_FEE = {"征缴闲置费"}
_RECOVERY = {"无偿收回", "收回"}


def _latest(entries: pd.DataFrame, event: str | tuple[str, ...], column: str) -> pd.Series:
    """Per parcel, ``column`` of its latest row of ``event`` (of the first event listed it has)."""
    events = (event,) if isinstance(event, str) else event
    rows = entries[entries["event"].isin(events)].assign(
        rank=lambda d: d["event"].map({e: -i for i, e in enumerate(events)})
    )
    rows = rows.sort_values(["rank", "event_date", "entry_order"]).drop_duplicates(
        "parcel_id", keep="last"
    )
    return rows.set_index("parcel_id")[column]


def procedure_status(
    entries: pd.DataFrame,
    as_of: str | pd.Timestamp,
    *,
    idle: pd.DataFrame | None = None,
    options: IdleOptions | None = None,
) -> pd.DataFrame:
    """Where each parcel stands in the disposal procedure, the next step and its deadline.

    The steps are :data:`PROCEDURE_STEPS`.  Deadlines in days (Art. 5: the
    investigation notice within ``investigation_days`` of finding suspected
    idle land; Art. 17: the fee paid, or the land handed back, within
    ``payment_days`` of service of the decision) are counted by the Civil
    Code: the first day is not counted, and a last day on a statutory rest
    day moves to the next working day (Art. 203, ``holiday_rollover``).  A
    step done after its deadline is listed in ``late_steps``; a step missing
    before a later one that the order requires first (the investigation
    before the determination, the hearing notice before a fee or recovery
    decision, Art. 15) in ``issues``.

    Parameters
    ----------
    entries : DataFrame
        Effective ledger rows (``Ledger.entries(effective=True)``): ``parcel_id``,
        ``event``, ``method``, ``event_date``, ``amount_wan`` and ``doc_no``
        (文号; optional).  Rows after ``as_of`` are not yet known and ignored.
    as_of : str or Timestamp
        The day judged for.
    idle : DataFrame, optional
        :func:`find_idle`'s result for the same day: parcels it finds idle that
        the ledger does not know are listed (next step: the investigation),
        and government-caused parcels need no hearing notice.
    options : IdleOptions, optional
        ``investigation_days``, ``payment_days``, ``holiday_rollover``.

    Returns
    -------
    DataFrame
        One row per parcel: the dates of each step (``found_date``,
        ``notice_date``, ``determination_date``, ``published_date``,
        ``hearing_date``, ``decision_date``, ``served_date``, ``paid_date``,
        ``returned_date``, ``deregistered_date``, ``completed_date``),
        ``determination_no`` / ``decision_no`` (认定书文号, 决定书文号),
        ``decision_method``, ``paid_wan``, ``last_step``, ``next_step``,
        ``deadline``, ``days_to_deadline`` (negative when overdue), ``overdue``,
        ``deadline_basis`` (the article the deadline comes from), ``late_steps`` and
        ``issues``.

    Examples
    --------
    >>> e = pd.DataFrame({"parcel_id": ["A", "A"], "event": ["处置决定", "决定书送达"],
    ...                   "method": ["征缴闲置费", None],
    ...                   "event_date": ["2025-03-01", "2025-03-03"]})
    >>> r = procedure_status(e, "2025-04-03").iloc[0]
    >>> r["next_step"], str(r["deadline"].date()), bool(r["overdue"])
    ('缴纳闲置费', '2025-04-02', True)
    """
    opts = options or IdleOptions()
    day = pd.Timestamp(as_of).normalize()
    e = entries.reset_index(drop=True).assign(entry_order=lambda d: np.arange(len(d)))
    for col in ("method", "amount_wan", "doc_no"):
        if col not in e.columns:
            e[col] = None
    e["parcel_id"] = e["parcel_id"].astype(str)
    e["event_date"] = parse_dates(e["event_date"], column="event_date", source="ledger")
    e = e[(e["event_date"] <= day) & e["event"].isin([*PROCEDURE_STEPS, "认定闲置"])]
    ids: pd.Index = pd.Index(pd.unique(e["parcel_id"]), dtype=object)
    idle_ids: pd.Index = pd.Index([], dtype=object)
    gov = pd.Series(dtype=bool)
    if idle is not None:
        flagged = idle[idle["idle"].astype(bool)]
        idle_ids = pd.Index(flagged["parcel_id"].astype(str)).difference(ids)
        gov = pd.Series(flagged["gov_caused"].to_numpy(), index=flagged["parcel_id"].astype(str))
    ids = ids.append(idle_ids)
    t = pd.DataFrame(index=ids.rename("parcel_id"))

    def date_of(event: str | tuple[str, ...]) -> pd.Series:
        return _latest(e, event, "event_date").reindex(ids)

    names = {
        "found_date": "发现疑似闲置",
        "notice_date": "调查通知",
        "published_date": "公示",
        "hearing_date": "听证告知",
        "decision_date": "处置决定",
        "served_date": "决定书送达",
        "paid_date": "缴纳闲置费",
        "returned_date": "交回土地",
        "deregistered_date": "注销登记",
        "completed_date": "处置完成",
    }
    for col, event in names.items():
        t[col] = date_of(event)
    determination: tuple[str, ...] = ("认定书", "认定闲置")
    t["determination_date"] = date_of(determination)
    t["determination_no"] = _latest(e, determination, "doc_no").reindex(ids)
    t["decision_no"] = _latest(e, "处置决定", "doc_no").reindex(ids)
    t["decision_method"] = _latest(e, "处置决定", "method").reindex(ids)
    paid = e[e["event"] == "缴纳闲置费"].groupby("parcel_id")["amount_wan"].sum(min_count=1)
    t["paid_wan"] = paid.reindex(ids)

    method = t["decision_method"]
    fee, recovery = method.isin(_FEE), method.isin(_RECOVERY)
    done = {col: t[col].notna() for col in (*names, "determination_date")}
    # Fee and recovery decisions need the hearing notice first (Art. 15); government-
    # caused land goes to its own disposal and needs none.
    hearing_due = ~gov.reindex(ids).fillna(False).astype(bool).to_numpy()
    # The furthest step recorded decides what comes next.
    conditions = [
        done["completed_date"],
        recovery & done["returned_date"] & done["deregistered_date"],
        recovery & done["returned_date"],
        recovery & done["served_date"],
        fee & done["paid_date"],
        fee & done["served_date"],
        (fee | recovery) & done["decision_date"],
        done["decision_date"],
        done["hearing_date"],
        done["published_date"] & hearing_due,
        done["published_date"],
        done["determination_date"],
        done["notice_date"],
    ]
    next_step = np.select(
        conditions,
        [
            "",
            "处置完成",
            "注销登记",
            "交回土地",
            "处置完成",
            "缴纳闲置费",
            "决定书送达",
            "处置完成",
            "处置决定",
            "听证告知",
            "处置决定",
            "公示",
            "认定书",
        ],
        "调查通知",
    )
    t["last_step"] = np.select(
        conditions,
        [
            "处置完成",
            "注销登记",
            "交回土地",
            "决定书送达",
            "缴纳闲置费",
            "决定书送达",
            "处置决定",
            "处置决定",
            "听证告知",
            "公示",
            "公示",
            "认定书",
            "调查通知",
        ],
        np.where(done["found_date"], "发现疑似闲置", ""),
    )
    t["next_step"] = next_step

    def limit(start: pd.Series, days: int) -> tuple[pd.Series, pd.Series]:
        return day_period_end(start, days, rollover=opts.holiday_rollover)

    notice_end, notice_unknown = limit(t["found_date"], opts.investigation_days)
    pay_end, pay_unknown = limit(t["served_date"], opts.payment_days)
    investigating = next_step == "调查通知"
    paying = np.isin(next_step, ["缴纳闲置费", "交回土地"])
    t["deadline"] = notice_end.where(investigating, pay_end.where(paying))
    t["days_to_deadline"] = (t["deadline"] - day).dt.days
    t["overdue"] = (t["deadline"] < day).to_numpy()
    unknown = (notice_unknown & investigating) | (pay_unknown & paying)
    n_inv, n_pay = opts.investigation_days, opts.payment_days
    basis = np.select(
        [
            investigating & done["found_date"].to_numpy(),
            investigating,
            next_step == "缴纳闲置费",
            next_step == "交回土地",
            next_step == "听证告知",
        ],
        [
            f"第五条：发现疑似闲置之日起{n_inv}日内发出调查通知书",
            f"第五条：自发现之日起{n_inv}日内调查；台账未登记发现疑似闲置日期，无法计算期限",
            f"第十七条：决定书送达之日起{n_pay}日内缴纳土地闲置费",
            f"第十七条：决定书送达之日起{n_pay}日内办理注销登记、交回土地权利证书；"
            "逾期由原登记机关公告注销（第十八条）",
            "第十五条：作出征缴土地闲置费、收回决定前告知听证权利",
        ],
        "",
    )
    years = t["deadline"].dt.year.astype("Int64").astype(str)
    t["deadline_basis"] = np.where(
        unknown, basis + "（" + years + "年节假日安排未收录，仅按周末顺延）", basis
    )
    late = [
        (t["notice_date"] - notice_end, f"调查通知逾期{{}}天（第五条，{n_inv}日）"),
        (t["paid_date"] - pay_end, f"缴纳闲置费逾期{{}}天（第十七条，{n_pay}日）"),
        (t["returned_date"] - pay_end, f"交回土地逾期{{}}天（第十七条，{n_pay}日）"),
    ]
    t["late_steps"] = _joined(
        [(gap.dt.days > 0, gap.dt.days, text) for gap, text in late], index=t.index
    )
    skipped = [
        (
            done["determination_date"] & ~done["notice_date"],
            "认定前未登记调查通知（第五条）",
        ),
        (
            (fee | recovery) & done["decision_date"] & ~done["hearing_date"],
            "处置决定前未登记听证告知（第十五条）",
        ),
        (
            pd.Series(t.index.isin(idle_ids), index=t.index),
            "判定为闲置但台账无记录：请登记发现疑似闲置日期并开展调查",
        ),
    ]
    t["issues"] = _joined([(mask, None, text) for mask, text in skipped], index=t.index)
    return t[list(_PROCEDURE_COLUMNS)].reset_index()


_PROCEDURE_COLUMNS = (
    "found_date",
    "notice_date",
    "determination_date",
    "determination_no",
    "published_date",
    "hearing_date",
    "decision_date",
    "decision_no",
    "decision_method",
    "served_date",
    "paid_date",
    "paid_wan",
    "returned_date",
    "deregistered_date",
    "completed_date",
    "last_step",
    "next_step",
    "deadline",
    "days_to_deadline",
    "overdue",
    "deadline_basis",
    "late_steps",
    "issues",
)


def _joined(parts: list[tuple[pd.Series, pd.Series | None, str]], *, index: pd.Index) -> pd.Series:
    """Per row, the texts whose mask holds, joined by "；" (``{}`` filled from the values)."""
    out = pd.Series("", index=index, dtype=object)
    for mask, values, text in parts:
        hit = mask.fillna(False).astype(bool)
        if values is None:
            piece = pd.Series(text, index=index)
        else:
            piece = values.astype("Int64").astype(str).map(text.format)
        out = out.mask(hit, out.where(out == "", out + "；") + piece)
    return out


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

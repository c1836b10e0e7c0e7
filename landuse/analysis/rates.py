"""Disposal indicators: idle-land disposal rate, net reduction rate, 批而未供 disposal rate.

No ministry text gives formulas; these are landuse's defaults (DOMAIN.md),
all by area, for a period [start, end] (both days included):

- 闲置土地处置率 = idle land disposed in the period
  / (idle stock at the start + idle land newly identified in the period)
- 闲置土地净减少率 = (idle stock at the start − idle stock at the end)
  / idle stock at the start
- 批而未供处置率 = approved-but-unsupplied land supplied in the period
  / approved-but-unsupplied stock at the start
- 盘活存量土地 = idle land disposed + approved-but-unsupplied land supplied
- 近五年平均供地率 = land approved in the last five approval years and
  supplied by the end of the period / land approved in those years (a national
  floor of 60 %)

The stock at the start is the stock at the end of the day before ``start``.
Assessments fix stocks by approval year (the land approved 2009–2018 reported
apart from later years): :func:`approved_within` selects such a window, and
a *cumulative* count runs from the window's first day to the period's end.
批而未供 is also counted per approval batch (批次, :func:`unsupplied_batches`).
Every figure is returned with the formula that produced it, so reports can
print it underneath.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from landuse.core.dates import parse_dates
from landuse.core.errors import SchemaError

__all__ = [
    "FORMULAS",
    "approved_within",
    "disposal_rates",
    "idle_periods",
    "supply_rates",
    "unsupplied_batches",
    "unsupplied_rates",
]

FORMULAS: dict[str, str] = {
    "disposal_rate": (
        "闲置土地处置率 = 期内处置闲置土地面积 ÷ (期初闲置土地存量 + 期内新认定闲置土地面积)"
    ),
    "net_reduction_rate": (
        "闲置土地净减少率 = (期初闲置土地存量 − 期末闲置土地存量) ÷ 期初闲置土地存量"
    ),
    "unsupplied_rate": "批而未供处置率 = 期内供应的批而未供土地面积 ÷ 期初批而未供土地存量",
    "revitalised_mu": "盘活存量土地 = 期内处置闲置土地面积 + 期内供应的批而未供土地面积",
    "unsupplied_rate_cumulative": (
        "批而未供处置率（累计）= 窗口起日至期末供应面积 ÷ 窗口内批准且起日前未供的土地面积"
    ),
    "approval_window": "批准年度窗口：只计批准日期在窗口内（含首尾两日）的土地",
    "supply_rate": (
        "近五年平均供地率 = 近五个批准年度批准的土地中至统计期末已供应面积 ÷ 近五个批准年度批准面积"
    ),
    "unsupplied_batches": (
        "批次计数：期初批而未供批次 = 期初尚有批而未供土地的批准批次；"
        "处置完毕批次 = 其中期末已无批而未供土地的批次"
    ),
}


def idle_periods(entries: pd.DataFrame) -> pd.DataFrame:
    """One row per parcel: when it was identified idle, when disposed, and its area.

    Parameters
    ----------
    entries : DataFrame
        Effective ledger rows (``Ledger.entries(effective=True)``).

    Returns
    -------
    DataFrame
        ``parcel_id``, ``identified`` (first 认定闲置 date), ``disposed`` (first
        处置完成 date on or after it, NaT if none), ``method``, ``area_mu``
        (area of the 认定闲置 row; the 处置完成 row's area when that one has none).
    """
    e = entries.assign(event_date=parse_dates(entries["event_date"], column="event_date"))
    ident = (
        e[e["event"] == "认定闲置"]
        .sort_values("event_date")
        .drop_duplicates("parcel_id")[["parcel_id", "event_date", "area_mu"]]
        .rename(columns={"event_date": "identified"})
    )
    done = (
        e[e["event"] == "处置完成"]
        .sort_values("event_date")
        .drop_duplicates("parcel_id")[["parcel_id", "event_date", "method", "area_mu"]]
        .rename(columns={"event_date": "disposed", "area_mu": "disposed_mu"})
    )
    out = ident.merge(done, on="parcel_id", how="left")
    out["area_mu"] = out["area_mu"].fillna(out["disposed_mu"])
    if out["area_mu"].isna().any():
        ids = ", ".join(out.loc[out["area_mu"].isna(), "parcel_id"].head(20))
        raise SchemaError(f"Ledger rows for {ids} give no 面积（亩）; add it to the 认定闲置 row.")
    early = out["disposed"] < out["identified"]
    if early.any():
        ids = ", ".join(out.loc[early, "parcel_id"].head(20))
        raise SchemaError(
            f"Ledger: {ids} disposed before being identified idle; correct the dates."
        )
    return out.drop(columns="disposed_mu").reset_index(drop=True)


def _grouped(frame: pd.DataFrame, rows: pd.DataFrame, groups: pd.Series | None) -> pd.DataFrame:
    """Sum ``frame`` per group of each row's parcel (plus a 合计 row), or overall."""
    if groups is None:
        return frame.groupby(pd.Series("合计", index=frame.index)).sum()
    table = frame.groupby(rows["parcel_id"].map(groups).fillna("未匹配地块")).sum()
    table.loc["合计"] = frame.sum()
    return table


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    with np.errstate(invalid="ignore", divide="ignore"):
        return (num / den).where(den > 0)


def disposal_rates(
    periods: pd.DataFrame,
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    *,
    groups: pd.Series | None = None,
) -> pd.DataFrame:
    """Idle-land disposal figures for a period, overall or per group.

    Parameters
    ----------
    periods : DataFrame
        From :func:`idle_periods`.
    start, end : str or Timestamp
        First and last day of the period.
    groups : Series, optional
        parcel_id → group (park, county); a 合计 row is always added.

    Returns
    -------
    DataFrame
        Per group: ``stock_start_mu``, ``identified_mu``, ``disposed_mu``,
        ``stock_end_mu``, ``disposal_rate``, ``net_reduction_rate``.
    """
    t0, t1 = pd.Timestamp(start), pd.Timestamp(end)
    if t1 < t0:
        raise SchemaError(f"The period ends ({t1.date()}) before it starts ({t0.date()}).")
    p = periods
    ident, disp, area = p["identified"], p["disposed"], p["area_mu"]

    def stock_at(day: pd.Timestamp) -> pd.Series:
        return area.where((ident <= day) & ~(disp <= day), 0.0)

    frame = pd.DataFrame(
        {
            "stock_start_mu": stock_at(t0 - pd.Timedelta(days=1)),
            "identified_mu": area.where(ident.between(t0, t1), 0.0),
            "disposed_mu": area.where(disp.between(t0, t1), 0.0),
            "stock_end_mu": stock_at(t1),
        }
    )
    table = _grouped(frame, p, groups)
    table["disposal_rate"] = _ratio(
        table["disposed_mu"], table["stock_start_mu"] + table["identified_mu"]
    )
    table["net_reduction_rate"] = _ratio(
        table["stock_start_mu"] - table["stock_end_mu"], table["stock_start_mu"]
    )
    return table.rename_axis("group").reset_index()


def _approval_and_supply(parcels: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    missing = [c for c in ("approval_date", "supply_date") if c not in parcels.columns]
    if missing:
        raise SchemaError(
            f"Layer 'parcels' lacks {', '.join(missing)} for the 批而未供 figures; map them in "
            'landuse.toml (e.g. approval_date = "批准日期", supply_date = "供地日期").'
        )
    approved = parse_dates(parcels["approval_date"], column="approval_date", source="parcels")
    supplied = parse_dates(parcels["supply_date"], column="supply_date", source="parcels")
    return approved, supplied


def _unsupplied_stock(
    approved: pd.Series, supplied: pd.Series, t0: pd.Timestamp, t1: pd.Timestamp, cumulative: bool
) -> tuple[pd.Series, pd.Series]:
    """(in the 批而未供 stock counted, supplied within [t0, t1]) per parcel."""
    # The stock at the start; counted cumulatively, also land approved since the start.
    in_stock = (approved <= t1 if cumulative else approved < t0) & ~(supplied < t0)
    return in_stock, in_stock & supplied.between(t0, t1)


def approved_within(
    parcels: pd.DataFrame,
    first: str | dt.date | pd.Timestamp | None,
    last: str | dt.date | pd.Timestamp | None,
) -> pd.Series:
    """Parcels approved (``approval_date``) in the window ``[first, last]`` (None: open).

    Parcels without an approval date fall outside any window.

    Examples
    --------
    >>> p = pd.DataFrame({"approval_date": ["2009-01-01", "2018-12-31", "2019-01-01", ""]})
    >>> approved_within(p, "2009-01-01", "2018-12-31").tolist()
    [True, True, False, False]
    """
    approved = parse_dates(parcels["approval_date"], column="approval_date", source="parcels")
    lo = approved >= pd.Timestamp(first) if first is not None else approved.notna()
    hi = approved <= pd.Timestamp(last) if last is not None else approved.notna()
    return lo & hi


def unsupplied_rates(
    parcels: pd.DataFrame,
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    *,
    groups: pd.Series | None = None,
    cumulative: bool = False,
) -> pd.DataFrame:
    """批而未供 figures: approved land not yet supplied at the start, and how much was supplied.

    Parameters
    ----------
    parcels : DataFrame
        ``parcel_id``, ``approval_date``, ``supply_date`` (empty when not
        supplied) and ``area_mu``.
    start, end : str or Timestamp
        The period.
    groups : Series, optional
        parcel_id → group.
    cumulative : bool, default False
        Count from ``start`` (a window's first day) to ``end``: the stock is
        then every parcel approved by ``end`` and not supplied before ``start``.

    Returns
    -------
    DataFrame
        Per group: ``unsupplied_stock_mu``, ``unsupplied_supplied_mu``, ``unsupplied_rate``.
    """
    t0, t1 = pd.Timestamp(start), pd.Timestamp(end)
    approved, supplied = _approval_and_supply(parcels)
    in_stock, supplied_in_period = _unsupplied_stock(approved, supplied, t0, t1, cumulative)
    frame = pd.DataFrame(
        {
            "unsupplied_stock_mu": parcels["area_mu"].where(in_stock, 0.0),
            "unsupplied_supplied_mu": parcels["area_mu"].where(supplied_in_period, 0.0),
        }
    )
    table = _grouped(frame, parcels, groups)
    table["unsupplied_rate"] = _ratio(table["unsupplied_supplied_mu"], table["unsupplied_stock_mu"])
    return table.rename_axis("group").reset_index()


def unsupplied_batches(
    parcels: pd.DataFrame,
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    *,
    cumulative: bool = False,
) -> pd.DataFrame:
    """批而未供 per approval batch (批次): stock, land supplied and what is left.

    Parameters
    ----------
    parcels : DataFrame
        As for :func:`unsupplied_rates`, with ``approval_batch`` (批次名称 or 批次号).
    start, end : str or Timestamp
        The period.
    cumulative : bool, default False
        As for :func:`unsupplied_rates`.

    Returns
    -------
    DataFrame
        One row per batch with 批而未供 land in the stock (parcels without a
        batch together under ``未填批次``): ``approval_batch``,
        ``approval_date`` (the earliest of its parcels), ``parcels``,
        ``unsupplied_stock_mu``, ``unsupplied_supplied_mu``,
        ``unsupplied_end_mu``, ``unsupplied_rate`` and ``batch_status``
        (处置完毕, 部分处置 or 未处置).
    """
    t0, t1 = pd.Timestamp(start), pd.Timestamp(end)
    approved, supplied = _approval_and_supply(parcels)
    in_stock, supplied_in_period = _unsupplied_stock(approved, supplied, t0, t1, cumulative)
    batch = parcels["approval_batch"].astype("string").str.strip()
    batch = batch.mask(batch == "")
    frame = pd.DataFrame(
        {
            "approval_batch": batch.fillna("未填批次"),
            "approval_date": approved,
            "parcels": 1,
            "unsupplied_stock_mu": parcels["area_mu"],
            "unsupplied_supplied_mu": parcels["area_mu"].where(supplied_in_period, 0.0),
        }
    )[in_stock.to_numpy()]
    table = frame.groupby("approval_batch", sort=False).agg(
        approval_date=("approval_date", "min"),
        parcels=("parcels", "sum"),
        unsupplied_stock_mu=("unsupplied_stock_mu", "sum"),
        unsupplied_supplied_mu=("unsupplied_supplied_mu", "sum"),
    )
    table["unsupplied_end_mu"] = table["unsupplied_stock_mu"] - table["unsupplied_supplied_mu"]
    table["unsupplied_rate"] = _ratio(table["unsupplied_supplied_mu"], table["unsupplied_stock_mu"])
    table["batch_status"] = np.select(
        [table["unsupplied_supplied_mu"] <= 0, table["unsupplied_end_mu"] <= 1e-9],
        ["未处置", "处置完毕"],
        "部分处置",
    )
    return table.sort_values(["approval_date", "approval_batch"]).reset_index()


def supply_rates(parcels: pd.DataFrame, end: str | pd.Timestamp, *, years: int = 5) -> pd.DataFrame:
    """供地率 of the last ``years`` approval years: supplied by ``end`` ÷ approved.

    The years are the last ``years`` whole calendar years up to ``end`` (with
    an end on 31 December its own year counts).  Land supplied after ``end``
    counts as unsupplied; parcels without an approval date are not counted.

    Parameters
    ----------
    parcels : DataFrame
        ``approval_date``, ``supply_date`` and ``area_mu``.
    end : str or Timestamp
        The day supply is counted to (the period's end).
    years : int, default 5
        Approval years counted.

    Returns
    -------
    DataFrame
        One row per approval year (``approval_year``, ``approved_mu``,
        ``supplied_mu``, ``supply_rate``) and a last row ``合计`` whose rate is
        the area-weighted 近五年平均供地率.
    """
    t1 = pd.Timestamp(end)
    approved, supplied = _approval_and_supply(parcels)
    last = t1.year if (t1.month, t1.day) == (12, 31) else t1.year - 1
    span = list(range(last - years + 1, last + 1))
    year = approved.dt.year
    counted = year.isin(span)
    frame = pd.DataFrame(
        {
            "approval_year": year[counted].astype(int).astype(str),
            "approved_mu": parcels["area_mu"][counted],
            "supplied_mu": parcels["area_mu"].where(supplied <= t1, 0.0)[counted],
        }
    )
    table = frame.groupby("approval_year").sum().reindex([str(y) for y in span], fill_value=0.0)
    table.loc["合计"] = table.sum()
    table["supply_rate"] = _ratio(table["supplied_mu"], table["approved_mu"])
    return table.rename_axis("approval_year").reset_index()

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

The stock at the start is the stock at the end of the day before ``start``.
Every figure is returned with the formula that produced it, so reports can
print it underneath.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from landuse.dates import parse_dates
from landuse.errors import SchemaError

__all__ = ["FORMULAS", "disposal_rates", "idle_periods", "unsupplied_rates"]

FORMULAS: dict[str, str] = {
    "disposal_rate": (
        "闲置土地处置率 = 期内处置闲置土地面积 ÷ (期初闲置土地存量 + 期内新认定闲置土地面积)"
    ),
    "net_reduction_rate": (
        "闲置土地净减少率 = (期初闲置土地存量 − 期末闲置土地存量) ÷ 期初闲置土地存量"
    ),
    "unsupplied_rate": "批而未供处置率 = 期内供应的批而未供土地面积 ÷ 期初批而未供土地存量",
    "revitalised_mu": "盘活存量土地 = 期内处置闲置土地面积 + 期内供应的批而未供土地面积",
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


def unsupplied_rates(
    parcels: pd.DataFrame,
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    *,
    groups: pd.Series | None = None,
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

    Returns
    -------
    DataFrame
        Per group: ``unsupplied_stock_mu``, ``unsupplied_supplied_mu``, ``unsupplied_rate``.
    """
    t0, t1 = pd.Timestamp(start), pd.Timestamp(end)
    approved = parse_dates(parcels["approval_date"], column="approval_date", source="parcels")
    supplied = parse_dates(parcels["supply_date"], column="supply_date", source="parcels")
    in_stock = (approved < t0) & ~(supplied < t0)
    frame = pd.DataFrame(
        {
            "unsupplied_stock_mu": parcels["area_mu"].where(in_stock, 0.0),
            "unsupplied_supplied_mu": parcels["area_mu"].where(
                in_stock & supplied.between(t0, t1), 0.0
            ),
        }
    )
    table = _grouped(frame, parcels, groups)
    table["unsupplied_rate"] = _ratio(table["unsupplied_supplied_mu"], table["unsupplied_stock_mu"])
    return table.rename_axis("group").reset_index()

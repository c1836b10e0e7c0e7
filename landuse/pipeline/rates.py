"""Disposal, supply and 批而未供 rates as a step, from the ledger and the parcels."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Literal

import pandas as pd

from landuse.analysis.rates import (
    FORMULAS,
    approved_within,
    disposal_rates,
    idle_periods,
    supply_rates,
    unsupplied_batches,
    unsupplied_rates,
)
from landuse.core.crs import with_areas
from landuse.core.errors import ConfigError
from landuse.core.labels import TOTAL, labelled
from landuse.core.options import parse_day
from landuse.io import ProjectData, write_table
from landuse.io.postgis import is_database_url
from landuse.ledger import Ledger
from landuse.outputs.sheets import Sheet
from landuse.pipeline.ledger import project_ledger
from landuse.pipeline.result import StepResult
from landuse.pipeline.step import Results, Step


def _period(data: ProjectData, start: str | None, end: str | None) -> tuple[str, str]:
    """The period as ISO days: ``--from``/``--to`` where given, else ``[rates] period``."""
    period = data.project.options.rates.period
    first = parse_day(start, what="--from") if start else (period[0] if period else None)
    last = parse_day(end, what="--to") if end else (period[1] if period else None)
    if first is None or last is None:
        raise ConfigError("Give the period: --from 2025-01-01 --to 2025-12-31 or [rates] period.")
    if first > last:
        raise ConfigError(f"The period starts ({first}) after it ends ({last}); swap the dates.")
    return first.isoformat(), last.isoformat()


def _approval_bound(value: str | None, *, last: bool, what: str) -> dt.date | None:
    """A window bound: a year (2009 → 2009-01-01, or 2018-12-31 as the last) or a day."""
    if value is None:
        return None
    text = str(value).strip()
    if re.fullmatch(r"\d{4}", text):
        return dt.date(int(text), 12, 31) if last else dt.date(int(text), 1, 1)
    return parse_day(text, what=what)


def _window(
    data: ProjectData, first: str | None, last: str | None
) -> tuple[dt.date | None, dt.date | None]:
    """The approval-year window: ``--approved-from``/``--approved-to``, else ``[rates]``."""
    options = data.project.options.rates
    lo = _approval_bound(first, last=False, what="--approved-from") or options.approved_from
    hi = _approval_bound(last, last=True, what="--approved-to") or options.approved_to
    if lo is not None and hi is not None and lo > hi:
        raise ConfigError(
            f"The approval window starts ({lo}) after it ends ({hi}); swap --approved-from "
            "and --approved-to."
        )
    return lo, hi


def run_rates(
    data: ProjectData,
    out_dir: Path,
    *,
    ledger: Ledger,
    start: str | None = None,
    end: str | None = None,
    by: Literal["park", "county"] | None = None,
    approved_from: str | None = None,
    approved_to: str | None = None,
    cumulative: bool | None = None,
) -> StepResult:
    """Disposal rates for a period by park (or county) from the ledger and the parcels.

    An approval window (``approved_from``/``approved_to``: years or days) counts
    only land approved in it; ``cumulative`` counts from the window's first
    day to the period's end.  Also 近五年平均供地率 and, when the parcels carry
    ``approval_batch``, 批而未供 per batch.
    """
    res = StepResult(out_dir)
    options = data.project.options.rates
    start, end = _period(data, start, end)
    lo, hi = _window(data, approved_from, approved_to)
    cumulative = options.cumulative if cumulative is None else cumulative
    if cumulative:
        if lo is None:
            raise ConfigError(
                "--cumulative counts from the approval window's first day: add "
                "--approved-from 2009 (or [rates] approved_from)."
            )
        if lo.isoformat() > end:
            raise ConfigError(f"The approval window starts ({lo}) after the period ends ({end}).")
        start = lo.isoformat()
    by = by or options.by
    parcels = with_areas(data.layer("parcels"), data.crs)
    windowed = lo is not None or hi is not None
    inside = approved_within(parcels, lo, hi) if windowed else pd.Series(True, parcels.index)
    stock = parcels[inside.to_numpy()]
    groups = parcels.set_index("parcel_id")["park"] if by == "park" else None
    if ledger.path is not None and ledger.path.parent == out_dir:  # built from ledger_import
        res.files.append(ledger.path)
    periods = idle_periods(ledger.entries(effective=True))
    if windowed:
        periods = periods[periods["parcel_id"].isin(stock["parcel_id"].astype(str))]
    idle = disposal_rates(periods, start, end, groups=groups)
    res.results["period"] = (str(pd.Timestamp(start).date()), str(pd.Timestamp(end).date()))
    res.results["trend"] = disposal_trend(ledger, pd.Timestamp(end).year, periods=periods)
    table = idle.merge(
        unsupplied_rates(stock, start, end, groups=groups, cumulative=cumulative),
        on="group",
        how="outer",
    )
    table["revitalised_mu"] = table["disposed_mu"].fillna(0) + table[
        "unsupplied_supplied_mu"
    ].fillna(0)
    total_row = table["group"].eq(TOTAL)  # the outer merge sorts 合计 among the parks
    table = pd.concat([table[~total_row], table[total_row]], ignore_index=True)
    res.files.append(write_table(labelled(table), out_dir / "disposal_rates.csv"))
    res.results["rates"] = table
    total = table.set_index("group").loc["合计"]
    period = f"{pd.Timestamp(start).date()} 至 {pd.Timestamp(end).date()}"
    if windowed:
        span = f"{lo or '最早'} 至 {hi or '最近'}"
        period += f"（{'累计，' if cumulative else ''}批准日期 {span} 的存量土地）"
    unsupplied_key = "unsupplied_rate_cumulative" if cumulative else "unsupplied_rate"
    res.lines += [
        f"{period}：盘活存量土地 {total['revitalised_mu']:,.1f} 亩，处置闲置土地 "
        f"{total['disposed_mu']:,.1f} 亩，处置率 {total['disposal_rate']:.2%}，"
        f"净减少率 {total['net_reduction_rate']:.2%}；批而未供处置率 "
        f"{total['unsupplied_rate']:.2%}",
        *(
            f"  {FORMULAS[k]}"
            for k in ("disposal_rate", "net_reduction_rate", unsupplied_key, "revitalised_mu")
        ),
    ]
    if windowed:
        outside = len(parcels) - len(stock)
        res.lines.append(
            f"  {FORMULAS['approval_window']}（窗口外或无批准日期的地块 {outside} 宗未计入）"
        )
    res.lines += _supply_lines(res, parcels, end, options.supply_years, options.supply_rate_floor)
    if "approval_batch" in parcels.columns:
        res.lines += _batch_lines(res, stock, start, end, cumulative=cumulative)
    return res


def _supply_lines(
    res: StepResult, parcels: pd.DataFrame, end: str, years: int, floor: float
) -> list[str]:
    supply = supply_rates(parcels, end, years=years)
    res.results["supply"] = supply
    res.files.append(write_table(labelled(supply), res.out_dir / "supply_rate.csv"))
    total = supply.set_index("approval_year").loc["合计"]
    first, last = supply["approval_year"].iloc[0], supply["approval_year"].iloc[-2]
    rate = total["supply_rate"]
    verdict: str = (
        "无批准用地"
        if pd.isna(rate)
        else ("达到" if rate >= floor else "低于") + f"不低于 {floor:.0%} 的要求"
    )
    return [
        f"近{years}年（{first}–{last}年批准）平均供地率 "
        + ("—" if pd.isna(rate) else f"{rate:.2%}")
        + f"：已供 {total['supplied_mu']:,.1f} 亩 ÷ 批准 {total['approved_mu']:,.1f} 亩，{verdict}",
        f"  {FORMULAS['supply_rate']}",
    ]


def _batch_lines(
    res: StepResult, stock: pd.DataFrame, start: str, end: str, *, cumulative: bool
) -> list[str]:
    batches = unsupplied_batches(stock, start, end, cumulative=cumulative)
    res.results["batches"] = batches
    res.files.append(write_table(labelled(batches), res.out_dir / "unsupplied_batches.csv"))
    named = batches[batches["approval_batch"] != "未填批次"]
    status = named["batch_status"].value_counts()
    counts = "、".join(
        f"{k} {int(status.get(k, 0))} 个" for k in ("处置完毕", "部分处置", "未处置")
    )
    lines = [
        f"批而未供按批次：{'累计' if cumulative else '期初'} {len(named)} 个批次 "
        f"{named['unsupplied_stock_mu'].sum():,.1f} 亩，其中{counts}",
        f"  {FORMULAS['unsupplied_batches']}",
    ]
    unnamed = batches[batches["approval_batch"] == "未填批次"]
    if not unnamed.empty:
        lines.append(
            f"  未填批次的批而未供地块 {int(unnamed['parcels'].sum())} 宗 "
            f"{unnamed['unsupplied_stock_mu'].sum():,.1f} 亩未计入批次数"
        )
    return lines


def disposal_trend(
    ledger: Ledger, last_year: int, years: int = 6, *, periods: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Calendar-year disposal figures for the ``years`` years up to ``last_year``.

    ``periods`` (from :func:`idle_periods`, e.g. a window's) replaces the ledger's.
    """
    if periods is None:
        periods = idle_periods(ledger.entries(effective=True))
    rows = [
        disposal_rates(periods, f"{y}-01-01", f"{y}-12-31").iloc[0].drop("group").rename(y)
        for y in range(last_year - years + 1, last_year + 1)
    ]
    return pd.DataFrame(rows).rename_axis("year").reset_index()


def _has_ledger(data: ProjectData) -> bool:
    options = data.project.options.idle
    return bool(options.ledger or options.ledger_import)


def _preflight(data: ProjectData) -> list[str]:
    options = data.project.options
    problems = []
    if _has_ledger(data) and options.rates.period is None:
        problems.append("a ledger is configured but [rates] period is not (统计期)")
    for key in ("ledger", "ledger_import"):
        name = getattr(options.idle, key)
        if name and not is_database_url(name) and not data.project.path(name).exists():
            problems.append(f"[idle] {key} = {name!r}: no such file")
    return problems


def _sheets(data: ProjectData, results: Results) -> tuple[list[Sheet], list[Sheet]]:
    if "rates" not in results:
        return [], []
    meeting = [
        Sheet("处置率", results["rates"], "；".join(FORMULAS.values())),
        Sheet("处置趋势", results["trend"]),
        Sheet("近五年供地率", results["supply"], FORMULAS["supply_rate"]),
    ]
    appendix = []
    if "batches" in results:
        appendix.append(Sheet("批而未供批次", results["batches"], FORMULAS["unsupplied_batches"]))
    return meeting, appendix


def _cover(data: ProjectData, results: Results) -> list[tuple[str, str]]:
    rows = [("处置率统计期", " 至 ".join(results["period"]))] if "period" in results else []
    keys = ("disposal_rate", "net_reduction_rate", "unsupplied_rate", "revitalised_mu")
    return rows + [("公式", FORMULAS[key]) for key in (*keys, "supply_rate")]


STEP = Step(
    "rates",
    "处置率 rates",
    run_rates,
    needs=lambda project: {"parcels"},  # the ledger is read by the step
    in_report=_has_ledger,
    report_options=lambda data, out_dir, results: {"ledger": project_ledger(data, out_dir)},
    preflight=_preflight,
    sheets=_sheets,
    cover=_cover,
)

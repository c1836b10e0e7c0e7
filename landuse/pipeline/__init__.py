"""Analysis steps on a project: load, run, write outputs, summarise in Chinese.

Each step takes a :class:`landuse.io.ProjectData`, calls one library analysis
with the project's options, writes GeoPackage + CSV into an output folder and
returns the headline lines.  ``landuse demo`` runs every step on the sample;
``landuse check`` / ``landuse buildable`` run one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import pandas as pd

from landuse import __version__
from landuse.analysis.buildable import buildable_summary, buildable_udb, find_buildable, steep_land
from landuse.analysis.conflicts import (
    ConflictResult,
    NoiseTolerance,
    certified_outside_udb,
    check_conflicts,
    conflict_summary,
)
from landuse.analysis.efficiency import EfficiencyResult, describe_scheme, evaluate
from landuse.analysis.idle import IDLE_REQUIRED, find_idle, idle_summary, procedure_status
from landuse.analysis.indicator_tables import INDICATORS, IndicatorTable, load_indicator_table
from landuse.analysis.indicators import (
    FIRM_TARGETS,
    INDICATOR_COLUMNS,
    TARGETS,
    check_indicators,
    resolve_rules,
)
from landuse.analysis.landclass import BASIS_LABELS, GROUPS, SYSTEMS, crosswalk
from landuse.analysis.rates import (
    FORMULAS,
    approved_within,
    disposal_rates,
    idle_periods,
    supply_rates,
    unsupplied_batches,
    unsupplied_rates,
)
from landuse.analysis.redline import RedlineResult, analyse_redline
from landuse.core.config import LAYER_LABELS, Project, sample_project
from landuse.core.crs import with_areas
from landuse.core.errors import ConfigError, LanduseError
from landuse.core.labels import TOTAL, labelled, sum_by
from landuse.core.options import IdleOptions, parse_day
from landuse.io import (
    LayerIntake,
    ProjectData,
    layer_intake,
    load_layer,
    load_project_data,
    postgis,
    read_raster,
    read_result_layers,
    table_report,
    write_boundary_txt,
    write_layers,
    write_table,
    write_text,
)
from landuse.ledger import Ledger, read_ledger_file
from landuse.outputs.briefing import (
    briefing_sections,
    summary_html,
    summary_markdown,
    write_briefing,
)
from landuse.outputs.maps import Basemap, build_map, parcel_map_status, render_html
from landuse.outputs.report import (
    ChartMarks,
    Sheet,
    class_chart,
    file_sha256,
    firm_labels,
    overview_map,
    ranking_chart,
    trend_chart,
    write_workbook,
)
from landuse.outputs.thematic import MapInfo, crs_label, write_thematic_maps
from landuse.pipeline.distributed import check_conflicts_dask, dask_client, find_buildable_dask

__all__ = [
    "STEPS",
    "Engine",
    "StepResult",
    "import_ledger",
    "parcel_area_summary",
    "run_buildable",
    "run_check",
    "run_demo",
    "run_efficiency",
    "run_idle",
    "run_indicators",
    "run_intake",
    "run_load",
    "run_map",
    "run_pack",
    "run_project",
    "run_rates",
    "run_redline",
    "run_report",
]


@dataclass
class StepResult:
    """What a step wrote and the headline lines it prints."""

    out_dir: Path
    files: list[Path] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)
    database: str | None = None  # the (redacted) database written to instead of out_dir

    def extend(self, other: StepResult) -> None:
        """Append another step's files, lines and analysis results."""
        self.files += other.files
        self.lines += other.lines
        self.results.update(other.results)


def parcel_area_summary(parcels: gpd.GeoDataFrame) -> pd.DataFrame:
    """Parcel count and area (亩) per park, supplied and unsupplied, plus a 合计 row.

    Parameters
    ----------
    parcels : GeoDataFrame
        Parcels with ``area_mu`` and, where known, ``park`` and ``supply_status``.

    Returns
    -------
    DataFrame
        Columns ``park``, ``parcels``, ``area_mu`` and, only when the parcels
        have ``supply_status``, ``supplied_mu`` and ``unsupplied_mu``.  Parcels
        without a park (or a layer without the field) count under 未注明.
    """
    frame = pd.DataFrame(
        {
            "park": parcels["park"] if "park" in parcels.columns else None,
            "parcels": 1,
            "area_mu": parcels["area_mu"],
        },
        index=parcels.index,
    )
    if "supply_status" in parcels.columns:
        supplied = parcels["supply_status"].eq("已供")
        frame["supplied_mu"] = parcels["area_mu"].where(supplied, 0.0)
        frame["unsupplied_mu"] = parcels["area_mu"].where(~supplied, 0.0)
    return sum_by(frame, "park")


# Parcel fields the area summary splits by: field, its name, what is left out without it.
_AREA_SPLITS = (("supply_status", "供地状态", "不分已供、未供"), ("park", "所属园区", "不分园区"))


def _area_line(parcels: gpd.GeoDataFrame, summary: pd.DataFrame) -> str:
    """The headline of the parcel areas, saying which split the fields did not allow."""
    total = summary.iloc[-1]
    line = f"地块总面积 {total['area_mu']:,.1f} 亩"
    if "supplied_mu" in summary.columns:
        line += f"，其中已供 {total['supplied_mu']:,.1f} 亩、未供 {total['unsupplied_mu']:,.1f} 亩"
    missing = [(name, effect) for col, name, effect in _AREA_SPLITS if col not in parcels.columns]
    if missing:
        names, effects = zip(*missing, strict=True)
        line += f"（地块图层无{'、'.join(names)}字段，面积{'、'.join(effects)}汇总）"
    return line


def run_intake(data: ProjectData, out_dir: Path) -> StepResult:
    """What was read: one line per layer (read = kept + repaired + dropped) and the report.

    Every command starts with this step, so no repaired or dropped feature goes
    unmentioned; ``geometry_report.csv`` lists each one with the reason.
    """
    res = StepResult(out_dir)
    res.files.append(write_table(labelled(data.report), out_dir / "geometry_report.csv"))
    project = data.project.source or data.project.name
    synthetic = data.synthetic
    res.lines += [
        f"项目 Project：{project}" + ("（示例数据，模拟生成 synthetic）" if synthetic else ""),
        *(intake.line() for intake in data.intake),
        f"分析坐标系 {data.crs.name}（EPSG:{data.crs.to_epsg()}）",
    ]
    return res


def run_load(data: ProjectData, out_dir: Path) -> StepResult:
    """Write the loaded parcels with areas and the areas by park."""
    res = StepResult(out_dir)
    parcels = with_areas(data.layer("parcels"), data.crs)
    res.files.append(write_layers({"parcels": parcels}, out_dir / "parcels.gpkg"))
    summary = parcel_area_summary(parcels)
    res.results["parcel_summary"] = summary
    res.files.append(write_table(labelled(summary), out_dir / "parcel_areas_by_park.csv"))
    res.lines.append(_area_line(parcels, summary))
    return res


@dataclass(frozen=True)
class Engine:
    """Where the overlay analyses run: ``local`` (this process) or ``dask``.

    With ``dask``, ``scheduler`` is a running scheduler's address; without one a
    local cluster of ``workers`` processes is started.
    """

    kind: Literal["local", "dask"] = "local"
    scheduler: str | None = None
    workers: int = 2


def check_project(data: ProjectData, engine: Engine | None = None) -> ConflictResult:
    """Run the conflict check with the project's layers and ``[check]`` options."""
    options = data.project.options.check
    extra = options.extra_constraints
    args = dict(
        udb=data.layer("udb"),
        farmland=data.layers.get("farmland"),
        eco_redline=data.layers.get("eco_redline"),
        others={name: data.layers[name] for name in extra},
        labels={name: (f"占用{label}", f"occupies {name}") for name, label in extra.items()},
        tolerance=NoiseTolerance.from_options(options),
    )
    if engine is None or engine.kind == "local":
        return check_conflicts(data.layer("parcels"), **args)
    with dask_client(engine.scheduler, n_workers=engine.workers) as client:
        return check_conflicts_dask(data.layer("parcels"), client=client, **args)


_CHECK_COLUMNS = [
    "parcel_id",
    "parcel_name",
    "park",
    "enterprise_name",
    "certificate_no",
    "area_mu",
    "udb_inside_mu",
    "udb_outside_mu",
    "udb_outside_share",
    "farmland_mu",
    "farmland_share",
    "eco_redline_mu",
    "eco_redline_share",
    "noise_m2",
    "status",
]


def run_check(data: ProjectData, out_dir: Path, *, engine: Engine | None = None) -> StepResult:
    """Conflict check: GeoPackage (parcels + pieces) and CSV tables."""
    res = StepResult(out_dir)
    result = check_project(data, engine)
    res.results["conflicts"] = result
    p, pieces = result.parcels, result.pieces
    res.files.append(
        write_layers({"parcels_check": p, "conflict_pieces": pieces}, out_dir / "conflicts.gpkg")
    )
    cols = [c for c in _CHECK_COLUMNS if c in p.columns]
    extra_cols = [c for c in p.columns if c.endswith("_mu") and c not in cols and c != "area_mu"]
    table = pd.DataFrame(p[cols[:-1] + extra_cols + cols[-1:]])
    res.files.append(write_table(labelled(table), out_dir / "conflicts.csv"))
    res.files.append(
        write_table(labelled(pieces.drop(columns="constraint")), out_dir / "conflict_pieces.csv")
    )
    conflicts = ~p["compliant"]
    tol = result.tolerance
    res.lines.append(
        f"三区三线检查：{len(p)} 个地块中 {int(conflicts.sum())} 个存在冲突"
        f"（超出城镇开发边界 {int(p['outside_udb'].sum())} 个"
        + (
            f"，占用永久基本农田 {int(p['occupies_farmland'].sum())} 个，"
            f"{p['farmland_mu'][p['occupies_farmland']].sum():,.1f} 亩"
            if "occupies_farmland" in p
            else ""
        )
        + (
            f"，占用生态保护红线 {int(p['occupies_eco_redline'].sum())} 个"
            if "occupies_eco_redline" in p
            else ""
        )
        + f"）；边界误差 {int((pieces['kind'] == 'noise').sum())} 处"
        f"（容差：面积 < {tol.area_m2:g} m² 且占比 < {tol.share:.1%}，或宽度 < {tol.width_m:g} m）"
    )
    if "certified_outside_udb" in p.columns:
        listed = certified_outside_udb(result)
        res.files.append(write_table(labelled(listed), out_dir / "certified_outside_udb.csv"))
        res.lines.append(
            f"有证但超出城镇开发边界（无法办理建设许可）的地块 {len(listed)} 个，"
            f"边界外面积 {listed['udb_outside_mu'].sum():,.1f} 亩"
        )
    return res


def buildable_project(data: ProjectData, engine: Engine | None = None) -> gpd.GeoDataFrame:
    """Run :func:`find_buildable` with the project's layers and ``[buildable]`` options."""
    opts = data.project.options.buildable
    buffers = {name: (data.layers[name], distance) for name, distance in opts.buffers.items()}
    steep = None
    dem_path = data.project.rasters.get("dem")
    if dem_path is not None:
        dem = read_raster(dem_path)
        steep = steep_land(
            dem.array, dem.transform, dem.crs, opts.max_slope_deg, nodata=dem.nodata
        ).to_crs(data.crs)
    args: dict[str, Any] = dict(
        farmland=data.layers.get("farmland"),
        eco_redline=data.layers.get("eco_redline"),
        parcels=data.layers.get("parcels"),
        roads=data.layers.get("roads"),
        buffers=buffers,
        steep=steep,
        options=opts,
    )
    if engine is None or engine.kind == "local":
        return find_buildable(data.layer("parks"), data.layer("udb"), **args)
    with dask_client(engine.scheduler, n_workers=engine.workers) as client:
        return find_buildable_dask(data.layer("parks"), data.layer("udb"), client=client, **args)


def run_buildable(data: ProjectData, out_dir: Path, *, engine: Engine | None = None) -> StepResult:
    """Buildable land: GeoPackage layer, candidate table, per-park summary."""
    res = StepResult(out_dir)
    cands = buildable_project(data, engine)
    res.results["buildable"] = cands
    res.files.append(write_layers({"buildable": cands}, out_dir / "buildable.gpkg"))
    res.files.append(write_table(labelled(cands), out_dir / "buildable.csv"))
    summary = buildable_summary(cands)
    res.files.append(write_table(labelled(summary), out_dir / "buildable_by_park.csv"))
    opts = data.project.options.buildable
    udb = data.layer("udb")
    zoned = len(buildable_udb(udb, opts))
    res.lines.append(
        f"可建设用地：{len(cands)} 块，合计 {cands['area_mu'].sum():,.1f} 亩"
        f"（单块 ≥ {opts.min_area_mu:g} 亩、宽度 ≥ {opts.min_width_m:g} m"
        + (
            f"；城镇开发边界只计{'、'.join(opts.udb_zones)}，{zoned}/{len(udb)} 个要素"
            if zoned < len(udb)
            else ""
        )
        + "）"
    )
    return res


def run_idle(
    data: ProjectData,
    out_dir: Path,
    *,
    as_of: str | None = None,
    ledger: Ledger | None = None,
) -> StepResult:
    """Idle-land finder: GeoPackage layer and a 台账-style table, with raster evidence.

    With a ledger (``ledger``, else the project's) each parcel also gets its
    place in the disposal procedure: the next step, its deadline and what is
    overdue (``idle_procedure.csv``), and the 台账 columns 认定书文号, 决定书文号,
    送达日期 and 缴费日期.
    """
    res = StepResult(out_dir)
    day = parse_day(as_of, what="--as-of") if as_of else data.project.options.idle.as_of
    if day is None:
        raise ConfigError("Give the day to judge for: --as-of 2025-12-31 or [idle] as_of.")
    options = data.project.options.idle
    raster_path = data.project.rasters.get("landcover")
    raster = read_raster(raster_path) if raster_path else None
    parcels = with_areas(data.layer("parcels"), data.crs)
    out = find_idle(parcels, day.isoformat(), landcover=raster, options=options)
    ledger = ledger if ledger is not None else _ledger_for(data, out_dir)
    procedure = None
    if ledger is not None:
        procedure = procedure_status(
            ledger.entries(effective=True), day.isoformat(), idle=out, options=options
        )
        by_id = procedure.set_index("parcel_id")
        ids = out["parcel_id"].astype(str)
        for col in _LEDGER_COLUMNS:
            out[col] = ids.map(by_id[col]).to_numpy()
        res.results["procedure"] = procedure
        res.files.append(write_table(labelled(procedure), out_dir / "idle_procedure.csv"))
    res.results["idle"] = out
    res.results["as_of"] = day.isoformat()
    res.files.append(write_layers({"idle": out}, out_dir / "idle.gpkg"))
    idle = out[out["idle"]]
    cols = [c for c in _IDLE_COLUMNS if c in out.columns]
    res.files.append(write_table(labelled(out.loc[_idle_rows(out), cols]), out_dir / "idle.csv"))
    fee = idle["idle_fee_wan"].sum()
    line = (
        f"闲置土地（截至 {day.isoformat()}）：{len(idle)} 宗，"
        f"{idle['area_mu'].sum():,.1f} 亩；其中满两年应无偿收回 "
        f"{int(idle['recover_without_compensation'].sum())} 宗，应征缴土地闲置费 "
        f"{fee:,.1f} 万元；政府原因 {int((idle['gov_caused']).sum())} 宗"
    )
    if "suspect_idle" in out.columns:
        line += (
            f"；登记在建但影像无建设迹象（疑似闲置，需实地核查）{int(out['suspect_idle'].sum())} 宗"
        )
    if "start_unverified" in out.columns:
        line += f"；登记已动工但无第三十条动工依据（需核查）{int(out['start_unverified'].sum())} 宗"
    if out["undetermined"].any():
        line += f"；缺少约定动工日期无法判定 {int(out['undetermined'].sum())} 宗"
    res.lines.append(line)
    res.lines += _idle_rule_lines(out, options)
    if procedure is not None:
        res.lines += _procedure_lines(procedure, day)
    return res


def _idle_rows(out: pd.DataFrame) -> pd.Series:
    """Rows of the 台账-style table: idle, suspected, or a start to check."""
    rows = out["idle"].astype(bool)
    for col in ("suspect_idle", "start_unverified"):
        if col in out.columns:
            rows |= out[col].astype(bool)
    return rows


def _idle_rule_lines(out: pd.DataFrame, options: IdleOptions) -> list[str]:
    """How the clock and the 25 % test were applied, where the project's data asks for it."""
    lines = []
    restarted = out["clock_basis"].str.startswith("新约定")
    if restarted.any():
        lines.append(
            f"  政府原因延期后自新约定动工日期重新起算（第十二条）{int(restarted.sum())} 宗"
        )
    rule = out["investment_rule"]
    amounts = rule.str.contains("÷")
    if amounts.any():
        subtracted = rule.str.contains("−出让价款")
        lines.append(
            f"  投资比例按第三十条不含土地价款：按投资额计算 {int(amounts.sum())} 宗"
            f"（其中含土地价款、已扣除出让价款 {int(subtracted.sum())} 宗）；"
            f"含土地价款但缺出让价款、无法扣除 {int(rule.str.contains('未能扣除').sum())} 宗"
        )
    if not options.recover_suspended:
        lines.append("  中止开发满两年不按无偿收回处理（第十四条只规定未动工开发满两年）")
    return lines


def _procedure_lines(procedure: pd.DataFrame, day: dt.date) -> list[str]:
    """Headline of the disposal procedure and the overdue parcels, most overdue first."""
    open_ = procedure["next_step"] != ""
    overdue = procedure[procedure["overdue"]].sort_values("days_to_deadline")
    kinds = "、".join(f"{k} {n} 宗" for k, n in overdue["next_step"].value_counts().items())
    unknown = procedure["issues"].str.contains("台账无记录")
    issues = procedure["issues"].str.contains("未登记")
    lines = [
        f"处置程序（台账，截至 {day.isoformat()}）：在办 {int(open_.sum())} 宗，"
        f"已办结 {int((~open_).sum())} 宗；逾期未办 {len(overdue)} 宗"
        + (f"（{kinds}）" if kinds else "")
        + f"；逾期办结的环节 {int((procedure['late_steps'] != '').sum())} 宗；"
        f"判定闲置但台账无记录 {int(unknown.sum())} 宗；缺少前置环节 {int(issues.sum())} 宗"
        "（见 idle_procedure.csv）"
    ]
    shown = overdue.head(10)
    for pid, step, deadline, days, basis in zip(
        shown["parcel_id"],
        shown["next_step"],
        shown["deadline"].dt.strftime("%Y-%m-%d"),
        shown["days_to_deadline"],
        shown["deadline_basis"],
        strict=True,
    ):
        lines.append(f"  逾期：{pid} {step}，期限 {deadline}（逾期 {-int(days)} 天；{basis}）")
    if len(overdue) > 10:
        lines.append(f"  …… 另有 {len(overdue) - 10} 宗逾期，见 idle_procedure.csv")
    return lines


#: Procedure columns copied onto the idle layer: the 台账 columns and what is due.
_LEDGER_COLUMNS = (
    "determination_no",
    "decision_no",
    "served_date",
    "paid_date",
    "next_step",
    "deadline",
    "overdue",
)

_IDLE_COLUMNS = [
    "parcel_id",
    "parcel_name",
    "park",
    "enterprise_name",
    "area_mu",
    "land_price_wan",
    "agreed_start_date",
    "new_agreed_start_date",
    "actual_start_date",
    "start_evidence",
    "suspended_since",
    "idle_type",
    "clock_basis",
    "idle_since",
    "idle_days",
    "idle_years",
    "gov_caused",
    "investment_share",
    "investment_rule",
    "idle_fee_wan",
    "recover_without_compensation",
    "consequence",
    "evidence_share",
    "suspect_idle",
    "start_check",
    *_LEDGER_COLUMNS,
]


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


def efficiency_project(
    data: ProjectData, *, year: int | None = None, scheme: str | None = None
) -> EfficiencyResult:
    """Run :func:`evaluate` with the project's parcels, enterprise table and options.

    ``scheme`` (``landuse tax --scheme``) replaces ``[efficiency] scheme``; the
    rules the project file sets still apply over it.
    """
    options = data.project.options.efficiency
    if scheme is not None:
        options = replace(options, scheme=scheme)
    parcels = with_areas(data.layer("parcels"), data.crs)
    if "parks" in data.layers and "parent_park" in data.layer("parks").columns:
        parent = data.layer("parks").set_index("park")["parent_park"]
        parcels["parent_park"] = parcels["park"].map(parent)
    if "enterprises" not in data.tables:
        raise ConfigError("The per-mu evaluation needs [layers.enterprises] (CSV or Excel).")
    return evaluate(
        parcels,
        data.tables["enterprises"],
        year=year if year is not None else options.year,
        options=options,
    )


_FIRM_COLUMNS = [
    "enterprise_id",
    "enterprise_name",
    "group",
    "size_group",
    "rank_group",
    "industry",
    "years_in_production",
    "land_mu",
    "land_rule",
    "tax_wan",
    "revenue_wan",
    "value_added_wan",
    "tax_per_mu_wan",
    "tax_per_ha_wan",
    "revenue_per_mu_wan",
    "revenue_per_ha_wan",
    "va_per_mu_wan",
    "va_per_ha_wan",
    "va_per_tce_wan",
    "va_per_emission_wan",
    "labour_productivity_wan",
    "rd_share",
    "tax_per_tce_wan",
    "tax_per_kwh_yuan",
    "score_bonus",
    "score_penalty",
    "score",
    "score_rank",
    "group_size",
    "grade",
    "policy",
    "reason",
]
#: Shown only when some firm has a value (the table or the scheme may not use them).
_OPTIONAL_FIRM_COLUMNS = ("industry", "years_in_production", "score_bonus", "score_penalty")


def _firm_table(result: EfficiencyResult) -> pd.DataFrame:
    """The ranking table: firms by rank group and rank, unranked ones last."""
    firms = result.enterprises.sort_values(["rank_group", "score_rank"], na_position="last")
    unused = [
        c
        for c in _OPTIONAL_FIRM_COLUMNS
        if c in firms and not (firms[c].notna() & (firms[c] != 0)).any()
    ]
    return firms[[c for c in _FIRM_COLUMNS if c in firms and c not in unused]]


def run_efficiency(
    data: ProjectData, out_dir: Path, *, year: int | None = None, scheme: str | None = None
) -> StepResult:
    """Per-mu evaluation: parcels layer with metrics and class, firm ranking, park table."""
    res = StepResult(out_dir)
    r = efficiency_project(data, year=year, scheme=scheme)
    res.results["efficiency"] = r
    res.files.append(write_layers({"efficiency": r.parcels}, out_dir / "efficiency.gpkg"))
    res.files.append(write_table(labelled(_firm_table(r)), out_dir / "enterprise_ranking.csv"))
    res.files.append(write_table(labelled(r.parks), out_dir / "park_tax_per_mu.csv"))
    res.files.append(write_table(labelled(r.links), out_dir / "land_allocation.csv"))
    res.files.append(write_table(labelled(r.benchmarks), out_dir / "efficiency_benchmarks.csv"))
    counts = r.enterprises["grade"].value_counts()
    county = r.parks[r.parks["level"] == "县区"].iloc[0]
    this = county[f"tax_per_mu_wan_{r.year}"]
    line = (
        f"{r.year}年 全县（区）工业地均税收 {this:.2f} 万元/亩"
        f"（{county[f'tax_per_ha_wan_{r.year}']:,.1f} 万元/公顷）"
    )
    if "yoy" in county and pd.notna(county["yoy"]):
        before = county[f"tax_per_mu_wan_{r.year - 1}"]
        line += f"，同比 {county['yoy']:+.1%}（{r.year - 1}年 {before:.2f} 万元/亩）"
    res.lines.append(
        line
        + "；企业分类 "
        + "、".join(f"{g}类 {int(counts.get(g, 0))} 家" for g in "ABCD")
        + f"，T类（{r.scheme.policies['T']}）{int(counts.get('T', 0))} 家"
        + f"，未参评 {int(counts.get('未参评', 0))} 家"
    )
    rules = dict(describe_scheme(r.scheme))
    res.lines.append(
        f"亩均评价方案：{rules['亩均效益评价方案']}；基准值 {rules['评价基准值']}；"
        f"单项得分上限 {rules['单项得分上限']}"
    )
    res.lines += [f"注：{note}" for note in r.notes]
    for row in r.parks[r.parks["level"] == "子园区"].itertuples():
        value = getattr(row, f"tax_per_mu_wan_{r.year}")
        yoy = getattr(row, "yoy", float("nan"))
        res.lines.append(
            f"  {row.group}：地均税收 {value:.2f} 万元/亩"
            + (f"，同比 {yoy:+.1%}" if pd.notna(yoy) else "")
        )
    return res


#: Parcel fields any of which makes the indicator check worth running.
_INDICATOR_FIELDS = (
    "industry_code",
    "investment_wan",
    "floor_area_m2",
    "building_base_m2",
    "office_land_m2",
    "green_m2",
    *TARGETS,
)


def _has_indicator_inputs(data: ProjectData) -> bool:
    """A buildings layer, or parcels with a control-indicator or 标准地 field."""
    parcels = data.layers.get("parcels")
    return "buildings" in data.layers or (
        parcels is not None and any(c in parcels.columns for c in _INDICATOR_FIELDS)
    )


def indicator_table(data: ProjectData) -> IndicatorTable:
    """The national table of ``[indicators] edition`` with the project's own tables."""
    opts = data.project.options.indicators
    return load_indicator_table(opts.edition, [data.project.path(t) for t in opts.tables])


def indicators_project(
    data: ProjectData,
    *,
    year: int | None = None,
    as_of: str | None = None,
    efficiency: EfficiencyResult | None = None,
) -> tuple[gpd.GeoDataFrame, IndicatorTable]:
    """Run :func:`check_indicators` with the project's layers, tables and ``[indicators]``.

    The 标准地 actual figures are the per-firm figures of the per-mu evaluation
    (``efficiency`` when it is for the wanted year, else evaluated here).
    """
    opts = data.project.options.indicators
    table = indicator_table(data)
    parcels = with_areas(data.layer("parcels"), data.crs)
    wanted = year if year is not None else opts.year
    firms, firm_year = None, wanted
    if "enterprises" in data.tables and any(t in parcels.columns for t in FIRM_TARGETS):
        fit = efficiency is not None and wanted in (None, efficiency.year)
        result = (
            efficiency if fit and efficiency is not None else efficiency_project(data, year=wanted)
        )
        firms, firm_year = result.enterprises, result.year
    checked = check_indicators(
        parcels,
        data.layers.get("buildings"),
        table=table,
        options=opts,
        firms=firms,
        year=firm_year,
        as_of=parse_day(as_of, what="--as-of") if as_of else None,
    )
    return checked, table


def _indicator_basis(table: IndicatorTable, data: ProjectData) -> str:
    """The tables and rules the check used, in one line of Chinese."""
    opts = data.project.options.indicators
    height, included = resolve_rules(table, opts, data.layer("parcels"))
    rule = {True: "含地价", False: "不含地价", None: "未计算"}[included]
    return (
        f"{'；'.join(table.titles)}；投资强度{rule}；层高超过 {height:g} 米的楼层面积加倍计入容积率"
    )


def _indicator_lines(
    checked: gpd.GeoDataFrame, table: IndicatorTable, data: ProjectData
) -> list[str]:
    """Headline lines: failures per check, what was not judged, 标准地, the rules used."""
    controls = checked[[f"{name}_ok" for name in INDICATORS]]
    judged = controls.notna().any(axis=1)
    failed = controls.eq(False).any(axis=1)
    per_check = "、".join(
        f"{spec.label} {int(checked[f'{name}_ok'].eq(False).sum())}"
        for name, spec in INDICATORS.items()
    )
    lines = [
        f"工业用地控制指标：已供工业用地 {len(checked)} 宗，核验 {int(judged.sum())} 宗，"
        f"不符合 {int(failed.sum())} 宗（不达标宗数：{per_check}），未核验 "
        f"{int((~judged).sum())} 宗（未竣工或缺少数据，见 indicators.csv 核验说明）"
    ]
    targets = [t for t in TARGETS if t in checked.columns]
    if targets:
        due = checked["targets_due"]
        missed = checked[[f"{t}_ok" for t in targets]].eq(False).any(axis=1)
        lines.append(
            f"标准地：已过约定达产日期 {int(due.sum())} 宗，其中未达约定指标 "
            f"{int(missed.sum())} 宗（"
            + "、".join(
                f"{TARGETS[t][1]} {int(checked[f'{t}_ok'].eq(False).sum())}" for t in targets
            )
            + "）"
        )
    unverified = sum(not t.verified for t in table.thresholds)
    lines.append(
        f"  依据：{_indicator_basis(table, data)}；指标值 {len(table.thresholds)} 项，"
        f"其中未核实 {unverified} 项"
    )
    return lines


def run_indicators(
    data: ProjectData,
    out_dir: Path,
    *,
    year: int | None = None,
    as_of: str | None = None,
    efficiency: EfficiencyResult | None = None,
) -> StepResult:
    """Control indicators and 标准地 targets: GeoPackage layer, CSV table, headline lines."""
    res = StepResult(out_dir)
    checked, table = indicators_project(data, year=year, as_of=as_of, efficiency=efficiency)
    res.results["indicators"] = checked
    res.results["indicator_table"] = table
    res.files.append(write_layers({"indicators": checked}, out_dir / "indicators.gpkg"))
    res.files.append(write_table(labelled(checked), out_dir / "indicators.csv"))
    res.lines += _indicator_lines(checked, table, data)
    return res


def map_layers(data: ProjectData, results: Mapping[str, Any]) -> dict[str, gpd.GeoDataFrame]:
    """The layers of the meeting map from a project and the analyses' results.

    The parcels layer carries the conflict status, idle status and per-mu
    figures together, so one popup tells a parcel's whole story.
    """
    layers: dict[str, Any] = {
        k: data.layers[k]
        for k in ("district", "parks", "udb", "farmland", "eco_redline")
        if k in data.layers
    }
    parcels = with_areas(data.layer("parcels"), data.crs)
    conflicts = results.get("conflicts")
    if conflicts is not None:
        parcels = conflicts.parcels
        layers["conflicts"] = conflicts.pieces
    idle = results.get("idle")
    if idle is not None:
        extra = [c for c in ("idle", "suspect_idle", "idle_days", "consequence") if c in idle]
        parcels = parcels.join(idle[extra])
    efficiency = results.get("efficiency")
    if efficiency is not None:
        per_mu = efficiency.parcels.set_index("parcel_id")
        for col in ("tax_per_mu_wan", "grade"):
            parcels[col] = parcels["parcel_id"].map(per_mu[col])
        layers["efficiency"] = efficiency.parcels
    parcels["map_status"] = parcel_map_status(parcels)
    layers["parcels"] = parcels
    redline = results.get("redline")
    if redline is not None:
        context = _redline_map(data, redline)
        layers.update({k: v for k, v in context.items() if k in ("dltb", "udb_zones", "redline")})
    if results.get("indicators") is not None:
        layers["indicators"] = results["indicators"]
    if results.get("buildable") is not None:
        layers["buildable"] = results["buildable"]
    return layers


def run_map(
    data: ProjectData,
    out_dir: Path,
    *,
    results: Mapping[str, Any] | None = None,
    basemap: Basemap = "none",
    tianditu_token: str | None = None,
) -> StepResult:
    """Write the meeting map (one HTML file); runs the analyses not given in ``results``."""
    res = StepResult(out_dir)
    have = dict(results or {})
    if "conflicts" not in have:
        have["conflicts"] = check_project(data)
    if "buildable" not in have and "parks" in data.layers:
        have["buildable"] = buildable_project(data)
    if "efficiency" not in have and "enterprises" in data.tables:
        have["efficiency"] = efficiency_project(data)
    if "indicators" not in have and _has_indicator_inputs(data):
        have["indicators"], _ = indicators_project(data, efficiency=have.get("efficiency"))
    synthetic = data.synthetic
    subtitle = f"数据截至 {have['as_of']}" if "as_of" in have else ""
    m = build_map(
        map_layers(data, have),
        title=f"{data.project.name} 土地利用一张图",
        subtitle=subtitle,
        synthetic=synthetic,
        basemap=basemap,
        tianditu_token=tianditu_token,
    )
    path = write_text(render_html(m, offline=basemap == "none"), out_dir / "map.html")
    res.files.append(path)
    mode = "离线（不联网）" if basemap == "none" else f"底图 {basemap}"
    res.lines.append(f"会议地图：{path.name}，{path.stat().st_size / 1e6:.1f} MB，{mode}")
    return res


def _ledger_for(data: ProjectData, out_dir: Path) -> Ledger | None:
    """The project's ledger ([idle] ledger), or a fresh one filled from ledger_import.

    None when the project names neither.
    """
    options = data.project.options.idle
    if options.ledger:
        return Ledger(data.project.path(options.ledger), create=False)
    if not options.ledger_import:
        return None
    source = data.project.path(options.ledger_import)
    digest = file_sha256(source)
    path = out_dir / "idle_ledger.gpkg"
    ledger = Ledger(path)
    batches = ledger.entries()["batch"]
    if not batches.empty and not batches.str.contains(f" sha256:{digest} ", regex=False).all():
        # Left by an earlier run from other content: this copy is ours to rebuild.
        path.unlink()
        ledger = Ledger(path)
    if ledger.entries().empty:
        ledger.append(
            read_ledger_file(source),
            source=source.name,
            parcel_ids=data.layer("parcels")["parcel_id"],
            content_sha256=digest,
        )
    return ledger


def import_ledger(
    ledger: Ledger,
    file: Path,
    project: Project | None,
    *,
    sheet: str | None = None,
    on_row: Callable[[int], None] | None = None,
) -> tuple[int, LayerIntake, pd.DataFrame]:
    """Import a CSV/Excel of ledger rows, checking 地块编号 against the project's parcels.

    Parameters
    ----------
    ledger : Ledger
        The ledger to append to.
    file : Path
        The import file (see :func:`landuse.ledger.read_ledger_file`).
    project : Project or None
        Its parcels are the known ids; None imports unchecked (the batch says so).
    sheet : str, optional
        Excel sheet (default the first).
    on_row : callable, optional
        Progress callback with the number of rows written.

    Returns
    -------
    count : int
        Rows imported.
    intake : LayerIntake
        Rows read = imported + left out (合计, blank, units rows).
    left_out : DataFrame
        The rows left out, with the reason (report rows).
    """
    rows = read_ledger_file(file, sheet=sheet)
    left_out = table_report("ledger_import", rows)
    intake = layer_intake("ledger_import", rows, left_out)
    parcel_ids = None if project is None else load_layer(project, "parcels")[0]["parcel_id"]
    count = ledger.append(
        rows,
        source=file.name,
        parcel_ids=parcel_ids,
        content_sha256=file_sha256(file),
        on_row=on_row,
    )
    return count, intake, left_out


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


def data_date(data: ProjectData, results: Mapping[str, Any]) -> str | None:
    """The day the data are as of: ``[project] data_date``, the idle-land day or the period end."""
    day = data.project.options.project.data_date
    if day is not None:
        return day.isoformat()
    if "as_of" in results:
        return str(results["as_of"])
    if "period" in results:
        return str(results["period"][1])
    return None


def _cover(data: ProjectData, results: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Rows of a workbook's cover (封面), in Chinese: what was computed from what, and how."""
    project = data.project
    rows = [
        ("工具版本", f"landuse {__version__}"),
        ("项目", project.name),
        ("分析坐标系", crs_label(data.crs)),
    ]
    day = data_date(data, results)
    if day:
        rows.append(("数据截至", day))
    if project.options.project.mapping_unit:
        rows.append(("制图单位", project.options.project.mapping_unit))
    if project.source is not None:
        rows.append(("项目文件", f"{project.source.name}  SHA-256 {file_sha256(project.source)}"))
    if "as_of" in results:
        rows.append(("闲置土地判定日", results["as_of"]))
    if "period" in results:
        rows.append(("处置率统计期", " 至 ".join(results["period"])))
    if "conflicts" in results:
        tol = results["conflicts"].tolerance
        rows.append(
            (
                "边界误差容差",
                f"面积 < {tol.area_m2:g} 平方米且占地块 < {tol.share:.1%}，"
                f"或宽度 < {tol.width_m:g} 米",
            )
        )
    opts = project.options.buildable
    rows.append(
        (
            "可建设用地参数",
            f"单块 ≥ {opts.min_area_mu:g} 亩，宽度 ≥ {opts.min_width_m:g} 米，"
            f"坡度 ≤ {opts.max_slope_deg:g}°（有数字高程模型时）",
        )
    )
    efficiency = results.get("efficiency")
    scheme = efficiency.scheme if efficiency is not None else project.options.efficiency.resolved()
    rows += describe_scheme(scheme)
    idle = project.options.idle
    rows.append(
        (
            "处置程序期限",
            f"发现疑似闲置后 {idle.investigation_days} 日内调查（第五条）；决定书送达后 "
            f"{idle.payment_days} 日内缴纳闲置费或交回土地（第十七条）；首日不计入"
            + ("，末日为法定休假日的顺延（民法典第二百零三条）" if idle.holiday_rollover else ""),
        )
    )
    if "indicator_table" in results:
        rows.append(("用地控制指标", _indicator_basis(results["indicator_table"], data)))
    keys = ("disposal_rate", "net_reduction_rate", "unsupplied_rate", "revitalised_mu")
    for key in (*keys, "supply_rate"):
        rows.append(("公式", FORMULAS[key]))
    names = {**LAYER_LABELS, **project.options.check.extra_constraints}
    seen: set[Path] = set()
    for name, spec in project.layers.items():
        source = data.layers.get(name, data.tables.get(name))
        if spec.table is not None and source is not None:
            # A database table: where it is (no password) and a hash of what was read.
            src = source.attrs["landuse_source"]
            digest = src.get("sha256") or postgis.table_sha256(source)
            rows.append((f"输入表（{names.get(name, name)}）", f"{src['path']}  SHA-256 {digest}"))
    inputs = [(name, spec.path) for name, spec in project.layers.items() if spec.path]
    inputs += [(name, path) for name, path in project.rasters.items()]
    if project.options.idle.ledger_import:
        inputs.append(("ledger_import", project.path(project.options.idle.ledger_import)))
    for _, path in inputs:
        if path in seen or not Path(path).exists():
            continue
        seen.add(path)
        layers = "、".join(names.get(n, n) for n, p in inputs if p == path)
        rows.append((f"输入文件（{layers}）", f"{Path(path).name}  SHA-256 {file_sha256(path)}"))
    if data.synthetic:
        rows.append(
            ("说明", "示例数据：地块、企业与管控线均为模拟生成，仅兴宾区行政边界为真实数据")
        )
    return rows


#: Rows of the meeting workbook's longer lists; the full tables are in 附表.xlsx.
TOP_CANDIDATES = 30
TOP_FIRMS = 20

_MEETING_CONFLICT_COLUMNS = [
    "parcel_id",
    "parcel_name",
    "park",
    "enterprise_name",
    "area_mu",
    "udb_outside_mu",
    "farmland_mu",
    "eco_redline_mu",
    "status",
]
_MEETING_IDLE_COLUMNS = [
    "parcel_id",
    "parcel_name",
    "park",
    "enterprise_name",
    "area_mu",
    "idle_type",
    "idle_since",
    "idle_days",
    "gov_caused",
    "idle_fee_wan",
    "consequence",
    "suspect_idle",
]
_MEETING_FIRM_COLUMNS = [
    "rank_group",
    "score_rank",
    "enterprise_name",
    "land_mu",
    "tax_wan",
    "tax_per_mu_wan",
    "score",
    "grade",
    "policy",
]


def _pick(table: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(table[[c for c in columns if c in table.columns]])


def meeting_sheets(
    data: ProjectData, results: Mapping[str, Any]
) -> tuple[list[Sheet], list[Sheet]]:
    """The sheets of 会议材料.xlsx (what a meeting reads) and of 附表.xlsx (full tables).

    The meeting workbook holds summaries by park and the lists a meeting
    decides on (conflicts, idle land, the largest candidates, the top firms);
    every per-parcel and per-firm table in full goes to the appendix.  A new
    analysis adds its summary to the first list and its full table to the second.

    Returns
    -------
    meeting, appendix : list of Sheet
    """
    meeting: list[Sheet] = []
    appendix = [Sheet("几何修复记录", data.report)]
    if "parcel_summary" in results:
        meeting.append(Sheet("地块汇总", results["parcel_summary"]))
    if "conflicts" in results:
        c = results["conflicts"]
        conflicts = c.parcels[~c.parcels["compliant"]]
        flagged = c.parcels[~c.parcels["compliant"] | (c.parcels["noise_m2"] > 0)]
        meeting += [
            Sheet("冲突汇总", conflict_summary(c)),
            Sheet(
                "三区三线冲突",
                _pick(conflicts, _MEETING_CONFLICT_COLUMNS),
                "边界误差地块、冲突图斑与有证无法建设地块见《附表.xlsx》。",
            ),
        ]
        appendix += [
            Sheet("三区三线检查", _pick(flagged, _CHECK_COLUMNS)),
            Sheet("冲突图斑", pd.DataFrame(c.pieces.drop(columns="constraint"))),
        ]
        if "certified_outside_udb" in c.parcels:
            appendix.append(Sheet("有证无法建设", certified_outside_udb(c)))
    if "buildable" in results:
        cands = pd.DataFrame(results["buildable"])
        largest = cands.nlargest(TOP_CANDIDATES, "area_mu")
        meeting += [
            Sheet("可建设用地汇总", buildable_summary(results["buildable"])),
            Sheet(
                f"可建设用地（前{TOP_CANDIDATES}块）",
                largest,
                f"按面积排序的前 {TOP_CANDIDATES} 块；"
                f"全部 {len(cands)} 块见《附表.xlsx》「可建设用地」。",
            ),
        ]
        appendix.append(Sheet("可建设用地", cands))
    if "idle" in results:
        idle = results["idle"]
        shown = idle[_idle_rows(idle)]
        meeting += [
            Sheet("闲置土地汇总", idle_summary(idle)),
            Sheet(
                "闲置土地",
                _pick(shown, _MEETING_IDLE_COLUMNS),
                "出让价款、约定与实际动工日期、文书与期限、影像建设覆盖率见《附表.xlsx》「闲置土地」。",
            ),
        ]
        appendix.append(Sheet("闲置土地", _pick(shown, _IDLE_COLUMNS)))
    if "procedure" in results:
        appendix.append(Sheet("处置进度", results["procedure"]))
    if "rates" in results:
        note = "；".join(FORMULAS.values())
        meeting += [
            Sheet("处置率", results["rates"], note),
            Sheet("处置趋势", results["trend"]),
            Sheet("近五年供地率", results["supply"], FORMULAS["supply_rate"]),
        ]
        if "batches" in results:
            appendix.append(
                Sheet("批而未供批次", results["batches"], FORMULAS["unsupplied_batches"])
            )
    if "efficiency" in results:
        e = results["efficiency"]
        firms = _firm_table(e)
        top = firms[e.enterprises.loc[firms.index, "scored"]]
        top = top.groupby("rank_group", sort=False).head(TOP_FIRMS)
        meeting += [
            Sheet(
                "亩均效益排名",
                _pick(top, _MEETING_FIRM_COLUMNS),
                f"各排名组前 {TOP_FIRMS} 名；全部 {len(firms)} 家企业的评价见"
                "《附表.xlsx》「亩均效益评价」。",
            ),
            Sheet("亩均评价基准值", e.benchmarks),
            Sheet("园区汇总", e.parks),
        ]
        appendix.append(Sheet("亩均效益评价", firms))
    redline = results.get("redline")
    if redline is not None and redline.landclass is not None:
        meeting.append(
            Sheet("地类面积汇总表", redline.summary, _landclass_note(redline), _FOUR_DECIMALS)
        )
    if "indicators" in results:
        checked = results["indicators"]
        table = pd.DataFrame(checked[[c for c in INDICATOR_COLUMNS if c in checked.columns]])
        note = (
            "容积率、建筑系数等指标值及来源见各列；“（未核实）”：该值只找到一处来源；"
            "国家指标表其余各值为两处以上独立转载一致，均未与发文原件核对"
        )
        ok = [c for c in table.columns if str(c).endswith("_ok")]
        failing = table[~table[ok].fillna(True).astype(bool).all(axis=1)] if ok else table
        meeting.append(
            Sheet("用地控制指标", failing, note + "；此处列出未达标地块，全部见《附表.xlsx》")
        )
        appendix.append(Sheet("用地控制指标（全部）", table, note))
    return meeting, appendix


def run_pack(
    data: ProjectData, out_dir: Path, results: Mapping[str, Any], lines: Sequence[str]
) -> StepResult:
    """The meeting pack from the analyses' results.

    Writes 会议材料.xlsx (what a meeting reads) and 附表.xlsx (full tables),
    both ready to print; the charts and the overview map (``charts/``); the
    printable thematic maps as PDF and PNG (``专题图/``); the Word report
    汇报材料.docx; and the summary 摘要.md / 摘要.html.
    """
    res = StepResult(out_dir)
    project = data.project
    synthetic = data.synthetic
    day = data_date(data, results)
    date_text = f"数据截至 {day}" if day else ""
    meeting, appendix = meeting_sheets(data, results)
    cover = _cover(data, results)
    for name, sheets in (("会议材料", meeting), ("附表", appendix)):
        res.files.append(
            write_workbook(
                out_dir / f"{name}.xlsx",
                sheets,
                cover,
                title=f"{project.name} {name}",
                date=date_text,
            )
        )
    charts = out_dir / "charts"
    images: dict[str, Path] = {}

    def marks(source: str) -> ChartMarks:
        return ChartMarks(source, date_text, synthetic)

    if "efficiency" in results:
        e = results["efficiency"]
        source = f"{e.year}年企业亩均效益评价，见《附表.xlsx》「亩均效益评价」"
        images["亩均税收排名"] = ranking_chart(
            e.enterprises, charts / "亩均税收排名.png", year=e.year, marks=marks(source)
        )
        if unnamed := firm_labels(e.enterprises[e.enterprises["scored"]])[1]:
            res.lines.append(unnamed)
        images["分类分布"] = class_chart(
            e.enterprises, charts / "分类分布.png", year=e.year, marks=marks(source)
        )
    if "trend" in results:
        images["处置趋势"] = trend_chart(
            results["trend"],
            charts / "处置趋势.png",
            marks=marks("闲置土地处置台账，见《会议材料.xlsx》「处置趋势」"),
        )
    layers = map_layers(data, results)
    images["总览图"] = overview_map(
        layers,
        charts / "总览图.png",
        title=f"{project.name} 总览",
        synthetic=synthetic,
        marks=marks("项目图层与本次分析结果"),
    )
    res.files += images.values()
    info = MapInfo(
        project=project.name,
        crs=data.crs,
        data_date=day,
        mapping_unit=project.options.project.mapping_unit,
        paper=project.options.project.paper,
        synthetic=synthetic,
    )
    maps = write_thematic_maps(layers, out_dir / "专题图", info=info)
    res.files += maps
    images |= {f.stem: f for f in maps if f.suffix == ".png"}
    title = f"{project.name} 土地利用情况摘要"
    sections = briefing_sections(results, images, project.options)
    res.files.append(
        write_briefing(
            out_dir / "汇报材料.docx",
            sections,
            title=f"{project.name} 土地利用情况汇报材料",
            date=date_text,
            synthetic=synthetic,
        )
    )
    res.files.append(
        write_text(summary_markdown(title, lines, synthetic=synthetic), out_dir / "摘要.md")
    )
    res.files.append(
        write_text(
            summary_html(title, lines, sections, date=date_text, synthetic=synthetic, base=out_dir),
            out_dir / "摘要.html",
        )
    )
    res.lines.append(
        f"会议材料：会议材料.xlsx（{len(meeting) + 1} 个工作表）、附表.xlsx（{len(appendix) + 1} 个"
        f"工作表）、{len(images) - len(maps) // 2} 张图表、{len(maps) // 2} 幅专题图"
        f"（{info.paper} 横向，PDF 与 PNG）、汇报材料.docx、摘要.md、摘要.html"
    )
    if not info.mapping_unit:
        res.lines.append(
            '专题图未注明制图单位：在项目文件 [project] 中写 mapping_unit = "某某县自然资源局"'
        )
    return res


def _preflight(data: ProjectData) -> None:
    """Stop before writing anything when a configured analysis lacks its inputs.

    The meeting pack runs several analyses; one failing halfway would leave half
    a pack.  Every problem is listed in one error.
    """
    options = data.project.options
    problems = []
    if "udb" not in data.layers:
        problems.append("the conflict check needs [layers.udb] (城镇开发边界)")
    if options.idle.as_of is not None:
        lacking = [c for c in IDLE_REQUIRED if c not in data.layer("parcels").columns]
        if lacking:
            problems.append(
                f"[idle] as_of is set but the parcels lack {', '.join(lacking)} (约定动工日期); "
                'map it in [layers.parcels.fields] (e.g. agreed_start_date = "约定动工日期") '
                "or remove [idle] as_of"
            )
    if (options.idle.ledger or options.idle.ledger_import) and options.rates.period is None:
        problems.append("a ledger is configured but [rates] period is not (统计期)")
    for key in ("ledger", "ledger_import"):
        name = getattr(options.idle, key)
        if name and not data.project.path(name).exists():
            problems.append(f"[idle] {key} = {name!r}: no such file")
    if _has_indicator_inputs(data):
        try:
            resolve_rules(indicator_table(data), options.indicators, data.layer("parcels"))
        except LanduseError as exc:
            problems.append(f"the indicator check: {str(exc).rstrip('.')}")
    if problems:
        raise ConfigError(
            f"{data.project.source or data.project.name}: nothing written; "
            + "; ".join(problems)
            + "."
        )


def run_report(
    data: ProjectData,
    out_dir: str | Path,
    *,
    on_step: Callable[[str], None] | None = None,
    basemap: Basemap = "none",
    tianditu_token: str | None = None,
) -> StepResult:
    """Run every configured analysis and write the meeting pack into ``out_dir``.

    Analyses run when the project has what they need: the check always, buildable
    land with a parks layer, idle land with ``[idle] as_of``, rates with a ledger,
    the per-mu evaluation with an enterprise table, the control indicators with a
    buildings layer or indicator fields on the parcels.
    """
    step = on_step or (lambda _msg: None)
    _preflight(data)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = StepResult(out)
    result.extend(run_load(data, out))
    step("三区三线检查 conflict check")
    result.extend(run_check(data, out))
    if "parks" in data.layers:
        step("可建设用地 buildable land")
        result.extend(run_buildable(data, out))
    ledger = _ledger_for(data, out)
    if data.project.options.idle.as_of:
        step("闲置土地 idle land")
        result.extend(run_idle(data, out, ledger=ledger))
    if ledger is not None:
        step("处置台账与处置率 ledger and rates")
        result.files.append(ledger.path)
        result.extend(run_rates(data, out, ledger=ledger))
    if "enterprises" in data.tables:
        step("亩均效益 per-mu efficiency")
        result.extend(run_efficiency(data, out))
    if "redline" in data.layers:
        step("项目红线 red line")
        result.extend(run_redline(data, out))
    if _has_indicator_inputs(data):
        step("用地控制指标 land-use indicators")
        result.extend(run_indicators(data, out, efficiency=result.results.get("efficiency")))
    step("会议地图 map")
    result.extend(
        run_map(data, out, results=result.results, basemap=basemap, tianditu_token=tianditu_token)
    )
    step("会议材料 meeting pack")
    pack = run_pack(data, out, result.results, result.lines)
    result.extend(pack)
    return result


def run_demo(
    out_dir: str | Path,
    *,
    project: Project | None = None,
    on_step: Callable[[str], None] | None = None,
) -> StepResult:
    """Run the whole pipeline and the meeting pack on the shipped sample (or a project).

    Parameters
    ----------
    out_dir : str or Path
        Folder for the outputs; created if needed.
    project : Project, optional
        Defaults to :func:`landuse.core.config.sample_project`.
    on_step : callable, optional
        Called with a short description before each step.

    Returns
    -------
    StepResult
    """
    return run_project("report", project or sample_project(), out_dir, on_step=on_step)


# ------------------------------------------------------------------ red line


def redline_project(data: ProjectData) -> RedlineResult:
    """Run :func:`analyse_redline` on ``[layers.redline]`` with the project's other layers.

    A red line without parcel ids (DXF, KML) has its parcels numbered 1, 2 … in
    file order.
    """
    redline = data.layer("redline")
    if "parcel_id" not in redline or redline["parcel_id"].isna().all():
        redline = redline.assign(parcel_id=[str(k) for k in range(1, len(redline) + 1)])
    options = data.project.options
    extra = options.check.extra_constraints
    return analyse_redline(
        redline.assign(parcel_id=redline["parcel_id"].astype(str)),
        dltb=data.layers.get("dltb"),
        udb=data.layers.get("udb"),
        udb_zones=data.layers.get("udb_zones"),
        farmland=data.layers.get("farmland"),
        eco_redline=data.layers.get("eco_redline"),
        others={name: data.layers[name] for name in extra},
        labels=extra,
        tolerance=NoiseTolerance.from_options(options.check),
        system=options.landclass.system,
        basis=options.project.area,
    )


_REDLINE_COLUMNS = [
    "parcel_id",
    "parcel_name",
    "land_use",
    "area_basis",
    "area_m2",
    "area_ha",
    "area_mu",
    "area_plane_m2",
    "area_ellipsoid_m2",
    "ellipsoid_minus_plane_m2",
    "stated_area",
    "stated_area_unit",
    "stated_area_m2",
    "stated_area_diff_m2",
    "stated_area_ok",
    "udb_inside_m2",
    "udb_outside_m2",
    "farmland_m2",
    "eco_redline_m2",
    "status",
]
_FOUR_DECIMALS = {"area_ha": "#,##0.0000", "area_mu": "#,##0.0000"}


def _redline_lines(data: ProjectData, r: RedlineResult) -> list[str]:
    """The headline lines of the red-line step."""
    p = r.parcels
    basis = BASIS_LABELS[r.basis]
    diff = p["ellipsoid_minus_plane_m2"].sum()
    lines = [
        f"项目红线 {len(p)} 个地块：{p['area_ha'].sum():,.4f} 公顷（{p['area_mu'].sum():,.4f} 亩，"
        f"{basis}）；椭球面积比平面面积{'大' if diff >= 0 else '小'} {abs(diff):,.2f} 平方米"
        f"（{diff / p['area_plane_m2'].sum():+.4%}）"
    ]
    if "stated_area_ok" in p and p["stated_area_ok"].notna().any():
        wrong = p[p["stated_area_ok"].eq(False)]
        unit = p["stated_area_unit"].dropna().iloc[0]
        lines.append(
            f"地块面积核对（文件所写面积按{unit}理解）：{int(p['stated_area_ok'].notna().sum())} "
            f"个地块中 {len(wrong)} 个与坐标不符"
            + "".join(
                f"；地块 {row.parcel_id} 写 {row.stated_area:,.4f} {unit}，"
                f"坐标计算 {row.area_plane_m2 / (1e4 if unit == '公顷' else 1):,.4f} {unit}"
                for row in wrong.itertuples()
            )
        )
    if r.landclass is not None:
        table = r.landclass.table
        by_group = table.groupby("category")["area_ha"].sum()
        farmland = table.loc[table["level1_code"] == "01", "area_ha"].sum()
        parts = [
            f"{g} {by_group[g]:,.4f} 公顷" for g in (*GROUPS, "地类图斑未覆盖") if g in by_group
        ]
        lines.append(
            f"地类（{SYSTEMS[r.landclass.system][0]}，{basis}，耕地已扣除田坎）："
            + "，".join(parts)
            + f"；其中耕地 {farmland:,.4f} 公顷"
        )
    if r.conflicts is not None:
        # The control lines as the 汇总表 has them under 合计 (rounded to add up).
        rows = r.summary.iloc[list(r.summary["category"]).index("合计") + 1 :]
        items: list[str] = []
        for first, second, ha in zip(
            rows["category"], rows["level1"], rows["area_ha"], strict=True
        ):
            if first:
                items.append(f"{first} {ha:,.4f} 公顷")
            else:
                items[-1] += f"（{str(second).removeprefix('其中：')} {ha:,.4f}）"
        status = "；".join(
            f"地块 {pid}：{text}" for pid, text in zip(p["parcel_id"], p["status"], strict=True)
        )
        lines.append(f"红线三区三线：{'，'.join(items).replace('）（', '，')}；{status}")
    else:
        lines.append("未配置城镇开发边界 [layers.udb]：红线未做三区三线检查")
    if r.landclass is None:
        lines.append("未配置地类图斑 [layers.dltb]：红线未做地类统计")
    return lines


def _landclass_note(r: RedlineResult) -> str:
    """What every land-class table says about its figures."""
    system = SYSTEMS[r.landclass.system][0] if r.landclass is not None else ""
    return (
        f"面积口径：{BASIS_LABELS[r.basis]}；地类：{system}；耕地按扣除系数（KCXS）扣除田坎；"
        "公顷、亩保留四位小数，分项经平差与合计一致。"
    )


def _redline_map(data: ProjectData, r: RedlineResult) -> dict[str, gpd.GeoDataFrame]:
    """Map layers of a red line: the DLTB and control lines around it, cut to a window."""
    layers: dict[str, gpd.GeoDataFrame] = {"redline": r.parcels}
    x0, y0, x1, y1 = r.parcels.total_bounds
    margin = max(300.0, 0.3 * max(x1 - x0, y1 - y0))
    window = (x0 - margin, y0 - margin, x1 + margin, y1 + margin)
    for name in ("udb", "udb_zones", "farmland", "eco_redline", "dltb"):
        if name in data.layers:
            layers[name] = data.layers[name].clip(window)
    if "dltb" in layers:
        walk = crosswalk(r.landclass.system if r.landclass else "gbt21010")
        codes = layers["dltb"]["land_class_code"].astype(str)
        layers["dltb"] = layers["dltb"].assign(
            category=walk["group"].reindex(codes).fillna("其他").to_numpy()
        )
    if r.conflicts is not None:
        layers["conflicts"] = r.conflicts.pieces
    return layers


def run_redline(data: ProjectData, out_dir: Path) -> StepResult:
    """A project's red line: areas, land classes, control lines, workbook, map and TXT.

    Without DLTB and UDB layers (``landuse redline FILE`` outside a project) it
    converts the red line: GeoPackage, table of areas with the stated-area
    check, and the 界址点坐标 TXT.
    """
    res = StepResult(out_dir)
    r = redline_project(data)
    res.results["redline"] = r
    layers: dict[str, gpd.GeoDataFrame | pd.DataFrame] = {"redline": r.parcels}
    if r.landclass is not None:
        layers["landclass"] = pd.DataFrame(r.landclass.table)
        layers["landclass_pieces"] = r.landclass.pieces
    res.files.append(write_layers(layers, out_dir / "redline.gpkg"))
    shown = r.parcels[[c for c in _REDLINE_COLUMNS if c in r.parcels]]
    res.files.append(write_table(labelled(shown), out_dir / "redline.csv"))
    res.files.append(write_boundary_txt(r.parcels, out_dir / "redline.txt"))
    res.lines += _redline_lines(data, r)
    if r.landclass is not None:
        note = _landclass_note(r)
        sheets = [
            Sheet("地类面积汇总表", r.summary, note, _FOUR_DECIMALS),
            Sheet("分地块地类面积", r.landclass.table, note, _FOUR_DECIMALS),
            Sheet("红线地块", pd.DataFrame(shown), "", _FOUR_DECIMALS),
        ]
        if len(r.zones):
            sheets.append(Sheet("开发边界规划分区", r.zones, "", _FOUR_DECIMALS))
        if r.conflicts is not None:
            pieces = r.conflicts.pieces.drop(columns="constraint")
            sheets.append(Sheet("红线冲突图斑", pd.DataFrame(pieces)))
        cover = [
            ("工具版本", f"landuse {__version__}"),
            ("项目", data.project.name),
            ("分析坐标系", crs_label(data.crs)),
            ("面积口径", BASIS_LABELS[r.basis]),
            ("地类分类", SYSTEMS[r.landclass.system][0]),
        ]
        for name in ("redline", "dltb"):
            src = data.layer(name).attrs["landuse_source"]
            if src.get("sha256"):  # a database table: where (no password), hash of what was read
                cover.append((f"输入表（{name}）", f"{src['path']}  SHA-256 {src['sha256']}"))
            elif Path(src["path"]).is_file():
                path = Path(src["path"])
                cover.append((f"输入文件（{name}）", f"{path.name}  SHA-256 {file_sha256(path)}"))
        day = data_date(data, {})
        res.files.append(
            write_workbook(
                out_dir / "用地预审.xlsx",
                sheets,
                cover,
                title=f"{data.project.name} 用地预审",
                date=f"数据截至 {day}" if day else "",
            )
        )
    if r.conflicts is not None or r.landclass is not None:
        m = build_map(
            _redline_map(data, r),
            title=f"{data.project.name} 项目红线",
            subtitle=BASIS_LABELS[r.basis],
            synthetic=data.synthetic,
        )
        res.files.append(write_text(render_html(m, offline=True), out_dir / "redline_map.html"))
    return res


#: Command → analysis step; each takes ``(data, out_dir, **options)``.
STEPS: dict[str, Callable[..., StepResult]] = {
    "check": run_check,
    "buildable": run_buildable,
    "idle": run_idle,
    "rates": run_rates,
    "tax": run_efficiency,
    "indicators": run_indicators,
    "map": run_map,
    "redline": run_redline,
    "report": run_report,
}


def run_project(
    step: str,
    project: Project,
    out_dir: str | Path,
    *,
    on_step: Callable[[str], None] | None = None,
    area_of: str | None = None,
    **options: Any,
) -> StepResult:
    """Load a project, report what was read, run one step and write its outputs.

    Parameters
    ----------
    step : str
        A key of :data:`STEPS` (``check``, ``buildable``, ``idle``, ``rates``,
        ``tax``, ``indicators``, ``map``, ``report``).
    project : Project
        The project (``landuse.core.config.load_project``).
    out_dir : str or Path
        Output folder, created if needed; or a ``postgresql://…[?schema=s]`` URL:
        the result layers then go only there, as tables, in one transaction.
        With ``[output] database`` they go to the folder and the database.
    on_step : callable, optional
        Progress callback, called with a short description before each stage.
    area_of : str, optional
        The layer covering the only area analysed (``parcels`` for a red line):
        database tables are read within its bounding box.
    **options
        The step's own keyword arguments (``as_of``, ``year``, ``engine`` ...).

    Returns
    -------
    StepResult
        The intake lines first, then the step's lines and files.
    """
    only_database = postgis.is_database_url(out_dir)
    if only_database and step in ("report", "map"):
        raise ConfigError(
            f"'{step}' writes files for people (workbook, map): give --out a folder, and set "
            "[output] database to also write the result layers to the database."
        )
    database = str(out_dir) if only_database else data_url(project)
    with contextlib.ExitStack() as stack:
        if only_database:  # the files are only a stage on the way to the tables
            out = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="landuse-")))
        else:
            out = Path(out_dir)
            out.mkdir(parents=True, exist_ok=True)
        data = load_project_data(project, on_step=on_step, area_of=area_of)
        if on_step is not None:
            on_step(STEP_LABELS[step])
        if step == "report":
            options["on_step"] = on_step
        done = STEPS[step](data, out, **options)  # may stop before writing (report's checks)
        result = run_intake(data, out)
        result.extend(done)
        if database is not None:
            url, schema = postgis.split_schema(database)
            layers = read_result_layers(f for f in result.files if f.suffix == ".gpkg")
            tables = postgis.write_tables(url, layers, schema=schema)
            result.lines.append(
                f"结果已写入数据库 Written to {postgis.redact(url)}：{', '.join(tables)}"
            )
        if only_database:
            result.files, result.database = [], postgis.redact(str(out_dir))
    return result


def data_url(project: Project) -> str | None:
    """``[output] database``: where result layers also go (None: the folder only)."""
    return project.options.output.database


STEP_LABELS = {
    "check": "三区三线检查 checking",
    "buildable": "可建设用地 finding buildable land",
    "idle": "闲置土地 idle land",
    "rates": "处置率 rates",
    "tax": "亩均效益 per-mu efficiency",
    "indicators": "用地控制指标 land-use indicators",
    "map": "会议地图 map",
    "redline": "项目红线 red line",
    "report": "会议材料 meeting pack",
}

"""Industrial land control indicators (用地控制指标, 标准地) as a step."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from landuse.analysis.efficiency import EfficiencyResult
from landuse.analysis.indicator_tables import INDICATORS, IndicatorTable, load_indicator_table
from landuse.analysis.indicators import (
    FIRM_TARGETS,
    INDICATOR_COLUMNS,
    TARGETS,
    check_indicators,
    indicator_summary,
    resolve_rules,
)
from landuse.core.crs import with_areas
from landuse.core.errors import LanduseError
from landuse.core.labels import labelled
from landuse.core.options import parse_day
from landuse.io import ProjectData, write_layers, write_table
from landuse.outputs.sections import indicators_section
from landuse.outputs.sheets import Sheet
from landuse.pipeline.efficiency import efficiency_project
from landuse.pipeline.result import StepResult
from landuse.pipeline.step import Results, Step, result_layer

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
    res.files.append(write_layers({"indicators": checked}, out_dir / "indicators.gpkg", only=True))
    res.files.append(write_table(labelled(checked), out_dir / "indicators.csv"))
    res.lines += _indicator_lines(checked, table, data)
    return res


def _preflight(data: ProjectData) -> list[str]:
    if not _has_indicator_inputs(data):
        return []
    try:
        options = data.project.options.indicators
        resolve_rules(indicator_table(data), options, data.layer("parcels"))
    except LanduseError as exc:
        return [f"the indicator check: {str(exc).rstrip('.')}"]
    return []


def _sheets(data: ProjectData, results: Results) -> tuple[list[Sheet], list[Sheet]]:
    if "indicators" not in results:
        return [], []
    checked = results["indicators"]
    table = pd.DataFrame(checked[[c for c in INDICATOR_COLUMNS if c in checked.columns]])
    note = (
        "容积率、建筑系数等指标值及来源见各列；“（未核实）”：该值只找到一处来源；"
        "国家指标表其余各值为两处以上独立转载一致，均未与发文原件核对"
    )
    ok = [c for c in table.columns if str(c).endswith("_ok")]
    failing = table[~table[ok].fillna(True).astype(bool).all(axis=1)] if ok else table
    summary = Sheet("用地控制指标汇总", indicator_summary(checked), note)
    listed = note + "；此处列出未达标地块，全部见《附表.xlsx》"
    meeting = [summary, Sheet("用地控制指标", failing, listed)]
    return meeting, [Sheet("用地控制指标（全部）", table, note)]


def _cover(data: ProjectData, results: Results) -> list[tuple[str, str]]:
    if "indicator_table" not in results:
        return []
    return [("用地控制指标", _indicator_basis(results["indicator_table"], data))]


STEP = Step(
    "indicators",
    "用地控制指标 land-use indicators",
    run_indicators,
    # The 标准地 figures come from the per-mu evaluation (its parcels, parks, enterprises).
    needs=lambda project: {"parcels", "buildings", "parks", "enterprises"},
    in_report=_has_indicator_inputs,
    report_options=lambda data, out_dir, results: {"efficiency": results.get("efficiency")},
    preflight=_preflight,
    sheets=_sheets,
    cover=_cover,
    map_layers=result_layer("indicators"),
    briefing=indicators_section,
)

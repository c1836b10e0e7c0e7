"""Idle land (闲置土地) as a step, with the disposal ledger's procedure."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import pandas as pd

from landuse.analysis.idle import IDLE_REQUIRED, find_idle, idle_summary, procedure_status
from landuse.core.crs import with_areas
from landuse.core.errors import ConfigError
from landuse.core.labels import labelled
from landuse.core.options import IdleOptions, parse_day
from landuse.io import ProjectData, read_raster, write_layers, write_table
from landuse.ledger import Ledger
from landuse.outputs.sections import idle_section
from landuse.outputs.sheets import Sheet
from landuse.pipeline.ledger import project_ledger
from landuse.pipeline.result import StepResult
from landuse.pipeline.step import PARCEL_COLUMNS, Results, Step, pick


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
    ledger = ledger if ledger is not None else project_ledger(data, out_dir)
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
    res.files.append(write_layers({"idle": out}, out_dir / "idle.gpkg", only=True))
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


_MEETING_COLUMNS = [
    *PARCEL_COLUMNS,
    "idle_type",
    "idle_since",
    "idle_days",
    "gov_caused",
    "idle_fee_wan",
    "consequence",
    "suspect_idle",
]


def _preflight(data: ProjectData) -> list[str]:
    if data.project.options.idle.as_of is None:
        return []
    lacking = [c for c in IDLE_REQUIRED if c not in data.layer("parcels").columns]
    if not lacking:
        return []
    return [
        f"[idle] as_of is set but the parcels lack {', '.join(lacking)} (约定动工日期); "
        'map it in [layers.parcels.fields] (e.g. agreed_start_date = "约定动工日期") '
        "or remove [idle] as_of"
    ]


def _sheets(data: ProjectData, results: Results) -> tuple[list[Sheet], list[Sheet]]:
    meeting: list[Sheet] = []
    appendix: list[Sheet] = []
    if "idle" in results:
        idle = results["idle"]
        shown = idle[_idle_rows(idle)]
        meeting += [
            Sheet("闲置土地汇总", idle_summary(idle)),
            Sheet(
                "闲置土地",
                pick(shown, _MEETING_COLUMNS),
                "出让价款、约定与实际动工日期、文书与期限、影像建设覆盖率见《附表.xlsx》「闲置土地」。",
            ),
        ]
        appendix.append(Sheet("闲置土地", pick(shown, _IDLE_COLUMNS)))
    if "procedure" in results:
        appendix.append(Sheet("处置进度", results["procedure"]))
    return meeting, appendix


def _cover(data: ProjectData, results: Results) -> list[tuple[str, str]]:
    rows = [("闲置土地判定日", results["as_of"])] if "as_of" in results else []
    idle = data.project.options.idle
    rows.append(
        (
            "处置程序期限",
            f"发现疑似闲置后 {idle.investigation_days} 日内调查（第五条）；决定书送达后 "
            f"{idle.payment_days} 日内缴纳闲置费或交回土地（第十七条）；首日不计入"
            + ("，末日为法定休假日的顺延（民法典第二百零三条）" if idle.holiday_rollover else ""),
        )
    )
    return rows


def _map_layers(data: ProjectData, results: Results, layers: dict[str, gpd.GeoDataFrame]) -> None:
    idle = results.get("idle")
    if idle is not None:
        extra = [c for c in ("idle", "suspect_idle", "idle_days", "consequence") if c in idle]
        layers["parcels"] = layers["parcels"].join(idle[extra])


STEP = Step(
    "idle",
    "闲置土地 idle land",
    run_idle,
    needs=lambda project: {"parcels"},  # rasters and the ledger are read by the step
    in_report=lambda data: data.project.options.idle.as_of is not None,
    report_options=lambda data, out_dir, results: {"ledger": project_ledger(data, out_dir)},
    preflight=_preflight,
    sheets=_sheets,
    cover=_cover,
    map_layers=_map_layers,
    briefing=idle_section,
)

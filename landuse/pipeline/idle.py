"""Idle land (闲置土地) as a step, with the disposal ledger's procedure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from landuse.analysis.idle import find_idle, procedure_status
from landuse.core.config import Project
from landuse.core.crs import with_areas
from landuse.core.errors import ConfigError
from landuse.core.labels import labelled
from landuse.core.options import IdleOptions, parse_day
from landuse.io import (
    LayerIntake,
    ProjectData,
    layer_intake,
    load_layer,
    read_raster,
    table_report,
    write_layers,
    write_table,
)
from landuse.ledger import Ledger, read_ledger_file
from landuse.outputs.report import (
    file_sha256,
)
from landuse.pipeline.result import StepResult


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

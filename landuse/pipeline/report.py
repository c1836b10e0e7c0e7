"""Every configured analysis and the meeting pack, checked before anything is written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from landuse.analysis.idle import IDLE_REQUIRED
from landuse.analysis.indicators import (
    resolve_rules,
)
from landuse.core.errors import ConfigError, LanduseError
from landuse.io import (
    ProjectData,
)
from landuse.outputs.maps import Basemap
from landuse.pipeline.buildable import run_buildable
from landuse.pipeline.check import run_check
from landuse.pipeline.efficiency import run_efficiency
from landuse.pipeline.idle import _ledger_for, run_idle
from landuse.pipeline.indicators import _has_indicator_inputs, indicator_table, run_indicators
from landuse.pipeline.load import run_load
from landuse.pipeline.map import run_map
from landuse.pipeline.pack import run_pack
from landuse.pipeline.rates import run_rates
from landuse.pipeline.redline import run_redline
from landuse.pipeline.result import StepResult


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

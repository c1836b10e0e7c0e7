"""Every configured analysis and the meeting pack, checked before anything is written."""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path

from landuse.core.config import Project
from landuse.core.errors import ConfigError
from landuse.io import ProjectData
from landuse.outputs.maps import Basemap
from landuse.pipeline.load import run_load
from landuse.pipeline.map import needs as map_needs
from landuse.pipeline.map import run_map
from landuse.pipeline.pack import run_pack
from landuse.pipeline.registry import ANALYSES
from landuse.pipeline.result import StepResult
from landuse.pipeline.step import Step


def _preflight(data: ProjectData) -> None:
    """Stop before writing anything when a configured analysis lacks its inputs.

    The meeting pack runs several analyses; one failing halfway would leave half
    a pack.  Every problem is listed in one error.
    """
    problems = [problem for step in ANALYSES for problem in step.preflight(data)]
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

    Analyses run when the project has what they need
    (:attr:`~landuse.pipeline.step.Step.in_report`): the check always, buildable
    land with a parks layer, idle land with ``[idle] as_of``, rates with a ledger,
    the per-mu evaluation with an enterprise table, a red line with
    ``[layers.redline]``, the control indicators with a buildings layer or
    indicator fields on the parcels.
    """
    progress = on_step or (lambda _msg: None)
    _preflight(data)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = StepResult(out)
    result.extend(run_load(data, out))
    for step in ANALYSES:
        if step.in_report is not None and step.in_report(data):
            progress(step.label)
            options = step.report_options(data, out, result.results)
            result.extend(step.run(data, out, **options))
    progress("会议地图 map")
    result.extend(
        run_map(data, out, results=result.results, basemap=basemap, tianditu_token=tianditu_token)
    )
    progress("会议材料 meeting pack")
    result.extend(run_pack(data, out, result.results, result.lines))
    return result


def needs(project: Project) -> Collection[str]:
    """What every analysis and the meeting map read."""
    return set(map_needs(project)).union(*(step.needs(project) for step in ANALYSES))


STEP = Step("report", "会议材料 meeting pack", run_report, needs=needs)

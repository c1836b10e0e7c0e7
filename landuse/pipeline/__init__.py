"""Analysis steps on a project: load, run, write outputs, summarise in Chinese.

Each step module takes a :class:`landuse.io.ProjectData`, calls one library
analysis with the project's options, writes its outputs and returns the
headline lines; :mod:`landuse.pipeline.run` registers the steps and runs one
on a project; ``landuse demo`` runs every step on the sample.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from landuse.pipeline.buildable import run_buildable
    from landuse.pipeline.check import run_check
    from landuse.pipeline.efficiency import run_efficiency
    from landuse.pipeline.engine import Engine
    from landuse.pipeline.idle import run_idle
    from landuse.pipeline.indicators import indicators_project, run_indicators
    from landuse.pipeline.ledger import import_ledger, project_ledger
    from landuse.pipeline.load import parcel_area_summary, run_intake, run_load
    from landuse.pipeline.map import map_analyses, map_layers, run_map
    from landuse.pipeline.pack import meeting_sheets, run_pack
    from landuse.pipeline.rates import run_rates
    from landuse.pipeline.redline import run_redline
    from landuse.pipeline.registry import ANALYSES
    from landuse.pipeline.report import run_report
    from landuse.pipeline.result import StepResult
    from landuse.pipeline.run import STEPS, run_demo, run_project
    from landuse.pipeline.step import Step

# Imported when first used: a dask worker importing landuse.pipeline.distributed
# then loads the analyses it runs, not every step, the maps and the workbook.
_LAZY = {
    "run_buildable": "landuse.pipeline.buildable",
    "run_check": "landuse.pipeline.check",
    "run_efficiency": "landuse.pipeline.efficiency",
    "Engine": "landuse.pipeline.engine",
    "run_idle": "landuse.pipeline.idle",
    "indicators_project": "landuse.pipeline.indicators",
    "run_indicators": "landuse.pipeline.indicators",
    "import_ledger": "landuse.pipeline.ledger",
    "project_ledger": "landuse.pipeline.ledger",
    "parcel_area_summary": "landuse.pipeline.load",
    "run_intake": "landuse.pipeline.load",
    "run_load": "landuse.pipeline.load",
    "map_analyses": "landuse.pipeline.map",
    "map_layers": "landuse.pipeline.map",
    "run_map": "landuse.pipeline.map",
    "meeting_sheets": "landuse.pipeline.pack",
    "run_pack": "landuse.pipeline.pack",
    "run_rates": "landuse.pipeline.rates",
    "run_redline": "landuse.pipeline.redline",
    "ANALYSES": "landuse.pipeline.registry",
    "run_report": "landuse.pipeline.report",
    "StepResult": "landuse.pipeline.result",
    "STEPS": "landuse.pipeline.run",
    "run_demo": "landuse.pipeline.run",
    "run_project": "landuse.pipeline.run",
    "Step": "landuse.pipeline.step",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)


__all__ = [
    "ANALYSES",
    "STEPS",
    "Engine",
    "Step",
    "StepResult",
    "import_ledger",
    "indicators_project",
    "map_analyses",
    "map_layers",
    "meeting_sheets",
    "parcel_area_summary",
    "project_ledger",
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

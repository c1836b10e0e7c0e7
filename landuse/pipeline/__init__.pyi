"""Types of the names :mod:`landuse.pipeline` loads on first use (lazy_loader reads this)."""

from .buildable import run_buildable
from .check import run_check
from .efficiency import run_efficiency
from .engine import Engine
from .idle import run_idle
from .indicators import indicators_project, run_indicators
from .ledger import import_ledger, project_ledger
from .load import parcel_area_summary, run_intake, run_load
from .map import map_analyses, map_layers, run_map
from .pack import meeting_sheets, run_pack
from .rates import run_rates
from .redline import run_redline
from .registry import ANALYSES
from .report import run_report
from .result import StepResult
from .run import STEPS, run_demo, run_project
from .step import Step

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

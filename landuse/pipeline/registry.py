"""The analyses the pipeline knows, in the order the report runs and shows them.

Adding an analysis: a module in :mod:`landuse.pipeline` that ends with its
:class:`~landuse.pipeline.step.Step`, and one entry here.
"""

from __future__ import annotations

from landuse.pipeline import buildable, check, efficiency, idle, indicators, rates, redline
from landuse.pipeline.step import Step

#: Analyses in report order: the check first (its parcels carry every status
#: the map shows), the indicators after the per-mu evaluation they reuse.
ANALYSES: tuple[Step, ...] = (
    check.STEP,
    buildable.STEP,
    idle.STEP,
    rates.STEP,
    efficiency.STEP,
    redline.STEP,
    indicators.STEP,
)

"""What the pipeline knows about an analysis: how to run it and what it adds to the outputs.

Each analysis module of :mod:`landuse.pipeline` ends with one :class:`Step`;
:data:`landuse.pipeline.registry.ANALYSES` lists them.  The report, the meeting
workbooks, their cover and the meeting map only iterate over that list, so a
new analysis is one new module and one registration.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from landuse.core.config import Project
from landuse.core.options import Options
from landuse.io import ProjectData
from landuse.outputs.sections import Section
from landuse.outputs.sheets import Sheet
from landuse.pipeline.result import StepResult

#: The analyses' results so far, by key (``conflicts``, ``idle``, ``efficiency`` ...).
Results = Mapping[str, Any]


def every_layer(project: Project) -> Collection[str]:
    """Every layer and table the project lists (what a step reads unless it says)."""
    return project.layers


def _no_problems(data: ProjectData) -> list[str]:
    return []


def _no_options(data: ProjectData, out_dir: Path, results: Results) -> dict[str, Any]:
    return {}


def _no_sheets(data: ProjectData, results: Results) -> tuple[list[Sheet], list[Sheet]]:
    return [], []


def _no_rows(data: ProjectData, results: Results) -> list[tuple[str, str]]:
    return []


def _no_sections(results: Results, images: Mapping[str, Path], options: Options) -> list[Section]:
    return []


def _no_layers(data: ProjectData, results: Results, layers: dict[str, gpd.GeoDataFrame]) -> None:
    return None


@dataclass(frozen=True)
class Step:
    """One analysis as the pipeline runs it and as the meeting pack shows it.

    Attributes
    ----------
    command : str
        The command that runs it alone (``landuse <command>``).
    label : str
        Progress line, Chinese and English.
    run : callable
        ``run(data, out_dir, **options) -> StepResult``: the analysis, its files
        and its headline lines.
    needs : callable
        ``(project) -> names``: the layers and tables it reads, required or
        optional (``data.layers.get``); only those the project lists are read,
        and only they get an intake line.  Default: every layer of the project.
    in_report : callable, optional
        Whether ``landuse report`` runs it for a project (it has the inputs);
        None: only on its own.
    report_options : callable
        ``(data, out_dir, results) -> dict``: the keyword arguments of ``run``
        within the report (e.g. an earlier analysis's result to reuse).
    preflight : callable
        ``(data) -> list of str``: what stops the report before anything is
        written, in one line each (English; the report joins them).
    sheets : callable
        ``(data, results) -> (meeting, appendix)``: its sheets of 会议材料.xlsx
        (what a meeting reads) and of 附表.xlsx (full tables).
    cover : callable
        ``(data, results) -> rows``: its rows of the workbooks' cover (封面).
    map_layers : callable
        ``(data, results, layers) -> None``: adds its layers to the meeting map's
        ``layers``, or joins its columns onto ``layers["parcels"]``.
    briefing : callable
        ``(results, images, options) -> sections``: its sections of the Word
        report (a :data:`landuse.outputs.sections.SectionBuilder`).
    """

    command: str
    label: str
    run: Callable[..., StepResult]
    needs: Callable[[Project], Collection[str]] = every_layer
    in_report: Callable[[ProjectData], bool] | None = None
    report_options: Callable[[ProjectData, Path, Results], dict[str, Any]] = _no_options
    preflight: Callable[[ProjectData], list[str]] = _no_problems
    sheets: Callable[[ProjectData, Results], tuple[list[Sheet], list[Sheet]]] = _no_sheets
    cover: Callable[[ProjectData, Results], list[tuple[str, str]]] = _no_rows
    map_layers: Callable[[ProjectData, Results, dict[str, gpd.GeoDataFrame]], None] = _no_layers
    briefing: Callable[[Results, Mapping[str, Path], Options], list[Section]] = _no_sections


def pick(table: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """The ``columns`` of ``table`` that it has, in that order (a sheet's columns)."""
    return pd.DataFrame(table[[c for c in columns if c in table.columns]])


def result_layer(key: str) -> Callable[[ProjectData, Results, dict[str, gpd.GeoDataFrame]], None]:
    """A :attr:`Step.map_layers` that shows the result ``key`` as the map layer ``key``."""

    def add(data: ProjectData, results: Results, layers: dict[str, gpd.GeoDataFrame]) -> None:
        if results.get(key) is not None:
            layers[key] = results[key]

    return add


#: The columns that name a parcel in every list a meeting reads.
PARCEL_COLUMNS = ["parcel_id", "parcel_name", "park", "enterprise_name", "area_mu"]

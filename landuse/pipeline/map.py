"""The meeting web map (会议地图): its layers from the analyses' results."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd

from landuse.core.config import Project
from landuse.core.crs import with_areas
from landuse.io import ProjectData, write_text
from landuse.outputs.maps import Basemap, build_map, parcel_map_status, render_html
from landuse.pipeline import buildable, check, efficiency, indicators
from landuse.pipeline.buildable import buildable_project
from landuse.pipeline.check import check_project
from landuse.pipeline.efficiency import efficiency_project
from landuse.pipeline.indicators import _has_indicator_inputs, indicators_project
from landuse.pipeline.registry import ANALYSES
from landuse.pipeline.result import StepResult
from landuse.pipeline.step import Step

#: Layers the map shows as they are, under the analyses' layers.
_CONTEXT = ("district", "parks", "udb", "farmland", "eco_redline")


def needs(project: Project) -> Collection[str]:
    """The context layers and what the analyses :func:`run_map` runs itself read."""
    steps = (check.STEP, buildable.STEP, efficiency.STEP, indicators.STEP)
    return set(_CONTEXT).union(*(step.needs(project) for step in steps))


def map_layers(data: ProjectData, results: Mapping[str, Any]) -> dict[str, gpd.GeoDataFrame]:
    """The layers of the meeting map from a project and the analyses' results.

    The parcels layer carries the conflict status, idle status and per-mu
    figures together, so one popup tells a parcel's whole story.
    """
    layers: dict[str, Any] = {k: data.layers[k] for k in _CONTEXT if k in data.layers}
    layers["parcels"] = with_areas(data.layer("parcels"), data.crs)
    for step in ANALYSES:
        step.map_layers(data, results, layers)
    layers["parcels"] = layers["parcels"].assign(map_status=parcel_map_status(layers["parcels"]))
    return layers


def map_analyses(data: ProjectData, results: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The analyses the meeting map shows: ``results``, plus those it lacks that the data allow."""
    have = dict(results or {})
    if "conflicts" not in have:
        have["conflicts"] = check_project(data)
    if "buildable" not in have and "parks" in data.layers:
        have["buildable"] = buildable_project(data)
    if "efficiency" not in have and "enterprises" in data.tables:
        have["efficiency"] = efficiency_project(data)
    if "indicators" not in have and _has_indicator_inputs(data):
        have["indicators"], _ = indicators_project(data, efficiency=have.get("efficiency"))
    return have


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
    have = map_analyses(data, results)
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


STEP = Step("map", "会议地图 map", run_map, needs=needs)

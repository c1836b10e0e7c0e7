"""The demo pipeline: every analysis on the sample county, outputs in one folder.

``landuse demo`` calls :func:`run_demo`.  Each analysis adds one step here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd

from landuse.config import Project, sample_project
from landuse.crs import with_areas
from landuse.io import ProjectData, load_project_data, write_layer, write_table
from landuse.labels import labelled

__all__ = ["DemoResult", "parcel_area_summary", "run_demo"]


@dataclass
class DemoResult:
    """What the demo wrote and the headline lines it prints."""

    out_dir: Path
    files: list[Path] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def parcel_area_summary(parcels: gpd.GeoDataFrame) -> pd.DataFrame:
    """Parcel count and area (亩) per park, supplied and unsupplied, plus a total row.

    Parameters
    ----------
    parcels : GeoDataFrame
        Parcels with ``park``, ``supply_status`` and ``area_mu`` columns.

    Returns
    -------
    DataFrame
        Columns ``park``, ``parcels``, ``area_mu``, ``supplied_mu``, ``unsupplied_mu``.
    """
    supplied = parcels["supply_status"].eq("已供")
    frame = pd.DataFrame(
        {
            "park": parcels["park"],
            "parcels": 1,
            "area_mu": parcels["area_mu"],
            "supplied_mu": parcels["area_mu"].where(supplied, 0.0),
            "unsupplied_mu": parcels["area_mu"].where(~supplied, 0.0),
        }
    )
    by_park = frame.groupby("park", sort=True).sum().reset_index()
    total = by_park.drop(columns="park").sum().to_frame().T.assign(park="合计")
    return pd.concat([by_park, total[by_park.columns]], ignore_index=True)


def _load(data: ProjectData, result: DemoResult) -> gpd.GeoDataFrame:
    parcels = with_areas(data.layers["parcels"], data.crs)
    result.files.append(write_layer(parcels, result.out_dir / "landuse_demo.gpkg", "parcels"))
    result.files.append(write_table(labelled(data.report), result.out_dir / "geometry_report.csv"))
    n_repaired = int(data.report["action"].eq("repaired").sum())
    n_dropped = int(data.report["action"].eq("dropped").sum())
    result.lines.append(
        f"读入 {len(parcels)} 个地块（修复 {n_repaired} 个无效图形，剔除 {n_dropped} 个），"
        f"分析坐标系 {data.crs.name}"
    )
    return parcels


def _areas(parcels: gpd.GeoDataFrame, result: DemoResult) -> None:
    summary = parcel_area_summary(parcels)
    result.files.append(
        write_table(labelled(summary.round(2)), result.out_dir / "parcel_areas_by_park.csv")
    )
    total = summary.iloc[-1]
    result.lines.append(
        f"地块总面积 {total['area_mu']:,.1f} 亩，其中已供 {total['supplied_mu']:,.1f} 亩、"
        f"未供 {total['unsupplied_mu']:,.1f} 亩"
    )


def run_demo(
    out_dir: str | Path,
    *,
    project: Project | None = None,
    on_step: Callable[[str], None] | None = None,
) -> DemoResult:
    """Run every analysis on a project (the shipped sample by default).

    Parameters
    ----------
    out_dir : str or Path
        Folder for the outputs; created if needed.
    project : Project, optional
        Defaults to :func:`landuse.config.sample_project`.
    on_step : callable, optional
        Called with a short description before each step.

    Returns
    -------
    DemoResult
    """
    step = on_step or (lambda _msg: None)
    result = DemoResult(out_dir=Path(out_dir))
    result.out_dir.mkdir(parents=True, exist_ok=True)
    step("读取图层 loading layers")
    data = load_project_data(project or sample_project())
    parcels = _load(data, result)
    step("面积统计 areas")
    _areas(parcels, result)
    return result

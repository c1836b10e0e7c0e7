"""The intake step every command starts with, and the parcels' areas by park."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from landuse.core.crs import with_areas
from landuse.core.labels import labelled, sum_by
from landuse.io import ProjectData, write_layers, write_table
from landuse.pipeline.result import StepResult


def parcel_area_summary(parcels: gpd.GeoDataFrame) -> pd.DataFrame:
    """Parcel count and area (亩) per park, supplied and unsupplied, plus a 合计 row.

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
    return sum_by(frame, "park")


def run_intake(data: ProjectData, out_dir: Path) -> StepResult:
    """What was read: one line per layer (read = kept + repaired + dropped) and the report.

    Every command starts with this step, so no repaired or dropped feature goes
    unmentioned; ``geometry_report.csv`` lists each one with the reason.
    """
    res = StepResult(out_dir)
    res.files.append(write_table(labelled(data.report), out_dir / "geometry_report.csv"))
    project = data.project.source or data.project.name
    synthetic = data.synthetic
    res.lines += [
        f"项目 Project：{project}" + ("（示例数据，模拟生成 synthetic）" if synthetic else ""),
        *(intake.line() for intake in data.intake),
        f"分析坐标系 {data.crs.name}（EPSG:{data.crs.to_epsg()}）",
    ]
    return res


def run_load(data: ProjectData, out_dir: Path) -> StepResult:
    """Write the loaded parcels with areas and the areas by park."""
    res = StepResult(out_dir)
    parcels = with_areas(data.layer("parcels"), data.crs)
    res.files.append(write_layers({"parcels": parcels}, out_dir / "parcels.gpkg"))
    summary = parcel_area_summary(parcels)
    res.results["parcel_summary"] = summary
    res.files.append(write_table(labelled(summary), out_dir / "parcel_areas_by_park.csv"))
    total = summary.iloc[-1]
    res.lines += [
        f"地块总面积 {total['area_mu']:,.1f} 亩，其中已供 {total['supplied_mu']:,.1f} 亩、"
        f"未供 {total['unsupplied_mu']:,.1f} 亩",
    ]
    return res

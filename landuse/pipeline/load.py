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
        Parcels with ``area_mu`` and, where known, ``park`` and ``supply_status``.

    Returns
    -------
    DataFrame
        Columns ``park``, ``parcels``, ``area_mu`` and, only when the parcels
        have ``supply_status``, ``supplied_mu`` and ``unsupplied_mu``.  Parcels
        without a park (or a layer without the field) count under 未注明.
    """
    frame = pd.DataFrame(
        {
            "park": parcels["park"] if "park" in parcels.columns else None,
            "parcels": 1,
            "area_mu": parcels["area_mu"],
        },
        index=parcels.index,
    )
    if "supply_status" in parcels.columns:
        supplied = parcels["supply_status"].eq("已供")
        frame["supplied_mu"] = parcels["area_mu"].where(supplied, 0.0)
        frame["unsupplied_mu"] = parcels["area_mu"].where(~supplied, 0.0)
    return sum_by(frame, "park")


# Parcel fields the area summary splits by: field, its name, what is left out without it.
_AREA_SPLITS = (("supply_status", "供地状态", "不分已供、未供"), ("park", "所属园区", "不分园区"))


def _area_line(parcels: gpd.GeoDataFrame, summary: pd.DataFrame) -> str:
    """The headline of the parcel areas, saying which split the fields did not allow."""
    total = summary.iloc[-1]
    line = f"地块总面积 {total['area_mu']:,.1f} 亩"
    if "supplied_mu" in summary.columns:
        line += f"，其中已供 {total['supplied_mu']:,.1f} 亩、未供 {total['unsupplied_mu']:,.1f} 亩"
    missing = [(name, effect) for col, name, effect in _AREA_SPLITS if col not in parcels.columns]
    if missing:
        names, effects = zip(*missing, strict=True)
        line += f"（地块图层无{'、'.join(names)}字段，面积{'、'.join(effects)}汇总）"
    return line


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
    res.files.append(write_layers({"parcels": parcels}, out_dir / "parcels.gpkg", only=True))
    summary = parcel_area_summary(parcels)
    res.results["parcel_summary"] = summary
    res.files.append(write_table(labelled(summary), out_dir / "parcel_areas_by_park.csv"))
    res.lines.append(_area_line(parcels, summary))
    return res

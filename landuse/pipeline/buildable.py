"""Buildable land (可建设用地) as a step: outputs and headline lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from landuse.analysis.buildable import buildable_summary, buildable_udb, find_buildable, steep_land
from landuse.core.config import Project
from landuse.core.labels import labelled
from landuse.io import ProjectData, read_raster, write_layers, write_table
from landuse.outputs.sections import buildable_section
from landuse.outputs.sheets import Sheet
from landuse.pipeline.engine import Engine
from landuse.pipeline.result import StepResult
from landuse.pipeline.step import Results, Step, result_layer


def needs(project: Project) -> set[str]:
    """The parks, the boundary, the obstacles and the ``[buildable] buffers`` layers."""
    obstacles = {"farmland", "eco_redline", "parcels", "roads"}
    return {"parks", "udb", *obstacles, *project.options.buildable.buffers}


def buildable_project(
    data: ProjectData, engine: Engine | None = None, *, out_dir: Path | None = None
) -> gpd.GeoDataFrame:
    """Run :func:`find_buildable` with the project's layers and ``[buildable]`` options.

    Parcels left to the dask engine's workers (``data.parts``) are read by
    them, with a scratch folder in ``out_dir``.
    """
    opts = data.project.options.buildable
    buffers = {name: (data.layers[name], distance) for name, distance in opts.buffers.items()}
    steep = None
    dem_path = data.project.rasters.get("dem")
    if dem_path is not None:
        dem = read_raster(dem_path)
        steep = steep_land(
            dem.array, dem.transform, dem.crs, opts.max_slope_deg, nodata=dem.nodata
        ).to_crs(data.crs)
    args: dict[str, Any] = dict(
        farmland=data.layers.get("farmland"),
        eco_redline=data.layers.get("eco_redline"),
        parcels=data.layers.get("parcels"),
        roads=data.layers.get("roads"),
        buffers=buffers,
        steep=steep,
        options=opts,
    )
    if engine is None or engine.kind == "local":
        threads = data.project.options.project.threads
        return find_buildable(data.layer("parks"), data.layer("udb"), threads=threads, **args)
    # dask loads only when its engine runs.
    from landuse.pipeline.distributed import buildable_parts, dask_client, find_buildable_dask

    with dask_client(engine.scheduler, n_workers=engine.workers) as client:
        if "parcels" in data.parts and out_dir is not None:  # the workers read them
            del args["parcels"]
            return buildable_parts(
                data, data.layer("parks"), data.layer("udb"), client=client, out_dir=out_dir, **args
            )
        return find_buildable_dask(data.layer("parks"), data.layer("udb"), client=client, **args)


def run_buildable(data: ProjectData, out_dir: Path, *, engine: Engine | None = None) -> StepResult:
    """Buildable land: GeoPackage layer, candidate table, per-park summary."""
    res = StepResult(out_dir)
    cands = buildable_project(data, engine, out_dir=out_dir)
    res.results["buildable"] = cands
    res.files.append(write_layers({"buildable": cands}, out_dir / "buildable.gpkg", only=True))
    res.files.append(write_table(labelled(cands), out_dir / "buildable.csv"))
    summary = buildable_summary(cands)
    res.files.append(write_table(labelled(summary), out_dir / "buildable_by_park.csv"))
    opts = data.project.options.buildable
    udb = data.layer("udb")
    zoned = len(buildable_udb(udb, opts))
    res.lines.append(
        f"可建设用地：{len(cands)} 块，合计 {cands['area_mu'].sum():,.1f} 亩"
        f"（单块 ≥ {opts.min_area_mu:g} 亩、宽度 ≥ {opts.min_width_m:g} m"
        + (
            f"；城镇开发边界只计{'、'.join(opts.udb_zones)}，{zoned}/{len(udb)} 个要素"
            if zoned < len(udb)
            else ""
        )
        + "）"
    )
    return res


#: Rows of the meeting workbook's list of candidates; all of them are in 附表.xlsx.
TOP_CANDIDATES = 30


def _sheets(data: ProjectData, results: Results) -> tuple[list[Sheet], list[Sheet]]:
    if "buildable" not in results:
        return [], []
    cands = pd.DataFrame(results["buildable"])
    largest = cands.nlargest(TOP_CANDIDATES, "area_mu")
    meeting = [
        Sheet("可建设用地汇总", buildable_summary(results["buildable"])),
        Sheet(
            f"可建设用地（前{TOP_CANDIDATES}块）",
            largest,
            f"按面积排序的前 {TOP_CANDIDATES} 块；"
            f"全部 {len(cands)} 块见《附表.xlsx》「可建设用地」。",
        ),
    ]
    return meeting, [Sheet("可建设用地", cands)]


def _cover(data: ProjectData, results: Results) -> list[tuple[str, str]]:
    opts = data.project.options.buildable
    return [
        (
            "可建设用地参数",
            f"单块 ≥ {opts.min_area_mu:g} 亩，宽度 ≥ {opts.min_width_m:g} 米，"
            f"坡度 ≤ {opts.max_slope_deg:g}°（有数字高程模型时）",
        )
    ]


STEP = Step(
    "buildable",
    "可建设用地 finding buildable land",
    run_buildable,
    needs=needs,
    in_report=lambda data: "parks" in data.layers,
    sheets=_sheets,
    cover=_cover,
    map_layers=result_layer("buildable"),
    briefing=buildable_section,
)

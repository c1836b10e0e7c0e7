"""The conflict check (三区三线) as a step: outputs and headline lines."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from landuse.analysis.conflicts import (
    ConflictResult,
    NoiseTolerance,
    certified_outside_udb,
    check_conflicts,
    conflict_summary,
)
from landuse.core.config import Project
from landuse.core.labels import labelled
from landuse.io import ProjectData, write_layers, write_table
from landuse.outputs.sections import conflict_section
from landuse.outputs.sheets import Sheet
from landuse.pipeline.engine import Engine
from landuse.pipeline.result import StepResult
from landuse.pipeline.step import PARCEL_COLUMNS, Results, Step, pick


def check_project(
    data: ProjectData, engine: Engine | None = None, *, gpkg: Path | None = None
) -> ConflictResult:
    """Run the conflict check with the project's layers and ``[check]`` options.

    Parcels left to the dask engine's workers (``data.parts``) are checked and
    written into ``gpkg`` by them; the result then holds no geometries.
    """
    options = data.project.options.check
    extra = options.extra_constraints
    args = dict(
        udb=data.layer("udb"),
        farmland=data.layers.get("farmland"),
        eco_redline=data.layers.get("eco_redline"),
        others={name: data.layers[name] for name in extra},
        labels={name: (f"占用{label}", f"occupies {name}") for name, label in extra.items()},
        tolerance=NoiseTolerance.from_options(options),
    )
    if engine is None or engine.kind == "local":
        threads = data.project.options.project.threads
        return check_conflicts(data.layer("parcels"), threads=threads, **args)
    # dask loads only when its engine runs.
    from landuse.pipeline.distributed import check_conflicts_dask, check_parts, dask_client

    with dask_client(engine.scheduler, n_workers=engine.workers) as client:
        if "parcels" in data.parts and gpkg is not None:  # the workers read and write them
            return check_parts(data, client=client, gpkg=gpkg, keep=_shown, **args)
        return check_conflicts_dask(data.layer("parcels"), client=client, **args)


_CHECK_COLUMNS = [
    "parcel_id",
    "parcel_name",
    "park",
    "enterprise_name",
    "certificate_no",
    "area_mu",
    "udb_inside_mu",
    "udb_outside_mu",
    "udb_outside_share",
    "farmland_mu",
    "farmland_share",
    "eco_redline_mu",
    "eco_redline_share",
    "noise_m2",
    "status",
]


def _shown(field: str) -> bool:
    """Whether run_check's tables show a parcel field (extra columns: any in 亩)."""
    return field in _CHECK_COLUMNS or field.endswith("_mu")


def run_check(data: ProjectData, out_dir: Path, *, engine: Engine | None = None) -> StepResult:
    """Conflict check: GeoPackage (parcels + pieces) and CSV tables."""
    res = StepResult(out_dir)
    gpkg = out_dir / "conflicts.gpkg"
    written = "parcels" in data.parts  # by the dask engine's workers and check_project
    result = check_project(data, engine, gpkg=gpkg)
    res.results["conflicts"] = result
    p, pieces = result.parcels, result.pieces
    if not written:
        write_layers({"parcels_check": p, "conflict_pieces": pieces}, gpkg)
    res.files.append(gpkg)
    cols = [c for c in _CHECK_COLUMNS if c in p.columns]
    extra_cols = [c for c in p.columns if c.endswith("_mu") and c not in cols and c != "area_mu"]
    table = pd.DataFrame(p[cols[:-1] + extra_cols + cols[-1:]])
    res.files.append(write_table(labelled(table), out_dir / "conflicts.csv"))
    res.files.append(
        write_table(labelled(pieces.drop(columns="constraint")), out_dir / "conflict_pieces.csv")
    )
    conflicts = ~p["compliant"]
    tol = result.tolerance
    res.lines.append(
        f"三区三线检查：{len(p)} 个地块中 {int(conflicts.sum())} 个存在冲突"
        f"（超出城镇开发边界 {int(p['outside_udb'].sum())} 个"
        + (
            f"，占用永久基本农田 {int(p['occupies_farmland'].sum())} 个，"
            f"{p['farmland_mu'][p['occupies_farmland']].sum():,.1f} 亩"
            if "occupies_farmland" in p
            else ""
        )
        + (
            f"，占用生态保护红线 {int(p['occupies_eco_redline'].sum())} 个"
            if "occupies_eco_redline" in p
            else ""
        )
        + f"）；边界误差 {int((pieces['kind'] == 'noise').sum())} 处"
        f"（容差：面积 < {tol.area_m2:g} m² 且占比 < {tol.share:.1%}，或宽度 < {tol.width_m:g} m）"
    )
    if "certified_outside_udb" in p.columns:
        listed = certified_outside_udb(result)
        res.files.append(write_table(labelled(listed), out_dir / "certified_outside_udb.csv"))
        res.lines.append(
            f"有证但超出城镇开发边界（无法办理建设许可）的地块 {len(listed)} 个，"
            f"边界外面积 {listed['udb_outside_mu'].sum():,.1f} 亩"
        )
    return res


_MEETING_COLUMNS = [
    *PARCEL_COLUMNS,
    "udb_outside_mu",
    "farmland_mu",
    "eco_redline_mu",
    "status",
]


def needs(project: Project) -> set[str]:
    """The parcels, the control lines and the project's own constraints (``[check]``)."""
    return {"parcels", "udb", "farmland", "eco_redline", *project.options.check.extra_constraints}


def _preflight(data: ProjectData) -> list[str]:
    return [] if "udb" in data.layers else ["the conflict check needs [layers.udb] (城镇开发边界)"]


def _sheets(data: ProjectData, results: Results) -> tuple[list[Sheet], list[Sheet]]:
    c = results.get("conflicts")
    if c is None:
        return [], []
    conflicts = c.parcels[~c.parcels["compliant"]]
    flagged = c.parcels[~c.parcels["compliant"] | (c.parcels["noise_m2"] > 0)]
    meeting = [
        Sheet("冲突汇总", conflict_summary(c)),
        Sheet(
            "三区三线冲突",
            pick(conflicts, _MEETING_COLUMNS),
            "边界误差地块、冲突图斑与有证无法建设地块见《附表.xlsx》。",
        ),
    ]
    appendix = [
        Sheet("三区三线检查", pick(flagged, _CHECK_COLUMNS)),
        Sheet("冲突图斑", pd.DataFrame(c.pieces.drop(columns="constraint"))),
    ]
    if "certified_outside_udb" in c.parcels:
        appendix.append(Sheet("有证无法建设", certified_outside_udb(c)))
    return meeting, appendix


def _cover(data: ProjectData, results: Results) -> list[tuple[str, str]]:
    if "conflicts" not in results:
        return []
    tol = results["conflicts"].tolerance
    return [
        (
            "边界误差容差",
            f"面积 < {tol.area_m2:g} 平方米且占地块 < {tol.share:.1%}，或宽度 < {tol.width_m:g} 米",
        )
    ]


def _map_layers(data: ProjectData, results: Results, layers: dict[str, gpd.GeoDataFrame]) -> None:
    conflicts = results.get("conflicts")
    if conflicts is not None:  # the checked parcels carry the status every popup shows
        layers["parcels"] = conflicts.parcels
        layers["conflicts"] = conflicts.pieces


STEP = Step(
    "check",
    "三区三线检查 checking",
    run_check,
    needs=needs,
    in_report=lambda data: True,
    preflight=_preflight,
    sheets=_sheets,
    cover=_cover,
    map_layers=_map_layers,
    briefing=conflict_section,
)

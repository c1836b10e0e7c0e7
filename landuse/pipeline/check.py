"""The conflict check (三区三线) as a step: outputs and headline lines."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
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
from landuse.io import ProjectData, table_rows, write_layers, write_table
from landuse.outputs.sections import conflict_section
from landuse.outputs.sheets import Sheet
from landuse.pipeline.engine import Engine
from landuse.pipeline.result import StepResult
from landuse.pipeline.step import PARCEL_COLUMNS, Results, Step, pick


def _check_args(data: ProjectData) -> dict:
    """The project's control lines, own constraints and ``[check]`` options, as arguments."""
    options = data.project.options.check
    extra = options.extra_constraints
    return dict(
        udb=data.layer("udb"),
        farmland=data.layers.get("farmland"),
        eco_redline=data.layers.get("eco_redline"),
        others={name: data.layers[name] for name in extra},
        labels={name: (f"占用{label}", f"occupies {name}") for name, label in extra.items()},
        tolerance=NoiseTolerance.from_options(options),
    )


def check_project(data: ProjectData, engine: Engine | None = None) -> ConflictResult:
    """Run the conflict check with the project's layers and ``[check]`` options."""
    args = _check_args(data)
    if engine is None or engine.kind == "local":
        threads = data.project.options.project.threads
        return check_conflicts(data.layer("parcels"), threads=threads, **args)
    # dask loads only when its engine runs.
    from landuse.pipeline.distributed import check_conflicts_dask, dask_client

    with dask_client(engine.scheduler, n_workers=engine.workers) as client:
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


class _CheckedParcels:
    """The headline's figures from checked parcels, a batch at a time.

    The batches come in the parcels' order; the figures are those of all of them
    together (the farmland area is summed once, over the parcels in order).
    """

    def __init__(self) -> None:
        self.parcels = self.conflicts = self.outside_udb = 0
        self.flagged: dict[str, int] = {}  # occupies_farmland / occupies_eco_redline → parcels
        self.farmland_mu: list[pd.Series] = []  # of the parcels occupying farmland
        self.certified: list[pd.DataFrame] | None = None  # parcels certified_outside_udb

    def add(self, p: pd.DataFrame) -> pd.DataFrame:
        """Count a batch of checked parcels (no geometry needed); its ``conflicts.csv`` rows."""
        self.parcels += len(p)
        self.conflicts += int((~p["compliant"]).sum())
        self.outside_udb += int(p["outside_udb"].sum())
        for flag in ("occupies_farmland", "occupies_eco_redline"):
            if flag in p.columns:
                self.flagged[flag] = self.flagged.get(flag, 0) + int(p[flag].sum())
        if "occupies_farmland" in p.columns:
            self.farmland_mu.append(p["farmland_mu"][p["occupies_farmland"]])
        if "certified_outside_udb" in p.columns:
            self.certified = [*(self.certified or []), pd.DataFrame(p[p["certified_outside_udb"]])]
        cols = [c for c in _CHECK_COLUMNS if c in p.columns]
        extra = [c for c in p.columns if c.endswith("_mu") and c not in cols and c != "area_mu"]
        return labelled(pd.DataFrame(p[cols[:-1] + extra + cols[-1:]]))

    def headline(self, pieces: pd.DataFrame, tol: NoiseTolerance) -> str:
        """The check's line: parcels, conflicts per control line, boundary noise."""
        farmland = self.flagged.get("occupies_farmland")
        eco = self.flagged.get("occupies_eco_redline")
        return (
            f"三区三线检查：{self.parcels} 个地块中 {self.conflicts} 个存在冲突"
            f"（超出城镇开发边界 {self.outside_udb} 个"
            + (
                f"，占用永久基本农田 {farmland} 个，{pd.concat(self.farmland_mu).sum():,.1f} 亩"
                if farmland is not None
                else ""
            )
            + (f"，占用生态保护红线 {eco} 个" if eco is not None else "")
            + f"）；边界误差 {int((pieces['kind'] == 'noise').sum())} 处"
            f"（容差：面积 < {tol.area_m2:g} m² 且占比 < {tol.share:.1%}，"
            f"或宽度 < {tol.width_m:g} m）"
        )


def write_check_table(batches: Iterable[pd.DataFrame], path: Path) -> _CheckedParcels:
    """Write ``conflicts.csv`` from batches of checked parcels in order; their figures.

    The dask engine runs it on a worker while another process writes the GeoPackage.
    """
    checked = _CheckedParcels()
    with table_rows(path) as rows:
        for batch in batches:
            rows.write(checked.add(batch))
    return checked


def run_check(data: ProjectData, out_dir: Path, *, engine: Engine | None = None) -> StepResult:
    """Conflict check: GeoPackage (parcels + pieces) and CSV tables."""
    res = StepResult(out_dir)
    gpkg, table = out_dir / "conflicts.gpkg", out_dir / "conflicts.csv"
    args = _check_args(data)
    if "parcels" in data.parts and engine is not None:
        # The dask engine's workers read and check the parcels; this process writes the
        # GeoPackage while a worker writes the table.
        from landuse.pipeline.distributed import check_parts, dask_client

        with dask_client(engine.scheduler, n_workers=engine.workers) as client:
            checked, pieces = check_parts(
                data,
                client=client,
                gpkg=gpkg,
                tables=partial(write_check_table, path=table),
                keep=_shown,
                **args,
            )
    else:
        result = check_project(data, engine)
        res.results["conflicts"] = result
        write_layers(
            {"parcels_check": result.parcels, "conflict_pieces": result.pieces}, gpkg, only=True
        )
        checked, pieces = write_check_table([result.parcels], table), result.pieces
    res.files += [gpkg, table]
    res.files.append(
        write_table(labelled(pieces.drop(columns="constraint")), out_dir / "conflict_pieces.csv")
    )
    res.lines.append(checked.headline(pieces, args["tolerance"]))
    if checked.certified is not None:
        listed = certified_outside_udb(pd.concat(checked.certified))
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

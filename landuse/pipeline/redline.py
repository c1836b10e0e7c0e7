"""A project red line (用地预审) as a step: areas, land classes, control lines."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from landuse import __version__
from landuse.analysis.conflicts import NoiseTolerance
from landuse.analysis.landclass import BASIS_LABELS, GROUPS, SYSTEMS, crosswalk
from landuse.analysis.redline import RedlineResult, analyse_redline
from landuse.core.config import Project
from landuse.core.crs import crs_label
from landuse.core.labels import labelled
from landuse.io import (
    ProjectData,
    file_sha256,
    write_boundary_txt,
    write_layers,
    write_table,
    write_text,
)
from landuse.outputs.sections import redline_section
from landuse.outputs.sheets import FOUR_DECIMALS, Sheet
from landuse.pipeline.result import StepResult, data_date
from landuse.pipeline.step import Results, Step


def redline_project(data: ProjectData) -> RedlineResult:
    """Run :func:`analyse_redline` on ``[layers.redline]`` with the project's other layers.

    A red line without parcel ids (DXF, KML) has its parcels numbered 1, 2 … in
    file order.
    """
    redline = data.layer("redline")
    if "parcel_id" not in redline or redline["parcel_id"].isna().all():
        redline = redline.assign(parcel_id=[str(k) for k in range(1, len(redline) + 1)])
    options = data.project.options
    extra = options.check.extra_constraints
    return analyse_redline(
        redline.assign(parcel_id=redline["parcel_id"].astype(str)),
        dltb=data.layers.get("dltb"),
        udb=data.layers.get("udb"),
        udb_zones=data.layers.get("udb_zones"),
        farmland=data.layers.get("farmland"),
        eco_redline=data.layers.get("eco_redline"),
        others={name: data.layers[name] for name in extra},
        labels=extra,
        tolerance=NoiseTolerance.from_options(options.check),
        system=options.landclass.system,
        basis=options.project.area,
    )


_REDLINE_COLUMNS = [
    "parcel_id",
    "parcel_name",
    "land_use",
    "area_basis",
    "area_m2",
    "area_ha",
    "area_mu",
    "area_plane_m2",
    "area_ellipsoid_m2",
    "ellipsoid_minus_plane_m2",
    "stated_area",
    "stated_area_unit",
    "stated_area_m2",
    "stated_area_diff_m2",
    "stated_area_ok",
    "udb_inside_m2",
    "udb_outside_m2",
    "farmland_m2",
    "eco_redline_m2",
    "status",
]


def _redline_lines(data: ProjectData, r: RedlineResult) -> list[str]:
    """The headline lines of the red-line step."""
    p = r.parcels
    basis = BASIS_LABELS[r.basis]
    diff = p["ellipsoid_minus_plane_m2"].sum()
    lines = [
        f"项目红线 {len(p)} 个地块：{p['area_ha'].sum():,.4f} 公顷（{p['area_mu'].sum():,.4f} 亩，"
        f"{basis}）；椭球面积比平面面积{'大' if diff >= 0 else '小'} {abs(diff):,.2f} 平方米"
        f"（{diff / p['area_plane_m2'].sum():+.4%}）"
    ]
    if "stated_area_ok" in p and p["stated_area_ok"].notna().any():
        wrong = p[p["stated_area_ok"].eq(False)]
        unit = p["stated_area_unit"].dropna().iloc[0]
        lines.append(
            f"地块面积核对（文件所写面积按{unit}理解）：{int(p['stated_area_ok'].notna().sum())} "
            f"个地块中 {len(wrong)} 个与坐标不符"
            + "".join(
                f"；地块 {row.parcel_id} 写 {row.stated_area:,.4f} {unit}，"
                f"坐标计算 {row.area_plane_m2 / (1e4 if unit == '公顷' else 1):,.4f} {unit}"
                for row in wrong.itertuples()
            )
        )
    if r.landclass is not None:
        table = r.landclass.table
        by_group = table.groupby("category")["area_ha"].sum()
        farmland = table.loc[table["level1_code"] == "01", "area_ha"].sum()
        parts = [
            f"{g} {by_group[g]:,.4f} 公顷" for g in (*GROUPS, "地类图斑未覆盖") if g in by_group
        ]
        lines.append(
            f"地类（{SYSTEMS[r.landclass.system][0]}，{basis}，耕地已扣除田坎）："
            + "，".join(parts)
            + f"；其中耕地 {farmland:,.4f} 公顷"
        )
    if r.conflicts is not None:
        # The control lines as the 汇总表 has them under 合计 (rounded to add up).
        rows = r.summary.iloc[list(r.summary["category"]).index("合计") + 1 :]
        items: list[str] = []
        for first, second, ha in zip(
            rows["category"], rows["level1"], rows["area_ha"], strict=True
        ):
            if first:
                items.append(f"{first} {ha:,.4f} 公顷")
            else:
                items[-1] += f"（{str(second).removeprefix('其中：')} {ha:,.4f}）"
        status = "；".join(
            f"地块 {pid}：{text}" for pid, text in zip(p["parcel_id"], p["status"], strict=True)
        )
        lines.append(f"红线三区三线：{'，'.join(items).replace('）（', '，')}；{status}")
    else:
        lines.append("未配置城镇开发边界 [layers.udb]：红线未做三区三线检查")
    if r.landclass is None:
        lines.append("未配置地类图斑 [layers.dltb]：红线未做地类统计")
    return lines


def _landclass_note(r: RedlineResult) -> str:
    """What every land-class table says about its figures."""
    system = SYSTEMS[r.landclass.system][0] if r.landclass is not None else ""
    return (
        f"面积口径：{BASIS_LABELS[r.basis]}；地类：{system}；耕地按扣除系数（KCXS）扣除田坎；"
        "公顷、亩保留四位小数，分项经平差与合计一致。"
    )


def _redline_map(data: ProjectData, r: RedlineResult) -> dict[str, gpd.GeoDataFrame]:
    """Map layers of a red line: the DLTB and control lines around it, cut to a window."""
    layers: dict[str, gpd.GeoDataFrame] = {"redline": r.parcels}
    x0, y0, x1, y1 = r.parcels.total_bounds
    margin = max(300.0, 0.3 * max(x1 - x0, y1 - y0))
    window = (x0 - margin, y0 - margin, x1 + margin, y1 + margin)
    for name in ("udb", "udb_zones", "farmland", "eco_redline", "dltb"):
        if name in data.layers:
            layers[name] = data.layers[name].clip(window)
    if "dltb" in layers:
        walk = crosswalk(r.landclass.system if r.landclass else "gbt21010")
        codes = layers["dltb"]["land_class_code"].astype(str)
        layers["dltb"] = layers["dltb"].assign(
            category=walk["group"].reindex(codes).fillna("其他").to_numpy()
        )
    if r.conflicts is not None:
        layers["conflicts"] = r.conflicts.pieces
    return layers


def run_redline(data: ProjectData, out_dir: Path) -> StepResult:
    """A project's red line: areas, land classes, control lines, workbook, map and TXT.

    Without DLTB and UDB layers (``landuse redline FILE`` outside a project) it
    converts the red line: GeoPackage, table of areas with the stated-area
    check, and the 界址点坐标 TXT.
    """
    # The workbook and map writers (openpyxl, matplotlib, folium) load only when a
    # red line runs, not with every command that sees this step in the registry.
    from landuse.outputs.maps import build_map, render_html
    from landuse.outputs.report import write_workbook

    res = StepResult(out_dir)
    r = redline_project(data)
    res.results["redline"] = r
    layers: dict[str, gpd.GeoDataFrame | pd.DataFrame] = {"redline": r.parcels}
    if r.landclass is not None:
        layers["landclass"] = pd.DataFrame(r.landclass.table)
        layers["landclass_pieces"] = r.landclass.pieces
    res.files.append(write_layers(layers, out_dir / "redline.gpkg", only=True))
    shown = r.parcels[[c for c in _REDLINE_COLUMNS if c in r.parcels]]
    res.files.append(write_table(labelled(shown), out_dir / "redline.csv"))
    res.files.append(write_boundary_txt(r.parcels, out_dir / "redline.txt"))
    res.lines += _redline_lines(data, r)
    if r.landclass is not None:
        note = _landclass_note(r)
        sheets = [
            Sheet("地类面积汇总表", r.summary, note, FOUR_DECIMALS),
            Sheet("分地块地类面积", r.landclass.table, note, FOUR_DECIMALS),
            Sheet("红线地块", pd.DataFrame(shown), "", FOUR_DECIMALS),
        ]
        if len(r.zones):
            sheets.append(Sheet("开发边界规划分区", r.zones, "", FOUR_DECIMALS))
        if r.conflicts is not None:
            pieces = r.conflicts.pieces.drop(columns="constraint")
            sheets.append(Sheet("红线冲突图斑", pd.DataFrame(pieces)))
        cover = [
            ("工具版本", f"landuse {__version__}"),
            ("项目", data.project.name),
            ("分析坐标系", crs_label(data.crs)),
            ("面积口径", BASIS_LABELS[r.basis]),
            ("地类分类", SYSTEMS[r.landclass.system][0]),
        ]
        for name in ("redline", "dltb"):
            src = data.layer(name).attrs["landuse_source"]
            if src.get("sha256"):  # a database table: where (no password), hash of what was read
                cover.append((f"输入表（{name}）", f"{src['path']}  SHA-256 {src['sha256']}"))
            elif Path(src["path"]).is_file():
                path = Path(src["path"])
                cover.append((f"输入文件（{name}）", f"{path.name}  SHA-256 {file_sha256(path)}"))
        day = data_date(data, {})
        res.files.append(
            write_workbook(
                out_dir / "用地预审.xlsx",
                sheets,
                cover,
                title=f"{data.project.name} 用地预审",
                date=f"数据截至 {day}" if day else "",
            )
        )
    if r.conflicts is not None or r.landclass is not None:
        m = build_map(
            _redline_map(data, r),
            title=f"{data.project.name} 项目红线",
            subtitle=BASIS_LABELS[r.basis],
            synthetic=data.synthetic,
        )
        res.files.append(write_text(render_html(m, offline=True), out_dir / "redline_map.html"))
    return res


def needs(project: Project) -> set[str]:
    """The red line, the land survey and the control lines (and what fixes the CRS).

    Without ``[project] analysis_crs`` the analysis CRS is the parcels' zone
    (:func:`landuse.io.load_project_data`), so the parcels are read then too.
    """
    fixes_crs = () if project.analysis_crs else ("parcels",)
    extra = project.options.check.extra_constraints
    return {"redline", "dltb", "udb", "udb_zones", "farmland", "eco_redline", *extra, *fixes_crs}


def _sheets(data: ProjectData, results: Results) -> tuple[list[Sheet], list[Sheet]]:
    redline = results.get("redline")
    if redline is None or redline.landclass is None:
        return [], []
    sheet = Sheet("地类面积汇总表", redline.summary, _landclass_note(redline), FOUR_DECIMALS)
    return [sheet], []


def _map_layers(data: ProjectData, results: Results, layers: dict[str, gpd.GeoDataFrame]) -> None:
    redline = results.get("redline")
    if redline is not None:
        context = _redline_map(data, redline)
        layers.update({k: v for k, v in context.items() if k in ("dltb", "udb_zones", "redline")})


STEP = Step(
    "redline",
    "项目红线 red line",
    run_redline,
    needs=needs,
    in_report=lambda data: "redline" in data.layers,
    sheets=_sheets,
    map_layers=_map_layers,
    briefing=redline_section,
)

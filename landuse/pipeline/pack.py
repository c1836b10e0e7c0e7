"""The meeting pack (会议材料): workbooks, charts, thematic maps, Word report, summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from landuse import __version__
from landuse.core.config import LAYER_LABELS
from landuse.core.crs import crs_label
from landuse.io import ProjectData, file_sha256, postgis, write_text
from landuse.outputs.briefing import summary_html, summary_markdown, write_briefing
from landuse.outputs.report import (
    ChartMarks,
    Sheet,
    class_chart,
    firm_labels,
    overview_map,
    ranking_chart,
    trend_chart,
    write_workbook,
)
from landuse.outputs.sections import parcel_section
from landuse.outputs.thematic import MapInfo, write_thematic_maps
from landuse.pipeline.map import map_layers
from landuse.pipeline.registry import ANALYSES
from landuse.pipeline.result import StepResult, data_date


def _cover(data: ProjectData, results: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Rows of a workbook's cover (封面), in Chinese: what was computed from what, and how."""
    project = data.project
    rows = [
        ("工具版本", f"landuse {__version__}"),
        ("项目", project.name),
        ("分析坐标系", crs_label(data.crs)),
    ]
    day = data_date(data, results)
    if day:
        rows.append(("数据截至", day))
    if project.options.project.mapping_unit:
        rows.append(("制图单位", project.options.project.mapping_unit))
    if project.source is not None:
        rows.append(("项目文件", f"{project.source.name}  SHA-256 {file_sha256(project.source)}"))
    for step in ANALYSES:
        rows += step.cover(data, results)
    names = {**LAYER_LABELS, **project.options.check.extra_constraints}
    seen: set[Path] = set()
    for name, spec in project.layers.items():
        source = data.layers.get(name, data.tables.get(name))
        if spec.table is not None and source is not None:
            # A database table: where it is (no password) and a hash of what was read.
            src = source.attrs["landuse_source"]
            digest = src.get("sha256") or postgis.table_sha256(source)
            rows.append((f"输入表（{names.get(name, name)}）", f"{src['path']}  SHA-256 {digest}"))
    read = data.layers.keys() | data.tables.keys()  # a step reads only what it needs
    inputs = [(n, spec.path) for n, spec in project.layers.items() if spec.path and n in read]
    inputs += [(name, path) for name, path in project.rasters.items()]
    if project.options.idle.ledger_import:
        inputs.append(("ledger_import", project.path(project.options.idle.ledger_import)))
    for _, path in inputs:
        if path in seen or not Path(path).exists():
            continue
        seen.add(path)
        layers = "、".join(names.get(n, n) for n, p in inputs if p == path)
        rows.append((f"输入文件（{layers}）", f"{Path(path).name}  SHA-256 {file_sha256(path)}"))
    if data.synthetic:
        rows.append(
            ("说明", "示例数据：地块、企业与管控线均为模拟生成，仅兴宾区行政边界为真实数据")
        )
    return rows


def meeting_sheets(
    data: ProjectData, results: Mapping[str, Any]
) -> tuple[list[Sheet], list[Sheet]]:
    """The sheets of 会议材料.xlsx (what a meeting reads) and of 附表.xlsx (full tables).

    The meeting workbook holds summaries by park and the lists a meeting
    decides on (conflicts, idle land, the largest candidates, the top firms);
    every per-parcel and per-firm table in full goes to the appendix.  Each
    analysis gives its own (:attr:`~landuse.pipeline.step.Step.sheets`).

    Returns
    -------
    meeting, appendix : list of Sheet
    """
    meeting: list[Sheet] = []
    appendix = [Sheet("几何修复记录", data.report)]
    if "parcel_summary" in results:
        meeting.append(Sheet("地块汇总", results["parcel_summary"]))
    for step in ANALYSES:
        more, full = step.sheets(data, results)
        meeting += more
        appendix += full
    return meeting, appendix


def run_pack(
    data: ProjectData, out_dir: Path, results: Mapping[str, Any], lines: Sequence[str]
) -> StepResult:
    """The meeting pack from the analyses' results.

    Writes 会议材料.xlsx (what a meeting reads) and 附表.xlsx (full tables),
    both ready to print; the charts and the overview map (``charts/``); the
    printable thematic maps as PDF and PNG (``专题图/``); the Word report
    汇报材料.docx; and the summary 摘要.md / 摘要.html.
    """
    res = StepResult(out_dir)
    project = data.project
    synthetic = data.synthetic
    day = data_date(data, results)
    date_text = f"数据截至 {day}" if day else ""
    meeting, appendix = meeting_sheets(data, results)
    cover = _cover(data, results)
    for name, sheets in (("会议材料", meeting), ("附表", appendix)):
        res.files.append(
            write_workbook(
                out_dir / f"{name}.xlsx",
                sheets,
                cover,
                title=f"{project.name} {name}",
                date=date_text,
            )
        )
    charts = out_dir / "charts"
    images: dict[str, Path] = {}

    def marks(source: str) -> ChartMarks:
        return ChartMarks(source, date_text, synthetic)

    if "efficiency" in results:
        e = results["efficiency"]
        source = f"{e.year}年企业亩均效益评价，见《附表.xlsx》「亩均效益评价」"
        images["亩均税收排名"] = ranking_chart(
            e.enterprises, charts / "亩均税收排名.png", year=e.year, marks=marks(source)
        )
        if unnamed := firm_labels(e.enterprises[e.enterprises["scored"]])[1]:
            res.lines.append(unnamed)
        images["分类分布"] = class_chart(
            e.enterprises, charts / "分类分布.png", year=e.year, marks=marks(source)
        )
    if "trend" in results:
        images["处置趋势"] = trend_chart(
            results["trend"],
            charts / "处置趋势.png",
            marks=marks("闲置土地处置台账，见《会议材料.xlsx》「处置趋势」"),
        )
    layers = map_layers(data, results)
    images["总览图"] = overview_map(
        layers,
        charts / "总览图.png",
        title=f"{project.name} 总览",
        synthetic=synthetic,
        marks=marks("项目图层与本次分析结果"),
    )
    res.files += images.values()
    info = MapInfo(
        project=project.name,
        crs=data.crs,
        data_date=day,
        mapping_unit=project.options.project.mapping_unit,
        paper=project.options.project.paper,
        synthetic=synthetic,
    )
    maps = write_thematic_maps(layers, out_dir / "专题图", info=info)
    res.files += maps
    images |= {f.stem: f for f in maps if f.suffix == ".png"}
    title = f"{project.name} 土地利用情况摘要"
    sections = parcel_section(results, images, project.options) + [
        section for step in ANALYSES for section in step.briefing(results, images, project.options)
    ]
    res.files.append(
        write_briefing(
            out_dir / "汇报材料.docx",
            sections,
            title=f"{project.name} 土地利用情况汇报材料",
            date=date_text,
            synthetic=synthetic,
        )
    )
    res.files.append(
        write_text(summary_markdown(title, lines, synthetic=synthetic), out_dir / "摘要.md")
    )
    res.files.append(
        write_text(
            summary_html(title, lines, sections, date=date_text, synthetic=synthetic, base=out_dir),
            out_dir / "摘要.html",
        )
    )
    res.lines.append(
        f"会议材料：会议材料.xlsx（{len(meeting) + 1} 个工作表）、附表.xlsx（{len(appendix) + 1} 个"
        f"工作表）、{len(images) - len(maps) // 2} 张图表、{len(maps) // 2} 幅专题图"
        f"（{info.paper} 横向，PDF 与 PNG）、汇报材料.docx、摘要.md、摘要.html"
    )
    if not info.mapping_unit:
        res.lines.append(
            '专题图未注明制图单位：在项目文件 [project] 中写 mapping_unit = "某某县自然资源局"'
        )
    return res

"""The meeting pack (会议材料): workbooks, charts, thematic maps, Word report, summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from landuse import __version__
from landuse.analysis.buildable import buildable_summary
from landuse.analysis.conflicts import (
    certified_outside_udb,
    conflict_summary,
)
from landuse.analysis.efficiency import describe_scheme
from landuse.analysis.idle import idle_summary
from landuse.analysis.indicators import (
    INDICATOR_COLUMNS,
)
from landuse.analysis.rates import (
    FORMULAS,
)
from landuse.core.config import LAYER_LABELS
from landuse.io import (
    ProjectData,
    postgis,
    write_text,
)
from landuse.outputs.briefing import (
    briefing_sections,
    summary_html,
    summary_markdown,
    write_briefing,
)
from landuse.outputs.report import (
    ChartMarks,
    Sheet,
    class_chart,
    file_sha256,
    overview_map,
    ranking_chart,
    trend_chart,
    write_workbook,
)
from landuse.outputs.thematic import MapInfo, crs_label, write_thematic_maps
from landuse.pipeline.check import _CHECK_COLUMNS
from landuse.pipeline.efficiency import _firm_table
from landuse.pipeline.idle import _IDLE_COLUMNS, _idle_rows
from landuse.pipeline.indicators import _indicator_basis
from landuse.pipeline.map import map_layers
from landuse.pipeline.redline import _FOUR_DECIMALS, _landclass_note
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
    if "as_of" in results:
        rows.append(("闲置土地判定日", results["as_of"]))
    if "period" in results:
        rows.append(("处置率统计期", " 至 ".join(results["period"])))
    if "conflicts" in results:
        tol = results["conflicts"].tolerance
        rows.append(
            (
                "边界误差容差",
                f"面积 < {tol.area_m2:g} 平方米且占地块 < {tol.share:.1%}，"
                f"或宽度 < {tol.width_m:g} 米",
            )
        )
    opts = project.options.buildable
    rows.append(
        (
            "可建设用地参数",
            f"单块 ≥ {opts.min_area_mu:g} 亩，宽度 ≥ {opts.min_width_m:g} 米，"
            f"坡度 ≤ {opts.max_slope_deg:g}°（有数字高程模型时）",
        )
    )
    efficiency = results.get("efficiency")
    scheme = efficiency.scheme if efficiency is not None else project.options.efficiency.resolved()
    rows += describe_scheme(scheme)
    idle = project.options.idle
    rows.append(
        (
            "处置程序期限",
            f"发现疑似闲置后 {idle.investigation_days} 日内调查（第五条）；决定书送达后 "
            f"{idle.payment_days} 日内缴纳闲置费或交回土地（第十七条）；首日不计入"
            + ("，末日为法定休假日的顺延（民法典第二百零三条）" if idle.holiday_rollover else ""),
        )
    )
    if "indicator_table" in results:
        rows.append(("用地控制指标", _indicator_basis(results["indicator_table"], data)))
    keys = ("disposal_rate", "net_reduction_rate", "unsupplied_rate", "revitalised_mu")
    for key in (*keys, "supply_rate"):
        rows.append(("公式", FORMULAS[key]))
    names = {**LAYER_LABELS, **project.options.check.extra_constraints}
    seen: set[Path] = set()
    for name, spec in project.layers.items():
        source = data.layers.get(name, data.tables.get(name))
        if spec.table is not None and source is not None:
            # A database table: where it is (no password) and a hash of what was read.
            src = source.attrs["landuse_source"]
            digest = src.get("sha256") or postgis.table_sha256(source)
            rows.append((f"输入表（{names.get(name, name)}）", f"{src['path']}  SHA-256 {digest}"))
    inputs = [(name, spec.path) for name, spec in project.layers.items() if spec.path]
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


#: Rows of the meeting workbook's longer lists; the full tables are in 附表.xlsx.
TOP_CANDIDATES = 30


TOP_FIRMS = 20


_MEETING_CONFLICT_COLUMNS = [
    "parcel_id",
    "parcel_name",
    "park",
    "enterprise_name",
    "area_mu",
    "udb_outside_mu",
    "farmland_mu",
    "eco_redline_mu",
    "status",
]


_MEETING_IDLE_COLUMNS = [
    "parcel_id",
    "parcel_name",
    "park",
    "enterprise_name",
    "area_mu",
    "idle_type",
    "idle_since",
    "idle_days",
    "gov_caused",
    "idle_fee_wan",
    "consequence",
    "suspect_idle",
]


_MEETING_FIRM_COLUMNS = [
    "rank_group",
    "score_rank",
    "enterprise_name",
    "land_mu",
    "tax_wan",
    "tax_per_mu_wan",
    "score",
    "grade",
    "policy",
]


def _pick(table: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(table[[c for c in columns if c in table.columns]])


def meeting_sheets(
    data: ProjectData, results: Mapping[str, Any]
) -> tuple[list[Sheet], list[Sheet]]:
    """The sheets of 会议材料.xlsx (what a meeting reads) and of 附表.xlsx (full tables).

    The meeting workbook holds summaries by park and the lists a meeting
    decides on (conflicts, idle land, the largest candidates, the top firms);
    every per-parcel and per-firm table in full goes to the appendix.  A new
    analysis adds its summary to the first list and its full table to the second.

    Returns
    -------
    meeting, appendix : list of Sheet
    """
    meeting: list[Sheet] = []
    appendix = [Sheet("几何修复记录", data.report)]
    if "parcel_summary" in results:
        meeting.append(Sheet("地块汇总", results["parcel_summary"]))
    if "conflicts" in results:
        c = results["conflicts"]
        conflicts = c.parcels[~c.parcels["compliant"]]
        flagged = c.parcels[~c.parcels["compliant"] | (c.parcels["noise_m2"] > 0)]
        meeting += [
            Sheet("冲突汇总", conflict_summary(c)),
            Sheet(
                "三区三线冲突",
                _pick(conflicts, _MEETING_CONFLICT_COLUMNS),
                "边界误差地块、冲突图斑与有证无法建设地块见《附表.xlsx》。",
            ),
        ]
        appendix += [
            Sheet("三区三线检查", _pick(flagged, _CHECK_COLUMNS)),
            Sheet("冲突图斑", pd.DataFrame(c.pieces.drop(columns="constraint"))),
        ]
        if "certified_outside_udb" in c.parcels:
            appendix.append(Sheet("有证无法建设", certified_outside_udb(c)))
    if "buildable" in results:
        cands = pd.DataFrame(results["buildable"])
        largest = cands.nlargest(TOP_CANDIDATES, "area_mu")
        meeting += [
            Sheet("可建设用地汇总", buildable_summary(results["buildable"])),
            Sheet(
                f"可建设用地（前{TOP_CANDIDATES}块）",
                largest,
                f"按面积排序的前 {TOP_CANDIDATES} 块；"
                f"全部 {len(cands)} 块见《附表.xlsx》「可建设用地」。",
            ),
        ]
        appendix.append(Sheet("可建设用地", cands))
    if "idle" in results:
        idle = results["idle"]
        shown = idle[_idle_rows(idle)]
        meeting += [
            Sheet("闲置土地汇总", idle_summary(idle)),
            Sheet(
                "闲置土地",
                _pick(shown, _MEETING_IDLE_COLUMNS),
                "出让价款、约定与实际动工日期、文书与期限、影像建设覆盖率见《附表.xlsx》「闲置土地」。",
            ),
        ]
        appendix.append(Sheet("闲置土地", _pick(shown, _IDLE_COLUMNS)))
    if "procedure" in results:
        appendix.append(Sheet("处置进度", results["procedure"]))
    if "rates" in results:
        note = "；".join(FORMULAS.values())
        meeting += [
            Sheet("处置率", results["rates"], note),
            Sheet("处置趋势", results["trend"]),
            Sheet("近五年供地率", results["supply"], FORMULAS["supply_rate"]),
        ]
        if "batches" in results:
            appendix.append(
                Sheet("批而未供批次", results["batches"], FORMULAS["unsupplied_batches"])
            )
    if "efficiency" in results:
        e = results["efficiency"]
        firms = _firm_table(e)
        top = firms[e.enterprises.loc[firms.index, "scored"]]
        top = top.groupby("rank_group", sort=False).head(TOP_FIRMS)
        meeting += [
            Sheet(
                "亩均效益排名",
                _pick(top, _MEETING_FIRM_COLUMNS),
                f"各排名组前 {TOP_FIRMS} 名；全部 {len(firms)} 家企业的评价见"
                "《附表.xlsx》「亩均效益评价」。",
            ),
            Sheet("亩均评价基准值", e.benchmarks),
            Sheet("园区汇总", e.parks),
        ]
        appendix.append(Sheet("亩均效益评价", firms))
    redline = results.get("redline")
    if redline is not None and redline.landclass is not None:
        meeting.append(
            Sheet("地类面积汇总表", redline.summary, _landclass_note(redline), _FOUR_DECIMALS)
        )
    if "indicators" in results:
        checked = results["indicators"]
        table = pd.DataFrame(checked[[c for c in INDICATOR_COLUMNS if c in checked.columns]])
        note = "容积率、建筑系数等指标值及来源见各列；“（未核实）”表示未与发文原件核对"
        ok = [c for c in table.columns if str(c).endswith("_ok")]
        failing = table[~table[ok].fillna(True).astype(bool).all(axis=1)] if ok else table
        meeting.append(
            Sheet("用地控制指标", failing, note + "；此处列出未达标地块，全部见《附表.xlsx》")
        )
        appendix.append(Sheet("用地控制指标（全部）", table, note))
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
    sections = briefing_sections(results, images, project.options)
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

"""The written side of the meeting pack: 汇报材料.docx, 摘要.md and 摘要.html.

The numbered sections come from :mod:`landuse.outputs.sections` (one builder
per analysis; their names are re-exported here).

The Word document is written with python-docx; like the workbook it holds no
wall-clock time, so the same inputs give the same file.
"""

from __future__ import annotations

import html
import io
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

from landuse.core.labels import labelled
from landuse.io import write_bytes
from landuse.outputs.report import deterministic_zip, format_number
from landuse.outputs.sections import MEETING_BOOK, NUMERALS, Section

__all__ = [
    "summary_html",
    "summary_markdown",
    "write_briefing",
]


def _cell_text(value: object, column: str, fmt: str | None = None) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int | float) and not pd.isna(value):
        if fmt is None and float(value).is_integer() and not column.endswith(("_share", "_rate")):
            return f"{value:,.0f}"
        return format_number(float(value), column, fmt)
    return "" if pd.isna(value) else str(value)  # type: ignore[call-overload]


def _fonts(run: Any, east_asian: str, size: float | None = None, *, bold: bool = False) -> None:
    run.font.name = "Times New Roman"
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), east_asian)
    if size:
        run.font.size = Pt(size)
    run.font.bold = bold


def _paragraph(doc: Any, text: str, *, size: float = 12, font: str = "仿宋", **kw: Any) -> Any:
    para = doc.add_paragraph()
    _fonts(para.add_run(text), font, size, bold=kw.pop("bold", False))
    if kw.get("center"):
        para.alignment = WD_ALIGN_PARAGRAPH.CENTER
    if kw.get("color"):
        para.runs[0].font.color.rgb = RGBColor.from_string(kw["color"])
    return para


def _table(doc: Any, header: Sequence[str], rows: Sequence[Sequence[str]]) -> Any:
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = ""
        _fonts(cell.paragraphs[0].add_run(text), "黑体", 9, bold=True)
    for row in rows:
        cells = table.add_row().cells
        for cell, text in zip(cells, row, strict=True):
            cell.text = ""
            _fonts(cell.paragraphs[0].add_run(text), "宋体", 9)
    return table


def write_briefing(
    path: str | Path,
    sections: Sequence[Section],
    *,
    title: str,
    date: str,
    synthetic: bool,
) -> Path:
    """Write 汇报材料.docx: title, date, headline table, then sections 一、二、三 ….

    Parameters
    ----------
    path : str or Path
        The ``.docx`` file.
    sections : sequence of Section
        From the section builders, in meeting order.
    title : str
        Document title.
    date : str
        "数据截至 2025-12-31" (or empty).
    synthetic : bool
        State that the data are the synthetic sample.
    """
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21.0), Cm(29.7)
    section.left_margin = section.right_margin = Cm(2.6)
    section.top_margin, section.bottom_margin = Cm(3.0), Cm(2.6)
    _paragraph(doc, title, size=20, font="黑体", bold=True, center=True)
    if date:
        _paragraph(doc, date, size=12, center=True)
    if synthetic:
        _paragraph(
            doc, "示例数据（模拟生成），数字仅用于演示", size=12, center=True, color="C00000"
        )
    _paragraph(doc, "主要指标", size=15, font="黑体", bold=True)
    rows = []
    for sec in sections:
        rows += [[h.name, h.shown(), h.unit, h.source()] for h in sec.headlines]
    _table(
        doc, ["序号", "指标", "数值", "单位", "来源"], [[str(i), *r] for i, r in enumerate(rows, 1)]
    )
    tables = figures = 0
    for number, sec in zip(NUMERALS, sections, strict=False):
        _paragraph(doc, f"{number}、{sec.title}", size=15, font="黑体", bold=True)
        _paragraph(doc, sec.text, size=13)
        if sec.table is not None and len(sec.table):
            tables += 1
            _paragraph(doc, f"表{tables}　{sec.table_title}", size=11, font="黑体", center=True)
            shown = labelled(sec.table)
            _table(
                doc,
                [str(c) for c in shown.columns],
                [
                    [
                        _cell_text(v, str(c), sec.formats.get(str(c)))
                        for v, c in zip(row, sec.table.columns, strict=True)
                    ]
                    for row in shown.itertuples(index=False)
                ],
            )
        for caption, image in sec.images:
            figures += 1
            doc.add_picture(str(image), width=Cm(15.5))
            doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
            _paragraph(doc, f"图{figures}　{caption}", size=11, font="黑体", center=True)
        for formula in sec.formulas:
            _paragraph(doc, f"公式：{formula}", size=10.5)
        _paragraph(doc, f"资料来源：{sec.source}", size=10.5)
    core = doc.core_properties
    core.author = core.last_modified_by = "landuse"
    core.title = title
    core.revision = 1
    buffer = io.BytesIO()
    doc.save(buffer)
    return write_bytes(deterministic_zip(buffer.getvalue()), path)


# --------------------------------------------------------------------- summary


def summary_markdown(title: str, lines: Sequence[str], *, synthetic: bool) -> str:
    """摘要.md: the headline lines as a list; indented lines (parks, formulas) nested."""
    md = [f"# {title}", ""]
    if synthetic:
        md += ["> 示例数据（模拟生成），数字仅用于演示。", ""]
    md += [
        f"- {line.strip()}" if not line.startswith("  ") else f"  - {line.strip()}"
        for line in lines
    ]
    md += ["", f"完整表格见《{MEETING_BOOK}》与《附表.xlsx》；汇报材料见《汇报材料.docx》。", ""]
    return "\n".join(md)


_CSS = """
body { font-family: "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", "SimHei", sans-serif;
       color: #222; max-width: 60em; margin: 2em auto; padding: 0 1.5em; line-height: 1.7; }
h1 { font-size: 1.6em; border-bottom: 3px solid #1f4e79; padding-bottom: .3em; }
h2 { font-size: 1.2em; color: #1f4e79; margin-top: 1.6em; }
.date { color: #555; }
.badge { display: inline-block; background: #c00000; color: #fff; padding: 0 .6em;
         border-radius: 3px; font-weight: bold; }
table { border-collapse: collapse; width: 100%; font-size: .92em; }
th, td { border: 1px solid #bbb; padding: .25em .6em; text-align: left; }
th { background: #ddebf7; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
ul ul { color: #444; font-size: .95em; }
figure { margin: 1em 0; text-align: center; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: .9em; color: #444; }
.formula { font-size: .9em; color: #444; }
footer { margin-top: 2em; font-size: .85em; color: #666; border-top: 1px solid #ccc; }
@media print { body { max-width: none; margin: 0; } figure { break-inside: avoid; } }
"""


def summary_html(
    title: str,
    lines: Sequence[str],
    sections: Sequence[Section],
    *,
    date: str,
    synthetic: bool,
    base: Path,
) -> str:
    """摘要.html: a styled page with every line of 摘要.md, the headline figures and the figures.

    Parameters
    ----------
    title : str
        Page title.
    lines : sequence of str
        The headline lines (indented ones are nested: per park, formulas).
    sections : sequence of Section
        For the headline table and the images.
    date : str
        "数据截至 …" (or empty).
    synthetic : bool
        Show the 示例数据 badge.
    base : Path
        Folder of the page; images are linked relative to it.
    """
    esc = html.escape
    out = [
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
    ]
    if date:
        out.append(f'<p class="date">{esc(date)}</p>')
    if synthetic:
        out.append('<p><span class="badge">示例数据（模拟生成）</span> 数字仅用于演示</p>')
    items: list[tuple[str, list[str]]] = []  # each line with its indented lines
    for line in lines:
        if line.startswith("  ") and items:
            items[-1][1].append(line.strip())
        else:
            items.append((line.strip(), []))
    out.append("<h2>摘要</h2><ul>")
    for text, children in items:
        sub = "".join(f"<li>{esc(child)}</li>" for child in children)
        out.append(f"<li>{esc(text)}" + (f"<ul>{sub}</ul>" if sub else "") + "</li>")
    out.append("</ul>")
    heads = [h for sec in sections for h in sec.headlines]
    if heads:
        out.append(
            "<h2>主要指标</h2><table><tr><th>指标</th><th>数值</th><th>单位</th><th>来源</th></tr>"
        )
        out += [
            f'<tr><td>{esc(h.name)}</td><td class="num">{esc(h.shown())}</td>'
            f"<td>{esc(h.unit)}</td><td>{esc(h.source())}</td></tr>"
            for h in heads
        ]
        out.append("</table>")
    for number, sec in zip(NUMERALS, sections, strict=False):
        out.append(f"<h2>{number}、{esc(sec.title)}</h2><p>{esc(sec.text)}</p>")
        for caption, image in sec.images:
            src = urllib.parse.quote(image.relative_to(base).as_posix())
            out.append(
                f'<figure><img src="{src}" alt="{esc(caption)}">'
                f"<figcaption>{esc(caption)}</figcaption></figure>"
            )
        out += [f'<p class="formula">公式：{esc(f)}</p>' for f in sec.formulas]
        out.append(f'<p class="formula">资料来源：{esc(sec.source)}</p>')
    out.append(
        f"<footer>完整表格见《{MEETING_BOOK}》与《附表.xlsx》；汇报材料见《汇报材料.docx》；"
        "专题图见“专题图”文件夹。</footer></body></html>"
    )
    return "\n".join(out)

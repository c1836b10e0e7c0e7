"""Meeting pack: Excel workbook, charts, static overview map and a headline summary.

The workbook has Chinese headers with units, number formats, frozen header
rows and filters, one sheet per analysis and a cover sheet with the
parameters, the input files with their SHA-256 and the tool version, so a
figure quoted in a meeting can be traced.  It holds no wall-clock time and its
zip entries carry a fixed date: the same inputs give a byte-identical file.

Charts use matplotlib with the Chinese font of :mod:`landuse.outputs.fonts` (a system
font, else the packaged Noto Sans SC); a character no font has stops the pack
with an error instead of drawing an empty box.
"""

from __future__ import annotations

import functools
import io
import re
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec, TypeVar, cast

import geopandas as gpd
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.header_footer import HeaderFooterItem
from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from landuse.core.labels import labelled
from landuse.io import write_bytes
from landuse.outputs.fonts import cjk_style, glyphs_required
from landuse.outputs.maps import map_styles
from landuse.outputs.sheets import Sheet
from landuse.outputs.thematic import draw_layer, north_arrow, plain_metadata, scale_bar

__all__ = [
    "ChartMarks",
    "Sheet",
    "class_chart",
    "deterministic_zip",
    "firm_labels",
    "format_number",
    "overview_map",
    "ranking_chart",
    "trend_chart",
    "write_workbook",
]

_FIXED_ZIP_DATE = (2000, 1, 1, 0, 0, 0)


#: Most decimals a format gets, however small a column's values.
_MAX_DECIMALS = 8

#: Shares (0–1, shown in per cent) whose names do not end in ``_share`` or ``_rate``.
_PERCENT_COLUMNS = frozenset({"yoy", "share", "building_coverage", "green_ratio"})


def _number_format(column: str, values: pd.Series | None = None) -> str | None:
    """Excel number format of a column, from the unit its name carries.

    Money, 亩 and 公顷 get 0.01, m² 0.1, shares a percent with 0.01 %, scores
    0.1; with ``values``, more decimals where the column's typical (median
    non-zero) value would otherwise keep fewer than 3 significant digits, so
    no column of small figures shows as 0.00.

    Examples
    --------
    >>> _number_format("tax_per_mu_wan")
    '#,##0.00'
    >>> _number_format("tax_per_kwh_wan", pd.Series([0.00012, 0.0002]))
    '#,##0.000000'
    >>> _number_format("rd_share", pd.Series([0.026]))
    '0.00%'
    >>> _number_format("building_coverage_min"), _number_format("green_ratio")
    ('0.00%', '0.00%')
    """
    base = column.rsplit("_", 1)[0] if column[-4:].isdigit() else column
    # A threshold (building_coverage_min, office_share_max) is shown like its figure.
    base = base.removesuffix("_min").removesuffix("_max")
    if base.endswith(("_share", "_rate")) or base in _PERCENT_COLUMNS:
        stem, decimals, scale, unit = "0", 2, 100.0, "%"
    elif base.endswith(("_mu", "_wan", "_ha", "_yuan")):
        stem, decimals, scale, unit = "#,##0", 2, 1.0, ""
    elif base.endswith("_m2"):
        stem, decimals, scale, unit = "#,##0", 1, 1.0, ""
    elif base == "score":
        stem, decimals, scale, unit = "0", 1, 1.0, ""
    else:
        return None
    if values is not None:
        numbers = pd.to_numeric(values, errors="coerce").abs() * scale
        shown = numbers.to_numpy(dtype=float, na_value=np.nan)
        shown = shown[np.isfinite(shown) & (shown > 0)]
        if shown.size:
            digits = 2 - int(np.floor(np.log10(np.median(shown))))
            decimals = min(max(decimals, digits), _MAX_DECIMALS)
    return stem + ("." + "0" * decimals if decimals else "") + unit


def format_number(value: float, column: str, fmt: str | None = None) -> str:
    """A number as the workbook's format for ``column`` shows it ("1,234.50", "44.27%").

    ``fmt`` overrides the column's format, as :attr:`Sheet.formats` does.

    Examples
    --------
    >>> format_number(1234.5, "area_mu"), format_number(0.44271, "disposal_rate")
    ('1,234.50', '44.27%')
    >>> format_number(0.0, "area_ha", "#,##0.0000")
    '0.0000'
    """
    return _formatted(value, fmt or _number_format(column))


def _formatted(value: float, fmt: str | None) -> str:
    """``value`` as the Excel number format ``fmt`` prints it (General: up to 10 digits)."""
    if fmt is None:
        return format(value, ".10g")
    decimals = len(fmt.split(".")[1].rstrip("%")) if "." in fmt else 0
    percent = fmt.endswith("%")
    text = format(value * 100 if percent else value, f"{',' if ',' in fmt else ''}.{decimals}f")
    return text + ("%" if percent else "")


def deterministic_zip(raw: bytes) -> bytes:
    """Rewrite an Office zip (xlsx, docx) with fixed entry dates and document times.

    The content itself holds no wall-clock time, so the same inputs give a
    byte-identical file.
    """
    source = zipfile.ZipFile(io.BytesIO(raw))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=_FIXED_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            data = source.read(item.filename)
            if item.filename == "docProps/core.xml":  # the save time is stamped here
                data = re.sub(
                    rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)",
                    rb"\g<1>2000-01-01T00:00:00Z\g<3>",
                    data,
                )
            target.writestr(info, data)
    return out.getvalue()


def write_workbook(
    path: str | Path,
    sheets: Sequence[Sheet],
    cover: Sequence[tuple[str, str]],
    *,
    title: str = "",
    date: str = "",
) -> Path:
    """Write a workbook atomically, ready to print.

    Every sheet prints landscape on A4, one page wide, with the header row
    repeated on each page, the title and ``date`` in the page header and
    "第 X 页 共 Y 页" in the footer; the cover (封面) fits one page.  Column
    widths fit the longest value as shown (ids, codes, formatted numbers), so
    no cell prints as ``###``.

    Parameters
    ----------
    path : str or Path
        The ``.xlsx`` file.
    sheets : sequence of Sheet
        Tables with canonical column names; headers become Chinese labels with
        units and number formats follow the unit in the column name.
    cover : sequence of (item, value)
        Rows of the cover sheet (封面): parameters, inputs and their hashes.
    title : str
        Page-header title, e.g. "来宾市兴宾区 会议材料".
    date : str
        Page-header date text, e.g. "数据截至 2025-12-31".
    """
    wb = Workbook()
    ws = cast(Worksheet, wb.active)  # a new workbook has one worksheet
    ws.title = "封面"
    ws.append(["项目", "内容"])
    for item, value in cover:
        _append(ws, [item, value])
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    cover_widths = [26, 96]
    _decorate(ws, widths=cover_widths)
    items = pd.DataFrame(cover, columns=["item", "value"], dtype=str)
    _fit_rows(ws, [(items["item"], cover_widths[0]), (items["value"], cover_widths[1])])
    _print_setup(ws, title=title, date=date, one_page=True)
    for sheet in sheets:
        table = sheet.table.drop(columns=[c for c in sheet.table.columns if c == "geometry"])
        formats = [
            sheet.formats.get(str(c)) or _number_format(str(c), table[c]) for c in table.columns
        ]
        shown = labelled(table)
        ws = wb.create_sheet(sheet.name[:31])
        ws.append(list(map(str, shown.columns)))
        for row in shown.itertuples(index=False):
            _append(ws, [_cell(v) for v in row])
        widths, wrapped = [], []
        for idx, (name, fmt) in enumerate(zip(shown.columns, formats, strict=True), start=1):
            width = _column_width(str(name), shown[name], fmt)
            wrap = width > _MAX_WIDTH
            if fmt or wrap:
                for (cell,) in ws.iter_rows(min_row=2, min_col=idx, max_col=idx):
                    if fmt:
                        cell.number_format = fmt
                    if wrap:
                        cell.alignment = Alignment(wrap_text=True, vertical="top")
            if wrap:
                wrapped.append((shown[name].fillna("").astype(str), _MAX_WIDTH))
            widths.append(min(width, _MAX_WIDTH))
        _decorate(ws, widths=widths)
        _fit_rows(ws, wrapped)
        if sheet.note:  # across the table's width, wrapped: it prints with the table
            row = ws.max_row + 2
            ws.cell(row=row, column=1, value=sheet.note).alignment = Alignment(
                wrap_text=True, vertical="top"
            )
            ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=len(widths))
            lines = -(-int(_text_width(pd.Series([sheet.note])).iloc[0]) // max(sum(widths), 1))
            ws.row_dimensions[row].height = _LINE_PT * (lines + 1)  # merged cells never auto-fit
        _print_setup(ws, title=title, date=date, one_page=False)
    wb.properties.creator = "landuse"
    fixed = pd.Timestamp("2000-01-01").to_pydatetime()
    wb.properties.created = wb.properties.modified = fixed
    buffer = io.BytesIO()
    wb.save(buffer)
    return write_bytes(deterministic_zip(buffer.getvalue()), path)


def _append(ws: Worksheet, values: list[object]) -> None:
    """Append a row; text that looks like a formula ("=1+1") stays text (no injection)."""
    ws.append(values)
    for cell in ws[ws.max_row]:
        if cell.data_type == "f":
            cell.data_type = "s"


def _cell(value: object) -> object:
    """A table value as openpyxl writes it: NaN/NaT/None empty, numpy scalars plain."""
    if not isinstance(value, str) and pd.isna(value):  # type: ignore[call-overload]
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime().date()
    return value


#: Widest column (characters); longer text wraps inside it.
_MAX_WIDTH = 48
_LINE_PT = 15  # height of one line of 11-point text
# East Asian wide characters take two columns (CJK, fullwidth forms).
_WIDE = (
    "[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]"
)


def _text_width(text: pd.Series) -> pd.Series:
    """Printed width of each text in character columns (a CJK character counts two)."""
    text = text.astype(str)
    return text.str.len() + text.str.count(_WIDE)


def _column_width(header: str, values: pd.Series, fmt: str | None) -> int:
    """Width that shows every value of a column as formatted, and its header on two lines.

    Numbers are measured as the number format prints them (thousands
    separators, decimals, %), so a total never prints as ``###``.
    """
    head = int(_text_width(pd.Series([header])).iloc[0])
    present = values.dropna()
    if present.empty:
        body = 0
    elif pd.api.types.is_bool_dtype(present):
        body = 5  # TRUE / FALSE
    elif pd.api.types.is_datetime64_any_dtype(present):
        body = 10
    elif pd.api.types.is_numeric_dtype(present):
        numbers = present.astype(float)
        # With a format the widest text is that of the smallest or largest value.
        shown = numbers.agg(["min", "max"]) if fmt else numbers
        body = int(shown.map(lambda v: _formatted(v, fmt)).str.len().max())
    else:
        body = int(_text_width(present.map(str)).max())
    return max(-(-head // 2) + 2, body + 2, 6)


def _fit_rows(ws: Worksheet, wrapped: Sequence[tuple[pd.Series, int]]) -> None:
    """Row heights for wrapped text (data rows from row 2), lines estimated from widths.

    Spreadsheet programs do not grow a row for wrapped text written by another
    program, so the wrapped lines would print over the next row.
    """
    if not wrapped:
        return
    lines = pd.concat(
        [-(-_text_width(text) // max(width - 1, 1)) for text, width in wrapped], axis=1
    ).max(axis=1)
    for offset, count in enumerate(lines.to_numpy(), start=2):
        if count > 1:
            ws.row_dimensions[offset].height = _LINE_PT * int(count) + 2


def _print_setup(ws: Worksheet, *, title: str, date: str, one_page: bool) -> None:
    """Landscape A4, one page wide (the cover: one page), header row on every page."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 1 if one_page else 0  # 0: as many pages as the rows need
    ws.print_title_rows = "1:1"
    ws.print_options.horizontalCentered = True
    ws.page_margins = PageMargins(left=0.5, right=0.5, top=0.75, bottom=0.7, header=0.3, footer=0.3)

    def code(text: str) -> str:  # "&" starts a header/footer code
        return text.replace("&", "&&")

    header, footer = cast(HeaderFooterItem, ws.oddHeader), cast(HeaderFooterItem, ws.oddFooter)
    header.left.text = code(title)
    header.center.text = code(ws.title)
    header.right.text = code(date)
    footer.center.text = "第 &P 页 共 &N 页"


def _decorate(ws: Worksheet, *, widths: Sequence[int]) -> None:
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = header_fill
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    ws.row_dimensions[1].height = 2 * _LINE_PT  # header text on up to two lines
    ws.freeze_panes = "A2"
    if ws.max_row > 1:
        ws.auto_filter.ref = ws.dimensions
    for idx, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(idx)].width = width


# --------------------------------------------------------------------- charts


@dataclass(frozen=True)
class ChartMarks:
    """What every chart states beneath it, so a printed copy can be traced.

    Attributes
    ----------
    source : str
        资料来源, e.g. "企业亩均效益评价，明细见《附表.xlsx》「亩均效益排名」".
    date : str
        Data date text, e.g. "数据截至 2025-12-31" (empty: none shown).
    synthetic : bool
        Mark the chart 示例数据 (the data are the synthetic sample).
    """

    source: str
    date: str = ""
    synthetic: bool = False


def _mark(fig: Figure, marks: ChartMarks) -> None:
    """Source and date under everything drawn; the 示例数据 stamp at the top right."""
    box = fig.get_tightbbox()
    width, height = fig.get_figwidth(), fig.get_figheight()
    text = f"资料来源：{marks.source}" + (f"　{marks.date}" if marks.date else "")
    fig.text(
        box.x0 / width, box.y0 / height - 0.01, text, ha="left", va="top", fontsize=8, color="#444"
    )
    if marks.synthetic:
        fig.text(
            box.x1 / width,
            box.y1 / height + 0.01,
            "示例数据（模拟生成）",
            ha="right",
            va="bottom",
            fontsize=9,
            color="#c00000",
            bbox={"boxstyle": "square,pad=0.3", "edgecolor": "#c00000", "facecolor": "white"},
        )


def _figure(width: float = 8.0, height: float = 5.0) -> tuple[Figure, Axes]:
    # A bare Figure needs no pyplot backend: nothing changes for notebook users.
    fig = Figure(figsize=(width, height), dpi=120)
    return fig, fig.subplots()


def _save(fig: Figure, path: str | Path, marks: ChartMarks) -> Path:
    """Mark the chart and write it; the format follows the suffix (PNG, or PDF with text)."""
    target = Path(path)
    fmt = target.suffix.lstrip(".").lower()
    buffer = io.BytesIO()
    with glyphs_required(fig, target):
        _mark(fig, marks)
        fig.savefig(buffer, format=fmt, bbox_inches="tight", metadata=plain_metadata(fmt))
    return write_bytes(buffer.getvalue(), target)


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _with_cjk(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Draw the chart inside :func:`landuse.outputs.fonts.cjk_style`."""

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with cjk_style():
            return func(*args, **kwargs)

    return wrapper


def firm_labels(firms: pd.DataFrame) -> tuple[pd.Series, str]:
    """How firms are named on charts: ``enterprise_name``, else ``enterprise_id``.

    Returns
    -------
    labels : Series of str
        Aligned to ``firms``.
    note : str
        Empty when every firm has a name, else the Chinese line saying which
        firms are shown by their 统一社会信用代码 instead.
    """
    if "enterprise_name" not in firms.columns:
        ids = firms["enterprise_id"].astype(str)
        return ids, "企业表无企业名称字段，图中企业以统一社会信用代码标注"
    names = firms["enterprise_name"].astype("string").str.strip()
    unnamed = names.isna() | (names == "")
    if not unnamed.any():
        return names.astype(str), ""
    note = f"{int(unnamed.sum())} 家企业无企业名称，图中以统一社会信用代码标注"
    return names.where(~unnamed, firms["enterprise_id"].astype("string")).astype(str), note


@_with_cjk
def ranking_chart(
    firms: pd.DataFrame, path: str | Path, *, top: int = 20, year: int, marks: ChartMarks
) -> Path:
    """Horizontal bars: the ``top`` firms by 亩均税收 (scored firms only).

    Firms are named by ``enterprise_name``, or by ``enterprise_id`` where the
    table has no name (:func:`firm_labels`).
    """
    scored = firms[firms["scored"]].nlargest(top, "tax_per_mu_wan").iloc[::-1]
    fig, ax = _figure(9, max(4, 0.32 * len(scored) + 1.5))
    colors = scored["grade"].map({"A": "#1a9850", "B": "#91cf60", "C": "#fee08b", "D": "#d73027"})
    ax.barh(firm_labels(scored)[0], scored["tax_per_mu_wan"], color=colors)
    ax.set_xlabel("亩均税收（万元/亩）")
    ax.set_title(f"{year}年 亩均税收前 {len(scored)} 名企业")
    for y, v in enumerate(scored["tax_per_mu_wan"]):
        ax.text(v, y, f" {v:.1f}", va="center", fontsize=8)
    return _save(fig, path, marks)


@_with_cjk
def class_chart(firms: pd.DataFrame, path: str | Path, *, year: int, marks: ChartMarks) -> Path:
    """Bars: number of firms per class A/B/C/D, above- and below-size side by side."""
    grades = ["A", "B", "C", "D"]
    counts = (
        firms[firms["scored"]]
        .groupby(["size_group", "grade"])
        .size()
        .unstack(fill_value=0)
        .reindex(columns=grades, fill_value=0)
    )
    fig, ax = _figure(7, 4.5)
    x = np.arange(len(grades))
    width = 0.8 / max(len(counts), 1)
    for i, (group, row) in enumerate(counts.iterrows()):
        ax.bar(x + i * width, row.to_numpy(), width, label=f"{group}企业")
        for xi, v in zip(x + i * width, row.to_numpy(), strict=True):
            ax.text(xi, v, str(int(v)), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(
        x + width * (len(counts) - 1) / 2,
        [
            f"{g}类（{p}）"
            for g, p in zip(grades, ["优先发展", "鼓励提升", "帮扶转型", "整治淘汰"], strict=True)
        ],
    )
    ax.set_ylabel("企业数（家）")
    ax.set_title(f"{year}年 亩均效益分类")
    ax.legend()
    return _save(fig, path, marks)


@_with_cjk
def trend_chart(trend: pd.DataFrame, path: str | Path, *, marks: ChartMarks) -> Path:
    """Disposed idle land per year (bars, 亩) and the disposal rate (line, %)."""
    fig, ax = _figure(8, 4.5)
    years = trend["year"].astype(str)
    ax.bar(years, trend["disposed_mu"], color="#6baed6", label="处置闲置土地（亩）")
    ax.set_ylabel("处置面积（亩）")
    ax2 = ax.twinx()
    ax2.plot(years, trend["disposal_rate"] * 100, color="#d94801", marker="o", label="处置率（%）")
    ax2.set_ylabel("处置率（%）")
    ax2.set_ylim(0, max(100, float(np.nanmax(trend["disposal_rate"] * 100, initial=0)) + 5))
    ax.set_title("闲置土地处置趋势")
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(
        handles,
        [str(h.get_label()) for h in handles],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.1),
        ncol=2,
        frameon=False,
    )
    return _save(fig, path, marks)


@_with_cjk
def overview_map(
    layers: Mapping[str, gpd.GeoDataFrame],
    path: str | Path,
    *,
    title: str,
    synthetic: bool,
    marks: ChartMarks,
) -> Path:
    """A static overview map (PNG): parks, control lines, parcels by status and conflicts.

    It carries a north arrow and a metric scale bar; the printable maps at a
    stated scale are :mod:`landuse.outputs.thematic`'s.
    """
    styles = map_styles()
    fig, ax = _figure(10, 8)
    handles = []
    crs = next(iter(layers.values())).crs
    for key, label in (
        ("district", "行政区界"),
        ("farmland", "永久基本农田"),
        ("eco_redline", "生态保护红线"),
        ("udb", "城镇开发边界"),
        ("parks", "园区边界"),
    ):
        if key in layers:
            handles.append(draw_layer(ax, layers[key].to_crs(crs), styles[key], label))
    if "parcels" in layers:
        parcels = layers["parcels"].to_crs(crs)
        for status, style in styles["parcels"].items():
            part = parcels[parcels["map_status"] == status]
            if len(part):
                handles.append(draw_layer(ax, part, style, f"地块：{status}"))
    if "buildable" in layers and len(layers["buildable"]):
        handles.append(
            draw_layer(ax, layers["buildable"].to_crs(crs), styles["buildable"], "可建设用地")
        )
    if "conflicts" in layers and len(layers["conflicts"]):
        pieces = layers["conflicts"].to_crs(crs)
        for kind, style in styles["conflicts"].items():
            part = pieces[pieces["constraint_label"] == kind]
            if len(part):
                handles.append(draw_layer(ax, part, style, f"冲突：{kind}"))
    if "parks" in layers:  # the parks' extent, not the whole county
        x0, y0, x1, y1 = layers["parks"].to_crs(crs).total_bounds
        pad = 0.05 * max(x1 - x0, y1 - y0)
        ax.set_xlim(x0 - pad, x1 + pad)
        ax.set_ylim(y0 - pad, y1 + pad)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title(title + ("（示例数据）" if synthetic and "示例数据" not in title else ""))
    ax.set_axis_off()
    ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False
    )
    if crs is not None and crs.is_projected:
        fig.canvas.draw_idle()
        ax.apply_aspect()
        x0, x1 = ax.get_xlim()
        scale_bar(ax, width_m=x1 - x0)
    left, bottom, width, height = ax.get_position().bounds
    north_arrow(fig, (left + width - 0.06, bottom + height - 0.1, 0.05, 0.09))
    return _save(fig, path, marks)

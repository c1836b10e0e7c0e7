"""Meeting pack: Excel workbook, charts, static overview map and a headline summary.

The workbook has Chinese headers with units, number formats, frozen header
rows and filters, one sheet per analysis and a cover sheet with the
parameters, the input files with their SHA-256 and the tool version, so a
figure quoted in a meeting can be traced.  It holds no wall-clock time and its
zip entries carry a fixed date: the same inputs give a byte-identical file.

Charts use matplotlib with the Chinese font of :mod:`landuse.fonts` (a system
font, else the packaged Noto Sans SC); a character no font has stops the pack
with an error instead of drawing an empty box.
"""

from __future__ import annotations

import functools
import hashlib
import io
import re
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ParamSpec, TypeVar, cast

import geopandas as gpd
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from landuse.fonts import cjk_style, glyphs_required
from landuse.labels import labelled

__all__ = [
    "Sheet",
    "class_chart",
    "file_sha256",
    "overview_map",
    "ranking_chart",
    "trend_chart",
    "write_workbook",
]

_FIXED_ZIP_DATE = (2000, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Sheet:
    """One workbook sheet: a name (≤ 31 characters) and a table with canonical columns.

    ``formats`` overrides the number format of columns (by canonical name),
    e.g. ``{"area_ha": "#,##0.0000"}`` for a table whose figures are 4 decimals.
    """

    name: str
    table: pd.DataFrame
    note: str = ""
    formats: Mapping[str, str] = field(default_factory=dict)


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file, or of every file in a folder (FileGDB) in name order."""
    p = Path(path)
    digest = hashlib.sha256()
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    for f in files:
        with open(f, "rb") as handle:
            for block in iter(functools.partial(handle.read, 1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


#: Most decimals a format gets, however small a column's values.
_MAX_DECIMALS = 8


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
    """
    base = column.rsplit("_", 1)[0] if column[-4:].isdigit() else column
    if base.endswith(("_share", "_rate")) or base in ("yoy", "share"):
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


def _deterministic_xlsx(raw: bytes) -> bytes:
    """Rewrite an xlsx zip with fixed entry dates (the content itself has no time)."""
    source = zipfile.ZipFile(io.BytesIO(raw))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=_FIXED_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            data = source.read(item.filename)
            if item.filename == "docProps/core.xml":  # openpyxl stamps the save time here
                data = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rb"\g<1>2000-01-01T00:00:00Z\g<2>",
                    data,
                )
            target.writestr(info, data)
    return out.getvalue()


def write_workbook(
    path: str | Path, sheets: Sequence[Sheet], cover: Sequence[tuple[str, str]]
) -> Path:
    """Write the meeting workbook atomically.

    Parameters
    ----------
    path : str or Path
        The ``.xlsx`` file.
    sheets : sequence of Sheet
        Tables with canonical column names; headers become Chinese labels with
        units and number formats follow the unit in the column name.
    cover : sequence of (item, value)
        Rows of the cover sheet (封面): parameters, inputs and their hashes.
    """
    wb = Workbook()
    ws = cast(Worksheet, wb.active)  # a new workbook has one worksheet
    ws.title = "封面"
    ws.append(["项目", "内容"])
    for item, value in cover:
        _append(ws, [item, value])
    _decorate(ws, widths=[28, 100])
    for sheet in sheets:
        table = sheet.table.drop(columns=[c for c in sheet.table.columns if c == "geometry"])
        formats = [
            sheet.formats.get(str(c)) or _number_format(str(c), table[c]) for c in table.columns
        ]
        shown = labelled(table)
        ws = wb.create_sheet(sheet.name[:31])
        ws.append(list(map(str, shown.columns)))
        for row in shown.itertuples(index=False):
            _append(
                ws, [None if (not isinstance(v, str) and pd.isna(v)) else _cell(v) for v in row]
            )
        for idx, fmt in enumerate(formats, start=1):
            if fmt:
                for cell in ws.iter_rows(min_row=2, min_col=idx, max_col=idx):
                    cell[0].number_format = fmt
        widths = [max(10, min(40, len(str(c)) * 2 + 2)) for c in shown.columns]
        _decorate(ws, widths=widths)
        if sheet.note:
            ws.cell(row=ws.max_row + 2, column=1, value=sheet.note)
    wb.properties.creator = "landuse"
    fixed = pd.Timestamp("2000-01-01").to_pydatetime()
    wb.properties.created = wb.properties.modified = fixed
    buffer = io.BytesIO()
    wb.save(buffer)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(_deterministic_xlsx(buffer.getvalue()))
    tmp.replace(target)
    return target


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


def _decorate(ws, *, widths: Sequence[int]) -> None:
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = header_fill
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    ws.freeze_panes = "A2"
    if ws.max_row > 1:
        ws.auto_filter.ref = ws.dimensions
    for idx, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(idx)].width = width


# --------------------------------------------------------------------- charts


def _figure(width: float = 8.0, height: float = 5.0) -> tuple[Figure, Axes]:
    # A bare Figure needs no pyplot backend: nothing changes for notebook users.
    fig = Figure(figsize=(width, height), dpi=120)
    return fig, fig.subplots()


def _save(fig: Figure, path: str | Path) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with glyphs_required(fig, target):
        fig.savefig(target, bbox_inches="tight", metadata={"Software": None})
    return target


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _with_cjk(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Draw the chart inside :func:`landuse.fonts.cjk_style`."""

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with cjk_style():
            return func(*args, **kwargs)

    return wrapper


@_with_cjk
def ranking_chart(firms: pd.DataFrame, path: str | Path, *, top: int = 20, year: int) -> Path:
    """Horizontal bars: the ``top`` firms by 亩均税收 (scored firms only)."""
    scored = firms[firms["scored"]].nlargest(top, "tax_per_mu_wan").iloc[::-1]
    fig, ax = _figure(9, max(4, 0.32 * len(scored) + 1.5))
    colors = scored["grade"].map({"A": "#1a9850", "B": "#91cf60", "C": "#fee08b", "D": "#d73027"})
    ax.barh(scored["enterprise_name"].astype(str), scored["tax_per_mu_wan"], color=colors)
    ax.set_xlabel("亩均税收（万元/亩）")
    ax.set_title(f"{year}年 亩均税收前 {len(scored)} 名企业")
    for y, v in enumerate(scored["tax_per_mu_wan"]):
        ax.text(v, y, f" {v:.1f}", va="center", fontsize=8)
    return _save(fig, path)


@_with_cjk
def class_chart(firms: pd.DataFrame, path: str | Path, *, year: int) -> Path:
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
    return _save(fig, path)


@_with_cjk
def trend_chart(trend: pd.DataFrame, path: str | Path) -> Path:
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
    return _save(fig, path)


@_with_cjk
def overview_map(
    layers: Mapping[str, gpd.GeoDataFrame], path: str | Path, *, title: str, synthetic: bool
) -> Path:
    """A static overview map (PNG) of parks, control lines, parcels by status and conflicts."""
    import tomllib

    from landuse.config import layers_dir

    styles = tomllib.loads((layers_dir() / "styles.toml").read_text(encoding="utf-8"))
    fig, ax = _figure(10, 8)
    handles = []

    def draw(gdf: gpd.GeoDataFrame, style: dict, label: str) -> None:
        fill = style.get("fill", True) is not False
        gdf.plot(
            ax=ax,
            facecolor=style.get("fillColor", style.get("color")) if fill else "none",
            edgecolor=style.get("color"),
            linewidth=min(style.get("weight", 1), 1.5),
            linestyle="--" if style.get("dashArray") else "-",
            alpha=style.get("fillOpacity", 1) if fill else 1,
        )
        handles.append(
            Patch(
                facecolor=style.get("fillColor", "none") if fill else "none",
                edgecolor=style.get("color"),
                linestyle="--" if style.get("dashArray") else "-",
                label=label,
            )
        )

    crs = next(iter(layers.values())).crs
    for key, label in (
        ("farmland", "永久基本农田"),
        ("eco_redline", "生态保护红线"),
        ("udb", "城镇开发边界"),
        ("parks", "园区边界"),
    ):
        if key in layers:
            draw(layers[key].to_crs(crs), styles[key], label)
    if "parcels" in layers:
        parcels = layers["parcels"].to_crs(crs)
        for status, style in styles["parcels"].items():
            part = parcels[parcels["map_status"] == status]
            if len(part):
                draw(part, style, f"地块：{status}")
    if "buildable" in layers and len(layers["buildable"]):
        draw(layers["buildable"].to_crs(crs), styles["buildable"], "可建设用地")
    if "conflicts" in layers and len(layers["conflicts"]):
        draw(layers["conflicts"].to_crs(crs), styles["conflicts"]["超出城镇开发边界"], "冲突图斑")
    ax.set_title(title + ("（示例数据）" if synthetic and "示例数据" not in title else ""))
    ax.set_axis_off()
    ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False
    )
    if crs is not None and crs.is_projected:
        x0, x1 = ax.get_xlim()
        y0, _ = ax.get_ylim()
        bar = 10 ** np.floor(np.log10((x1 - x0) / 4))
        ax.plot([x1 - bar * 1.1, x1 - bar * 0.1], [y0, y0], color="black", linewidth=3)
        ax.annotate(
            f"{bar / 1000:g} km",
            (x1 - bar * 0.6, y0),
            xytext=(0, 6),
            textcoords="offset points",
            ha="center",
            va="bottom",
        )
    return _save(fig, path)

"""Bureau tables as they really are: title rows, units rows, total rows.

Bureau workbooks put a merged title ("2024年度规上工业企业亩均效益评价表"),
a date or unit line and blank rows above the header, a units row ("（万元）",
"（亩）") under it, and 合计/小计 rows between or below the records.
:func:`clean_table` turns the raw text grid (what pandas reads with
``header=None, dtype=str``) into a table with one header in which every row is
a record, indexed by the row number Excel/WPS shows, so that any later error
can name "sheet X, row N".  Nothing is dropped silently: every row under the
header that is not kept is listed with the reason.

Units are kept, not skipped: a unit from a units row or from the header
("实缴税金（万元）") is written after every bare number of its column
("8692.1" → "8692.1元"), where the number parsers of :mod:`landuse.core.numbers`
convert it (or refuse a unit they do not know) — a column in 元 is never read
as 万元.  The exception is a header that, with its unit, is itself a known
field name (the ledger template's "面积（亩）"): the name already fixes the
unit, and the values stay as written.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from landuse.core.errors import SchemaError

__all__ = [
    "DROPPED_COLUMNS",
    "ROW_INDEX",
    "CleanTable",
    "clean_table",
    "describe_rows",
    "row_numbers",
    "sheet_of",
    "source_of",
]

#: Name of the index holding row numbers as the source shows them (Excel/WPS row).
ROW_INDEX = "row"
#: Columns of :attr:`CleanTable.dropped`.
DROPPED_COLUMNS = ["row", "reason", "text"]

_SCAN_ROWS = 30  # the header is looked for in the first rows; title blocks are short
_LABEL_COLUMNS = 4  # 合计 labels sit in the first columns (序号, 园区, 企业名称 ...)
_MAX_LISTED = 20  # rows named in one error message

# Unit words (NFKC, lower case) a units row or a header may carry.
_UNITS = frozenset(
    "元 千元 万元 亿元 亩 公顷 hm2 平方米 m2 平方公里 平方千米 km2 千瓦时 万千瓦时 kwh 度 万度 "
    "吨 万吨 t kg 千克 吨标准煤 吨标煤 万吨标准煤 tce 人 个 家 户 项 件 宗 块 台 套 年 月 天 "
    "米 m 公里 km 立方米 m3 万立方米 % ‰".split()
)
# Shares are not appended: a percent-formatted cell is read as 0.35 and would become 0.35 %.
_NOT_APPENDED = frozenset({"%", "‰"})
_UNIT_LABELS = frozenset({"单位", "计量单位"})
_PARENTHESISED = re.compile(r"\((?:单位:?)?(.+)\)|单位:(.+)")
_HEADER_UNIT = re.compile(r"^(.*?\S)\s*[(（]\s*(?:单位\s*[:：]\s*)?([^()（）]+?)\s*[)）]$")
_NUMBER = re.compile(r"[+-]?(?:\d[\d,，]*(?:\.\d*)?|\.\d+)")
_DATE = re.compile(r"\d{4}[-/.年]\d{1,2}(?:[-/.月]\d{1,2}日?)?(?:[ t].*)?|\d{8}")
# A label such as "合计", "合  计", "全县合计：", "一、园区小计" (spaces allowed inside).
_TOTAL = r"(?:\S\s*){0,10}?(?:合\s*计|小\s*计|总\s*计|共\s*计)\s*[:：]?"
_NOTE = (
    r"(?:注\d*|说明|备注|填表人?|填报人?|制表人?|审核人?|负责人|联系人|联系电话|数据来源|资料来源)"
    r"\s*[:：]"
)


@dataclass
class CleanTable:
    """A bureau table with one header row and only records.

    Attributes
    ----------
    table : DataFrame
        Text cells; index = the row number Excel/WPS shows (named ``row``).
    dropped : DataFrame
        Rows under the header that are not records: ``row`` (Excel row),
        ``reason`` (单位行, 合计行, 说明行, 空行) and ``text`` (the row's cells).
        Rows under the header = ``len(table) + len(dropped)``.
    header_rows : tuple of int
        The Excel row(s) of the header (two for a two-row header).
    units : dict
        Column → unit applied to its bare numbers (from the units row or the header).
    """

    table: pd.DataFrame
    dropped: pd.DataFrame
    header_rows: tuple[int, ...]
    units: dict[str, str] = field(default_factory=dict)


def _key(text: str) -> str:
    """Matching form: NFKC (full-width → half-width, ㎡ → m2), lower case, no whitespace."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


def _header_text(cell: str) -> str:
    """Header as shown, without line breaks and without spaces that only align CJK text."""
    text = re.sub(r"\s+", " ", cell).strip()
    return re.sub(r"(?<=[^\x00-\x7f]) | (?=[^\x00-\x7f])", "", text)


def _unit(text: str) -> str | None:
    """The unit a cell such as "（万元）", "万元", "(m²)", "单位：亩" states, else None."""
    unit = unicodedata.normalize("NFKC", re.sub(r"\s+", "", text))
    inner = _PARENTHESISED.fullmatch(unit)
    if inner:
        unit = inner.group(1) or inner.group(2)
    parts = unit.lower().split("/")
    return unit if len(parts) <= 2 and all(p in _UNITS for p in parts) else None


def _split_unit(header: str) -> tuple[str, str | None]:
    """Split a unit off a header: 实缴税金（万元） → (实缴税金, 万元); else the header whole."""
    m = _HEADER_UNIT.match(header)
    unit = _unit(m.group(2)) if m else None
    return (m.group(1), unit) if m and unit else (header, None)


def _is_numeric(cell: str) -> bool:
    key = _key(cell)
    return bool(_NUMBER.fullmatch(key.rstrip("%")) or _DATE.fullmatch(key))


def _alias_keys(aliases: Mapping[str, Iterable[str]]) -> dict[str, tuple[str, str]]:
    """Matching key → (canonical field, alias as written)."""
    return {_key(a): (canonical, a) for canonical, names in aliases.items() for a in names}


def _score(row: Sequence[str], keys: Mapping[str, tuple[str, str]]) -> int:
    """Distinct fields a row of header cells names, with or without a unit."""
    found = set()
    for cell in row:
        for text in (cell, _split_unit(cell)[0]):
            if _key(text) in keys:
                found.add(keys[_key(text)][0])
    return len(found)


def _is_text_row(row: Sequence[str]) -> bool:
    """Filled cells are mostly text: a header, not a record."""
    filled = [c for c in row if c]
    return bool(filled) and 2 * sum(map(_is_numeric, filled)) < len(filled)


def _merge(upper: Sequence[str], lower: Sequence[str]) -> list[str]:
    # Two-row header: the lower cell names the column, the upper one fills in where
    # a cell merged over both rows left the lower blank.
    return [lo or up for up, lo in zip(upper, lower, strict=True)]


def _find_header(rows: list[list[str]], keys: Mapping[str, tuple[str, str]]) -> tuple[int, int]:
    """(first, stop) positions of the header rows."""
    n = min(len(rows), _SCAN_ROWS)
    single = [_score(r, keys) if _is_text_row(r) else 0 for r in rows[:n]]
    best, span = 0, (0, 0)
    for h in range(n):
        if single[h] > best:
            best, span = single[h], (h, h + 1)
        if h + 1 < n and _is_text_row(rows[h]) and _is_text_row(rows[h + 1]):
            two = _score(_merge(rows[h], rows[h + 1]), keys)
            if two > max(best, single[h], single[h + 1]):
                best, span = two, (h, h + 2)
    if best:
        return span
    # No known field name: the first row that is mostly filled and mostly text.
    width = sum(any(r[c] for r in rows) for c in range(len(rows[0])))
    for h, row in enumerate(rows[:n]):
        if sum(map(bool, row)) >= max(2, width / 2) and _is_text_row(row):
            return h, h + 1
    first = next(h for h, row in enumerate(rows) if any(row))
    return first, first + 1


def _units_row(row: Sequence[str]) -> list[str | None] | None:
    """Units per column when ``row`` is a units row ("（万元）", "亩", "(m²)"), else None."""
    units = [_unit(c) if c and c not in _UNIT_LABELS else None for c in row]
    stated = [u for c, u in zip(row, units, strict=True) if c and c not in _UNIT_LABELS]
    return units if stated and all(stated) else None


def _dedupe(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        n = seen.get(name, 0)
        seen[name] = n + 1
        out.append(name if n == 0 else f"{name}.{n}")
    return out


def _columns(
    header: list[str],
    units_row: list[str | None] | None,
    keys: Mapping[str, tuple[str, str]],
    header_rows: tuple[int, ...],
) -> tuple[list[str], dict[int, str]]:
    """Column names and the unit to append per column position."""
    # Spreadsheet column letters; openpyxl is loaded here, not by every command.
    from openpyxl.utils import get_column_letter

    names, append = [], {}
    for i, cell in enumerate(header):
        name, unit = (cell, None) if _key(cell) in keys else _split_unit(cell)
        below = units_row[i] if units_row else None
        if unit and below and _key(unit) != _key(below):
            raise SchemaError(
                f"column {get_column_letter(i + 1)} ('{cell}', row {header_rows[-1]}) says "
                f"{unit} but the units row below says {below}; correct one of them."
            )
        unit = unit or below
        with_unit = f"{name}（{unit}）" if name and unit else ""
        if with_unit and _key(with_unit) in keys:
            name, unit = keys[_key(with_unit)][1], None  # the field name fixes the unit
        names.append(name or f"列{get_column_letter(i + 1)}")
        if unit:
            append[i] = unit
    return names, append


def clean_table(
    grid: pd.DataFrame, *, aliases: Mapping[str, Iterable[str]] | None = None
) -> CleanTable:
    """Find the header of a bureau table, apply its units and set the records apart.

    The header is the row (among the first 30) that names the most fields of
    ``aliases``, with or without a unit in brackets; a two-row header (a cell
    merged over both rows, or group headings above the field names) is used
    when the two rows together name more fields than either alone.  Without
    any known name it is the first row that is mostly filled and mostly text.
    A units row right under the header is applied (see the module notes).
    Rows whose first four used columns hold a 合计/小计/总计/共计 label (spaces
    allowed: "合 计"), notes ("注：", "填表人：") and blank rows are dropped and
    listed.  Columns without a header and without values are left out; a
    column with values but no header is named after its letter (列F).

    Parameters
    ----------
    grid : DataFrame
        Cells as text, as read with ``header=None, dtype=str``; row ``i`` (by
        position) is Excel row ``i + 1``.
    aliases : mapping, optional
        Canonical field → names a bureau may use for it (e.g.
        ``landuse.core.config.FIELD_ALIASES["enterprises"]``).

    Returns
    -------
    CleanTable

    Raises
    ------
    SchemaError
        The grid has no filled cell, or a header unit contradicts the units row.

    Examples
    --------
    >>> grid = pd.DataFrame([["2024年度企业表", "", ""], ["企业名称", "年度", "税收"],
    ...                      ["", "", "（元）"], ["甲", "2024", "50000"], ["合 计", "", "50000"]])
    >>> t = clean_table(grid, aliases={"year": ["年度"], "tax_wan": ["税收"]})
    >>> t.table.loc[4].tolist(), t.dropped["reason"].tolist(), t.header_rows
    (['甲', '2024', '50000元'], ['单位行', '合计行'], (2,))
    """
    cells = grid.fillna("").astype(str).apply(lambda c: c.str.strip())
    filled = cells.ne("").to_numpy()
    if not filled.any():
        raise SchemaError("the table is empty (no filled cell).")
    top = int(filled.any(axis=1).argmax())  # the scan starts at the first filled row
    rows = [list(map(str, r)) for r in cells.iloc[top : top + _SCAN_ROWS + 1].to_numpy()]
    header_cells = [[_header_text(c) for c in r] for r in rows]
    keys = _alias_keys(aliases or {})
    first, stop = _find_header(header_cells, keys)
    header = header_cells[first] if stop - first == 1 else _merge(*header_cells[first:stop])
    header_rows = tuple(range(top + first + 1, top + stop + 1))
    units_row = _units_row(rows[stop]) if stop < len(rows) else None
    names, append = _columns(header, units_row, keys, header_rows)

    body = cells.iloc[top + stop :].copy()
    body.index = pd.RangeIndex(top + stop + 1, len(cells) + 1, name=ROW_INDEX)
    body.columns = _dedupe(names)
    values = body.to_numpy(dtype=object)
    filled_cells = values != ""
    first_filled = pd.Series(
        values[np.arange(len(values)), filled_cells.argmax(axis=1)], index=body.index, dtype=str
    )
    # Labels sit in the first columns that hold anything (a sheet may start in column C).
    labels = body.iloc[:, np.flatnonzero(filled_cells.any(axis=0))[:_LABEL_COLUMNS]]
    reason = np.select(
        [
            (body.index == header_rows[-1] + 1) & (units_row is not None),
            ~filled_cells.any(axis=1),
            labels.apply(lambda c: c.str.fullmatch(_TOTAL)).any(axis=1),
            first_filled.str.match(_NOTE),
        ],
        ["单位行", "空行", "合计行", "说明行"],
        "",
    )
    gone = reason != ""
    dropped = pd.DataFrame(
        {
            "row": body.index[gone],
            "reason": reason[gone],
            "text": [
                "; ".join(f"{k}: {v}" for k, v in r.items() if v) for _, r in body[gone].iterrows()
            ],
        },
        columns=DROPPED_COLUMNS,
    )
    table = body[~gone]
    empty = [c for i, c in enumerate(table.columns) if not header[i] and not table[c].ne("").any()]
    table = table.drop(columns=empty)
    units = {}
    for i, unit in append.items():
        col = body.columns[i]
        if col not in table:
            continue
        units[col] = unit
        if unit not in _NOT_APPENDED:
            bare = table[col].str.fullmatch(_NUMBER.pattern)
            table[col] = table[col].where(~bare, table[col] + unit)
    return CleanTable(table=table, dropped=dropped, header_rows=header_rows, units=units)


def row_numbers(df: pd.DataFrame) -> pd.Index:
    """Row numbers as the user sees them, for error messages.

    The index of a table from :func:`landuse.io.read_table` (the Excel/WPS
    row); for any other table 2, 3, … (a spreadsheet with the header in row 1).
    """
    if df.index.name == ROW_INDEX:
        return df.index
    return pd.RangeIndex(2, len(df) + 2, name=ROW_INDEX)


def sheet_of(obj: object) -> str | None:
    """The sheet (or GeoPackage table) a table or column read by ``read_table`` came from."""
    source = getattr(obj, "attrs", {}).get("landuse_source")
    return source.get("sheet") if isinstance(source, dict) else None


def source_of(obj: object, default: str) -> str:
    """The file a table or column read by ``read_table`` came from, else ``default``."""
    source = getattr(obj, "attrs", {}).get("landuse_source")
    return str(source["path"]) if isinstance(source, dict) and source.get("path") else default


def describe_rows(
    rows: Sequence[object] | pd.Index,
    *,
    sheet: str | None = None,
    values: Sequence[object] | None = None,
) -> str:
    """Name rows for a message: "sheet 企业, rows 5, 9" or "row 5: 'x'; row 9: 'y'".

    Parameters
    ----------
    rows : sequence
        Row numbers as the user sees them (at most 20 are named, then "...").
    sheet : str, optional
        The sheet, named first.
    values : sequence, optional
        The offending cell of each row, quoted after its row number.

    Examples
    --------
    >>> describe_rows([5, 9], sheet="企业")
    'sheet 企业, rows 5, 9'
    >>> describe_rows([7], values=["abc"])
    "row 7: 'abc'"
    """
    rows = list(rows)
    more = " ..." if len(rows) > _MAX_LISTED else ""
    shown = rows[:_MAX_LISTED]
    if values is not None:
        listed = "; ".join(f"row {r}: {v!r}" for r, v in zip(shown, values, strict=False))
    else:
        listed = f"row{'s' if len(rows) > 1 else ''} {', '.join(map(str, shown))}"
    return (f"sheet {sheet}, " if sheet else "") + listed + more

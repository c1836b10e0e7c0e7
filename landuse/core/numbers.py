"""Numbers as bureaus write them: "1,234.5", "12.3万元", "0.5亿元", "35%", "—".

Parsers are vectorised (regular expressions over a whole column).  Empty cells
become NaN; a cell that is not a number is an error that lists every bad row
and column, never a silent zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from landuse.core.errors import SchemaError
from landuse.core.tables import describe_rows, sheet_of

__all__ = ["parse_amounts", "parse_flags", "parse_quantities", "parse_shares"]

_EMPTY = ["", "—", "-", "－", "/", "无", "nan", "NaN", "None", "<NA>", "——"]
_NUMBER = r"^([+-]?\d+(?:\.\d*)?|[+-]?\.\d+)\s*"
# Money units and their factor to 万元 (10⁴ yuan).
_MONEY_UNITS = {
    "": 1.0,
    "万元": 1.0,
    "万": 1.0,
    "亿元": 10_000.0,
    "亿": 10_000.0,
    "千元": 0.1,
    "元": 1e-4,
}
_TRUE = {"是", "有", "y", "yes", "true", "1", "t", "√"}
_FALSE = {"否", "无", "n", "no", "false", "0", "f", "×", ""}


def _series(values: pd.Series | Sequence[object]) -> pd.Series:
    return values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)


def _text(values: pd.Series | Sequence[object]) -> pd.Series:
    return (
        _series(values)
        .astype("string")
        .str.strip()
        .str.replace(",", "", regex=False)
        .str.replace("，", "", regex=False)
    )


def _fail(
    values: pd.Series | Sequence[object],
    text: pd.Series,
    bad: pd.Series,
    column: str,
    source: str,
    hint: str,
) -> None:
    mask = bad.to_numpy()
    rows = describe_rows(text.index[mask], sheet=sheet_of(values), values=text[mask].tolist())
    where = f"{source}: " if source else ""
    raise SchemaError(
        f"{where}column {column} has {int(bad.sum())} value(s) that cannot be read ({rows}). {hint}"
    )


def parse_quantities(
    values: pd.Series | Sequence[object],
    *,
    column: str,
    source: str = "",
    units: dict[str, float] | None = None,
) -> pd.Series:
    """Parse plain quantities ("1,234", "3.5吨") with optional unit words and factors.

    Parameters
    ----------
    values : Series or sequence
        Cells as read.
    column, source : str
        For the error message.
    units : dict, optional
        Accepted unit suffix → factor to the canonical unit; a bare number is
        always accepted with factor 1.

    Examples
    --------
    >>> parse_quantities(["1,500", "1.5万千瓦时", ""], column="YDL",
    ...                  units={"千瓦时": 1, "万千瓦时": 1e4}).tolist()
    [1500.0, 15000.0, nan]
    """
    table = {"": 1.0, **(units or {})}
    text = _text(values)
    empty = text.isna() | text.isin(_EMPTY)
    alternatives = "|".join(sorted((u for u in table if u), key=len, reverse=True))
    parts = text.str.extract(_NUMBER + (f"({alternatives})?$" if alternatives else "()$"))
    number = pd.to_numeric(parts[0], errors="coerce").astype("float64")
    factor = parts[1].fillna("").map(table).astype("float64")
    bad = ~empty & (number.isna() | factor.isna())
    if bad.any():
        accepted = ", ".join(u for u in table if u) or "none"
        hint = f"Write plain numbers (units accepted: {accepted})."
        _fail(values, text, bad, column, source, hint)
    return (number * factor).where(~empty).astype("float64")


def parse_amounts(
    values: pd.Series | Sequence[object], *, column: str, source: str = ""
) -> pd.Series:
    """Parse money into 万元: "1,234.5" (万元 assumed), "12.3万元", "0.5亿元", "50000元".

    Parameters
    ----------
    values : Series or sequence
        Cells as read.
    column, source : str
        For the error message.

    Returns
    -------
    Series
        float 万元, NaN for empty cells.

    Examples
    --------
    >>> parse_amounts(["1,234.5", "12.3万元", "0.5亿元", "—", "50000元"], column="SSZE").tolist()
    [1234.5, 12.3, 5000.0, nan, 5.0]
    """
    return parse_quantities(values, column=column, source=source, units=_MONEY_UNITS)


def parse_shares(
    values: pd.Series | Sequence[object], *, column: str, source: str = ""
) -> pd.Series:
    """Parse shares as fractions: "0.35" or "35%" → 0.35.

    Numbers above 1 without a percent sign are refused (is "35" 35 % or 3 500 %?).

    Examples
    --------
    >>> parse_shares(["0.35", "35%", "", "100%"], column="KFBL").tolist()
    [0.35, 0.35, nan, 1.0]
    """
    text = _text(values)
    empty = text.isna() | text.isin(_EMPTY)
    parts = text.str.extract(_NUMBER + r"(%|％)?$")
    number = pd.to_numeric(parts[0], errors="coerce").astype("float64")
    percent = parts[1].notna().to_numpy()
    share = pd.Series(np.where(percent, number / 100.0, number), index=text.index)
    bad = ~empty & (share.isna() | (share < 0) | (share > 1))
    if bad.any():
        hint = "Write shares as 0–1 (0.35) or percentages (35%)."
        _fail(values, text, bad, column, source, hint)
    return share.where(~empty).astype("float64")


def parse_flags(
    values: pd.Series | Sequence[object], *, column: str, source: str = ""
) -> pd.Series:
    """Parse yes/no cells (是/否, Y/N, true/false, 1/0); empty means no.

    Examples
    --------
    >>> parse_flags(["是", "否", "", "Y", True], column="ZFYY").tolist()
    [True, False, False, True, True]
    """
    s = _series(values)
    text = s.astype("string").str.strip().str.lower().fillna("")
    yes, no = text.isin(_TRUE), text.isin(_FALSE) | s.isna()
    bad = ~yes & ~no
    if bad.any():
        _fail(s, text, bad, column, source, "Write 是 or 否.")
    return yes.astype(bool)

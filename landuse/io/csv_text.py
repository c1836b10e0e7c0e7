"""CSV text exactly as pandas writes it, built a column at a time with Arrow.

``DataFrame.to_csv`` formats every float with NumPy's ``astype(str)`` and
writes the rows through Python's :mod:`csv` module; on a million parcels that
takes longer than the analysis's own I/O.  :func:`write_csv` writes the same
bytes (``index=False``, UTF-8 with BOM, lines ending in a bare newline, minimal
quoting, empty cells for missing values) from vectorised Arrow kernels:

- floats: Arrow's shortest round-trip digits where they are laid out as Python
  lays them out (``12.5``); whole numbers as ``15.0``; the rest (below 1e-4,
  from 1e16, infinities, and where Arrow chooses an exponent) through NumPy,
  as pandas does;
- integers, booleans (``True``/``False``), text as they are;
- dates and date-times: ``2024-03-01`` when every value is a midnight, else
  ``2024-03-01 08:30:00``, as pandas chooses per column;
- any other column (time zones, sub-second times, durations, categories,
  mixed objects) is formatted by pandas itself, that column alone.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_TEXT = pa.large_string()
_BOM = "\ufeff".encode()
_EMPTY = pa.scalar("", _TEXT)


def _csv_quotes_cr() -> bool:
    """Whether this Python's csv module quotes a field holding a carriage return."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(["a\rb"])
    return buf.getvalue().startswith('"')


#: Rows formatted and joined into one buffer at a time.
_BATCH = 100_000

# The characters that make csv.QUOTE_MINIMAL quote a field (lineterminator "\n").
_SPECIAL = '[,"\n\r]' if _csv_quotes_cr() else '[,"\n]'


def write_csv(df: pd.DataFrame, path: Path, *, codes_as_text: bool = False) -> None:
    """Write ``df`` as ``df.to_csv(path, index=False, encoding="utf-8-sig")``, newline ends.

    Parameters
    ----------
    df : DataFrame
        The table (no geometry column).
    path : Path
        The file to write (replaced if it exists).
    codes_as_text : bool
        Give text cells that are digit codes (:data:`CODE`) a leading tab.

    Examples
    --------
    >>> import pandas as pd, tempfile
    >>> path = Path(tempfile.mkdtemp()) / "t.csv"
    >>> write_csv(pd.DataFrame({"地块": ["A,1"], "亩": [15.0], "合规": [True]}), path)
    >>> path.read_text(encoding="utf-8-sig").splitlines()
    ['地块,亩,合规', '"A,1",15.0,True']
    """
    if df.shape[1] == 0 or isinstance(df.columns, pd.MultiIndex):
        df.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")
        return
    with open(path, "wb") as f:
        CsvRows(f, codes_as_text=codes_as_text).write(df)


class CsvRows:
    """A CSV table written into an open binary file a frame of rows at a time.

    The frames written one after the other give the bytes :func:`write_csv`
    gives for them concatenated, but for what pandas decides for a whole
    column (whether date-times are written as dates, a type only pandas
    formats): that is decided for each frame.

    Parameters
    ----------
    file : binary file
        Where the table goes; the header is written with the first frame.
    codes_as_text : bool
        As for :func:`write_csv`.
    """

    def __init__(self, file: BinaryIO, *, codes_as_text: bool = False) -> None:
        self._file = file
        self._codes = codes_as_text
        self._columns: list | None = None

    def write(self, df: pd.DataFrame) -> None:
        """Write the rows of ``df`` (the first frame's columns, with the header first)."""
        if self._columns is None:
            self._columns = list(df.columns)
            self._file.write("\ufeff".encode())
            header = [_quoted(pa.array([str(c)], _TEXT), self._alone) for c in df.columns]
            self._file.write(_lines(header))
        elif list(df.columns) != self._columns:
            raise ValueError(f"CSV columns changed: {list(df.columns)} after {self._columns}")
        if not len(df):
            return
        # Arrow and NumPy kernels release the GIL: a batch's columns are formatted apart.
        with ThreadPoolExecutor(os.cpu_count()) as pool:
            columns = [
                _formatter(df.iloc[:, i], self._alone, self._codes) for i in range(df.shape[1])
            ]
            # A batch of rows at a time: the table's text is never held whole (a
            # million parcels' conflicts.csv is about 200 MB).
            for start in range(0, len(df), _BATCH):
                rows = [slice(start, start + _BATCH)] * len(columns)
                self._file.write(_lines(list(pool.map(lambda cells, at: cells(at), columns, rows))))

    @property
    def _alone(self) -> bool:
        # the csv module quotes a row's only field when it is empty
        return self._columns is not None and len(self._columns) == 1


def _lines(columns: list[pa.Array]) -> memoryview:
    """Rows of comma-separated cells, each ending in a newline, as one buffer."""
    *first, last = columns
    last = pc.binary_join_element_wise(last, pa.scalar("\n", _TEXT), _EMPTY)
    rows = pc.binary_join_element_wise(*first, last, pa.scalar(",", _TEXT)) if first else last
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int64)
    start, end = offsets[rows.offset], offsets[rows.offset + len(rows)]
    return memoryview(rows.buffers()[2])[start:end]


def _quoted(cells: pa.Array, alone: bool) -> pa.Array:
    """Text cells quoted as csv.QUOTE_MINIMAL quotes them (inner quotes doubled)."""
    need = pc.match_substring_regex(cells, _SPECIAL)
    if alone:
        need = pc.or_(need, pc.equal(cells, _EMPTY))
    if not pc.any(need).as_py():
        return cells
    doubled = pc.replace_substring(cells, '"', '""')
    quote = pa.scalar('"', _TEXT)
    return pc.if_else(need, pc.binary_join_element_wise(quote, doubled, quote, _EMPTY), cells)


#: Digit codes Excel/WPS would turn into numbers and damage: 11+ digits (shown as
#: 4.51302E+12, digits past the 15th lost) or a leading zero.  RE2, digits as
#: Python's ``\d`` counts them: any Unicode decimal digit (Nd).
CODE = r"^(?:\p{Nd}{11,}|0\p{Nd}+)$"
_TAB = pa.scalar("\t", _TEXT)


def _as_text(cells: pa.Array) -> pa.Array:
    """A leading tab on codes: Excel and WPS keep the cell text (``str.strip()`` removes it)."""
    code = pc.fill_null(pc.match_substring_regex(cells, CODE), False)
    if not pc.any(code).as_py():
        return cells
    return pc.if_else(code, pc.binary_join_element_wise(_TAB, cells, _EMPTY), cells)


def _formatter(col: pd.Series, alone: bool, codes: bool) -> Callable[[slice], pa.Array]:
    """The cells of a column's rows as pandas writes them: missing values empty, text quoted.

    What pandas decides for the whole column (dates or date-times, a type only
    pandas formats) is decided here once; the returned function formats rows.
    With ``codes``, text columns' digit codes get a leading tab (:func:`_as_text`).
    """
    dtype = col.dtype
    text_column = pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
    if pd.api.types.is_bool_dtype(dtype):
        return _plain(col, alone, _bool_cells)
    if pd.api.types.is_integer_dtype(dtype):
        return _plain(col, alone, lambda part: pa.array(part, from_pandas=True).cast(_TEXT))
    if dtype == np.float64 or (
        pd.api.types.is_float_dtype(dtype) and not isinstance(dtype, np.dtype)
    ):  # an extension float (Float64, double[pyarrow]) is written as Python floats
        return _plain(col, alone, _floats)
    if pd.api.types.is_string_dtype(dtype) and (
        not pd.api.types.is_object_dtype(dtype)
        or pd.api.types.infer_dtype(col) in ("string", "empty")
    ):
        return lambda rows: _quoted(_text_cells(col.iloc[rows], codes), alone)
    if isinstance(dtype, np.dtype) and dtype.kind == "M":
        pattern = _datetime_pattern(col.to_numpy())
        if pattern is not None:
            return _plain(col, alone, lambda part: _datetime_cells(part.to_numpy(), pattern))
    # Any other column is formatted by pandas itself, that column alone and whole.
    cells = _pandas_cells(col)
    cells = _as_text(cells) if codes and text_column else cells
    quoted = _quoted(cells, alone)
    return lambda rows: quoted[rows]


def _plain(
    col: pd.Series, alone: bool, format_values: Callable[[pd.Series], pa.Array]
) -> Callable[[slice], pa.Array]:
    """Rows of numbers, booleans or dates: their text, missing values empty."""

    def cells(rows: slice) -> pa.Array:
        part = col.iloc[rows]
        text = format_values(part)
        missing = part.isna().to_numpy(dtype=bool)
        if missing.any():
            text = pc.if_else(pa.array(missing), _EMPTY, text)
            if alone:  # numbers, booleans and dates need quotes only as a lone empty field
                text = _quoted(text, alone)
        return text

    return cells


def _bool_cells(part: pd.Series) -> pa.Array:
    flags = pa.array(part.to_numpy(dtype=bool, na_value=False))
    return pc.if_else(flags, pa.scalar("True", _TEXT), pa.scalar("False", _TEXT))


def _floats(part: pd.Series) -> pa.Array:
    return _float_cells(
        part.to_numpy(dtype=np.float64, na_value=np.nan), part.isna().to_numpy(dtype=bool)
    )


def _text_cells(part: pd.Series, codes: bool) -> pa.Array:
    text = pa.array(part, type=_TEXT, from_pandas=True)
    if isinstance(text, pa.ChunkedArray):  # a column already held by Arrow
        text = text.combine_chunks()
    text = pc.fill_null(text, _EMPTY)
    return _as_text(text) if codes else text


def _float_cells(x: np.ndarray, missing: np.ndarray) -> pa.Array:
    """Float64 values as ``repr`` writes them (what NumPy's and pandas' writers give)."""
    text = pc.cast(pa.array(x), _TEXT)  # shortest round-trip digits, Arrow's layout
    with np.errstate(invalid="ignore"):
        size = np.abs(x)
        whole = (size < 1e16) & (x == np.trunc(x))
        positional = (size >= 1e-4) & (size < 1e16) & ~whole  # where repr has no exponent
    if whole.any():
        values = x[whole]
        digits = pc.cast(pa.array(values.astype(np.int64)), _TEXT)
        numbers = pc.binary_join_element_wise(digits, pa.scalar(".0", _TEXT), _EMPTY)
        negative_zero = pa.array((values == 0) & np.signbit(values))
        numbers = pc.if_else(negative_zero, pa.scalar("-0.0", _TEXT), numbers)
        text = pc.replace_with_mask(text, pa.array(whole), numbers)
    exponent = pc.match_substring(text, "e").to_numpy(zero_copy_only=False)
    rest = ~whole & ~missing & ~(positional & ~exponent)
    if rest.any():
        text = pc.replace_with_mask(text, pa.array(rest), pa.array(x[rest].astype(str), _TEXT))
    return text


def _datetime_pattern(values: np.ndarray) -> str | None:
    """How pandas writes a date-time column: dates when every value is a midnight.

    None for fractions of a second (pandas picks the digits).
    """
    known = values[~np.isnat(values)]
    if (known == known.astype("datetime64[D]")).all():
        return "%Y-%m-%d"
    if (known == known.astype("datetime64[s]")).all():
        return "%Y-%m-%d %H:%M:%S"
    return None


def _datetime_cells(values: np.ndarray, pattern: str) -> pa.Array:
    """Date-times as text in ``pattern`` (missing ones are masked by the caller)."""
    return pc.strftime(pa.array(values.astype("datetime64[s]")), format=pattern).cast(_TEXT)


def _pandas_cells(col: pd.Series) -> pa.Array:
    """The cells pandas writes for one column, read back from its own CSV of that column."""
    text = col.to_frame().to_csv(index=False, header=False, lineterminator="\n")
    return pa.array([row[0] for row in csv.reader(io.StringIO(text, newline=""))], _TEXT)

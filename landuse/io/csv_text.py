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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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


#: Rows joined into one buffer at a time.
_BATCH = 100_000

# The characters that make csv.QUOTE_MINIMAL quote a field (lineterminator "\n").
_SPECIAL = '[,"\n\r]' if _csv_quotes_cr() else '[,"\n]'


def write_csv(df: pd.DataFrame, path: Path) -> None:
    """Write ``df`` as ``df.to_csv(path, index=False, encoding="utf-8-sig")``, newline ends.

    Parameters
    ----------
    df : DataFrame
        The table (no geometry column).
    path : Path
        The file to write (replaced if it exists).

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
    alone = df.shape[1] == 1  # the csv module quotes a row's only field when it is empty
    with open(path, "wb") as f:
        f.write("\ufeff".encode())
        f.write(_lines([_quoted(pa.array([str(c)], _TEXT), alone) for c in df.columns]))
        if len(df):
            # Columns are formatted apart; Arrow and NumPy kernels release the GIL.
            with ThreadPoolExecutor(os.cpu_count()) as pool:
                cells = list(pool.map(lambda i: _cells(df.iloc[:, i], alone), range(df.shape[1])))
            # Rows are joined a batch at a time: the text of the whole table is never
            # held twice (a million parcels' conflicts.csv is about 300 MB).
            for start in range(0, len(df), _BATCH):
                f.write(_lines([column.slice(start, _BATCH) for column in cells]))


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


def _cells(col: pd.Series, alone: bool) -> pa.Array:
    """One column's cells as pandas writes them: missing values empty, text quoted."""
    dtype = col.dtype
    missing = col.isna().to_numpy(dtype=bool)
    if pd.api.types.is_bool_dtype(dtype):
        flags = pa.array(col.to_numpy(dtype=bool, na_value=False))
        text = pc.if_else(flags, pa.scalar("True", _TEXT), pa.scalar("False", _TEXT))
    elif pd.api.types.is_integer_dtype(dtype):
        text = pa.array(col, from_pandas=True).cast(_TEXT)
    elif dtype == np.float64 or (
        pd.api.types.is_float_dtype(dtype) and not isinstance(dtype, np.dtype)
    ):  # an extension float (Float64, double[pyarrow]) is written as Python floats
        text = _float_cells(col.to_numpy(dtype=np.float64, na_value=np.nan), missing)
    elif pd.api.types.is_string_dtype(dtype) and (
        not pd.api.types.is_object_dtype(dtype)
        or pd.api.types.infer_dtype(col) in ("string", "empty")
    ):
        text = pa.array(col, type=_TEXT, from_pandas=True)
        if isinstance(text, pa.ChunkedArray):  # a column already held by Arrow
            text = text.combine_chunks()
        return _quoted(pc.fill_null(text, _EMPTY), alone)
    elif isinstance(dtype, np.dtype) and dtype.kind == "M":
        text = _datetime_cells(col.to_numpy(), missing)
    else:
        text = None
    if text is None:
        return _quoted(_pandas_cells(col), alone)
    if missing.any():
        text = pc.if_else(pa.array(missing), _EMPTY, text)
        if alone:  # numbers, booleans and dates need quotes only as a lone empty field
            text = _quoted(text, alone)
    return text


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


def _datetime_cells(values: np.ndarray, missing: np.ndarray) -> pa.Array | None:
    """Dates (all midnights) or whole-second times as pandas writes them; else None."""
    known = values[~missing]
    seconds = values.astype("datetime64[s]")
    if (known == known.astype("datetime64[D]")).all():
        pattern = "%Y-%m-%d"
    elif (known == seconds[~missing]).all():
        pattern = "%Y-%m-%d %H:%M:%S"
    else:
        return None  # fractions of a second: pandas picks the digits
    return pc.strftime(pa.array(seconds), format=pattern).cast(_TEXT)


def _pandas_cells(col: pd.Series) -> pa.Array:
    """The cells pandas writes for one column, read back from its own CSV of that column."""
    text = col.to_frame().to_csv(index=False, header=False, lineterminator="\n")
    return pa.array([row[0] for row in csv.reader(io.StringIO(text, newline=""))], _TEXT)

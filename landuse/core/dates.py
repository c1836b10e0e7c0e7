"""Dates as bureaus write them, and legal periods counted by the Civil Code.

Civil Code Art. 201–202: the first day of a period is not counted; a period
of years ends at the end of the same calendar date that many years later, or
on the last day of that month when there is no such date (a period starting
29 February ends on 28 February).  So a year from 2023-03-01 is complete at
the end of 2024-03-01, and what depends on it holds from 2024-03-02.

Periods of days (the 30 days of the idle-land procedure) follow the same
Art. 201 — served on 2025-03-03, day 30 is 2025-04-02 — and Art. 203: when
the last day is a statutory rest day (法定休假日: a weekend not made a working
day, or a public holiday), the period ends on the first working day after it.
The State Council's holiday schedules come from the ``chinese-calendar``
package; for a year it does not know yet only weekends are moved over.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import chinese_calendar
import numpy as np
import pandas as pd

from landuse.core.errors import SchemaError
from landuse.core.tables import describe_rows, sheet_of

__all__ = [
    "anniversary",
    "day_period_end",
    "full_years",
    "parse_dates",
    "period_complete_after",
]

# 2019-03-01, 2019/3/1, 2019.3.1, 2019年3月1日, optionally followed by a time; or 20190301.
_SEPARATED = r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T].*)?$"
_COMPACT = r"^(\d{4})(\d{2})(\d{2})$"
_EMPTY = ["", "—", "-", "－", "/", "无", "nan", "NaN", "NaT", "None", "<NA>"]
# Excel day numbers (1900 system) count from 1899-12-30 for every day after the
# 1900-02-29 that Excel wrongly counts (serial 60); only serials from 1950 to 2100
# are taken for dates, so a stray number is not mistaken for one.
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_SERIALS = (
    (pd.Timestamp("1950-01-01") - _EXCEL_EPOCH).days,
    (pd.Timestamp("2100-12-31") - _EXCEL_EPOCH).days,
)
_SERIAL = r"^\d{5}(?:\.\d+)?$"


def parse_dates(
    values: pd.Series | Sequence[object], *, column: str, source: str = ""
) -> pd.Series:
    """Parse dates as bureaus write them, and as Excel stores them.

    Accepted: 2019-03-01, 2019/3/1, 2019.3.1, 2019年3月1日 (optionally with a
    time, as Excel date cells read as text: "2019-03-01 00:00:00"), 20190301,
    and Excel day numbers (43525 = 2019-03-01; 1900 date system, 1950–2100
    only).  Empty cells ("", "—", None) become NaT; anything else that is not
    a real calendar date is an error naming the column, the sheet and the
    rows (the index: the Excel row for a table from ``read_table``).
    Vectorised (regular expressions over the whole column).

    Parameters
    ----------
    values : Series or sequence
        Cells as read (text, datetime or date objects).
    column : str
        Column name, for the error message.
    source : str
        File or layer name, for the error message.

    Returns
    -------
    Series
        ``datetime64[ns]`` dates (no time part), aligned to the input index.

    Examples
    --------
    >>> dates = parse_dates(["2019年3月1日", "2019.3.1", "", "20190301", "43525"], column="GDRQ")
    >>> dates.dt.strftime("%Y-%m-%d").tolist()
    ['2019-03-01', '2019-03-01', nan, '2019-03-01', '2019-03-01']
    """
    s = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.dt.tz_localize(None).dt.normalize().astype("datetime64[ns]")
    text = s.astype("string").str.strip()
    empty = text.isna() | text.isin(_EMPTY)
    parts = text.str.extract(_SEPARATED).fillna(text.str.extract(_COMPACT))
    numbers = parts.apply(pd.to_numeric, errors="coerce").astype("float64")
    numbers.columns = ["year", "month", "day"]
    out = pd.to_datetime(numbers, errors="coerce").astype("datetime64[ns]")
    serial = pd.to_numeric(text.where(text.str.fullmatch(_SERIAL)), errors="coerce")
    days = np.floor(serial.where(serial.between(*_SERIALS)).astype("float64"))
    out = out.fillna(_EXCEL_EPOCH + pd.to_timedelta(days, unit="D"))
    bad = ~empty & out.isna()
    if bad.any():
        mask = bad.to_numpy()
        where = f"{source}: " if source else ""
        rows = describe_rows(s.index[mask], sheet=sheet_of(s), values=text[mask].tolist())
        raise SchemaError(
            f"{where}column {column} has {int(bad.sum())} value(s) that are not dates "
            f"({rows}). 日期请写成 2024-03-02, 2024年3月2日, 或 Excel 日期 "
            "(write dates as 2024-03-02, 2024年3月2日 or an Excel date)."
        )
    return out.where(~empty)


def anniversary(dates: pd.Series, years: int | np.ndarray | pd.Series) -> pd.Series:
    """The same calendar date ``years`` later, or the month's last day if it does not exist.

    Examples
    --------
    >>> s = pd.Series(pd.to_datetime(["2024-02-29", "2023-03-01"]))
    >>> anniversary(s, 1).dt.strftime("%Y-%m-%d").tolist()
    ['2025-02-28', '2024-03-01']
    """
    d = pd.to_datetime(dates)
    valid = d.notna().to_numpy()
    year = d.dt.year.fillna(2000).astype(int).to_numpy() + np.asarray(years, dtype=int)
    month = d.dt.month.fillna(1).astype(int).to_numpy()
    day = d.dt.day.fillna(1).astype(int).to_numpy()
    first = pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": 1}))
    month_len = (first + pd.offsets.MonthEnd(0)).dt.day.to_numpy()
    result = first + pd.to_timedelta(np.minimum(day, month_len) - 1, unit="D")
    return pd.Series(result.to_numpy(), index=d.index).where(valid)


def period_complete_after(start: pd.Series, years: int) -> pd.Series:
    """First day on which a period of ``years`` from ``start`` has fully run.

    Examples
    --------
    >>> s = pd.Series(pd.to_datetime(["2023-03-01"]))
    >>> period_complete_after(s, 1).dt.strftime("%Y-%m-%d").tolist()
    ['2024-03-02']
    """
    return anniversary(start, years) + pd.Timedelta(days=1)


def full_years(start: pd.Series, as_of: pd.Timestamp) -> pd.Series:
    """Whole years fully run from ``start`` to the end of ``as_of`` (NaN where start is NaT).

    Examples
    --------
    >>> s = pd.Series(pd.to_datetime(["2023-03-01", "2023-03-01", "2021-03-01"]))
    >>> full_years(s, pd.Timestamp("2024-03-01")).tolist()
    [0.0, 0.0, 2.0]
    """
    d = pd.to_datetime(start)
    guess = (as_of.year - d.dt.year).fillna(0).astype(int).to_numpy()
    # A year counted by the guess is complete only once its anniversary has passed.
    short = (as_of <= anniversary(d, guess)).to_numpy()
    years = pd.Series((guess - short).astype(float), index=d.index)
    return years.clip(lower=0).where(d.notna() & (d <= as_of))


def _rest_day(day: dt.date) -> tuple[bool, bool]:
    """(is a statutory rest day, the year's holiday schedule is known)."""
    try:
        return bool(chinese_calendar.is_holiday(day)), True
    except NotImplementedError:  # a year the package has no schedule for
        return day.weekday() >= 5, False


def day_period_end(
    start: pd.Series, days: int, *, rollover: bool = True
) -> tuple[pd.Series, pd.Series]:
    """Last day of a period of ``days`` days from ``start`` (Civil Code Art. 201, 203).

    The day of ``start`` is not counted, so the period ends on ``start + days``;
    with ``rollover`` a last day that is a statutory rest day moves to the next
    working day (weekends made working days by the holiday schedule stay).

    Parameters
    ----------
    start : Series
        Days the periods start from (NaT gives NaT).
    days : int
        Length in days.
    rollover : bool, default True
        Apply Art. 203.

    Returns
    -------
    end : Series
        The last day on which the act is still in time.
    unknown : Series of bool
        True where the year's holiday schedule is not known (only weekends moved).

    Examples
    --------
    >>> end, _ = day_period_end(pd.Series(pd.to_datetime(["2025-03-03", "2025-09-05"])), 30)
    >>> end.dt.strftime("%Y-%m-%d").tolist()  # 2025-10-05 is in the National Day holiday
    ['2025-04-02', '2025-10-09']
    """
    last = pd.to_datetime(start) + pd.Timedelta(days=days)
    unknown = pd.Series(False, index=last.index)
    if not rollover or last.isna().all():
        return last, unknown
    # Few distinct days: walk each one past the rest days it falls on.
    moved: dict[pd.Timestamp, tuple[pd.Timestamp, bool]] = {}
    for day in last.dropna().unique():
        current, known = pd.Timestamp(day), True
        while True:
            rest, schedule = _rest_day(current.date())
            known &= schedule
            if not rest:
                break
            current += pd.Timedelta(days=1)
        moved[pd.Timestamp(day)] = (current, known)
    end = last.map(lambda d: moved[d][0] if pd.notna(d) else pd.NaT)
    unknown = last.map(lambda d: pd.notna(d) and not moved[d][1]).astype(bool)
    return end.astype("datetime64[ns]"), unknown

import pandas as pd
import pytest

from landuse.core.dates import (
    anniversary,
    day_period_end,
    full_years,
    parse_dates,
    period_complete_after,
)
from landuse.core.errors import SchemaError


def ts(*days):
    return pd.Series(pd.to_datetime(list(days)))


def test_parse_bureau_formats():
    got = parse_dates(
        [
            "2019-03-01",
            "2019/3/1",
            "2019.3.1",
            "2019年3月1日",
            "20190301",
            "2019-03-01 08:30:00",
            "",
            "—",
            None,
        ],
        column="GDRQ",
    )
    assert got.iloc[:6].dt.strftime("%Y-%m-%d").tolist() == ["2019-03-01"] * 6
    assert got.iloc[6:].isna().all()
    native = parse_dates(pd.Series(pd.to_datetime(["2020-05-06 13:00"])), column="x")
    assert native.iloc[0] == pd.Timestamp("2020-05-06")


def test_bad_dates_listed_together():
    with pytest.raises(SchemaError) as err:
        parse_dates(["2019-02-29", "2019-03-01", "明年"], column="YDDGRQ", source="地块.shp")
    msg = str(err.value)
    assert "地块.shp" in msg and "YDDGRQ" in msg and "2 value(s)" in msg
    assert "'2019-02-29'" in msg and "'明年'" in msg  # 2019 is not a leap year


def test_anniversary_civil_code():
    # Same calendar date a year later; 29 Feb → 28 Feb in a common year.
    got = anniversary(ts("2023-03-01", "2024-02-29", "2023-02-28", "2024-01-31"), 1)
    assert got.dt.strftime("%Y-%m-%d").tolist() == [
        "2024-03-01",
        "2025-02-28",
        "2024-02-28",
        "2025-01-31",
    ]
    assert anniversary(ts("2024-02-29"), 4).iloc[0] == pd.Timestamp("2028-02-29")
    assert period_complete_after(ts("2023-03-01"), 1).iloc[0] == pd.Timestamp("2024-03-02")
    assert period_complete_after(ts("2023-03-01"), 2).iloc[0] == pd.Timestamp("2025-03-02")


@pytest.mark.parametrize(
    ("start", "as_of", "years"),
    [
        ("2023-03-01", "2024-02-29", 0),  # day before the anniversary (leap year)
        ("2023-03-01", "2024-03-01", 0),  # the anniversary itself: the year ends tonight
        ("2023-03-01", "2024-03-02", 1),  # day after: one full year
        ("2023-03-01", "2025-03-01", 1),
        ("2023-03-01", "2025-03-02", 2),
        ("2024-02-29", "2025-02-28", 0),  # leap-day start: year ends on 28 Feb
        ("2024-02-29", "2025-03-01", 1),
        ("2024-02-29", "2026-03-01", 2),
        ("2023-12-31", "2024-12-31", 0),
        ("2023-12-31", "2025-01-01", 1),
        ("2023-03-01", "2023-02-01", None),  # not started counting yet
    ],
)
def test_full_years(start, as_of, years):
    got = full_years(ts(start), pd.Timestamp(as_of)).iloc[0]
    assert (pd.isna(got) and years is None) or got == years


# 30-day periods (Civil Code Art. 201, 203).  Weekdays and the 2025 State Council
# holiday schedule, checked by hand against a calendar:
#   2025-03-03 + 30 = 2025-04-02, a Wednesday: no move.
#   2025-02-13 + 30 = 2025-03-15, a Saturday → Monday 2025-03-17.
#   2025-05-01 + 30 = 2025-05-31, 端午节 holiday 31 May – 2 June → 2025-06-03.
#   2025-09-05 + 30 = 2025-10-05, National Day holiday 1–8 October → 2025-10-09.
#   2025-08-29 + 30 = 2025-09-28, a Sunday made a working day (调休): no move.
#   2040-01-05 + 30 = 2040-02-04, a Saturday of a year without a known schedule →
#   Monday 2040-02-06, flagged.
@pytest.mark.parametrize(
    ("start", "plain", "rolled", "unknown"),
    [
        ("2025-03-03", "2025-04-02", "2025-04-02", False),
        ("2025-02-13", "2025-03-15", "2025-03-17", False),
        ("2025-05-01", "2025-05-31", "2025-06-03", False),
        ("2025-09-05", "2025-10-05", "2025-10-09", False),
        ("2025-08-29", "2025-09-28", "2025-09-28", False),
        ("2040-01-05", "2040-02-04", "2040-02-06", True),
    ],
)
def test_day_period_end(start, plain, rolled, unknown):
    end, flag = day_period_end(ts(start), 30)
    assert end.iloc[0] == pd.Timestamp(rolled) and bool(flag.iloc[0]) is unknown
    end, flag = day_period_end(ts(start), 30, rollover=False)
    assert end.iloc[0] == pd.Timestamp(plain) and not flag.iloc[0]


def test_day_period_end_keeps_gaps():
    end, flag = day_period_end(pd.Series([pd.NaT, pd.Timestamp("2025-03-03")]), 30)
    assert pd.isna(end.iloc[0]) and end.iloc[1] == pd.Timestamp("2025-04-02")
    assert flag.tolist() == [False, False]

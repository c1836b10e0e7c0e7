"""The vectorised CSV writer gives the bytes pandas' ``to_csv`` gives, for every type."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from landuse.io.csv_text import write_csv


def _pandas(df: pd.DataFrame) -> bytes:
    """The reference: how landuse wrote tables before (pandas' own writer)."""
    return df.to_csv(index=False, lineterminator="\n").encode("utf-8-sig")


def _ours(df: pd.DataFrame, tmp_path) -> bytes:
    path = tmp_path / "t.csv"
    write_csv(df, path)
    return path.read_bytes()


def _every_type() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "地块编号": ["\t4513020000001", "0771", None, "A,1"],  # codes keep their tab
            "名称": ["永久基本农田", None, '说"明"', "两行\n文字"],
            "园区": pd.array(["河南工业园", None, "", " 空格 "], dtype="str"),
            "类型": pd.array(["甲", None, "乙", "丙"], dtype="string"),
            "宗数": np.array([1, -2, 0, 4], dtype="int64"),
            "年度": pd.array([2024, None, 2025, 2023], dtype="Int64"),
            "面积（亩）": [15.0, np.nan, 0.1, 1e-5],
            "占比": [0.123456789, -0.0, 1e16, 1234567.5],
            "税收": pd.array([1.5, None, 3.25, 1e20], dtype="double[pyarrow]"),
            "合规": [True, False, True, False],
            "闲置": pd.array([True, None, False, None], dtype="boolean"),
            "逾期": [True, np.nan, False, np.nan],  # object booleans, as after a join
            "约定动工日期": pd.to_datetime(["2023-03-01", None, "2025-12-31", "2020-01-02"]),
            "时间": pd.to_datetime(
                ["2024-01-01 08:30", None, "2025-12-31 00:00", "1999-02-03 00:01"]
            ),
            "日期对象": [dt.date(2024, 1, 2), None, dt.date(2025, 3, 4), dt.date(2020, 1, 1)],
            "空": [None] * 4,
            "等级": pd.Categorical(["A", None, "B", "A"]),
            "精确时间": pd.to_datetime(
                ["2024-01-01 00:00:00.5", None, "2024-01-02", "2024-01-03"], format="mixed"
            ),
            "北京时间": pd.to_datetime(
                ["2024-01-01 08:00", None, "2024-01-01 00:00", "2024-01-02 00:00"]
            ).tz_localize("Asia/Shanghai"),
        }
    )


def test_every_type_byte_for_byte(tmp_path):
    df = _every_type()
    assert _ours(df, tmp_path) == _pandas(df)


@pytest.mark.parametrize("column", list(_every_type().columns))
def test_each_column_alone(tmp_path, column):
    # A lone column: the csv module quotes a row's only field when it is empty ("").
    df = _every_type()[[column]]
    assert _ours(df, tmp_path) == _pandas(df)


def test_text_in_several_arrow_chunks(tmp_path):
    # Concatenated text columns are held by Arrow in chunks.
    parts = [pd.Series(["河南,工业园", None], dtype="str"), pd.Series(["凤凰"], dtype="str")]
    df = pd.DataFrame({"园区": pd.concat(parts, ignore_index=True), "亩": [1.0, 2.0, 3.0]})
    assert _ours(df, tmp_path) == '\ufeff园区,亩\n"河南,工业园",1.0\n,2.0\n凤凰,3.0\n'.encode()


def test_format_by_hand(tmp_path):
    df = pd.DataFrame(
        {"a,b": ["x", None], "亩": [15.0, np.nan], "日": pd.to_datetime(["2024-03-01", None])}
    )
    # Header "a,b" quoted; 15.0 keeps its ".0"; missing values are empty; midnights as dates.
    assert _ours(df, tmp_path) == '\ufeff"a,b",亩,日\nx,15.0,2024-03-01\n,,\n'.encode()
    assert _ours(df.iloc[:0], tmp_path) == '\ufeff"a,b",亩,日\n'.encode()


def test_floats_as_python_writes_them(tmp_path):
    # Every decade from 1e-30 to 1e30, whole numbers, two-decimal areas and the edges
    # where repr switches to an exponent (1e-4, 1e16); the reference is NumPy's text.
    rng = np.random.default_rng(7)
    values = np.concatenate(
        [
            rng.standard_normal(3000) * 10.0 ** rng.integers(-30, 30, 3000),
            np.round(rng.random(3000) * 1000, 2),
            rng.integers(-(10**17), 10**17, 300).astype(float),
            [0.0, -0.0, 1e-4, 9.999999999999999e-05, 1e16, 9999999999999998.0, 5e-324],
            [np.inf, -np.inf, np.nan, 1.7976931348623157e308, 98088227015553.23],
        ]
    )
    df = pd.DataFrame({"x": values})
    assert _ours(df, tmp_path) == _pandas(df)
    text = _ours(df, tmp_path).decode("utf-8-sig").split("\n")[1:-1]
    shown = np.where(np.isnan(values), '""', values.astype(str))  # a lone empty field: ""
    assert text == shown.tolist()


@pytest.mark.parametrize("batch", [1, 3])
def test_rows_joined_in_batches_give_the_same_bytes(tmp_path, monkeypatch, batch):
    # Four rows in batches of 1 and of 3 (the last batch short); pandas is the reference.
    monkeypatch.setattr("landuse.io.csv_text._BATCH", batch)
    df = _every_type()
    assert _ours(df, tmp_path) == _pandas(df)
    assert _ours(df[["面积（亩）"]], tmp_path) == _pandas(df[["面积（亩）"]])

import numpy as np
import pytest

from landuse.core.errors import SchemaError
from landuse.core.numbers import parse_amounts, parse_flags, parse_shares


def test_amounts_in_wan():
    got = parse_amounts(
        ["1,234.5", "12.3万元", "0.5亿元", "50000元", " 7 ", "—", "", None], column="SSZE"
    )
    np.testing.assert_allclose(got.iloc[:5], [1234.5, 12.3, 5000.0, 5.0, 7.0])
    assert got.iloc[5:].isna().all()


def test_bad_amounts_are_reported_not_zero():
    with pytest.raises(SchemaError) as err:
        parse_amounts(["12", "约10万", "12.3万美元"], column="税收", source="企业.xlsx")
    assert "企业.xlsx" in str(err.value) and "2 value(s)" in str(err.value)


def test_shares_and_flags():
    np.testing.assert_allclose(
        parse_shares(["0.25", "25%", "33.3％", "1"], column="KFBL"), [0.25, 0.25, 0.333, 1.0]
    )
    with pytest.raises(SchemaError, match="0–1"):
        parse_shares(["35"], column="KFBL")
    assert parse_flags(["是", "否", None, "N", "1"], column="ZFYY").tolist() == [
        True,
        False,
        False,
        False,
        True,
    ]
    with pytest.raises(SchemaError, match="是 or 否"):
        parse_flags(["可能"], column="ZFYY")

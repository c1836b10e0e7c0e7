import datetime

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from landuse.analysis.efficiency import _enterprise_table
from landuse.cli import main
from landuse.core.config import FIELD_ALIASES
from landuse.core.dates import parse_dates
from landuse.core.errors import LayerNotFoundError, SchemaError
from landuse.core.numbers import parse_amounts
from landuse.core.tables import clean_table
from landuse.core.validate import standardize_fields
from landuse.io import read_table
from landuse.ledger import read_ledger_file

from .conftest import square

TITLE = "2024年度规上工业企业亩均效益评价表"
HEADER = ["序号", "企业名称", "统一社会信用代码", "年度", "实缴税金", "营业收入", "用电量"]
UNITS = [None, None, None, None, "（万元）", "（万元）", "（千瓦时）"]
FIRMS = [
    [1, "甲公司", "E1", 2024, 1200.5, 5000, 100000],
    [2, "乙公司", "E2", 2024, 3000, 8000, 250000],
    [3, "丙公司", "E3", 2024, 4491.6, "1.2亿元", 300000],
]
# 1200.5 + 3000 + 4491.6 = 8692.1 万元; 100 000 + 250 000 + 300 000 = 650 000 kWh.
TOTAL = ["合 计", None, None, None, 8692.1, None, 650000]


def _workbook(path, rows, *, sheet="Sheet1", merges=()):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    for row in rows:
        ws.append(list(row))
    for cells in merges:
        ws.merge_cells(cells)
    wb.save(path)
    return path


def _enterprise_workbook(path, firms=FIRMS):
    # Row 1 merged title, row 2 a unit/date line, row 3 header, row 4 units,
    # rows 5–6 firms, row 7 blank, row 8 a firm, row 9 the 合计 row (label merged A:C).
    rows = [
        [TITLE],
        ["填报单位：兴宾区工信局", None, None, None, None, "填报日期：2025年1月"],
        HEADER,
        UNITS,
        firms[0],
        firms[1],
        [],
        firms[2],
        TOTAL,
    ]
    return _workbook(path, rows, sheet="企业", merges=("A1:G1", "A9:C9"))


def test_title_units_and_total_rows(tmp_path):
    df = read_table(_enterprise_workbook(tmp_path / "企业.xlsx"))
    assert df.columns.tolist() == HEADER
    assert df.index.tolist() == [5, 6, 8]  # Excel rows
    assert df["统一社会信用代码"].tolist() == ["E1", "E2", "E3"]
    dropped = pd.DataFrame(df.attrs["landuse_dropped_rows"])
    assert dropped["row"].tolist() == [4, 7, 9]
    assert dropped["reason"].tolist() == ["单位行", "空行", "合计行"]
    assert "8692.1" in dropped["text"].iloc[2]
    # Rows under the header (4–9): 6 = 3 kept + 3 dropped.
    assert len(df) + len(dropped) == 9 - 3
    source = df.attrs["landuse_source"]
    assert source["sheet"] == "企业" and source["header_rows"] == [3] and source["read"] == 6
    assert source["units"] == {"实缴税金": "万元", "营业收入": "万元", "用电量": "千瓦时"}

    firms = _enterprise_table(
        standardize_fields(df, FIELD_ALIASES["enterprises"], layer_name="enterprises")
    )
    assert len(firms) == 3
    assert firms["tax_wan"].sum() == pytest.approx(8692.1)  # 1200.5 + 3000 + 4491.6
    assert firms["revenue_wan"].tolist() == [5000.0, 8000.0, 12000.0]  # 1.2亿元 = 12 000 万元
    assert firms["electricity_kwh"].sum() == 650_000


def test_units_in_yuan_are_converted(tmp_path):
    rows = [["企业名称", "统一社会信用代码", "年度", "实缴税金（元）"], ["甲", "E1", 2024, 50000]]
    df = read_table(_workbook(tmp_path / "t.xlsx", rows))
    assert df.columns.tolist() == ["企业名称", "统一社会信用代码", "年度", "实缴税金"]
    assert parse_amounts(df["实缴税金"], column="tax").tolist() == [5.0]  # 50 000 元 = 5 万元


def test_header_unit_contradicting_units_row(tmp_path):
    rows = [["企业名称", "年度", "实缴税金（万元）"], [None, None, "（元）"], ["甲", 2024, 1]]
    with pytest.raises(SchemaError, match=r"t\.xlsx, sheet Sheet1: column C.*万元.*元"):
        read_table(_workbook(tmp_path / "t.xlsx", rows))


def test_ledger_template_unit_stays_in_the_name():
    # "面积（亩）" is the import template's own name: the values stay as written.
    grid = pd.DataFrame([["地块编号", "面积"], ["", "（亩）"], ["A1", "15"]])
    t = clean_table(grid, aliases={"parcel_id": ["地块编号"], "area_mu": ["面积（亩）"]})
    assert t.table.columns.tolist() == ["地块编号", "面积（亩）"]
    assert t.table.loc[3].tolist() == ["A1", "15"]
    assert t.units == {}


def test_two_row_header():
    grid = pd.DataFrame(
        [
            ["企业名称", "统一社会信用代码", "年度", "经济指标", ""],
            ["", "", "", "实缴税金", "营业收入"],
            ["甲", "E1", "2024", "1", "2"],
        ]
    )
    t = clean_table(grid, aliases=FIELD_ALIASES["enterprises"])
    assert t.header_rows == (1, 2)
    assert t.table.columns.tolist() == [
        "企业名称",
        "统一社会信用代码",
        "年度",
        "实缴税金",
        "营业收入",
    ]
    assert t.table.index.tolist() == [3]


def test_header_without_known_names_and_notes():
    # The sheet starts in column B: column A has neither header nor values and is left out.
    grid = pd.DataFrame(
        [
            ["", "某县统计表", "", ""],
            ["", "", "", ""],
            ["", "甲", "乙", "丙"],
            ["", "1", "2", "3"],
            ["", "小计", "", "3"],
            ["", "注：数据来自税务局", "", ""],
        ]
    )
    t = clean_table(grid)
    assert t.header_rows == (3,)
    assert t.table.columns.tolist() == ["甲", "乙", "丙"]
    assert t.table.index.tolist() == [4]
    assert t.dropped["reason"].tolist() == ["合计行", "说明行"]


def test_excel_serial_dates():
    # 1900 system: serial 1 = 1900-01-01 and Excel counts a 1900-02-29, so 1900 has 366
    # serials; 1901–1999 add 99·365 + 24 leap days → 2000-01-01 = 367 + 36 159 = 36 526.
    # 2000–2012 add 13·365 + 4 (2000, 2004, 2008, 2012) = 4 749 → 2013-01-01 = 41 275.
    # 14 December is day 334 + 14 = 348 of 2013 → 41 275 + 347 = 41 622, so 41 623 is
    # 15 December.  1950-01-01 = 18 264 and 2100-12-31 = 73 415 bound the accepted range.
    got = parse_dates(["41622", "41623", "41623.75", "18264", "73415"], column="日期")
    assert got.dt.strftime("%Y-%m-%d").tolist() == [
        "2013-12-14",
        "2013-12-15",
        "2013-12-15",
        "1950-01-01",
        "2100-12-31",
    ]
    with pytest.raises(SchemaError, match=r"row 0: '18263'; row 1: '73416'.*Excel 日期"):
        parse_dates(["18263", "73416"], column="日期")


def _ledger_workbook(path, date_a1, date_a2):
    rows = [
        ["兴宾区闲置土地处置台账（2024年）"],
        ["地块编号", "事项", "处置方式", "日期", "面积（亩）"],
        ["A1", "认定闲置", None, date_a1, 15],
        ["A2", "认定闲置", None, date_a2, 7.5],
        ["合计", None, None, None, 22.5],
    ]
    return _workbook(path, rows, sheet="台账", merges=("A1:E1",))


def test_ledger_import_with_serial_and_date_cells(tmp_path):
    path = _ledger_workbook(tmp_path / "台账.xlsx", 41623, datetime.datetime(2024, 3, 2))
    rows = read_ledger_file(path)
    assert rows["parcel_id"].tolist() == ["A1", "A2"]  # the 合计 row is not a parcel
    assert rows["event_date"].tolist() == ["2013-12-15", "2024-03-02"]
    assert rows["area_mu"].tolist() == [15.0, 7.5]


def test_bad_date_names_sheet_and_row(tmp_path):
    path = _ledger_workbook(tmp_path / "台账.xlsx", "2024-03-02", "2024-13-45")
    with pytest.raises(SchemaError) as err:
        read_ledger_file(path)
    message = str(err.value)
    assert "台账.xlsx" in message and "column 日期" in message
    assert "sheet 台账, row 4: '2024-13-45'" in message
    assert "2024-03-02, 2024年3月2日, 或 Excel 日期" in message


def test_bad_number_names_sheet_and_row(tmp_path):
    bad = [FIRMS[0], [2, "乙公司", "E2", 2024, "三千", 8000, 250000], FIRMS[2]]
    df = read_table(_enterprise_workbook(tmp_path / "企业.xlsx", bad))
    with pytest.raises(SchemaError, match=r"企业\.xlsx: column tax_wan .*sheet 企业, row 6: '三千"):
        _enterprise_table(
            standardize_fields(df, FIELD_ALIASES["enterprises"], layer_name="enterprises")
        )


def test_gbk_csv_with_title_line(tmp_path):
    path = tmp_path / "台账.csv"
    path.write_bytes(
        "兴宾区闲置土地处置台账\n地块编号,事项,处置方式,日期,面积（亩）\n"
        "A1,认定闲置,,2024年3月2日,15\n合计,,,,15\n".encode("gbk")
    )
    df = read_table(path)
    assert df.index.tolist() == [3]
    assert df.attrs["landuse_source"]["header_rows"] == [2]
    assert df.attrs["landuse_source"]["encoding"] == "gb18030"
    assert df.attrs["landuse_dropped_rows"] == [
        {"row": 4, "reason": "合计行", "text": "地块编号: 合计; 面积（亩）: 15"}
    ]
    rows = read_ledger_file(path)
    assert rows["event_date"].tolist() == ["2024-03-02"]
    # attrs hold plain records, so pandas can still combine two tables read this way.
    assert pd.concat([df, read_table(path)]).index.tolist() == [3, 3]


def test_empty_sheet(tmp_path):
    path = tmp_path / "空.csv"
    path.write_text(",,\n,,\n", encoding="utf-8")
    with pytest.raises(SchemaError, match=r"空\.csv: the table is empty"):
        read_table(path)


def test_missing_sheet_lists_the_sheets(tmp_path):
    path = _workbook(tmp_path / "t.xlsx", [["地块编号"], ["A1"]], sheet="台账")
    with pytest.raises(LayerNotFoundError, match=r"no sheet '企业'.*台账"):
        read_table(path, sheet="企业")
    assert read_table(path, sheet=0).index.tolist() == [2]


def test_tax_command_on_a_bureau_workbook(tmp_path):
    parcels = gpd.GeoDataFrame(
        {"DKBH": ["A1", "A2", "A3"], "TYSHXYDM": ["E1", "E2", "E3"], "SSYQ": "测试园"},
        geometry=[square(0, 0), square(200, 0), square(400, 0)],  # 15 亩 each
        crs="EPSG:4524",
    )
    parcels.to_file(tmp_path / "地块.gpkg")
    _enterprise_workbook(tmp_path / "企业.xlsx")
    toml = tmp_path / "landuse.toml"
    toml.write_text(
        '[project]\nname = "测试县"\n[layers.parcels]\npath = "地块.gpkg"\n'
        '[layers.enterprises]\npath = "企业.xlsx"\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["tax", "--project", str(toml), "--out", str(out)])
    assert result.exit_code == 0, result.output
    ranking = pd.read_csv(out / "enterprise_ranking.csv", encoding="utf-8-sig")
    assert len(ranking) == 3  # the 合计 row is not a firm
    assert "未参评 0 家" in result.output
    # 8692.1 万元 over 3 × 15 = 45 亩 = 193.157… 万元/亩.
    assert "全县（区）工业地均税收 193.16 万元/亩" in result.output

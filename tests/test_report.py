import datetime
import hashlib
import warnings
import xml.etree.ElementTree as ET
import zipfile

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from openpyxl import load_workbook

from landuse.fonts import cjk_font_file
from landuse.pipeline import run_report
from landuse.report import Sheet, write_workbook
from landuse.sample import get_path


@pytest.fixture(scope="module")
def pack(tmp_path_factory, sample_data):
    out = tmp_path_factory.mktemp("pack")
    result = run_report(sample_data, out)
    return out, result


def test_workbook_sheets_headers_and_formats(pack):
    out, _ = pack
    wb = load_workbook(out / "会议材料.xlsx")
    assert wb.sheetnames == [
        "封面",
        "几何修复记录",
        "三区三线冲突",
        "冲突图斑",
        "有证无法建设",
        "可建设用地",
        "可建设用地汇总",
        "闲置土地",
        "处置进度",
        "处置率",
        "处置趋势",
        "近五年供地率",
        "批而未供批次",
        "亩均效益排名",
        "亩均评价基准值",
        "园区汇总",
        "地类面积汇总表",
        "用地控制指标",
    ]
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2"
    conflicts = wb["三区三线冲突"]
    headers = [c.value for c in conflicts[1]]
    assert headers[:3] == ["地块编号", "地块名称", "园区"]
    assert "开发边界外面积（亩）" in headers and "检查结论" in headers
    assert conflicts.auto_filter.ref is not None
    col = headers.index("面积（亩）") + 1
    assert conflicts.cell(row=2, column=col).number_format == "#,##0.00"
    rates = wb["处置率"]
    rate_col = [c.value for c in rates[1]].index("闲置土地处置率") + 1
    assert rates.cell(row=2, column=rate_col).number_format == "0.00%"


def _shown(value: float, number_format: str) -> float:
    """A number as Excel shows it under a format like '#,##0.000' or '0.00%'."""
    if number_format == "General":  # Excel shows up to 11 characters
        return float(f"{value:.10g}")
    percent = number_format.endswith("%")
    decimals = len(number_format.rstrip("%").partition(".")[2])
    return round(value * (100 if percent else 1), decimals)


def test_every_number_format_fits_its_column(pack):
    # Excel shows each firm's figures with at least 3 significant digits for the typical
    # (median) value of every numeric column: no column of 0.00 (万元/千瓦时 was).
    out, _ = pack
    wb = load_workbook(out / "会议材料.xlsx")
    for name in ("亩均效益排名", "亩均评价基准值", "园区汇总"):
        ws = wb[name]
        for col in ws.iter_cols(min_row=2):
            numbers = [c for c in col if isinstance(c.value, float) and c.value != 0]
            if not numbers:
                continue
            typical = sorted(numbers, key=lambda c: abs(c.value))[len(numbers) // 2]
            fmt = typical.number_format
            shown = _shown(typical.value, fmt)
            scale = 100 if fmt.endswith("%") else 1
            header = ws.cell(row=1, column=typical.column).value
            assert shown != 0, (name, header, fmt)
            assert abs(shown / (typical.value * scale) - 1) < 0.01, (name, header, fmt)
    ranking = wb["亩均效益排名"]
    headers = [c.value for c in ranking[1]]
    kwh = headers.index("单位电耗税收（元/千瓦时）") + 1
    assert ranking.cell(row=2, column=kwh).number_format == "#,##0.00"
    assert "地均税收（万元/公顷）" in headers


def test_cover_states_the_scheme_and_the_cap(pack):
    out, _ = pack
    wb = load_workbook(out / "会议材料.xlsx")
    cover = {row[0].value: row[1].value for row in wb["封面"].iter_rows(min_row=2)}
    assert cover["亩均效益评价方案"] == "浙江县（区）亩均效益综合评价（默认）（zhejiang）"
    assert cover["单项得分上限"] == "指标值 ÷ 基准值 超过 2 按 2 计（单项最高为权重的 2 倍）"
    assert "chacewang.com" in cover["评价依据"]


def test_workbook_values_match_independent_computation(pack):
    out, _ = pack
    wb = load_workbook(out / "会议材料.xlsx")
    cover = {row[0].value: row[1].value for row in wb["封面"].iter_rows(min_row=2)}
    sha = hashlib.sha256(get_path("sample").read_bytes()).hexdigest()
    assert cover["输入文件（district）"] == f"xingbin_sample.gpkg  SHA-256 {sha}"
    assert cover["工具版本"].startswith("landuse ")
    # 2025 disposals straight from the ledger import file: sum of 处置完成 areas in 2025.
    ledger = pd.read_csv(get_path("ledger"), encoding="utf-8-sig")
    done = ledger[(ledger["事项"] == "处置完成") & ledger["日期"].str.startswith("2025")]
    ws = wb["处置率"]
    header = [c.value for c in ws[1]]
    total = next(r for r in ws.iter_rows(min_row=2, values_only=True) if r[0] == "合计")
    assert total[header.index("期内处置闲置（亩）")] == pytest.approx(
        done["面积（亩）"].sum(), abs=1e-3
    )
    # Buildable land, recomputed with shapely alone from the raw GeoPackage (see below):
    # both buildable sheets must agree with it park by park.
    expected = _buildable_from_raw_layers()
    expected.loc["合计"] = [
        expected["candidates"].sum(),
        expected["area_mu"].sum(),
        expected["largest_mu"].max(),
    ]
    summary = pd.DataFrame(
        wb["可建设用地汇总"].iter_rows(min_row=2, values_only=True),
        columns=["park", "candidates", "area_mu", "largest_mu"],
    ).set_index("park")
    assert summary.index.tolist() == [*sorted(expected.index[:-1]), "合计"]
    summary = summary.loc[expected.index]
    assert summary["candidates"].tolist() == expected["candidates"].tolist()
    np.testing.assert_allclose(summary["area_mu"], expected["area_mu"], atol=1e-2)
    np.testing.assert_allclose(summary["largest_mu"], expected["largest_mu"], atol=1e-3)
    cand_sheet = wb["可建设用地"]
    header = [c.value for c in cand_sheet[1]]
    rows = pd.DataFrame(cand_sheet.iter_rows(min_row=2, values_only=True), columns=header)
    per_park = rows.groupby("园区")["面积（亩）"].agg(["size", "sum"]).loc[expected.index[:-1]]
    assert per_park["size"].tolist() == expected["candidates"].iloc[:-1].tolist()
    np.testing.assert_allclose(per_park["sum"], expected["area_mu"].iloc[:-1], atol=1e-2)


_RAW_LAYERS = ("parks", "udb", "farmland", "eco_redline", "roads", "parcels")


def _buildable_from_raw_layers() -> pd.DataFrame:
    """Buildable land of the shipped sample with pyogrio + shapely only (no landuse analysis).

    The sample project sets no [buildable] options, so the documented defaults hold:
    park ∩ UDB − farmland − red line − supplied parcels (GDZT 已供) − roads widened by
    half their width (LK = 30 m → 15 m each side); strips under 20 m wide removed by an
    opening of 20 / 2 = 10 m with square corners; pieces under 10 亩 = 10 · 10000 / 15
    = 6 666.67 m² dropped.  Each park is done with plain unions, not landuse's grouped
    overlays.
    """
    path = get_path("sample")
    read = {name: pyogrio.read_dataframe(path, layer=name) for name in _RAW_LAYERS}
    parcels = read["parcels"]
    supplied = shapely.make_valid(parcels.geometry.to_numpy()[parcels["GDZT"] == "已供"])
    roads = read["roads"]
    corridors = shapely.buffer(roads.geometry.to_numpy(), roads["LK"].astype(float) / 2)
    blocked = shapely.union_all(
        np.concatenate(
            [
                read["farmland"].geometry.to_numpy(),
                read["eco_redline"].geometry.to_numpy(),
                supplied,
                corridors,
            ]
        )
    )
    udb = shapely.union_all(read["udb"].geometry.to_numpy())
    rows = {}
    for name, park in zip(read["parks"]["YQMC"], read["parks"].geometry, strict=True):
        land = shapely.difference(shapely.intersection(park, udb), blocked)
        shrunk = shapely.buffer(land, -10.0, join_style="mitre")
        # A mitre grow can self-intersect; repair it before the intersection.
        grown = shapely.make_valid(shapely.buffer(shrunk, 10.0, join_style="mitre"))
        pieces = shapely.get_parts(shapely.intersection(grown, land))
        pieces = pieces[shapely.get_type_id(pieces) == 3]  # polygons only
        mu = shapely.area(pieces) * 15 / 10000
        mu = mu[mu >= 10.0]
        rows[name] = (len(mu), mu.sum(), mu.max())
    return pd.DataFrame.from_dict(
        rows, orient="index", columns=["candidates", "area_mu", "largest_mu"]
    )


def test_charts_are_not_blank_and_draw_chinese(pack):
    out, _ = pack
    pngs = sorted((out / "charts").glob("*.png"))
    assert {p.name for p in pngs} == {
        "亩均税收排名.png",
        "分类分布.png",
        "处置趋势.png",
        "总览图.png",
    }
    for png in pngs:
        img = mpimg.imread(png)
        assert img.shape[0] > 300 and img.shape[1] > 300
        assert img[..., :3].std() > 0.05  # not a blank canvas


def test_cjk_glyphs_render_as_distinct_characters():
    # With a missing font every CJK character becomes the same box; with a real
    # CJK font two different characters rasterise differently.
    from matplotlib.ft2font import FT2Font

    chosen = cjk_font_file()
    font = FT2Font(str(chosen.path), face_index=chosen.face_index)
    assert all(font.get_char_index(ord(ch)) != 0 for ch in "闲置土地处置趋势亩均税收")

    def raster(ch):
        font.set_size(32, 72)
        font.set_text(ch)
        font.draw_glyphs_to_bitmap()
        return np.asarray(font.get_image()).copy()

    assert not np.array_equal(raster("闲"), raster("置"))


def test_pack_is_reproducible(tmp_path, sample_data):
    first, second = tmp_path / "a", tmp_path / "b"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_report(sample_data, first)
        run_report(sample_data, second)
    assert (first / "会议材料.xlsx").read_bytes() == (second / "会议材料.xlsx").read_bytes()
    for csv in first.glob("*.csv"):
        assert csv.read_bytes() == (second / csv.name).read_bytes(), csv.name


def test_summary_reads_like_a_city_report(pack):
    out, _ = pack
    md = (out / "摘要.md").read_text(encoding="utf-8")
    assert "处置闲置土地" in md and "处置率" in md and "工业地均税收" in md and "同比" in md
    assert "示例数据" in md
    html_text = (out / "摘要.html").read_text(encoding="utf-8")
    assert html_text.startswith("<!DOCTYPE html>") and "<script" not in html_text


def test_write_workbook_escapes_nothing_and_keeps_types(tmp_path):
    name = '河南<b>&"一号"</b>'  # markup-like text must arrive as typed, not HTML-escaped
    table = pd.DataFrame(
        {
            "parcel_id": ["A1", "A2"],
            "parcel_name": [name, "二号"],
            "area_mu": [7.5, 15.0],
            "disposal_rate": [0.4528, 0.1],
            "idle_since": pd.to_datetime(["2024-03-02", "2025-02-28"]),
        }
    )
    path = write_workbook(tmp_path / "t.xlsx", [Sheet("表", table)], [("项目", "测试")])
    ws = load_workbook(path)["表"]
    assert [c.value for c in ws[1]] == [
        "地块编号",
        "地块名称",
        "面积（亩）",
        "闲置土地处置率",
        "认定闲置起始日",
    ]
    assert [c.value for c in ws[2]] == ["A1", name, 7.5, 0.4528, datetime.datetime(2024, 3, 2)]
    assert ws["D2"].number_format == "0.00%"
    # The sheet XML itself, read with zipfile + ElementTree instead of openpyxl: text cells
    # hold the text once XML-decoded, numbers are numeric cells, dates Excel serial days
    # (1900 system: 2024-01-01 is 45 292, so 2024-03-02 is 45 292 + 31 + 29 + 1 = 45 353).
    cells = _sheet_cells(path, "表")
    assert cells["B2"] == ("inlineStr", name)
    assert cells["C2"] == ("n", "7.5") and cells["D2"] == ("n", "0.4528")
    serial = (datetime.date(2024, 3, 2) - datetime.date(1899, 12, 30)).days
    assert serial == 45353 and cells["E2"] == ("n", "45353")


def test_write_workbook_keeps_formula_like_text_as_text(tmp_path):
    # A name typed as "=1+1" in a bureau's attribute table must not become a formula.
    table = pd.DataFrame({"parcel_id": ["A1"], "parcel_name": ["=1+1"]})
    path = write_workbook(tmp_path / "t.xlsx", [Sheet("表", table)], [("项目", "=2+2")])
    assert _sheet_cells(path, "表")["B2"] == ("inlineStr", "=1+1")
    assert _sheet_cells(path, "封面")["B2"] == ("inlineStr", "=2+2")


_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


def _sheet_cells(path, sheet: str) -> dict[str, tuple[str, str | None]]:
    """Cell reference → (type, text) straight from the xlsx XML; formulas as ("f", text)."""
    with zipfile.ZipFile(path) as z:
        book = ET.fromstring(z.read("xl/workbook.xml"))
        rel_id = next(
            s.get(_REL) for s in book.iterfind(".//m:sheet", _NS) if s.get("name") == sheet
        )
        rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
        target = next(r.get("Target") for r in rels if r.get("Id") == rel_id)
        root = ET.fromstring(z.read("xl/" + target.removeprefix("/xl/")))
    out = {}
    for c in root.iterfind(".//m:c", _NS):
        formula = c.find("m:f", _NS)
        if formula is not None:
            out[c.get("r")] = ("f", formula.text)
        elif c.get("t") == "inlineStr":
            out[c.get("r")] = ("inlineStr", "".join(c.find("m:is", _NS).itertext()))
        else:
            out[c.get("r")] = (c.get("t", "n"), c.findtext("m:v", namespaces=_NS))
    return out

import datetime
import functools
import hashlib
import html
import os
import re
import shutil
import subprocess
import warnings
import xml.etree.ElementTree as ET
import zipfile

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from docx import Document
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from pypdf import PdfReader

from landuse.core.config import LAYER_LABELS, sample_project
from landuse.outputs.fonts import cjk_font_file
from landuse.outputs.report import Sheet, write_workbook
from landuse.pipeline import run_report
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
        "地块汇总",
        "冲突汇总",
        "三区三线冲突",
        "可建设用地汇总",
        "可建设用地（前30块）",
        "闲置土地汇总",
        "闲置土地",
        "处置率",
        "处置趋势",
        "近五年供地率",
        "亩均效益排名",
        "亩均评价基准值",
        "园区汇总",
        "地类面积汇总表",
        "用地控制指标汇总",
        "用地控制指标",
    ]
    appendix = load_workbook(out / "附表.xlsx")
    assert appendix.sheetnames == [
        "封面",
        "几何修复记录",
        "三区三线检查",
        "冲突图斑",
        "有证无法建设",
        "可建设用地",
        "闲置土地",
        "处置进度",
        "批而未供批次",
        "亩均效益评价",
        "用地控制指标（全部）",
    ]
    for ws in [*wb.worksheets, *appendix.worksheets]:
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
    appendix = load_workbook(out / "附表.xlsx")  # every firm's evaluation, every column
    for ws in (appendix["亩均效益评价"], wb["亩均效益排名"], wb["亩均评价基准值"], wb["园区汇总"]):
        name = ws.title
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
    ranking = appendix["亩均效益评价"]
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
    # One row per input file, naming every layer read from it, in the project's order.
    project = sample_project()
    layers = "、".join(
        LAYER_LABELS.get(name, name)
        for name, spec in project.layers.items()
        if spec.path is not None and spec.path.name == "xingbin_sample.gpkg"
    )
    assert cover[f"输入文件（{layers}）"] == f"xingbin_sample.gpkg  SHA-256 {sha}"
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
    cand_sheet = load_workbook(out / "附表.xlsx")["可建设用地"]
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
    for name in ("会议材料.xlsx", "附表.xlsx", "汇报材料.docx", "专题图/三区三线冲突图.pdf"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
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


def test_indicator_shares_and_their_thresholds_print_in_per_cent(tmp_path):
    # 建筑系数, 绿地率 and 行政办公比重 are shares 0–1 like the disposal rate, and so are their
    # thresholds; 容积率 is a ratio (0.85, not 85 %) and 投资强度 money.
    table = pd.DataFrame(
        {
            "parcel_id": ["A1"],
            "plot_ratio": [0.85],
            "plot_ratio_min": [0.7],
            "building_coverage": [0.3125],
            "building_coverage_min": [0.3],
            "office_share": [0.05],
            "office_share_max": [0.07],
            "green_ratio": [0.2],
            "green_ratio_max": [0.2],
            "investment_intensity_min_wan_per_ha": [1800.0],
        }
    )
    path = write_workbook(tmp_path / "t.xlsx", [Sheet("表", table)], [("项目", "测试")])
    ws = load_workbook(path)["表"]
    formats = {
        ws.cell(row=1, column=c).value: ws.cell(row=2, column=c).number_format for c in range(2, 11)
    }
    assert formats == {
        "容积率": "General",
        "容积率下限": "General",
        "建筑系数": "0.00%",
        "建筑系数下限": "0.00%",
        "行政办公及生活服务设施用地所占比重": "0.00%",
        "行政办公及生活服务设施用地比重上限": "0.00%",
        "绿地率": "0.00%",
        "绿地率上限": "0.00%",
        "投资强度下限（万元/公顷）": "#,##0.00",
    }


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


# ------------------------------------------------------------ printing the workbooks


def _print_settings(path, sheet):
    """Page setup, print titles, header and footer straight from the sheet XML."""
    with zipfile.ZipFile(path) as z:
        book = ET.fromstring(z.read("xl/workbook.xml"))
        rel_id = next(
            s.get(_REL) for s in book.iterfind(".//m:sheet", _NS) if s.get("name") == sheet
        )
        index = [s.get("name") for s in book.iterfind(".//m:sheet", _NS)].index(sheet)
        titles = {
            d.get("localSheetId"): d.text
            for d in book.iterfind(".//m:definedName", _NS)
            if d.get("name") == "_xlnm.Print_Titles"
        }
        rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
        target = next(r.get("Target") for r in rels if r.get("Id") == rel_id)
        root = ET.fromstring(z.read("xl/" + target.removeprefix("/xl/")))
    setup = root.find("m:pageSetup", _NS).attrib
    fit = root.find("m:sheetPr/m:pageSetUpPr", _NS)
    return {
        "orientation": setup.get("orientation"),
        "paper": setup.get("paperSize"),
        "fit": fit is not None and fit.get("fitToPage") == "1",
        "wide": setup.get("fitToWidth", "1"),
        "tall": setup.get("fitToHeight", "1"),
        "titles": titles.get(str(index)),
        "header": root.findtext("m:headerFooter/m:oddHeader", namespaces=_NS),
        "footer": root.findtext("m:headerFooter/m:oddFooter", namespaces=_NS),
    }


@pytest.mark.parametrize("book", ["会议材料", "附表"])
def test_every_sheet_prints_landscape_one_page_wide_with_titles(pack, book):
    out, _ = pack
    path = out / f"{book}.xlsx"
    for sheet in load_workbook(path, read_only=True).sheetnames:
        p = _print_settings(path, sheet)
        assert p["orientation"] == "landscape" and p["paper"] == "9", sheet  # 9: A4
        # One page wide; as many pages tall as the rows need (0), the cover one page.
        assert p["fit"] and p["wide"] == "1", sheet
        assert p["tall"] == ("1" if sheet == "封面" else "0"), sheet
        assert p["titles"] == f"'{sheet}'!$1:$1", sheet  # the header row on every page
        # Header: the workbook's title, the sheet, the data date; footer: 第 X 页 共 Y 页.
        assert p["header"] == (
            f"&L来宾市兴宾区（示例数据） {book}&C{sheet}&R数据截至 2025-12-31"
        ), sheet
        assert p["footer"] == "&C第 &P 页 共 &N 页", sheet


def test_totals_come_last_and_the_cover_is_chinese(pack):
    out, _ = pack
    for book in ("会议材料", "附表"):
        wb = load_workbook(out / f"{book}.xlsx")
        for ws in wb.worksheets[1:]:
            if ws.title == "地类面积汇总表":
                continue  # 合计, then the 永久基本农田/城镇开发边界 lines (see test_redline)
            first = [r[0] for r in ws.iter_rows(min_row=2, values_only=True) if r[0] is not None]
            data = first[: next((i for i, v in enumerate(first) if v == "合计"), len(first)) + 1]
            if "合计" in first:
                # 合计 closes the table (only the sheet's note may follow it).
                assert first.index("合计") == len(data) - 1, ws.title
                assert ws.cell(row=len(data) + 1, column=1).value == "合计", ws.title
    cover = load_workbook(out / "会议材料.xlsx")["封面"]
    texts = [str(c.value) for row in cover.iter_rows() for c in row if c.value is not None]
    names = {"xingbin_sample.gpkg", "xingbin_sample.toml", "xingbin_sample_ledger.csv"}
    names |= {"xingbin_sample_landcover.tif", "xingbin_sample_redline.txt"}
    for text in texts:
        for name in names:
            text = text.replace(name, "")
        text = re.sub(r"\b[0-9a-f]{64}\b", "", text)  # the digests
        text = re.sub(r"https?://\S+", "", text)  # the scheme's published source
        text = re.sub(r"（[a-z0-9_]+）$", "", text)  # the scheme as landuse.toml names it
        # No English key (tax_per_mu_wan, district, landcover): Latin words are names only.
        allowed = {"landuse", "SHA", "EPSG", "README"}
        assert set(re.findall(r"[A-Za-z_]{2,}", text)) <= allowed, text


def test_widths_fit_ids_and_formatted_numbers(pack):
    out, _ = pack
    ws = load_workbook(out / "会议材料.xlsx")["三区三线冲突"]
    # The 13-digit 地块编号 needs 13 characters plus a margin.
    assert len(ws["A2"].value) == 13 and ws.column_dimensions["A"].width >= 15
    sheet = load_workbook(out / "会议材料.xlsx")["冲突汇总"]
    for col in range(2, sheet.max_column + 1):
        values = [sheet.cell(row=r, column=col).value for r in range(2, sheet.max_row + 1)]
        width = sheet.column_dimensions[get_column_letter(col)].width
        # "4,033.57" with a thousands separator and two decimals, plus a margin.
        longest = max(len(f"{v:,.2f}") if isinstance(v, float) else len(str(v)) for v in values)
        assert width >= longest + 1, (col, width, longest)


def _program(name: str) -> str:
    """A program the print test needs (LibreOffice, pdftotext); CI must have it."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is missing; install it with: sh scripts/install-test-deps.sh"
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(message)  # CI must print the workbook
        pytest.skip(message)
    return path


@pytest.fixture(scope="module")
def printed(pack, tmp_path_factory):
    """会议材料.xlsx printed to PDF by LibreOffice Calc: each page's text and size (pt)."""
    out, _ = pack
    target = tmp_path_factory.mktemp("printed")
    profile = (target / "profile").as_uri()  # its own profile: runs side by side
    run = functools.partial(subprocess.run, check=True, capture_output=True, timeout=300)
    run(
        [
            _program("soffice"),
            f"-env:UserInstallation={profile}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(target),
            str(out / "会议材料.xlsx"),
        ]
    )
    pdf = target / "会议材料.pdf"
    text = run([_program("pdftotext"), "-layout", str(pdf), "-"], text=True).stdout
    sizes = [(float(p.mediabox.width), float(p.mediabox.height)) for p in PdfReader(pdf).pages]
    pages = text.split("\f")[: len(sizes)]  # a form feed ends each page
    return pages, sizes


def test_meeting_workbook_prints_in_at_most_40_pages_without_hashes(printed):
    pages, sizes = printed
    assert 10 <= len(pages) <= 40, len(pages)
    assert not [i for i, text in enumerate(pages, 1) if "###" in text]
    for number, (text, (width, height)) in enumerate(zip(pages, sizes, strict=True), 1):
        assert f"第 {number} 页 共 {len(pages)} 页" in text
        assert (width, height) == (pytest.approx(841.9, abs=1), pytest.approx(595.3, abs=1))
        assert "数据截至 2025-12-31" in text and "来宾市兴宾区（示例数据） 会议材料" in text
    # The cover is one page: the second page is the next sheet's.
    assert "封面" in pages[0] and "地块汇总" in pages[1] and "封面" not in pages[1]
    # The conflict list runs over several pages, each with the header row again.
    listing = [t for t in pages if re.search(r"会议材料\s+三区三线冲突\s", t)]
    assert len(listing) >= 2
    assert all("地块编号" in t and "检查结论" in t for t in listing)


# ------------------------------------------------------------ the other outputs


def test_thematic_maps_are_a3_pdfs_whose_text_stays_text(pack):
    out, _ = pack
    names = ["三区三线冲突图", "可建设用地分布图", "闲置土地分布图", "亩均效益分类图", "用地预审图"]
    for name in names:
        pdf = PdfReader(out / "专题图" / f"{name}.pdf")
        assert len(pdf.pages) == 1
        box = pdf.pages[0].mediabox
        mm = (float(box.width) * 25.4 / 72, float(box.height) * 25.4 / 72)
        assert mm == (pytest.approx(420, abs=0.5), pytest.approx(297, abs=0.5))  # A3 landscape
        text = pdf.pages[0].extract_text()
        for wanted in (
            f"来宾市兴宾区（示例数据）{name}",
            "比例尺 1:",
            "米" if name == "用地预审图" else "千米",  # a red line is drawn at a metre scale
            "示例数据",
            "北",
            "图\u3000例",
            "坐标系：2000国家大地坐标系 高斯-克吕格投影 3度带 第36带（EPSG:4524）",
            "数据截至：2025-12-31",
            "制图单位：landuse 示例（模拟数据，非官方）",
        ):
            assert wanted in text, (name, wanted)
        png = mpimg.imread(out / "专题图" / f"{name}.png")
        assert png.shape[1] == pytest.approx(420 / 25.4 * 150, abs=2)  # 150 dpi on A3


def test_charts_state_source_date_and_sample(pack, tmp_path):
    from landuse.outputs.report import ChartMarks, trend_chart

    _, result = pack
    marks = ChartMarks("处置台账", "数据截至 2025-12-31", synthetic=True)
    pdf = trend_chart(result.results["trend"], tmp_path / "趋势.pdf", marks=marks)
    text = PdfReader(pdf).pages[0].extract_text()
    assert "资料来源：处置台账" in text and "数据截至 2025-12-31" in text and "示例数据" in text
    plain = trend_chart(result.results["trend"], tmp_path / "真实.pdf", marks=ChartMarks("台账"))
    assert "示例数据" not in PdfReader(plain).pages[0].extract_text()


def test_overview_map_has_a_north_arrow_and_a_metric_scale(pack, sample_data, tmp_path):
    from landuse.outputs.report import ChartMarks, overview_map
    from landuse.pipeline import map_layers

    _, result = pack
    layers = map_layers(sample_data, result.results)
    pdf = overview_map(
        layers, tmp_path / "总览.pdf", title="总览", synthetic=True, marks=ChartMarks("图层")
    )
    text = PdfReader(pdf).pages[0].extract_text()
    assert "北" in text and "千米" in text and "资料来源：图层" in text
    assert " km" not in text


def test_word_report_headlines_equal_the_workbook(pack):
    out, _ = pack
    doc = Document(out / "汇报材料.docx")
    texts = [p.text for p in doc.paragraphs]
    assert texts[0] == "来宾市兴宾区（示例数据） 土地利用情况汇报材料"
    assert "数据截至 2025-12-31" in texts and any("示例数据" in t for t in texts)
    headings = [t for t in texts if re.match(r"^[一二三四五六七八九十]、", t)]
    # 基本情况, conflicts, buildable, idle, per-mu, red line, control indicators
    assert [h[0] for h in headings] == list("一二三四五六七")
    assert headings[5].endswith("项目红线用地预审") and headings[6].endswith("工业用地控制指标")
    # The red line's table keeps the land survey's four decimals (0.0000, not 0).
    redline = next(t for t in doc.tables if t.rows[0].cells[0].text == "三大类")
    figures = [c.text for row in redline.rows[1:] for c in row.cells[1:]]
    assert figures and all(re.fullmatch(r"[\d,]+\.\d{4}", f) for f in figures), figures
    assert len(doc.inline_shapes) >= 8  # charts and thematic maps
    assert sum(t.startswith("公式：") for t in texts) >= 5
    assert sum(t.startswith("资料来源：") for t in texts) == len(headings)
    # Each headline names its sheet, row and column; that cell holds the same figure.
    wb = load_workbook(out / "会议材料.xlsx")
    rows = [[c.text for c in row.cells] for row in doc.tables[0].rows]
    assert rows[0] == ["序号", "指标", "数值", "单位", "来源"] and len(rows) > 20
    for _, name, shown, unit, source in rows[1:]:
        sheet, key, column = re.fullmatch(
            r"《会议材料.xlsx》「(.+)」(.+)行「(.+)」", source
        ).groups()
        ws = wb[sheet]
        header = [c.value for c in ws[1]]
        row = next(r for r in ws.iter_rows(min_row=2, values_only=True) if r[0] == key)
        value = row[header.index(column)]
        number = float(shown.replace(",", ""))
        if unit == "%":
            assert number == pytest.approx(value * 100, abs=0.005 + 1e-9), name
        elif unit in ("个", "宗", "块"):
            assert number == value, name
        else:
            assert number == pytest.approx(value, abs=0.005 + 1e-9), name


def test_summary_html_is_styled_and_complete(pack):
    out, _ = pack
    md = (out / "摘要.md").read_text(encoding="utf-8")
    page = (out / "摘要.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page and "<script" not in page
    # Every line of 摘要.md, the per-park lines and the formulas included, is on the page.
    lines = [
        re.sub(r"^\s*- ", "", line) for line in md.splitlines() if line.strip().startswith("- ")
    ]
    assert any("凤凰工业园：地均税收" in line for line in lines)
    assert any(line.startswith("闲置土地处置率 =") for line in lines)
    for line in lines:
        assert html.escape(line) in page, line
    assert "主要指标" in page and 'src="charts/' in page


def test_firm_labels_fall_back_to_the_credit_code():
    from landuse.outputs.report import firm_labels

    firms = pd.DataFrame(
        {"enterprise_id": ["E1", "E2", "E3"], "enterprise_name": ["甲", " ", None]}
    )
    labels, note = firm_labels(firms)
    assert labels.tolist() == ["甲", "E2", "E3"]
    assert note == "2 家企业无企业名称，图中以统一社会信用代码标注"
    labels, note = firm_labels(firms.iloc[:1])
    assert labels.tolist() == ["甲"] and note == ""

import hashlib
import warnings

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from landuse.config import sample_project
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
        "处置率",
        "处置趋势",
        "亩均效益排名",
        "园区汇总",
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
    # Buildable summary total = sum of the candidate sheet.
    cand_sheet = wb["可建设用地"]
    area_col = [c.value for c in cand_sheet[1]].index("面积（亩）")
    areas = [row[area_col] for row in cand_sheet.iter_rows(min_row=2, values_only=True)]
    summary = {r[0]: r for r in wb["可建设用地汇总"].iter_rows(min_row=2, values_only=True)}
    assert summary["合计"][2] == pytest.approx(sum(areas), abs=1e-2)


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
    table = pd.DataFrame({"parcel_id": ["A1"], "area_mu": [7.5], "disposal_rate": [0.4528]})
    path = write_workbook(tmp_path / "t.xlsx", [Sheet("表", table)], [("项目", "测试")])
    ws = load_workbook(path)["表"]
    assert [c.value for c in ws[1]] == ["地块编号", "面积（亩）", "闲置土地处置率"]
    assert [c.value for c in ws[2]] == ["A1", 7.5, 0.4528]
    assert ws["C2"].number_format == "0.00%"
    assert sample_project().name  # the sample project is the default pack input

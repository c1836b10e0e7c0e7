"""The catalogue of files and mistakes bureaus really hand over, run through the CLI.

Each case builds real files in a tmp dir, runs one command as a user would and
checks the exit code, a fragment of the one-line message, and, for every layer
the command read, that read = kept + repaired + dropped.
"""

import re
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner

from landuse.cli import main

from .conftest import GK36, X0, Y0, square
from .test_io import _shapefile

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

N = 6  # parcels A01…A06: 100 m squares 200 m apart along x, 15 亩 each

INTAKE = re.compile(
    r"^(?P<layer>\S+)（(?P<src>[^）]+)）：读入 (\d+)，原样保留 (\d+)，修复 (\d+)，剔除 (\d+)"
)


def _parcels(n: int = N, **columns) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "宗地号": [f"A{i + 1:02d}" for i in range(n)],
            "宗地名称": [f"河南工业园{i + 1}号地块" for i in range(n)],
            "约定动工日期": ["2023-03-01"] * n,
            "供地状态": ["已供"] * n,
            "统一社会信用代码": [f"91451300MA5K00000{i + 1}" for i in range(n)],
            **columns,
        },
        geometry=[square(200 * i, 0) for i in range(n)],
        crs=GK36,
    )


def _enterprises(path: Path, *, title: bool = False, units: bool = False, total: bool = False):
    """An enterprise workbook as bureaus keep it: E1 holds A01, E2 holds A02."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "企业"
    if title:
        ws.append(["2024年度规上工业企业亩均效益评价表"])
        ws.merge_cells("A1:D1")
    ws.append(["统一社会信用代码", "企业名称", "年度", "实缴税金"])
    if units:
        ws.append(["", "", "", "（万元）"])
    ws.append(["91451300MA5K000001", "甲公司", 2024, 45])
    ws.append(["91451300MA5K000002", "乙公司", 2024, 30])
    if total:
        ws.append(["合计", "", "", 75])
    wb.save(path)


def _project(tmp_path: Path, parcels: gpd.GeoDataFrame | None = None, extra: str = "") -> Path:
    """A bureau's own folder: GBK shapefile without .cpg, UDB GeoPackage, enterprise table.

    The UDB covers x ≥ X0 + 50 (A01 half outside: 7.5 亩 out).
    """
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    if parcels is not None:
        _shapefile(parcels, data / "地块.shp", encoding="GBK", cpg=False)
    udb = gpd.GeoDataFrame(
        {"BSM": ["U1"]}, geometry=[shapely.box(X0 + 50, Y0 - 50, X0 + 2_000, Y0 + 200)], crs=GK36
    )
    pyogrio.write_dataframe(udb, data / "CZKFBJ.gpkg")
    _enterprises(data / "企业.xlsx")
    toml = tmp_path / "landuse.toml"
    toml.write_text(
        '[project]\nname = "测试县"\n'
        '[layers.parcels]\npath = "data/地块.shp"\n'
        '[layers.udb]\npath = "data/CZKFBJ.gpkg"\n'
        '[layers.enterprises]\npath = "data/企业.xlsx"\n'
        '[layers.enterprises.fields]\nenterprise_id = "统一社会信用代码"\n' + extra,
        encoding="utf-8",
    )
    return toml


def _cut_shp(tmp_path: Path) -> None:
    shp = tmp_path / "data" / "地块.shp"
    shp.write_bytes(shp.read_bytes()[: shp.stat().st_size // 2])


def _garbage(tmp_path: Path) -> None:
    # Overwrite the shape type and box of record 3 (bytes 8–44 of the record).
    shp = tmp_path / "data" / "地块.shp"
    raw = bytearray(shp.read_bytes())
    record = 100 + 3 * (8 + 4 + 32 + 4 + 4 + 4 + 5 * 16)
    raw[record + 8 : record + 44] = bytes(range(0x90, 0xB4))
    shp.write_bytes(bytes(raw))


def _mixed(tmp_path: Path) -> None:
    # 12 features: 9 polygons, 2 lines, 1 point.
    geoms = [square(200 * i, 0) for i in range(9)]
    geoms += [shapely.LineString([(X0, Y0 + 500), (X0 + 100, Y0 + 500)])] * 2
    geoms += [shapely.Point(X0, Y0 + 600)]
    gdf = gpd.GeoDataFrame({"DKBH": [f"M{i:02d}" for i in range(12)]}, geometry=geoms, crs=GK36)
    pyogrio.write_dataframe(gdf, tmp_path / "data" / "mixed.gpkg")
    _point_parcels_to(tmp_path, "data/mixed.gpkg")


def _null_and_zero_area(tmp_path: Path) -> None:
    # 8 features: 6 squares, one without geometry, one collapsed to a line (zero area).
    geoms = [square(200 * i, 0) for i in range(6)]
    geoms += [None, shapely.Polygon([(X0, Y0), (X0 + 10, Y0), (X0 + 20, Y0), (X0, Y0)])]
    gdf = gpd.GeoDataFrame({"DKBH": [f"Z{i}" for i in range(8)]}, geometry=geoms, crs=GK36)
    pyogrio.write_dataframe(gdf, tmp_path / "data" / "z.gpkg")
    _point_parcels_to(tmp_path, "data/z.gpkg")


def _point_parcels_to(tmp_path: Path, path: str) -> None:
    toml = tmp_path / "landuse.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace('"data/地块.shp"', f'"{path}"'), encoding="utf-8"
    )


def _xian80(tmp_path: Path) -> None:
    # CGCS2000 coordinates with a .prj that says Xian 1980 zone 36.
    gdf = _parcels().set_crs("EPSG:2360", allow_override=True)
    _shapefile(gdf, tmp_path / "data" / "地块.shp", encoding="GBK", cpg=False)


def _with_datum_transform(tmp_path: Path) -> None:
    # A 7-parameter Helmert with all parameters zero, as a TOML multi-line string; it
    # only changes the ellipsoid from IAU76 to GRS80.
    pipeline = (
        '"""+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad\n'
        "  +step +proj=cart +ellps=IAU76 +step +proj=helmert +x=0 +y=0 +z=0 +rx=0 +ry=0\n"
        "  +rz=0 +s=0 +convention=position_vector +step +inv +proj=cart +ellps=GRS80\n"
        '  +step +proj=unitconvert +xy_in=rad +xy_out=deg"""'
    )
    toml = tmp_path / "landuse.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(
        text.replace("[project]\n", f"[project]\ndatum_transform = {pipeline}\n", 1),
        encoding="utf-8",
    )


def _enterprise_workbook(**kwargs) -> Callable[[Path], None]:
    def build(tmp_path: Path) -> None:
        _enterprises(tmp_path / "data" / "企业.xlsx", **kwargs)

    return build


def _empty_gbk(tmp_path: Path) -> None:
    _shapefile(_parcels().iloc[:0], tmp_path / "data" / "地块.shp", encoding="GBK", cpg=False)


def _ascii_values(tmp_path: Path) -> None:
    # Chinese field names, ASCII values: the DBF header alone tells GBK.
    gdf = _parcels()[["宗地号", "geometry"]].assign(用地单位="ABC Co.")
    _shapefile(gdf, tmp_path / "data" / "地块.shp", encoding="GBK", cpg=False)


def _append_to_toml(text: str) -> Callable[[Path], None]:
    def build(tmp_path: Path) -> None:
        toml = tmp_path / "landuse.toml"
        toml.write_text(toml.read_text(encoding="utf-8") + text, encoding="utf-8")

    return build


CASES = {
    # name: (build, command, exit code, message fragments, {layer: (read, kept, repaired, dropped)})
    "shp cut in half": (_cut_shp, ["check"], 2, ["地块.shp", "cut short"], {}),
    "garbage bytes": (_garbage, ["check"], 2, ["地块.shp", "(FID) 3"], {}),
    "mixed geometry": (
        _mixed,
        ["check"],
        0,
        ["读入 12，原样保留 9，修复 0，剔除 3"],
        {"地块": (12, 9, 0, 3)},
    ),
    "null and zero area": (
        _null_and_zero_area,
        ["check"],
        0,
        ["读入 8，原样保留 6，修复 0，剔除 2"],
        {"地块": (8, 6, 0, 2)},
    ),
    "total row": (
        _enterprise_workbook(total=True),
        ["tax"],
        0,
        ["A类", "未参评 0 家"],
        {"企业表": (3, 2, 0, 1)},
    ),
    "title and units rows": (
        _enterprise_workbook(title=True, units=True),
        ["tax"],
        0,
        ["未参评 0 家"],
        {"企业表": (3, 2, 0, 1)},
    ),
    "xian 1980 prj": (_xian80, ["check"], 2, ["Xian 1980", "datum_transform", "EPSG:4524"], {}),
    "xian 1980 with its transformation": (
        lambda p: (_xian80(p), _with_datum_transform(p)),
        ["check"],
        0,
        ["6 个地块中"],
        {"地块": (6, 6, 0, 0)},
    ),
    "empty gbk shapefile": (_empty_gbk, ["check"], 2, ["地块.shp", "has no features"], {}),
    "gbk names ascii values": (_ascii_values, ["check"], 0, ["6 个地块中"], {"地块": (6, 6, 0, 0)}),
    "option typo": (
        _append_to_toml("[check]\nnoise_area = 500\n"),
        ["check"],
        2,
        ["[check]", "did you mean 'noise_area_m2'"],
        {},
    ),
    "option misspelt": (
        _append_to_toml('[idle]\nas_off = "2025-12-31"\n'),
        ["idle"],
        2,
        ["did you mean 'as_of'"],
        {},
    ),
    "table misspelt": (
        _append_to_toml('[layer.parks]\npath = "x.shp"\n'),
        ["check"],
        2,
        ["unknown table [layer]", "did you mean 'layers'"],
        {},
    ),
    "chinese date": (
        lambda _p: None,
        ["idle", "--as-of", "2025年12月31日"],
        0,
        ["闲置土地（截至 2025-12-31）：6 宗"],
        {"地块": (6, 6, 0, 0)},
    ),
    "not a date": (
        lambda _p: None,
        ["idle", "--as-of", "2025-13-01"],
        2,
        ["--as-of", "not a date"],
        {},
    ),
    "year without data": (
        lambda _p: None,
        ["tax", "--year", "2030"],
        2,
        ["No enterprise data for 2030", "years present: 2024."],
        {},
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_catalogue(case, tmp_path):
    build, command, code, fragments, counts = CASES[case]
    toml = _project(tmp_path, _parcels())
    build(tmp_path)
    result = CliRunner().invoke(
        main, [*command, "--project", str(toml), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == code, result.output
    if code == 2:
        errors = [line for line in result.output.splitlines() if line.startswith("错误 Error:")]
        assert len(errors) == 1, result.output
        assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output, result.output
    lines = {m["layer"]: m for m in map(INTAKE.match, result.output.splitlines()) if m}
    for m in lines.values():  # every layer read: read = kept + repaired + dropped
        read, kept, repaired, dropped = (int(m[i]) for i in range(3, 7))
        assert read == kept + repaired + dropped
    for layer, expected in counts.items():
        assert tuple(int(lines[layer][i]) for i in range(3, 7)) == expected
    if code == 0:
        report = pd.read_csv(tmp_path / "out" / "geometry_report.csv", encoding="utf-8-sig")
        assert len(report) == sum(e[2] + e[3] for e in counts.values())


def test_mixed_layer_report_names_ids_and_types(tmp_path):
    toml = _project(tmp_path, _parcels())
    _mixed(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["check", "--project", str(toml), "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = pd.read_csv(out / "geometry_report.csv", encoding="utf-8-sig", dtype=str)
    details = dict(zip(report.iloc[:, 1], report.iloc[:, 3], strict=True))
    assert set(details) == {"M09", "M10", "M11"}
    assert "LineString" in details["M09"] and "Point" in details["M11"]


def test_suggested_crs_can_be_typed(tmp_path):
    """A red line without .prj in unprefixed metres: the error's fix, typed as shown, works."""
    toml = _project(tmp_path, _parcels())
    red = gpd.GeoDataFrame(
        {"DKBH": ["R1"]}, geometry=[shapely.box(520_400, 2_620_000, 520_500, 2_620_100)]
    )
    pyogrio.write_dataframe(red, tmp_path / "红线.shp")
    (tmp_path / "红线.prj").unlink(missing_ok=True)
    args = ["check", "--project", str(toml), "--parcels", str(tmp_path / "红线.shp")]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    # The project's UDB lies at about 108.2°E: zone 36, CM 108°E, unprefixed = EPSG:4545.
    fix = re.search(r"--crs (EPSG:\d+)", result.output)
    assert fix is not None and fix[1] == "EPSG:4545", result.output
    result = CliRunner().invoke(main, [*args, "--crs", fix[1], "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    # x 400–500 m east of the UDB's west edge (X0 + 50): wholly inside, no conflict.
    assert "1 个地块中 0 个存在冲突" in result.output


def test_suggested_encoding_can_be_typed(tmp_path):
    toml = _project(tmp_path, _parcels())
    # A Latin-1 DBF: a value ending in é (0xE9) is neither UTF-8 nor GBK (a lead byte alone).
    latin = gpd.GeoDataFrame(
        {"DKBH": ["R1"], "DKMC": ["Zone Café"]}, geometry=[square(400, 0)], crs=GK36
    )
    _shapefile(latin, tmp_path / "红线.shp", encoding="latin1", cpg=False)
    args = ["check", "--project", str(toml), "--parcels", str(tmp_path / "红线.shp")]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    fix = re.search(r"--encoding (\S+)", result.output)
    assert fix is not None and fix[1] == "cp1252", result.output  # BIG5/GB2312 fail on a lone é
    result = CliRunner().invoke(main, [*args, "--encoding", fix[1], "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "o" / "conflicts.csv", encoding="utf-8-sig")
    assert table["地块名称"].tolist() == ["Zone Café"]


def test_own_parcels_never_meet_the_sample(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _shapefile(_parcels(), tmp_path / "my.shp", encoding="GBK", cpg=False)
    result = CliRunner().invoke(main, ["check", "--parcels", str(tmp_path / "my.shp")])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert "--project" in result.output and "landuse init" in result.output


def test_codes_stay_text_in_outputs(tmp_path):
    ids = [f"45130200000{i:02d}" for i in range(N)]  # 13-digit 地块编号
    toml = _project(tmp_path, _parcels().assign(宗地号=ids))
    result = CliRunner().invoke(
        main, ["check", "--project", str(toml), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 0, result.output
    rows = (tmp_path / "o" / "conflicts.csv").read_text(encoding="utf-8-sig").splitlines()[1:]
    assert [r.split(",")[0] for r in rows] == [f"\t{i}" for i in ids]


def test_ledger_workbook_with_title_serial_dates_and_total(tmp_path):
    toml = _project(tmp_path, _parcels())
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "台账"
    ws.append(["2025年闲置土地处置台账"])
    ws.merge_cells("A1:E1")
    ws.append(["地块编号", "事项", "处置方式", "日期", "面积（亩）"])
    # 45717 = 2025-03-01: 2025-01-01 is serial 45658 (1899-12-30 + 45658 days), + 59 days.
    ws.append(["A01", "认定闲置", "", 45717, 15])
    ws.append(["A02", "认定闲置", "", "2025年3月2日", 15])
    ws.append(["合计", "", "", "", 30])
    wb.save(tmp_path / "台账导入.xlsx")
    ledger = tmp_path / "台账.gpkg"
    args = ["ledger", "import", str(tmp_path / "台账导入.xlsx"), "--project", str(toml)]
    result = CliRunner().invoke(main, [*args, "--ledger", str(ledger), "--layer", "台账"])
    assert result.exit_code == 0, result.output
    # Three rows under the header: two imported, the 合计 row (Excel row 5) left out.
    assert "台账导入文件（台账导入.xlsx:台账）：读入 3，原样保留 2，修复 0，剔除 1" in result.output
    assert "第 5 行：合计行" in result.output
    assert "已导入 Imported 2 条记录" in result.output
    entries = pyogrio.read_dataframe(ledger, layer="idle_ledger", read_geometry=False)
    assert entries.set_index("parcel_id")["event_date"].to_dict() == {
        "A01": "2025-03-01",
        "A02": "2025-03-02",
    }
    # The same file again is refused.
    again = CliRunner().invoke(main, [*args, "--ledger", str(ledger), "--layer", "台账"])
    assert again.exit_code == 2 and "already" in again.output.lower(), again.output


def test_report_checks_every_analysis_before_writing(tmp_path):
    # A copied project file asks for idle land, but these parcels have no agreed start date.
    parcels = _parcels().drop(columns="约定动工日期")
    toml = _project(tmp_path, parcels, extra='[idle]\nas_of = "2025-12-31"\n')
    out = tmp_path / "pack"
    result = CliRunner().invoke(main, ["report", "--project", str(toml), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "nothing written" in result.output and "agreed_start_date" in result.output
    assert not out.exists() or not any(out.iterdir())


def test_report_without_supply_status_omits_the_split_and_says_so(tmp_path):
    # A bureau's parcels carry no 供地状态 (and no 所属园区): the pack is still written.
    toml = _project(tmp_path, _parcels().drop(columns="供地状态"))
    out = tmp_path / "pack"
    result = CliRunner().invoke(main, ["report", "--project", str(toml), "--out", str(out)])
    assert result.exit_code == 0, result.output
    # 6 parcels of 100 m × 100 m = 6 × 15 亩 = 90 亩.
    line = (
        "地块总面积 90.0 亩（地块图层无供地状态、所属园区字段，面积不分已供、未供、不分园区汇总）"
    )
    assert line in result.output.splitlines()
    summary = openpyxl.load_workbook(out / "会议材料.xlsx")["地块汇总"]
    assert [c.value for c in summary[1]] == ["园区", "地块数", "面积（亩）"]
    assert [c.value for c in summary[2]] == ["未注明", 6, 90.0]


def test_report_without_firm_names_labels_the_ranking_by_credit_code(tmp_path):
    toml = _project(tmp_path, _parcels())
    wb = openpyxl.Workbook()
    wb.active.append(["统一社会信用代码", "年度", "实缴税金"])
    wb.active.append(["91451300MA5K000001", 2024, 45])
    wb.active.append(["91451300MA5K000002", 2024, 30])
    wb.save(tmp_path / "data" / "企业.xlsx")
    out = tmp_path / "pack"
    result = CliRunner().invoke(main, ["report", "--project", str(toml), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "企业表无企业名称字段，图中企业以统一社会信用代码标注" in result.output.splitlines()
    assert (out / "charts" / "亩均税收排名.png").stat().st_size > 0


def test_a_step_reads_only_what_it_needs(tmp_path):
    # The enterprise workbook is damaged: the check never reads it, the per-mu evaluation does.
    toml = _project(tmp_path, _parcels())
    (tmp_path / "data" / "企业.xlsx").write_bytes(b"not a workbook")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["check", "--project", str(toml), "--out", str(out)])
    assert result.exit_code == 0, result.output
    read = [m["layer"] for m in map(INTAKE.match, result.output.splitlines()) if m]
    assert read == ["地块", "城镇开发边界"]  # [layers.enterprises] not read, not listed
    result = CliRunner().invoke(main, ["tax", "--project", str(toml), "--out", str(out)])
    assert result.exit_code == 2 and "企业.xlsx" in result.output, result.output


def test_what_each_step_reads_of_the_sample():
    from landuse.core.config import sample_project
    from landuse.pipeline import STEPS

    project = sample_project()
    assert set(STEPS["check"].needs(project)) == {"parcels", "udb", "farmland", "eco_redline"}
    assert set(STEPS["buildable"].needs(project)) == {
        "parks",
        "udb",
        "farmland",
        "eco_redline",
        "parcels",
        "roads",
    }
    assert set(STEPS["idle"].needs(project)) == {"parcels"}
    # The red line needs the parcels only for the analysis CRS (no [project] analysis_crs).
    assert "parcels" in STEPS["redline"].needs(project)
    # The sample names no layer that no analysis uses: the meeting pack reads them all.
    assert set(STEPS["report"].needs(project)) == set(project.layers)

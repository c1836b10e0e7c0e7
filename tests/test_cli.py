import subprocess
import sys

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from landuse.analysis.conflicts import check_conflicts
from landuse.cli import main
from landuse.core.errors import LayerNotFoundError
from landuse.core.options import efficiency_schemes

from .test_io import _shapefile


@pytest.fixture
def runner():
    return CliRunner()


def test_info_on_gbk_shapefile(runner, tmp_path, parcels_gdf):
    shp = _shapefile(parcels_gdf, tmp_path / "地块.shp", encoding="GBK", cpg=False)
    result = runner.invoke(main, ["info", str(shp)])
    assert result.exit_code == 0, result.output
    assert "GB18030" in result.output
    assert "EPSG:4524" in result.output
    assert "要素 Features:  3 Polygon" in result.output


def test_info_decodes_chinese_field_names_and_values(runner, tmp_path, parcels_gdf):
    gdf = parcels_gdf.rename(columns={"DKBH": "宗地号", "DKMC": "地块名称"})
    shp = _shapefile(gdf, tmp_path / "地块.shp", encoding="GBK", cpg=False)
    result = runner.invoke(main, ["info", str(shp)])
    assert result.exit_code == 0, result.output
    assert "  宗地号: object, A1" in result.output
    assert "  地块名称: object, 河南工业园一号地块" in result.output
    detected = "GB18030 (detected, no .cpg)"
    assert f"字段名 names: {detected}; 属性值 values: {detected}" in result.output
    # An encoding given on the command line is used and named.
    result = runner.invoke(main, ["info", str(shp), "--encoding", "GBK"])
    assert result.exit_code == 0, result.output
    assert "字段名 names: GBK (given)" in result.output and "  宗地号: object, A1" in result.output


def test_info_detects_gbk_from_field_names_when_values_are_ascii(runner, tmp_path):
    from landuse.io import detect_shapefile_encoding

    from .conftest import GK36, square

    gdf = gpd.GeoDataFrame(
        {"宗地号": ["A1", "A2"], "用地面积": [10_000.0, 5_000.0]},
        geometry=[square(0, 0), square(200, 0)],
        crs=GK36,
    )
    shp = _shapefile(gdf, tmp_path / "p.shp", encoding="GBK", cpg=False)
    # GDAL alone garbles the names (宗地号 read as ISO-8859-1).
    assert "宗地号" not in pyogrio.read_info(shp)["fields"]
    assert detect_shapefile_encoding(shp) == "GB18030"
    result = runner.invoke(main, ["info", str(shp)])
    assert result.exit_code == 0, result.output
    assert "字段名 names: GB18030 (detected, no .cpg); 属性值 values: ASCII" in result.output
    assert "  宗地号: object, A1" in result.output
    assert "  用地面积: float64, 10000.0" in result.output


def test_info_on_a_field_name_cut_inside_a_character(runner, tmp_path, parcels_gdf):
    # GDAL writes 土地使用者 (15 bytes in UTF-8) as its first 10 bytes: 3⅓ characters.
    gdf = parcels_gdf.rename(columns={"DKMC": "土地使用者"})
    shp = _shapefile(gdf, tmp_path / "u.shp", encoding="UTF-8", cpg=True)
    result = runner.invoke(main, ["info", str(shp)])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert "u.shp" in result.output and "cut inside a" in result.output


def test_info_lists_layers_of_a_geopackage(runner, tmp_path, parcels_gdf):
    path = tmp_path / "p.gpkg"
    pyogrio.write_dataframe(parcels_gdf, path, layer="parcels")
    pyogrio.write_dataframe(parcels_gdf, path, layer="udb")
    result = runner.invoke(main, ["info", str(path)])
    assert result.exit_code == 0
    assert "parcels: Polygon, 3 features, EPSG:4524" in result.output


def test_errors_are_one_line_with_exit_2(runner, tmp_path):
    result = runner.invoke(main, ["info", str(tmp_path / "missing.shp")])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "missing.shp: file not found" in lines[0]
    assert "Traceback" not in result.output


def test_debug_shows_the_exception(runner, tmp_path):
    result = runner.invoke(main, ["--debug", "info", str(tmp_path / "missing.shp")])
    assert isinstance(result.exception, LayerNotFoundError)


def test_sample_command(runner, tmp_path):
    out = tmp_path / "s" / "small.gpkg"
    result = runner.invoke(main, ["sample", "--parcels", "120", "--seed", "5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert len(pyogrio.read_dataframe(out, layer="parcels")) == 120
    assert (tmp_path / "s" / "small_landcover.tif").exists()
    # The written project file makes the generated sample usable at once.
    toml = tmp_path / "s" / "small.toml"
    result = runner.invoke(main, ["check", "--project", str(toml), "--out", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    assert "120 个地块中" in result.output


def test_demo_command_writes_outputs(runner, tmp_path):
    result = runner.invoke(main, ["demo", "--out", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    assert str(tmp_path / "demo") in result.output
    summary = pd.read_csv(tmp_path / "demo" / "parcel_areas_by_park.csv", encoding="utf-8-sig")
    parcels = pyogrio.read_dataframe(tmp_path / "demo" / "parcels.gpkg", layer="parcels")
    # The total row equals the sum of the parcel areas (GK zone 36 planar m² → 亩).
    total = summary.set_index("园区").loc["合计"]
    assert total["地块数"] == len(parcels) == 2000
    assert total["面积（亩）"] == pytest.approx(parcels.geometry.area.sum() * 15 / 10000, abs=0.01)
    assert total["已供面积（亩）"] + total["未供面积（亩）"] == pytest.approx(
        total["面积（亩）"], abs=0.02
    )
    # The demo includes the control-indicator step: its layer, table, line, sheet and map layer.
    checked = pyogrio.read_dataframe(tmp_path / "demo" / "indicators.gpkg", layer="indicators")
    assert len(checked) > 0 and "plot_ratio_ok" in checked.columns
    assert (tmp_path / "demo" / "indicators.csv").exists()
    assert "工业用地控制指标：已供工业用地" in result.output
    assert "用地控制指标" in load_workbook(tmp_path / "demo" / "会议材料.xlsx").sheetnames
    assert "工业用地控制指标核验" in (tmp_path / "demo" / "map.html").read_text(encoding="utf-8")
    for line in ("地块总面积", "三区三线检查", "可建设用地", "闲置土地（截至", "处置率"):
        assert line in result.output
    assert "会议材料" in result.output
    assert len(list((tmp_path / "demo" / "charts").glob("*.png"))) == 4


def test_entry_point_runs_as_a_module(tmp_path):
    # The whole demo runs in test_demo_command_writes_outputs; here only the entry point.
    done = subprocess.run(
        [sys.executable, "-m", "landuse.cli", "check", "--sample", "--out", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "示例数据" in done.stdout and "三区三线检查：2000 个地块中" in done.stdout
    assert (tmp_path / "d" / "conflicts.gpkg").exists() and (
        tmp_path / "d" / "conflicts.csv"
    ).exists()


def _user_project(tmp_path, parcels_gdf):
    """A bureau's own files: GBK shapefile with 宗地号, UDB as GeoJSON in degrees, flood zone."""
    from .conftest import X0, Y0

    data = tmp_path / "data"
    data.mkdir()
    p = parcels_gdf.rename(columns={"DKBH": "宗地号"})
    p["BDCQZH"] = ["桂(2020)来宾市不动产权第1号", None, None]
    _shapefile(p, data / "地块.shp", encoding="GBK", cpg=False)
    import geopandas as gpd
    import shapely

    # UDB covers x ≥ X0 + 50: parcel A1 (x 0–100) is half outside: 7.5 亩 in, 7.5 亩 out.
    udb = gpd.GeoDataFrame(
        geometry=[shapely.box(X0 + 50, Y0 - 50, X0 + 600, Y0 + 200)], crs="EPSG:4524"
    ).to_crs(4490)
    udb.to_file(data / "开发边界.geojson")
    flood = gpd.GeoDataFrame(
        geometry=[shapely.box(X0 + 400, Y0, X0 + 450, Y0 + 100)], crs="EPSG:4524"
    )
    flood.to_file(data / "flood.gpkg")
    parks = gpd.GeoDataFrame(
        {"园区名称": ["测试园"]},
        geometry=[shapely.box(X0 - 50, Y0 - 50, X0 + 600, Y0 + 200)],
        crs="EPSG:4524",
    )
    parks.to_file(data / "parks.gpkg")
    toml = tmp_path / "landuse.toml"
    toml.write_text(
        """
[project]
name = "测试县"
[layers.parcels]
path = "data/地块.shp"
[layers.parcels.fields]
parcel_id = "宗地号"
[layers.udb]
path = "data/开发边界.geojson"
[layers.parks]
path = "data/parks.gpkg"
[layers.flood]
path = "data/flood.gpkg"
[check]
extra_constraints = { flood = "洪水淹没区" }
[buildable]
min_area_mu = 1
""",
        encoding="utf-8",
    )
    return toml


def test_check_and_buildable_on_user_files(runner, tmp_path, parcels_gdf):
    toml = _user_project(tmp_path, parcels_gdf)
    out = tmp_path / "out"
    result = runner.invoke(main, ["check", "--project", str(toml), "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "conflicts.csv", encoding="utf-8-sig", dtype={"地块编号": str})
    table = table.set_index("地块编号")
    assert table.loc["A1", "开发边界外面积（亩）"] == pytest.approx(7.5)
    assert table.loc["A1", "检查结论"] == "超出城镇开发边界"
    assert table.loc["A3", "检查结论"] == "占用洪水淹没区"  # x 400–500 ∩ flood 400–450
    assert table.loc["A3", "flood_mu"] == pytest.approx(7.5)
    assert table.loc["A2", "检查结论"] == "合规"
    listed = pd.read_csv(out / "certified_outside_udb.csv", encoding="utf-8-sig")
    assert listed["地块编号"].tolist() == ["A1"]
    assert "有证但超出城镇开发边界（无法办理建设许可）的地块 1 个" in result.output
    pieces = pyogrio.read_dataframe(out / "conflicts.gpkg", layer="conflict_pieces")
    assert set(pieces["constraint"]) == {"udb_outside", "flood"}

    result = runner.invoke(main, ["buildable", "--project", str(toml), "--out", str(out)])
    assert result.exit_code == 0, result.output
    cands = pyogrio.read_dataframe(out / "buildable.gpkg", layer="buildable")
    # Park ∩ UDB = 550 × 250 = 137 500 m²; all three parcels count as occupied
    # (no supply status field): A1 half (5 000) + A2 + A3 (10 000 each) inside → 112 500 m².
    assert cands.area.sum() == pytest.approx(112_500)


def test_threads_option(runner, tmp_path, parcels_gdf, monkeypatch):
    toml = _user_project(tmp_path, parcels_gdf)
    # --threads, else [project] threads, else None (every core) reaches the engine.
    import landuse.pipeline.check

    seen = []

    def recording(*args, **kwargs):
        seen.append(kwargs["threads"])
        return check_conflicts(*args, **kwargs)

    monkeypatch.setattr(landuse.pipeline.check, "check_conflicts", recording)
    for extra, project_threads in (([], None), ([], 1), (["--threads", "3"], 1)):
        text = toml.read_text(encoding="utf-8")
        if project_threads is not None:
            text = text.replace("[project]\n", f"[project]\nthreads = {project_threads}\n", 1)
        (tmp_path / "threads.toml").write_text(text, encoding="utf-8")
        args = ["check", "--project", str(tmp_path / "threads.toml"), *extra]
        result = runner.invoke(main, [*args, "--out", str(tmp_path / "seen")])
        assert result.exit_code == 0, result.output
    assert seen == [None, 1, 3]
    monkeypatch.undo()
    tables = {}
    for threads in ("1", "2"):
        out = tmp_path / f"t{threads}"
        args = ["check", "--project", str(toml), "--threads", threads, "--out", str(out)]
        result = runner.invoke(main, args)
        assert result.exit_code == 0, result.output
        tables[threads] = (out / "conflicts.csv").read_bytes()
    assert tables["1"] == tables["2"]
    out = str(tmp_path / "b")
    result = runner.invoke(
        main, ["buildable", "--project", str(toml), "--threads", "2", "--out", out]
    )
    assert result.exit_code == 0, result.output
    for command in ("check", "buildable", "report"):
        result = runner.invoke(main, [command, "--project", str(toml), "--threads", "0"])
        assert result.exit_code == 2 and "--threads" in result.output
    result = runner.invoke(
        main, ["check", "--project", str(toml), "--engine", "dask", "--threads", "2"]
    )
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "错误 Error: --threads applies to the local engine (--engine local); "
        "with --engine dask use --workers."
    ]


def test_check_a_proposed_red_line(runner, tmp_path, parcels_gdf):
    toml = _user_project(tmp_path, parcels_gdf)
    proposal = tmp_path / "红线.gpkg"
    parcels_gdf.iloc[[1]].rename(columns={"DKBH": "parcel_id"}).to_file(proposal)
    out = tmp_path / "p"
    result = runner.invoke(
        main, ["check", "--project", str(toml), "--parcels", str(proposal), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "1 个地块中 0 个存在冲突" in result.output


def test_check_reports_bad_project_in_one_line(runner, tmp_path):
    toml = tmp_path / "landuse.toml"
    toml.write_text("[layers.parcels]\npath = 'missing.shp'\n", encoding="utf-8")
    result = runner.invoke(main, ["check", "--project", str(toml)])
    assert result.exit_code == 2
    assert "missing.shp: file not found" in result.output


def test_idle_ledger_and_rates_commands(runner, tmp_path):
    from landuse.sample import get_path

    out = tmp_path / "idle"
    result = runner.invoke(main, ["idle", "--sample", "--as-of", "2025-12-31", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "闲置土地（截至 2025-12-31）" in result.output
    table = pd.read_csv(out / "idle.csv", encoding="utf-8-sig")
    assert {"闲置情形", "认定闲置起始日", "处置依据与方式", "疑似闲置需实地核查"} <= set(
        table.columns
    )
    idle_layer = pyogrio.read_dataframe(out / "idle.gpkg", layer="idle")
    assert len(idle_layer) == 2000  # every parcel kept

    ledger = tmp_path / "台账.gpkg"
    project = str(get_path("project"))  # the sample ledger's ids are checked against its parcels
    result = runner.invoke(
        main,
        [
            "ledger",
            "import",
            str(get_path("ledger")),
            "--project",
            project,
            "--ledger",
            str(ledger),
        ],
    )
    assert result.exit_code == 0, result.output
    n_rows = len(pd.read_csv(get_path("ledger"), encoding="utf-8-sig"))
    assert f"已导入 Imported {n_rows} 条记录" in result.output
    result = runner.invoke(main, ["ledger", "history", "4513020000039", "--ledger", str(ledger)])
    assert result.exit_code == 0 and "认定闲置" in result.output
    export = tmp_path / "export.csv"
    result = runner.invoke(main, ["ledger", "export", str(export), "--ledger", str(ledger)])
    assert result.exit_code == 0
    assert len(pd.read_csv(export, encoding="utf-8-sig")) == n_rows
    result = runner.invoke(main, ["ledger", "verify", "--ledger", str(ledger)])
    assert result.exit_code == 0 and f"{n_rows} 条记录全部吻合" in result.output

    result = runner.invoke(
        main,
        [
            "rates",
            "--sample",
            "--ledger",
            str(ledger),
            "--from",
            "2025-01-01",
            "--to",
            "2025-12-31",
            "--out",
            str(tmp_path / "r"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "处置闲置土地" in result.output and "处置率" in result.output
    assert "闲置土地处置率 = 期内处置闲置土地面积" in result.output
    rates = pd.read_csv(tmp_path / "r" / "disposal_rates.csv", encoding="utf-8-sig")
    total = rates.set_index("统计单元").loc["合计"]
    assert total["闲置土地处置率"] == pytest.approx(
        total["期内处置闲置（亩）"] / (total["期初闲置存量（亩）"] + total["期内新认定闲置（亩）"]),
        abs=1e-4,
    )


def test_ledger_needs_a_path(runner):
    result = runner.invoke(main, ["ledger", "history", "X"])
    assert result.exit_code == 2 and "--ledger" in result.output


def _sample_ledger(runner, tmp_path):
    from landuse.sample import get_path

    ledger = tmp_path / "台账.gpkg"
    args = ["ledger", "import", str(get_path("ledger")), "--project", str(get_path("project"))]
    result = runner.invoke(main, [*args, "--ledger", str(ledger)])
    assert result.exit_code == 0, result.output
    return ledger


def test_idle_lists_the_procedure_with_deadlines(runner, tmp_path):
    ledger = _sample_ledger(runner, tmp_path)
    out = tmp_path / "idle"
    args = ["idle", "--sample", "--as-of", "2025-12-31", "--ledger", str(ledger), "--out", str(out)]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "处置程序（台账，截至 2025-12-31）" in result.output and "逾期：" in result.output
    table = pd.read_csv(out / "idle_procedure.csv", encoding="utf-8-sig", dtype=str)
    overdue = table[table["逾期"] == "是"]
    # Every overdue row's deadline lies before the day judged, and its count is printed.
    assert (overdue["办理期限"] < "2025-12-31").all() and len(overdue) > 0
    assert f"逾期未办 {len(overdue)} 宗" in result.output
    idle = pd.read_csv(out / "idle.csv", encoding="utf-8-sig", dtype=str)
    assert {"认定书文号", "决定书文号", "送达日期", "缴费日期", "下一环节", "办理期限"} <= set(
        idle.columns
    )
    assert idle["认定书文号"].str.startswith("兴自然资闲认〔").any()


def test_rates_in_an_approval_window_cumulatively(runner, tmp_path):
    import csv
    import sqlite3

    from landuse.sample import get_path

    ledger = _sample_ledger(runner, tmp_path)
    out = tmp_path / "r"
    base = ["rates", "--sample", "--ledger", str(ledger), "--from", "2025-01-01"]
    window = ["--to", "2025-12-31", "--approved-from", "2012", "--approved-to", "2018"]
    result = runner.invoke(main, [*base, *window, "--cumulative", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "2012-01-01 至 2025-12-31（累计，批准日期 2012-01-01 至 2018-12-31 的存量土地）" in (
        result.output
    )
    assert "近5年（2021–2025年批准）平均供地率" in result.output
    assert "批而未供按批次" in result.output and "批次计数" in result.output
    # Independently, from the import file and the GeoPackage's own text: parcels approved
    # 2012–2018, counted from 2012-01-01 (none idle before) to the end of 2025.
    with sqlite3.connect(f"file:{get_path('sample')}?mode=ro", uri=True) as con:
        approved = dict(con.execute("SELECT DKBH, PZRQ FROM parcels"))
    con.close()
    inside = {k for k, v in approved.items() if v and "2012-01-01" <= v <= "2018-12-31"}
    with open(get_path("ledger"), encoding="utf-8-sig", newline="") as f:
        # Codes carry the leading tab that keeps Excel from reading them as numbers.
        rows = [r for r in csv.DictReader(f) if r["地块编号"].strip() in inside]
    first = {}
    for r in sorted(rows, key=lambda r: r["日期"]):
        first.setdefault((r["地块编号"], r["事项"]), r)
    area = {p: float(r["面积（亩）"]) for (p, e), r in first.items() if e == "认定闲置"}
    new = sum(
        a for p, a in area.items() if "2012-01-01" <= first[p, "认定闲置"]["日期"] <= "2025-12-31"
    )
    done = sum(
        a
        for p, a in area.items()
        if (p, "处置完成") in first and first[p, "处置完成"]["日期"] <= "2025-12-31"
    )
    rates = pd.read_csv(out / "disposal_rates.csv", encoding="utf-8-sig")
    total = rates.set_index("统计单元").loc["合计"]
    assert total["期初闲置存量（亩）"] == 0
    assert total["期内新认定闲置（亩）"] == pytest.approx(new, abs=1e-3)
    assert total["闲置土地处置率"] == pytest.approx(done / new, abs=1e-4)
    assert (out / "supply_rate.csv").exists() and (out / "unsupplied_batches.csv").exists()
    # Cumulative counting needs the window's first day.
    result = runner.invoke(main, [*base, "--to", "2025-12-31", "--cumulative"])
    assert result.exit_code == 2 and "--approved-from" in result.output


def test_help_starts_without_the_heavy_libraries():
    # `landuse --help` must stay quick on an office PC: the library loads per command.
    code = (
        "import sys; from click.testing import CliRunner; from landuse.cli import main; "
        "r = CliRunner().invoke(main, ['--help']); assert r.exit_code == 0, r.output; "
        "print(sorted(m for m in ('pandas', 'geopandas', 'pyogrio', 'matplotlib', 'dask', "
        "'folium', 'shapely') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]", done.stdout


def test_check_loads_no_map_report_or_dask_libraries(tmp_path):
    # A single analysis must not pay for the map, workbook, Word and dask stack
    # (about 1.5 s of every command before they loaded on first use).
    code = (
        "import sys; from click.testing import CliRunner; from landuse.cli import main; "
        f"r = CliRunner().invoke(main, ['check', '--sample', '--out', {str(tmp_path)!r}]); "
        "assert r.exit_code == 0, r.output; "
        "print(sorted(m for m in ('matplotlib', 'folium', 'branca', 'openpyxl', 'docx', "
        "'distributed', 'dask', 'fontTools') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout
    assert (tmp_path / "conflicts.csv").exists()


def test_tax_with_a_scheme_preset_and_project_rules(runner, tmp_path):
    from .conftest import GK36, square

    parcels = gpd.GeoDataFrame(
        {"DKBH": ["A1", "A2", "A3", "A4"], "TYSHXYDM": ["E1", "E2", "E3", "E4"], "SSYQ": "园"},
        geometry=[square(200 * i, 0) for i in range(4)],  # 15 亩 each
        crs=GK36,
    )
    parcels.to_file(tmp_path / "地块.gpkg")
    (tmp_path / "企业.csv").write_text(
        "统一社会信用代码,年度,实缴税金,营业收入,用电量,是否规上,行业,投产日期,安全生产事故\n"
        "E1,2023,30,300,100000,是,3311,2015-03-01,否\n"
        "E2,2023,15,150,100000,否,2929,2016,否\n"
        "E3,2023,100,900,100000,是,3311,2023-05-01,否\n"
        "E4,2023,100,900,100000,是,4500 燃气生产和供应,2010,否\n"
        "E1,2024,45,450,100000,是,3311,2015-03-01,是\n"
        "E2,2024,22.5,225,100000,否,2929,2016,否\n"
        "E3,2024,100,900,100000,是,3311,2023-05-01,否\n"
        "E4,2024,100,900,100000,是,4500 燃气生产和供应,2010,否\n",
        encoding="utf-8",
    )
    toml = tmp_path / "landuse.toml"
    toml.write_text(
        '[project]\nname = "测试县"\n[layers.parcels]\npath = "地块.gpkg"\n'
        '[layers.enterprises]\npath = "企业.csv"\n'
        "[efficiency]\npenalty = { safety_accident = 10 }\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    args = ["tax", "--project", str(toml), "--scheme", "huaian_2024", "--out", str(out)]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert (
        "亩均评价方案：淮安市工业企业资源集约利用综合评价（2024）（huaian_2024）" in result.output
    )
    assert "A类 1 家、B类 1 家、C类 0 家、D类 0 家，T类（不适合评价类）2 家" in result.output
    ranking = pd.read_csv(out / "enterprise_ranking.csv", encoding="utf-8-sig")
    firms = ranking.set_index("统一社会信用代码")
    # Benchmarks = 2 × the 2023 average of E1 and E2 (E3 new, E4 gas supply: class T):
    # tax/mu 45/30 × 2 = 3, revenue/mu 450/30 × 2 = 30, tax/kWh 45 万元/200 000 kWh × 2
    # = 4.5 元/千瓦时.  E1: 45 + 35 + 20 − 10 (accident, landuse.toml) = 90;
    # E2: 1.5/3 × 45 + 15/30 × 35 + 2.25/4.5 × 20 = 50.
    assert firms.loc["E1", "综合得分"] == pytest.approx(90.0)
    assert firms.loc["E2", "综合得分"] == pytest.approx(50.0)
    assert firms.loc["E3", "分类"] == "T" and "投产不满 2 年" in firms.loc["E3", "评价说明"]
    assert firms.loc["E4", "政策导向"] == "不适合评价类"
    bench = pd.read_csv(out / "efficiency_benchmarks.csv", encoding="utf-8-sig")
    assert bench["基准值来源"].str.startswith("2023年全县（区）参评企业平均值").all()
    # A mistyped scheme is one line naming the near match; the help lists every preset.
    bad = runner.invoke(main, ["tax", "--project", str(toml), "--scheme", "huaian"])
    assert bad.exit_code == 2 and "did you mean 'huaian_2024'" in bad.output
    helped = runner.invoke(main, ["tax", "--help"]).output
    assert all(name in helped for name in efficiency_schemes())

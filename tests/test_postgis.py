"""Layers in PostGIS tables and results written there, against a real server (tests/pg_server)."""

import filecmp
import re

import geopandas as gpd
import openpyxl
import pandas as pd
import psycopg
import pyogrio
import pytest
import shapely
from click.testing import CliRunner

from landuse.cli import main
from landuse.core.config import layers_dir
from landuse.core.errors import ConfigError, DatabaseError, LayerNotFoundError
from landuse.io import postgis

from . import pg_server
from .conftest import GK36, square

SAMPLE = layers_dir() / "xingbin_sample.gpkg"
TABLES = [
    "district",
    "parks",
    "parcels",
    "udb",
    "farmland",
    "eco_redline",
    "roads",
    "udb_zones",
    "dltb",
    "buildings",
]


@pytest.fixture(scope="module")
def sample_in_db(postgis_url):
    """The shipped sample copied as it is (raw fields) into schema ``sample``."""
    layers = {name: pyogrio.read_dataframe(SAMPLE, layer=name) for name in TABLES}
    layers["enterprises"] = pyogrio.read_dataframe(SAMPLE, layer="enterprises", read_geometry=False)
    postgis.write_tables(postgis_url, layers, schema="sample")
    return postgis_url


def _projects(tmp_path, url):
    """The sample's project file, and the same with every layer read from the database."""
    files = tmp_path / "files.toml"
    text = (layers_dir() / "xingbin_sample.toml").read_text(encoding="utf-8")
    text = text.replace('"xingbin_sample', f'"{layers_dir()}/xingbin_sample')
    files.write_text(text, encoding="utf-8")
    db = tmp_path / "db.toml"
    text = re.sub(
        r'path = "[^"]+xingbin_sample\.gpkg"\nlayer = "(\w+)"', r'table = "sample.\1"', text
    )
    assert text.count('table = "sample.') == len(TABLES) + 1  # + enterprises
    db.write_text(text.replace("[project]\n", f'[project]\ndatabase = "{url}"\n'), encoding="utf-8")
    return files, db


@pytest.mark.parametrize(
    ("command", "outputs"),
    [
        (["check"], ["conflicts.csv", "conflict_pieces.csv", "certified_outside_udb.csv"]),
        (["buildable"], ["buildable.csv", "buildable_by_park.csv"]),
        (["idle", "--as-of", "2025-12-31"], ["idle.csv"]),
        (["tax"], ["enterprise_ranking.csv", "park_tax_per_mu.csv", "land_allocation.csv"]),
    ],
)
def test_database_layers_give_identical_tables(sample_in_db, tmp_path, command, outputs):
    files, db = _projects(tmp_path, sample_in_db)
    runner = CliRunner()
    a = runner.invoke(main, [*command, "--project", str(files), "--out", str(tmp_path / "a")])
    b = runner.invoke(main, [*command, "--project", str(db), "--out", str(tmp_path / "b")])
    assert a.exit_code == 0, a.output
    assert b.exit_code == 0, b.output
    for name in [*outputs, "geometry_report.csv"]:
        assert filecmp.cmp(tmp_path / "a" / name, tmp_path / "b" / name, shallow=False), name
    assert pg_server.PASSWORD not in b.output
    assert "postgres:***@127.0.0.1" in b.output  # where the layers came from, no password


def test_cover_names_tables_without_password(sample_in_db, tmp_path):
    _, db = _projects(tmp_path, sample_in_db)
    out = tmp_path / "pack"
    result = CliRunner().invoke(main, ["report", "--project", str(db), "--out", str(out)])
    assert result.exit_code == 0, result.output
    cover = openpyxl.load_workbook(out / "会议材料.xlsx")["封面"]
    rows = {r[0]: str(r[1]) for r in cover.iter_rows(min_row=2, values_only=True)}
    parcels = rows["输入表（地块）"]  # the layer by its Chinese name
    assert parcels.startswith("postgresql://postgres:***@127.0.0.1") and "sample.parcels" in parcels
    assert re.search(r"SHA-256 [0-9a-f]{64}$", parcels)
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".csv", ".md", ".html", ".xlsx", ".gpkg"):
            assert pg_server.PASSWORD.encode() not in path.read_bytes(), path


def test_red_line_reads_only_its_area(sample_in_db, tmp_path):
    _, db = _projects(tmp_path, sample_in_db)
    sample = pyogrio.read_dataframe(SAMPLE, layer="parcels")
    red = sample.iloc[[0]]
    red.to_file(tmp_path / "红线.gpkg")
    result = CliRunner().invoke(
        main,
        [
            "check",
            "--project",
            str(db),
            "--parcels",
            str(tmp_path / "红线.gpkg"),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 0, result.output
    read = int(re.search(r"永久基本农田（[^）]+）：读入 (\d+)", result.output)[1])
    # Independent count: farmland patches whose envelope meets the red line's box ± 1 km.
    farmland = pyogrio.read_dataframe(SAMPLE, layer="farmland")
    minx, miny, maxx, maxy = red.total_bounds
    box = shapely.box(minx - 1000, miny - 1000, maxx + 1000, maxy + 1000)
    expected = int(shapely.intersects(shapely.envelope(farmland.geometry.array), box).sum())
    assert read == expected < len(farmland)


def test_results_to_database_in_one_transaction(sample_in_db, tmp_path):
    files, _ = _projects(tmp_path, sample_in_db)
    url, _ = postgis.split_schema(sample_in_db)
    target = f"{sample_in_db}?schema=results"
    result = CliRunner().invoke(main, ["check", "--project", str(files), "--out", target])
    assert result.exit_code == 0, result.output
    assert pg_server.PASSWORD not in result.output
    with psycopg.connect(url) as con:
        n = con.execute("SELECT count(*) FROM results.parcels_check").fetchone()[0]
        srid = con.execute("SELECT Find_SRID('results', 'parcels_check', 'geom')").fetchone()[0]
        pieces = con.execute("SELECT count(*) FROM results.conflict_pieces").fetchone()[0]
    assert (n, srid) == (2000, 4524)
    folder = CliRunner().invoke(
        main, ["check", "--project", str(files), "--out", str(tmp_path / "f")]
    )
    assert folder.exit_code == 0, folder.output
    assert pieces == len(pd.read_csv(tmp_path / "f" / "conflict_pieces.csv", encoding="utf-8-sig"))
    # A write that fails half-way leaves no table behind: the first layer is rolled back.
    good = gpd.GeoDataFrame({"a": [1]}, geometry=[square(0, 0)], crs=GK36)
    with pytest.raises(ConfigError):
        postgis.write_tables(url, {"first_ok": good, "bad name!": good}, schema="results")
    with psycopg.connect(url) as con:
        assert con.execute("SELECT to_regclass('results.first_ok')").fetchone() == (None,)


def test_database_errors_are_one_line_without_password(postgis_url, tmp_path):
    with pytest.raises(LayerNotFoundError) as err:
        postgis.read_plain_table(postgis_url, "public.no_such_table")
    assert pg_server.PASSWORD not in str(err.value)
    with pytest.raises(DatabaseError) as err:  # the server refuses: one line, no password
        postgis.write_tables(postgis_url, {"t": pd.DataFrame({"a": [1]})}, schema="pg_catalog")
    assert pg_server.PASSWORD not in str(err.value) and "\n" not in str(err.value)
    wrong = postgis_url.replace(pg_server.PASSWORD, "wrong-password")
    toml = tmp_path / "landuse.toml"
    toml.write_text(
        f'[project]\ndatabase = "{wrong}"\n[layers.parcels]\ntable = "sample.parcels"\n'
        '[layers.udb]\ntable = "sample.udb"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        main, ["check", "--project", str(toml), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2, result.output
    assert "cannot connect" in result.output and "wrong-password" not in result.output


def test_redact_and_schema():
    url = "postgresql://gis:p%40ss@db.example:5433/yzt?schema=out&sslmode=require"
    assert (
        postgis.redact(url) == "postgresql://gis:***@db.example:5433/yzt?schema=out&sslmode=require"
    )
    assert postgis.split_schema(url) == (
        "postgresql://gis:p%40ss@db.example:5433/yzt?sslmode=require",
        "out",
    )
    assert postgis.redact("postgresql://gis@db/yzt") == "postgresql://gis@db/yzt"

import subprocess
import sys

import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner

from landuse.cli import main
from landuse.errors import LayerNotFoundError

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


def test_demo_command_writes_outputs(runner, tmp_path):
    result = runner.invoke(main, ["demo", "--out", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    assert str(tmp_path / "demo") in result.output
    summary = pd.read_csv(tmp_path / "demo" / "parcel_areas_by_park.csv", encoding="utf-8-sig")
    parcels = pyogrio.read_dataframe(tmp_path / "demo" / "landuse_demo.gpkg", layer="parcels")
    # The total row equals the sum of the parcel areas (GK zone 36 planar m² → 亩).
    total = summary.set_index("园区").loc["合计"]
    assert total["地块数"] == len(parcels) == 2000
    assert total["面积（亩）"] == pytest.approx(parcels.geometry.area.sum() * 15 / 10000, abs=0.01)
    assert total["已供面积（亩）"] + total["未供面积（亩）"] == pytest.approx(
        total["面积（亩）"], abs=0.02
    )


def test_entry_point_runs_as_a_module(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "landuse.cli", "demo", "--out", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "地块总面积" in done.stdout

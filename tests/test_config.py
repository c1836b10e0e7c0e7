import pytest

from landuse.core.config import load_project, sample_project
from landuse.core.errors import ConfigError
from landuse.core.options import BuildableOptions


def test_load_project_resolves_relative_paths(tmp_path):
    (tmp_path / "sub").mkdir()
    toml = tmp_path / "sub" / "landuse.toml"
    toml.write_text(
        """
[project]
name = "测试县"
analysis_crs = "EPSG:4545"

[layers.parcels]
path = "../data/地块.shp"
encoding = "GBK"
[layers.parcels.fields]
parcel_id = "宗地号"

[rasters]
dem = "dem.tif"

[check]
noise_area_m2 = 5
""",
        encoding="utf-8",
    )
    project = load_project(toml)
    spec = project.layer("parcels")
    assert spec.path == tmp_path / "sub" / ".." / "data" / "地块.shp"
    assert spec.fields == {"parcel_id": "宗地号"} and spec.encoding == "GBK"
    assert project.name == "测试县" and project.analysis_crs == "EPSG:4545"
    assert project.rasters["dem"] == tmp_path / "sub" / "dem.tif"
    assert project.options.check.noise_area_m2 == 5.0
    assert project.options.buildable == BuildableOptions()
    with pytest.raises(ConfigError, match=r"no \[layers.udb\] table"):
        project.layer("udb")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[layers.parcel]\npath = 'x.shp'\n", "unknown layer"),
        ("[layers.parcels]\nlayer = 'x'\n", "needs a 'path'"),
        ("[layers.parcels]\npath = 'x.shp'\nprj = 'y'\n", "unknown key"),
        ("[layers.parcels\n", "not valid TOML"),
        ("[layers.parcels]\npath = 'x'\nfields = { parcel_id = 3 }\n", "must map"),
    ],
)
def test_bad_project_files(tmp_path, text, message):
    toml = tmp_path / "landuse.toml"
    toml.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as err:
        load_project(toml)
    assert "landuse.toml" in str(err.value)


def test_missing_project_file(tmp_path):
    with pytest.raises(ConfigError, match="project file not found"):
        load_project(tmp_path / "nope.toml")


def test_sample_project_points_at_shipped_layers():
    project = sample_project()
    for name in ("parcels", "udb", "farmland", "eco_redline", "parks", "enterprises", "roads"):
        assert project.layer(name).path.exists()
    assert project.rasters["landcover"].exists()


def test_project_layers_named_by_options(tmp_path):
    toml = tmp_path / "landuse.toml"
    toml.write_text(
        """
[layers.flood]
path = "flood.gpkg"
[layers.rivers]
path = "rivers.shp"
[check]
extra_constraints = { flood = "洪水淹没区" }
[buildable]
buffers = { rivers = 30 }
""",
        encoding="utf-8",
    )
    project = load_project(toml)
    assert set(project.layers) == {"flood", "rivers"}
    toml.write_text("[layers.flood]\npath = 'flood.gpkg'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="extra_constraints"):
        load_project(toml)

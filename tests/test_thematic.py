import itertools

import geopandas as gpd
import matplotlib.image as mpimg
import numpy as np
import pyproj
import pytest
import shapely
from colorspacious import cspace_convert, deltaE
from pypdf import PdfReader

from landuse.core.crs import crs_label
from landuse.core.errors import LanduseError
from landuse.core.options import Options
from landuse.outputs.maps import map_styles
from landuse.outputs.thematic import (
    THEMATIC_MAPS,
    MapInfo,
    nice_scale,
    thematic_map,
    write_thematic_maps,
)

GK = pyproj.CRS.from_epsg(4545)  # CGCS2000 3-degree GK, CM 108°E, metres


def _square_map(side_m: float = 1000.0):
    """A conflict map of one 1 km square conflict piece, and nothing else."""
    piece = gpd.GeoDataFrame(
        {"constraint_label": ["超出城镇开发边界"], "kind": ["conflict"]},
        geometry=[shapely.box(500000, 2620000, 500000 + side_m, 2620000 + side_m)],
        crs=GK,
    )
    return {"conflicts": piece}


def test_nice_scales_round_up():
    assert nice_scale(100_000) == 100_000
    assert nice_scale(100_001) == 120_000
    assert nice_scale(1_234) == 1_500
    assert nice_scale(9_000) == 10_000


def test_crs_labels_are_chinese():
    assert crs_label(pyproj.CRS.from_epsg(4490)) == "2000国家大地坐标系（经纬度）（EPSG:4490）"
    assert crs_label(pyproj.CRS.from_epsg(4524)).startswith("2000国家大地坐标系 高斯-克吕格投影")


@pytest.mark.parametrize(("paper", "size_mm"), [("A3", (420, 297)), ("A4", (297, 210))])
def test_paper_sizes_and_text_layer(tmp_path, paper, size_mm):
    info = MapInfo("测试区", GK, "2025-12-31", None, paper=paper, synthetic=False)
    pdf, png = thematic_map(THEMATIC_MAPS[0], _square_map(), tmp_path, info=info)
    page = PdfReader(pdf).pages[0]
    mm = (float(page.mediabox.width) * 25.4 / 72, float(page.mediabox.height) * 25.4 / 72)
    assert mm == (pytest.approx(size_mm[0], abs=0.5), pytest.approx(size_mm[1], abs=0.5))
    text = page.extract_text()
    assert "测试区三区三线冲突图" in text and "比例尺 1:" in text and "制图单位：未设置" in text
    assert "示例数据" not in text  # real data carry no sample mark
    assert png.suffix == ".png" and mpimg.imread(png).shape[1] > 1500


def test_the_stated_scale_is_the_printed_scale(tmp_path):
    # A 1000 m square in the middle of an A4 map: the scale is a round number at or above
    # what fits (1000 m + 2 × 4 % padding into the 212 mm × 173 mm frame), and printed at
    # that scale the square measures 1000 m / scale on paper.
    info = MapInfo("测试区", GK, paper="A4")
    pdf, png = thematic_map(THEMATIC_MAPS[0], _square_map(), tmp_path, info=info)
    text = PdfReader(pdf).pages[0].extract_text()
    scale = int(text.split("比例尺 1:")[1].split()[0].replace(",", ""))
    frame_h_mm = 245 * 297 / 420  # A3 frame height scaled to A4: 173.25 mm
    assert scale == nice_scale(1080 / (frame_h_mm / 1000))  # 1 080 m into 173 mm → 1:8 000
    assert scale == 8000
    # Measure the square's fill (vermillion #d55e00 under the hatch) across its middle row.
    img = mpimg.imread(png)[..., :3]
    dpi = 200  # the A4 PNG
    fill = np.array([0xD5, 0x5E, 0x00]) / 255
    close = np.abs(img - fill).max(axis=2) < 0.12
    rows = np.flatnonzero(close.any(axis=1))
    middle = close[rows[len(rows) // 2]]
    cols = np.flatnonzero(middle)
    width_mm = (cols.max() - cols.min() + 1) / dpi * 25.4
    assert width_mm == pytest.approx(1000 / scale * 1000, rel=0.02)  # 125 mm on paper


def test_only_maps_with_their_layers_are_drawn(tmp_path):
    info = MapInfo("测试区", GK)
    files = write_thematic_maps(_square_map(), tmp_path, info=info)
    assert [f.name for f in files] == ["三区三线冲突图.pdf", "三区三线冲突图.png"]


def test_geographic_crs_is_refused(tmp_path):
    info = MapInfo("测试区", pyproj.CRS.from_epsg(4490))
    with pytest.raises(LanduseError, match="projected CRS"):
        thematic_map(THEMATIC_MAPS[0], _square_map(), tmp_path, info=info)


def test_project_options_for_maps():
    options = Options.from_tables(
        {"project": {"mapping_unit": "兴宾区自然资源局", "paper": "A4", "data_date": "2025-06-30"}}
    ).project
    assert (options.mapping_unit, options.paper, str(options.data_date)) == (
        "兴宾区自然资源局",
        "A4",
        "2025-06-30",
    )


def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]) / 255


@pytest.mark.parametrize("vision", [None, "deuteranomaly", "protanomaly", "tritanomaly"])
def test_conflict_colours_stay_apart_for_colour_blind_readers(vision):
    # Simulated with colorspacious (Machado et al. 2009, full severity); distances in
    # CAM02-UCS, where about 10 is a clear difference.  The old three reds scored 8.5.
    fills = [style["fillColor"] for style in map_styles()["conflicts"].values()]
    seen = [
        _rgb(c)
        if vision is None
        else np.clip(
            cspace_convert(
                _rgb(c), {"name": "sRGB1+CVD", "cvd_type": vision, "severity": 100}, "sRGB1"
            ),
            0,
            1,
        )
        for c in fills
    ]
    closest = min(deltaE(a, b, input_space="sRGB1") for a, b in itertools.combinations(seen, 2))
    assert closest >= 20

import base64
import contextlib
import io
import json
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import matplotlib
import numpy as np
import pyproj
import pytest
import shapely
from pypdf import PdfReader

from landuse.core.errors import ConfigError, LanduseError
from landuse.outputs.maps import (
    EMBEDDED_FONT,
    LAYERS,
    build_map,
    gcj02_to_wgs84,
    map_styles,
    render_html,
    wgs84_to_gcj02,
)
from landuse.pipeline import map_analyses, map_layers

CRS = "EPSG:4545"
XSS = "<script>alert(1)</script>"
BREAKOUT = "</script><script>alert(2)</script>"
IMG = "<img src=x onerror=alert(3)>"


# Published reference pairs (WGS84 → GCJ-02), lon/lat: the first from the test of
# wandergis/coordtransform, the others (Shanghai, Shenzhen, Beijing) from the tests
# of googollee/eviltransform.
REFERENCE = [
    ((116.404, 39.915), (116.41024449916938, 39.91640428150164)),
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),
]


@pytest.mark.parametrize(("wgs", "gcj"), REFERENCE)
def test_gcj02_reference_points(wgs, gcj):
    lon, lat = wgs84_to_gcj02(np.array([wgs[0]]), np.array([wgs[1]]))
    assert lon[0] == pytest.approx(gcj[0], abs=1e-9)
    assert lat[0] == pytest.approx(gcj[1], abs=1e-9)
    back_lon, back_lat = gcj02_to_wgs84(lon, lat)
    assert back_lon[0] == pytest.approx(wgs[0], abs=1e-8)  # ≈ 1 mm
    assert back_lat[0] == pytest.approx(wgs[1], abs=1e-8)


def test_gcj02_offset_in_guangxi_and_outside_china():
    # Nanning 108.37°E, 22.82°N: the shift is about half a kilometre (DOMAIN.md: ≈ 510 m).
    lon, lat = wgs84_to_gcj02(np.array([108.37]), np.array([22.82]))
    import pyproj

    dist = pyproj.Geod(ellps="WGS84").inv(108.37, 22.82, lon[0], lat[0])[2]
    assert 360 < dist < 650
    out_lon, out_lat = wgs84_to_gcj02(np.array([2.35]), np.array([48.85]))  # Paris
    assert (out_lon[0], out_lat[0]) == (2.35, 48.85)


def _layers():
    parcels = gpd.GeoDataFrame(
        {
            "parcel_id": ["P-1", "P-2", "P-3"],
            "parcel_name": ["河南工业园一号", XSS, BREAKOUT],
            "enterprise_name": [IMG, "来宾糖业有限公司", None],
            "area_mu": [15.0, 15.0, 15.0],
            "map_status": ["已供在用", "闲置土地", "未供地块"],
        },
        geometry=[
            shapely.box(500000 + i * 200, 2620000, 500100 + i * 200, 2620100) for i in range(3)
        ],
        crs=CRS,
    )
    parks = gpd.GeoDataFrame(
        {"park": ["测试园"]}, geometry=[shapely.box(499900, 2619900, 501000, 2620200)], crs=CRS
    )
    pieces = gpd.GeoDataFrame(
        {"parcel_id": ["P-2"], "constraint_label": ["占用永久基本农田"], "area_mu": [1.5]},
        geometry=[shapely.box(500200, 2620000, 500210, 2620100)],
        crs=CRS,
    )
    # The per-mu classes of the same parcels: a view of their features, not a copy.
    efficiency = parcels[["parcel_id", "area_mu", "geometry"]].assign(
        main_enterprise=[IMG, "来宾糖业有限公司", ""],
        tax_per_mu_wan=[12.5, 3.25, float("nan")],
        grade=["A", "D", "未参评"],
    )
    return {"parcels": parcels, "parks": parks, "conflicts": pieces, "efficiency": efficiency}


def _page_data(text):
    """The data blocks of a map page (``LU.source`` input), parsed as JSON."""
    blocks = re.findall(r'<script type="application/json" id="[^"]+">(.*?)</script>', text, re.S)
    return [json.loads(b) for b in blocks]


def _varints(b64):
    """Base64 LEB128 varints, decoded here apart from maps.py (7 bits a byte, low first)."""
    values, value, shift = [], 0, 0
    for byte in base64.b64decode(b64):
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            values.append(value)
            value = shift = 0
    return values


def _rings(geometry):
    """A page source's rings as lists of (lon, lat): zigzag deltas of 10^-precision degrees."""
    signed = [v // 2 if v % 2 == 0 else -(v + 1) // 2 for v in _varints(geometry["xy"])]
    q = np.cumsum(np.array(signed, dtype=np.int64).reshape(-1, 2), axis=0)
    xy = q / 10 ** geometry["precision"]
    ends = np.cumsum(_varints(geometry["verts"]))
    rings = np.split(xy, ends[:-1])
    per_feature = np.split(np.arange(len(rings)), np.cumsum(_varints(geometry["rings"]))[:-1])
    return [[rings[r].tolist() for r in feature] for feature in per_feature]


def test_html_escapes_every_value_and_is_offline():
    html_text = render_html(
        build_map(_layers(), title="测试<b>图</b>", synthetic=True), offline=True
    )
    assert XSS not in html_text and BREAKOUT not in html_text and IMG not in html_text
    assert "alert(1)" in html_text and "alert(3)" in html_text  # there, as escaped data
    assert "<b>图</b>" not in html_text
    # Offline, checked apart from render_html's own guard: a real HTML parser lists every
    # URL the page loads by itself (any element's src/href/..., CSS url() and @import);
    # each must be inline data or an in-page anchor, else a file:// or intranet copy breaks.
    refs = _page_references(html_text)
    assert [u for u in refs if not u.startswith(("data:", "#"))] == []
    assert any(u.startswith("data:image/png;base64,") for u in refs)  # Leaflet's icons, inlined


_URL_ATTRS = {"src", "href", "srcset", "data", "poster", "action", "background", "xlink:href"}


def _css_urls(css: str) -> list[str]:
    return re.findall(r"url\(\s*['\"]?([^'\")]+)", css) + re.findall(
        r"@import\s+['\"]([^'\"]+)", css
    )


def _page_references(text: str) -> list[str]:
    """URLs an HTML document loads or links to, parsed with the standard library."""

    class Parser(HTMLParser):
        def __init__(self):
            super().__init__()
            self.urls, self.in_style = [], False

        def handle_starttag(self, tag, attrs):
            for name, value in attrs:
                if name in _URL_ATTRS and value:
                    self.urls.append(value.strip())
                elif name == "style" and value:
                    self.urls += _css_urls(value)
            self.in_style = tag == "style"

        def handle_endtag(self, tag):
            self.in_style = False

        def handle_data(self, data):
            if self.in_style:
                self.urls += _css_urls(data)

    parser = Parser()
    parser.feed(text)
    parser.close()
    return parser.urls


def test_basemaps(monkeypatch):
    osm = render_html(build_map(_layers(), title="t", basemap="osm"), offline=False)
    assert "tile.openstreetmap.org" in osm
    monkeypatch.delenv("TIANDITU_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="token"):
        build_map(_layers(), title="t", basemap="tianditu-vec")
    monkeypatch.setenv("TIANDITU_TOKEN", "secret-token-123")
    tdt = render_html(build_map(_layers(), title="t", basemap="tianditu-img"), offline=False)
    assert "tk=secret-token-123" in tdt and "img_w" in tdt and "cia_w" in tdt
    with pytest.raises(ConfigError, match="Unknown basemap"):
        build_map(_layers(), title="t", basemap="google")


def test_amap_shifts_data_to_gcj02():
    layers = _layers()
    plain = render_html(build_map(layers, title="t", simplify_m=0), offline=True)
    shifted = render_html(build_map(layers, title="t", basemap="amap", simplify_m=0), offline=False)
    corner = layers["parcels"].to_crs(4326).geometry.iloc[0].exterior.coords[0]
    lon, lat = wgs84_to_gcj02(np.array([corner[0]]), np.array([corner[1]]))
    # The parcels' source is the one with three features; its first vertex is P-1's corner,
    # to 1e-6 degrees.
    (first,) = [d for d in _page_data(plain) if d["geometry"]["n"] == 3]
    assert _rings(first["geometry"])[0][0][0] == pytest.approx(corner, abs=0.6e-6)
    (moved,) = [d for d in _page_data(shifted) if d["geometry"]["n"] == 3]
    assert _rings(moved["geometry"])[0][0][0] == pytest.approx((lon[0], lat[0]), abs=0.6e-6)
    assert "GCJ-02" in shifted


def test_page_geometry_is_quantized_and_without_closing_vertices():
    # A square with a square hole, a two-part multipolygon, and an overlay result (a
    # collection of a polygon and a line): every ring drops its closing vertex, the
    # line has no area and is left out.  In EPSG:4326, so coordinates are as written.
    hole = shapely.Polygon(
        [(109.0, 23.0), (109.01, 23.0), (109.01, 23.01), (109.0, 23.01)],
        [[(109.002, 23.002), (109.004, 23.002), (109.004, 23.004)]],
    )
    two = shapely.MultiPolygon(
        [shapely.box(109.02, 23.0, 109.03, 23.01), shapely.box(109.04, 23.0, 109.05, 23.01)]
    )
    mixed = shapely.GeometryCollection(
        [
            shapely.box(109.06, 23.0, 109.07, 23.01),
            shapely.LineString([(109.06, 23.0), (109.1, 23.1)]),
        ]
    )
    gdf = gpd.GeoDataFrame({"patch_id": ["a", "b", "c"]}, geometry=[hole, two, mixed], crs=4326)
    (data,) = _page_data(
        render_html(build_map({"farmland": gdf}, title="t", simplify_m=0), offline=True)
    )
    rings = _rings(data["geometry"])
    assert [len(f) for f in rings] == [2, 2, 1]  # rings per feature
    assert [len(r) for f in rings for r in f] == [4, 3, 4, 4, 4]  # closed 5, 4, 5, less one
    hole_ring = np.array([[109.002, 23.002], [109.004, 23.002], [109.004, 23.004]])
    np.testing.assert_allclose(rings[0][1], hole_ring, atol=0.6e-6)
    line = gpd.GeoDataFrame(
        {"patch_id": ["x"]}, geometry=[shapely.LineString([(109.0, 23.0), (109.1, 23.1)])], crs=4326
    )
    with pytest.raises(LanduseError, match=r"farmland.*feature 1 is a LineString"):
        build_map({"farmland": line}, title="t", simplify_m=0)


def test_popup_values_are_sent_once_per_distinct_value():
    layers = _layers()
    (parks, parcels, conflicts) = _page_data(
        render_html(build_map(layers, title="t"), offline=True)
    )
    columns, strings = parcels["columns"], parcels["strings"]
    # Every text once, run together: ids, names, the firms (of 企业 and 主要企业 both), ...
    text = strings["text"]
    assert text.count("来宾糖业有限公司") == 1 and text.count("P-2") == 1
    assert sum(_varints(strings["lengths"])) == len(text)
    # 15 亩 three times: one dictionary entry, three codes; the ids need no codes.
    assert columns["area_mu"]["n"] == 1 and columns["parcel_id"]["codes"] is None
    assert list(base64.b64decode(columns["area_mu"]["codes"]["b64"])) == [0, 0, 0]
    # A missing firm and an empty one both read —, as does the view's missing 亩均税收.
    assert text.count("—") == 1
    assert (
        len(_page_data(render_html(build_map({"parks": layers["parks"]}, title="t"), offline=True)))
        == 1
    )
    assert parks["geometry"]["n"] == 1 and conflicts["geometry"]["n"] == 1


def test_views_share_the_parcels_features_only_when_they_are_the_same():
    layers = _layers()
    page = render_html(build_map(layers, title="t"), offline=True)
    assert [d["geometry"]["n"] for d in _page_data(page)] == [1, 3, 1]  # parks, parcels, conflicts
    # A per-mu layer whose parcel differs in shape is drawn from its own features.
    moved = layers["efficiency"].copy()
    moved.geometry = moved.geometry.translate(0, 1)
    page = render_html(build_map({**layers, "efficiency": moved}, title="t"), offline=True)
    assert [d["geometry"]["n"] for d in _page_data(page)] == [1, 3, 3, 1]


def test_map_html_stays_within_25_mb_for_100k_parcels(sample_data):
    # Issue #18: at most 25 MB of HTML for 100,000 parcels, i.e. 25e6 / 1e5 = 250 bytes
    # a parcel for everything the map shows of it (its layers, conflicts, buildable land,
    # the per-mu and indicator views), over the page without data (Leaflet, controls).
    layers = map_layers(sample_data, map_analyses(sample_data))
    full = len(render_html(build_map(layers, title="t"), offline=True).encode())
    empty = len(render_html(build_map({}, title="t"), offline=True).encode())
    assert (full - empty) / len(layers["parcels"]) <= 250


def test_every_declared_layer_has_a_style():
    import tomllib

    from landuse.core.config import layers_dir

    styles = tomllib.loads((layers_dir() / "styles.toml").read_text(encoding="utf-8"))
    assert {spec.key for spec in LAYERS} <= set(styles)


# README, "Run the tests": installs the Chromium below (Debian's, or on Ubuntu playwright's).
INSTALL_LINE = "sh scripts/install-test-deps.sh"


def _chromium(playwright) -> str:
    """Playwright's own Chromium when installed (Ubuntu), else Debian's ``chromium``."""
    bundled = playwright.chromium.executable_path
    if os.path.isfile(bundled):
        return bundled
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        message = f"Chromium is missing; install it with: {INSTALL_LINE}"
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(message)  # CI must test the map in a browser
        pytest.skip(message)
    return path


@pytest.mark.parametrize("ci", ["true", ""])
def test_missing_chromium_fails_in_ci_and_skips_elsewhere(monkeypatch, tmp_path, ci):
    no_browser = SimpleNamespace(chromium=SimpleNamespace(executable_path=str(tmp_path / "none")))

    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", ci)
    outcome = pytest.fail.Exception if ci else pytest.skip.Exception
    with pytest.raises(outcome, match=re.escape(INSTALL_LINE)):
        _chromium(no_browser)


_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# Fontconfig with matplotlib's DejaVu fonts only: Chromium on a PC without any Chinese
# font, so the page's Chinese can only be drawn with the font the page embeds.
LATIN_ONLY = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<fontconfig><dir>{fonts}</dir><cachedir>{cache}</cachedir></fontconfig>
"""


@contextlib.contextmanager
def _open_map(tmp_path, layers, viewport):
    """The map in headless Chromium, no Chinese system font: (page, problems, dialogs); offline."""
    from playwright.sync_api import sync_playwright

    path = tmp_path / "map.html"
    path.write_text(
        render_html(build_map(layers, title="测试", synthetic=True), offline=True),
        encoding="utf-8",
    )
    fonts_conf = tmp_path / "fonts.conf"
    latin = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    fonts_conf.write_text(
        LATIN_ONLY.format(fonts=latin, cache=tmp_path / "fc-cache"), encoding="utf-8"
    )
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=_chromium(p),
            args=_ARGS,
            env={**os.environ, "FONTCONFIG_FILE": str(fonts_conf)},
        )
        page = browser.new_page(viewport=viewport)
        requests, problems, dialogs = [], [], []
        page.on("request", lambda r: requests.append(r.url))
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(path.as_uri())
        page.wait_for_function("window.LU_READY === true", timeout=30_000)
        yield page, problems, dialogs
        browser.close()
    assert [u for u in requests if u != path.as_uri()] == []  # offline: nothing left the page


def _centre_px(page, x, y):
    """Page pixel of a point given in EPSG:4545 metres (via the map's own projection)."""
    lon, lat = pyproj.Transformer.from_crs(CRS, 4326, always_xy=True).transform(x, y)
    return page.evaluate(
        "([lat, lon]) => { const p = LU.map.latLngToContainerPoint([lat, lon]);"
        " const r = LU.map.getContainer().getBoundingClientRect();"
        " return [r.left + p.x, r.top + p.y]; }",
        [lat, lon],
    )


def test_map_in_headless_chromium(tmp_path):
    with _open_map(tmp_path, _layers(), {"width": 1200, "height": 800}) as (
        page,
        problems,
        dialogs,
    ):
        assert problems == []
        # Every overlay toggles from the layer control.
        for label in ("工业地块（按状态）", "园区边界", "冲突图斑"):
            key = {"工业地块（按状态）": "parcels", "园区边界": "parks", "冲突图斑": "conflicts"}[
                label
            ]
            visible = f"LU.map.hasLayer(LU.layers['{key}'].layer)"
            assert page.evaluate(visible) is True
            toggle = page.locator(".leaflet-control-layers label", has_text=label)
            toggle.click()
            assert page.evaluate(visible) is False
            toggle.click()
            assert page.evaluate(visible) is True
        # Search the parcel named like a script and open its popup: text, not markup.
        page.fill(".lu-search input", "P-2")
        page.press(".lu-search input", "Enter")
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for(timeout=5_000)
        assert XSS in popup.inner_text()
        assert page.locator(".leaflet-popup-content script").count() == 0
        page.fill(".lu-search input", "P-3")
        page.press(".lu-search input", "Enter")
        page.wait_for_timeout(300)
        assert BREAKOUT in page.locator(".leaflet-popup-content").inner_text()
        shot = tmp_path / "map.png"
        page.screenshot(path=str(shot))
        page.click(".leaflet-popup-close-button")
        # Leaflet fades a closed popup out and removes it 200 ms later.
        page.locator(".leaflet-popup").wait_for(state="detached", timeout=5_000)

        # The scale bar is metric only: one line, in m or km (no feet, no miles).
        scales = page.locator(".leaflet-control-scale-line").all_inner_texts()
        assert len(scales) == 1 and re.fullmatch(r"\d+ (m|km)", scales[0]), scales

        # Park labels are written on the map.
        assert page.locator(".lu-label").all_inner_texts() == ["测试园"]

        # Measuring over parcels: clicks on P-1's and P-2's centres (200 m apart in
        # EPSG:4545 near the central meridian, where the scale factor is 1) add points
        # and open no popup.
        page.click(".lu-measure a")
        for x in (500050, 500250):
            page.mouse.click(*_centre_px(page, x, 2620050))
        assert page.locator(".leaflet-popup").count() == 0
        text = page.locator(".lu-measure-out").inner_text()
        measured = float(re.search(r"长度 ([\d.]+) 米", text)[1])
        lon, lat = pyproj.Transformer.from_crs(CRS, 4326, always_xy=True).transform(
            [500050, 500250], [2620050, 2620050]
        )
        geodesic = pyproj.Geod(ellps="GRS80").inv(lon[0], lat[0], lon[1], lat[1])[2]
        assert geodesic == pytest.approx(200, abs=0.1)
        assert measured == pytest.approx(geodesic, abs=1.5)  # sphere vs ellipsoid, sub-pixel
        page.click(".lu-measure a")  # done measuring: a click on a parcel opens its popup again
        page.mouse.click(*_centre_px(page, 500050, 2620050))
        popup = page.locator(".leaflet-popup-content")
        assert "P-1" in popup.inner_text()
        # The popup is built on the click, from the page data: a firm named like an image
        # tag shows as text, no element is made of it.
        assert IMG in popup.inner_text() and popup.locator("img").count() == 0
        # The per-mu classes restyle the same parcels; switched on, they take the click.
        page.locator(".leaflet-control-layers label", has_text="亩均税收分类").click()
        page.mouse.click(*_centre_px(page, 500250, 2620050))
        shown = page.locator(".leaflet-popup-content", has_text="亩均税收分类").inner_text()
        assert "P-2" in shown and "3.25" in shown and "D" in shown
        # Hovering a parcel shows its name (the 亩均 layer has none: hidden again first).
        page.locator(".leaflet-control-layers label", has_text="亩均税收分类").click()
        page.click(".leaflet-popup-close-button")
        page.mouse.move(*_centre_px(page, 500450, 2620050))
        page.locator(".leaflet-tooltip").wait_for(timeout=5_000)
        assert page.locator(".leaflet-tooltip").inner_text() == BREAKOUT

        # The print button prints; the print view keeps the map, title and legend.
        page.evaluate("() => { window.__printed = 0; window.print = () => window.__printed++; }")
        page.click(".lu-print a")
        assert page.evaluate("window.__printed") == 1
        page.emulate_media(media="print")
        for shown in (".lu-title", ".lu-legend", ".leaflet-overlay-pane canvas.lu-canvas >> nth=0"):
            assert page.locator(shown).is_visible(), shown
        for hidden in (".leaflet-control-layers", ".lu-search", ".lu-measure", ".lu-print"):
            assert not page.locator(hidden).is_visible(), hidden
        pdf = PdfReader(io.BytesIO(page.pdf(landscape=True, print_background=True)))
        assert len(pdf.pages) == 1
        # Chinese printed with no Chinese system font: the page's own font drew it.
        printed = pdf.pages[0].extract_text()
        assert "测试" in printed and "图例" in printed and "冲突图斑" in printed, printed
        faces = page.evaluate("[...document.fonts].map(f => [f.family, f.status])")
        assert [EMBEDDED_FONT, "loaded"] in [[f.strip("'\""), s] for f, s in faces]
    assert dialogs == []  # no script ran
    assert shot.stat().st_size > 10_000


def _every_layer():
    """One feature per style of every declared layer (the legend at its longest)."""
    styles = map_styles()
    layers = {}
    for i, spec in enumerate(LAYERS):
        style = styles[spec.key]
        values = list(style) if all(isinstance(v, dict) for v in style.values()) else [None]
        rows = []
        for j, value in enumerate(values):
            row = {
                "parcel_id": f"{spec.key}-{j}",
                "park": "测试园",
                "geometry": shapely.box(
                    500000 + j * 150, 2620000 + i * 150, 500100 + j * 150, 2620100 + i * 150
                ),
            }
            if spec.style_by:
                row[spec.style_by] = value
            rows.append(row)
        layers[spec.key] = gpd.GeoDataFrame(rows, crs=CRS)
    return layers


def test_legend_fits_a_1600_by_1000_screen(tmp_path):
    layers = _every_layer()
    assert set(layers) == {spec.key for spec in LAYERS}
    with _open_map(tmp_path, layers, {"width": 1600, "height": 1000}) as (page, problems, _):
        assert problems == []
        legend = page.locator(".lu-legend")
        # Every group of a shown layer is open, and nothing needs scrolling to be seen.
        assert legend.evaluate("e => e.scrollHeight <= e.clientHeight")
        rows = page.locator(".lu-legend-group[data-layer='conflicts'] .lu-legend-row")
        assert rows.all_inner_texts() == list(map_styles()["conflicts"])
        for box in (rows.nth(i).bounding_box() for i in range(rows.count())):
            assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= 1000
        # The per-mu layer starts hidden: its group is folded; showing it unfolds it.
        efficiency = page.locator(".lu-legend-group[data-layer='efficiency']")
        assert efficiency.evaluate("e => !e.open")
        page.locator(".leaflet-control-layers label", has_text="亩均税收分类").click()
        assert efficiency.evaluate("e => e.open")
        # A group folds and unfolds by its title.
        conflicts = page.locator(".lu-legend-group[data-layer='conflicts']")
        conflicts.locator("summary").click()
        assert not rows.first.is_visible()
        conflicts.locator("summary").click()
        assert rows.first.is_visible()

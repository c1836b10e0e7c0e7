"""Folium web maps for meetings: layered, styled, self-contained, safe and fast.

:func:`build_map` returns a :class:`folium.Map` whose HTML carries Leaflet
(from the ``XStatic-Leaflet`` package on disk), landuse's own controls and the
Chinese font (a subset, as a WOFF data URL) inline: with no basemap it makes no
network request at all, for intranets.  Each layer is one :class:`MapLayer`
declaration in :data:`LAYERS`; styles come from ``layers/styles.toml``.

Made for 100,000 parcels: a layer's features are sent once, as quantized,
delta-encoded integer coordinates, and each popup column once per distinct value
with an integer code per feature; layers that restyle the parcels (亩均税收分类,
控制指标核验) reuse the parcels' features.  The page draws every layer on its own
canvas and builds a popup only when a feature is clicked.

Attribute values reach the page only as JSON data, with ``<``, ``>`` and
``&`` escaped, and are put into popups with ``textContent``, so a parcel named
``<script>alert(1)</script>`` shows as text.

Basemaps: none (offline), OpenStreetMap, 天地图 vector or imagery (a user
token, from the argument or ``TIANDITU_TOKEN``; it is written only into the
map), and AMap/高德, whose tiles are in GCJ-02: data are shifted from
WGS84/CGCS2000 to GCJ-02 for it, or they would sit about 500 m off in Guangxi.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast, get_args

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import xstatic.pkg.leaflet as xleaflet
from branca.element import Element, Figure, MacroElement
from folium.template import Template
from fontTools import subset

from landuse.core.config import layers_dir
from landuse.core.crs import analysis_crs
from landuse.core.errors import ConfigError, LanduseError
from landuse.outputs.fonts import web_font_file

__all__ = [
    "EMBEDDED_FONT",
    "LAYERS",
    "Basemap",
    "MapLayer",
    "build_map",
    "gcj02_to_wgs84",
    "map_styles",
    "parcel_map_status",
    "render_html",
    "wgs84_to_gcj02",
]

Basemap = Literal["none", "osm", "tianditu-vec", "tianditu-img", "amap"]

#: Family name of the Chinese font embedded in the page (landuse_map.css lists it).
EMBEDDED_FONT = "landuse CJK"

# --------------------------------------------------------------------- GCJ-02


_A = 6378245.0  # Krasovsky 1940 semi-major axis, as the published GCJ-02 formula uses
_EE = 0.00669342162296594323


def _outside_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = lon - 105.0, lat - 35.0
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * np.sqrt(np.abs(x))
        + common
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * np.sqrt(np.abs(x))
        + common
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    rad = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = dlat * 180.0 / ((_A * (1 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = dlon * 180.0 / (_A / sqrt_magic * np.cos(rad) * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shift WGS84 (≈ CGCS2000) longitudes/latitudes to GCJ-02 (closed form).

    Outside mainland China GCJ-02 equals WGS84 and points are returned as given.

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02(np.array([116.404]), np.array([39.915]))
    >>> round(float(lon[0]), 8), round(float(lat[0]), 8)
    (116.4102445, 39.91640428)
    """
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    dlon, dlat = _delta(lon, lat)
    outside = _outside_china(lon, lat)
    return np.where(outside, lon, lon + dlon), np.where(outside, lat, lat + dlat)


def gcj02_to_wgs84(
    lon: np.ndarray, lat: np.ndarray, *, tolerance_deg: float = 1e-9, max_iter: int = 30
) -> tuple[np.ndarray, np.ndarray]:
    """Invert :func:`wgs84_to_gcj02` by fixed-point iteration (to about 0.1 mm).

    Examples
    --------
    >>> lon, lat = gcj02_to_wgs84(*wgs84_to_gcj02(np.array([109.2]), np.array([23.7])))
    >>> round(float(lon[0]), 9), round(float(lat[0]), 9)
    (109.2, 23.7)
    """
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    guess_lon, guess_lat = lon.copy(), lat.copy()
    for _ in range(max_iter):
        fwd_lon, fwd_lat = wgs84_to_gcj02(guess_lon, guess_lat)
        err_lon, err_lat = fwd_lon - lon, fwd_lat - lat
        guess_lon, guess_lat = guess_lon - err_lon, guess_lat - err_lat
        if max(np.abs(err_lon).max(initial=0), np.abs(err_lat).max(initial=0)) < tolerance_deg:
            break
    return guess_lon, guess_lat


def _to_gcj02(geoms: np.ndarray) -> np.ndarray:
    def shift(coords: np.ndarray) -> np.ndarray:
        lon, lat = wgs84_to_gcj02(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(geoms, shift)


# --------------------------------------------------------------------- layers


@dataclass(frozen=True)
class MapLayer:
    """One map layer: where its data come from and how it is shown.

    Attributes
    ----------
    key : str
        Key in the ``layers`` mapping given to :func:`build_map` and in styles.toml.
    label : str
        Name in the layer control and legend.
    popup : tuple of (column, label)
        Rows of the popup, in order; absent columns are skipped.
    tooltip : str, optional
        Column shown on hover.
    style_by : str, optional
        Column whose value picks a style sub-table; None for one style.
    show : bool
        Visible when the map opens.
    searchable : tuple of str
        Columns the search box matches (id, name).
    names : str, optional
        Column written on the map at each feature (park names), instead of
        the ``tooltip`` shown on hover.
    view_of : str, optional
        Key of the layer whose features this one restyles (the parcels): matched on
        ``parcel_id`` with the same geometry, its features are not sent again.
    """

    key: str
    label: str
    popup: tuple[tuple[str, str], ...]
    tooltip: str | None = None
    style_by: str | None = None
    show: bool = True
    searchable: tuple[str, ...] = ()
    names: str | None = None
    view_of: str | None = None


#: The map's layers, bottom to top.  A new layer is one more declaration here.
LAYERS: tuple[MapLayer, ...] = (
    MapLayer("district", "行政区界", ()),  # the county outline, for orientation only
    MapLayer(
        "dltb",
        "地类图斑（三调）",
        (
            ("patch_no", "图斑编号"),
            ("land_class_code", "地类编码"),
            ("land_class", "地类名称"),
            ("category", "三大类"),
            ("deduction_ratio", "扣除系数"),
        ),
        "land_class",
        "category",
    ),
    MapLayer("parks", "园区边界", (("park", "园区"), ("parent_park", "上级园区")), names="park"),
    MapLayer("udb", "城镇开发边界", (("zone_id", "编号"),)),
    MapLayer(
        "udb_zones",
        "城镇开发边界规划分区",
        (("zone_code", "规划分区代码"), ("zone_type", "规划分区名称")),
        "zone_type",
        "zone_type",
    ),
    MapLayer("farmland", "永久基本农田", (("patch_id", "图斑编号"), ("land_class", "地类"))),
    MapLayer("eco_redline", "生态保护红线", (("patch_id", "编号"), ("patch_name", "名称"))),
    MapLayer(
        "parcels",
        "工业地块（按状态）",
        (
            ("parcel_id", "地块编号"),
            ("parcel_name", "地块名称"),
            ("park", "园区"),
            ("enterprise_name", "企业"),
            ("area_mu", "面积（亩）"),
            ("map_status", "状态"),
            ("status", "三区三线检查"),
            ("udb_outside_mu", "开发边界外（亩）"),
            ("farmland_mu", "占用永久基本农田（亩）"),
            ("eco_redline_mu", "占用生态保护红线（亩）"),
            ("tax_per_mu_wan", "亩均税收（万元/亩）"),
            ("grade", "亩均效益分类"),
            ("idle_days", "闲置天数"),
            ("consequence", "闲置处置"),
        ),
        "parcel_name",
        "map_status",
        searchable=("parcel_id", "parcel_name"),
    ),
    MapLayer(
        "efficiency",
        "亩均税收分类（A/B/C/D）",
        (
            ("parcel_id", "地块编号"),
            ("main_enterprise", "主要企业"),
            ("tax_per_mu_wan", "亩均税收（万元/亩）"),
            ("grade", "分类"),
            ("area_mu", "面积（亩）"),
        ),
        "main_enterprise",
        "grade",
        show=False,
        view_of="parcels",
    ),
    MapLayer(
        "indicators",
        "工业用地控制指标核验",
        (
            ("parcel_id", "地块编号"),
            ("enterprise_name", "企业"),
            ("industry_code", "行业代码"),
            ("result", "核验结论"),
            ("findings", "核验说明"),
            ("plot_ratio", "容积率"),
            ("plot_ratio_min", "容积率下限"),
            ("building_coverage", "建筑系数"),
            ("investment_intensity_wan_per_ha", "投资强度（万元/公顷）"),
            ("office_share", "行政办公及生活服务设施用地所占比重"),
            ("green_ratio", "绿地率"),
        ),
        "parcel_id",
        "result",
        show=False,
        searchable=("parcel_id",),
        view_of="parcels",
    ),
    MapLayer(
        "buildable",
        "可建设用地",
        (("candidate_id", "编号"), ("park", "园区"), ("area_mu", "面积（亩）")),
        "candidate_id",
        searchable=("candidate_id",),
    ),
    MapLayer(
        "redline",
        "项目红线",
        (
            ("parcel_id", "地块编号"),
            ("parcel_name", "地块名称"),
            ("area_ha", "面积（公顷）"),
            ("area_mu", "面积（亩）"),
            ("status", "三区三线检查"),
        ),
        "parcel_name",
        searchable=("parcel_id", "parcel_name"),
    ),
    MapLayer(
        "conflicts",
        "冲突图斑",
        (
            ("parcel_id", "地块编号"),
            ("constraint_label", "冲突类型"),
            ("constraint_ids", "管控图斑编号"),
            ("area_m2", "面积（平方米）"),
            ("area_mu", "面积（亩）"),
        ),
        "constraint_label",
        "constraint_label",
    ),
)


def parcel_map_status(parcels: pd.DataFrame) -> pd.Series:
    """Status shown on the map: 闲置土地, 疑似闲置, 已供在用 or 未供地块."""
    idle = parcels["idle"] if "idle" in parcels else pd.Series(False, index=parcels.index)
    suspect = (
        parcels["suspect_idle"]
        if "suspect_idle" in parcels
        else pd.Series(False, index=parcels.index)
    )
    supplied = (
        parcels["supply_status"].eq("已供")
        if "supply_status" in parcels
        else pd.Series(True, index=parcels.index)
    )
    return pd.Series(
        np.select(
            [idle.astype(bool), suspect.astype(bool), supplied],
            ["闲置土地", "疑似闲置", "已供在用"],
            "未供地块",
        ),
        index=parcels.index,
    )


def map_styles() -> dict[str, dict]:
    """The layer styles of `layers/styles.toml` (Leaflet path options, by layer key)."""
    with open(layers_dir() / "styles.toml", "rb") as f:
        return tomllib.load(f)


def _format(values: pd.Series, column: str) -> pd.Series:
    """Popup text of a column: units already in the label, numbers rounded."""
    if pd.api.types.is_bool_dtype(values):
        return values.map({True: "是", False: "否"})
    if pd.api.types.is_numeric_dtype(values):
        digits = 0 if column.endswith(("_days", "_years")) else 2
        text = values.map(lambda v: f"{v:,.{digits}f}")
        return text.where(values.notna(), "—")
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.strftime("%Y-%m-%d").fillna("—")
    return values.astype("string").fillna("—").replace("", "—").astype(object)


def _dictionary(values: pd.Series, column: str) -> tuple[np.ndarray, np.ndarray]:
    """A column's popup text as (codes, distinct texts); each distinct value is formatted once."""
    codes, uniques = pd.factorize(values.to_numpy(), use_na_sentinel=True)
    texts = _format(pd.Series(uniques, dtype=values.dtype), column).to_numpy(dtype=object)
    codes = np.where(codes < 0, len(texts), codes)  # missing values show as —
    merged, distinct = pd.factorize(np.append(texts, "—"))  # 1.001 and 1.004 both read 1.00
    return merged[codes], np.asarray(distinct, dtype=object)


def _script_safe(json_text: str) -> str:
    """JSON text made safe inside <script>: <, > and & escaped, so no value closes it."""
    return json_text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _script_json(value: object) -> str:
    """A Python value as script-safe JSON."""
    return _script_safe(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def _base64(data: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(data).tobytes()).decode("ascii")


def _varints(values: np.ndarray) -> str:
    """Non-negative integers as base64 LEB128 varints: 7 bits a byte, the high bit says more.

    Examples
    --------
    >>> base64.b64decode(_varints(np.array([5, 300]))).hex()  # 300 = 0b10_0101100
    '05ac02'
    """
    v = np.asarray(values, dtype=np.uint64)
    length = np.ones(len(v), dtype=np.int64)
    for k in range(1, 10):
        length += v >= np.uint64(1 << (7 * k))
    start = np.cumsum(length) - length
    out = np.empty(int(length.sum()), dtype=np.uint8)
    for k in range(int(length.max(initial=0))):
        sel = length > k
        low = ((v[sel] >> np.uint64(7 * k)) & np.uint64(0x7F)).astype(np.uint8)
        out[start[sel] + k] = low | (length[sel] > k + 1).astype(np.uint8) << 7
    return _base64(out)


def _zigzag(values: np.ndarray) -> np.ndarray:
    """Signed integers folded onto non-negative ones (0, -1, 1, -2 → 0, 1, 2, 3)."""
    v = np.asarray(values, dtype=np.int64)
    return ((v << 1) ^ (v >> 63)).view(np.uint64)


_POLYGON, _MULTI_POLYGON, _COLLECTION = 3, 6, 7  # shapely type ids


def _polygon_rings(geoms: np.ndarray, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rings of polygonal features: (vertices, ring of each vertex, feature of each ring).

    Multipolygons and collections (overlay results) are taken apart; the lines and
    points of a collection have no area to draw and are left out.

    Raises
    ------
    LanduseError
        A feature is a bare line or point: map layers are areas.
    """
    kinds = shapely.get_type_id(geoms)
    bare = ~np.isin(kinds, (-1, _POLYGON, _MULTI_POLYGON, _COLLECTION)) & ~shapely.is_empty(geoms)
    if bare.any():
        i = int(np.flatnonzero(bare)[0])
        kind = geoms[i].geom_type
        raise LanduseError(
            f"地图图层 {key} 第 {i + 1} 个要素是 {kind}，地图只画面状要素 / "
            f"map layer '{key}': feature {i + 1} is a {kind}; map layers are polygons."
        )
    parts, feature = shapely.get_parts(geoms, return_index=True)
    kinds = shapely.get_type_id(parts)
    while np.isin(kinds, (_MULTI_POLYGON, _COLLECTION)).any():  # collections of multipolygons
        parts, inner = shapely.get_parts(parts, return_index=True)
        feature, kinds = feature[inner], shapely.get_type_id(parts)
    polygons = kinds == _POLYGON
    rings, polygon = shapely.get_rings(parts[polygons], return_index=True)
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    return xy, ring, feature[polygons][polygon]


def _encode_polygons(geoms: np.ndarray, precision: int, key: str) -> dict[str, Any]:
    """Polygons (lon/lat) as quantized, delta-encoded varints, decoded by ``LU.source``.

    Coordinates become integers of 10^-precision degrees; each ring drops its
    closing vertex and vertices repeating the one before; the vertices are sent
    as differences from the previous one (zigzag varints), with the number of
    rings of each feature and of vertices of each ring.
    """
    xy, ring, ring_feature = _polygon_rings(geoms, key)
    q = np.rint(xy * 10.0**precision).astype(np.int64)
    closing = np.r_[ring[1:] != ring[:-1], True]
    repeated = np.r_[False, (q[1:] == q[:-1]).all(axis=1) & (ring[1:] == ring[:-1])]
    keep = ~closing & ~repeated
    q, ring = q[keep], ring[keep]
    deltas = np.diff(q, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
    return {
        "n": len(geoms),
        "nr": len(ring_feature),
        "nv": len(q),
        "precision": precision,
        "rings": _varints(np.bincount(ring_feature, minlength=len(geoms))),
        "verts": _varints(np.bincount(ring, minlength=len(ring_feature))),
        "xy": _varints(_zigzag(deltas.ravel())),
    }


def _integers(values: np.ndarray) -> dict[str, Any]:
    """Non-negative integers for the page, in the shorter of two forms (base64).

    Fixed width (little-endian, 1, 2 or 4 bytes: ``width``), read as a typed
    array; or, ``width`` 0, each one's difference from the one before as zigzag
    varints, short for numbers that mostly count up (codes in order of first use).
    """
    v = np.asarray(values, dtype=np.int64)
    top = int(v.max(initial=0))
    width = 1 if top < 1 << 8 else 2 if top < 1 << 16 else 4
    fixed = _base64(v.astype(f"<u{width}"))
    delta = _varints(_zigzag(np.diff(v, prepend=0)))
    if len(fixed) <= len(delta):
        return {"width": width, "b64": fixed}
    return {"width": 0, "b64": delta}


def _encode_columns(columns: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """Popup columns for the page: each distinct text once, a code per feature and column.

    ``strings`` holds every distinct text of the columns (a firm's name is sent
    once for 企业 and 主要企业), run together, with their lengths; each column has its
    dictionary (indices into ``strings``, or ``from`` when they are consecutive) and
    a code per feature into it, or none when every feature has its own value in
    order (ids).
    """
    parts = []
    for key, (codes, texts) in columns.items():
        codes, first = pd.factorize(codes)  # dictionary in order of first use; unused go
        parts.append((key, codes, texts[first]))
    if not parts:
        return {"strings": {"n": 0, "text": "", "lengths": ""}, "columns": {}}
    index, strings = pd.factorize(np.concatenate([texts for _, _, texts in parts]))
    ends = np.cumsum([len(texts) for _, _, texts in parts])
    out = {}
    for (key, codes, _), ref in zip(parts, np.split(index, ends[:-1]), strict=True):
        consecutive = np.array_equal(ref, np.arange(ref[0], ref[0] + len(ref)))
        own = np.array_equal(codes, np.arange(len(codes)))
        out[key] = {
            "n": len(ref),
            "dict": {"from": int(ref[0])} if consecutive else _integers(ref),
            "codes": None if own else _integers(codes),
        }
    # One string and the lengths (UTF-16 units, as JavaScript counts): far quicker for a
    # browser to parse than an array of 300,000 strings.
    distinct = pd.Series(strings, dtype=object)
    lengths = distinct.str.len() + distinct.str.count("[\U00010000-\U0010ffff]")
    text = "".join(distinct)
    return {
        "strings": {"n": len(distinct), "text": text, "lengths": _varints(lengths.to_numpy())},
        "columns": out,
    }


class _Source(MacroElement):
    """The geometry and popup columns of a layer's features, sent once.

    Layers that restyle the same features (views, :attr:`MapLayer.view_of`) share
    one source: its geometry and the columns whose text is the same.  The data sit
    in a ``<script type="application/json">`` block, read with ``JSON.parse``
    (much faster for browsers than a script literal of the same size).
    """

    _template = Template(
        """
{% macro html(this, kwargs) %}
<script type="application/json" id="{{ this.get_name() }}">{{ this.data_js }}</script>
{% endmacro %}
{% macro script(this, kwargs) %}
    var {{ this.get_name() }} = LU.source(
        JSON.parse(document.getElementById("{{ this.get_name() }}").textContent));
{% endmacro %}
"""
    )

    def __init__(self, gdf: gpd.GeoDataFrame, geoms: np.ndarray, precision: int, key: str) -> None:
        super().__init__()
        self._name = "LanduseSource"
        self.gdf, self.geoms = gdf, geoms
        self.geometry = _encode_polygons(geoms, precision, key)
        self.columns: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.data_js = ""

    def column(self, owner: str, gdf: gpd.GeoDataFrame, column: str, rows: np.ndarray) -> str:
        """Key of the column ``column`` of ``gdf`` (whose rows are ``rows`` here), added if new.

        A view's column whose text differs from the source's column of that name
        is added as ``owner.column``.
        """
        codes, texts = _dictionary(gdf[column], column)
        known = self.columns.get(column)
        if known is not None and np.array_equal(known[1][known[0][rows]], texts[codes]):
            return column
        key = column if known is None else f"{owner}.{column}"
        if key not in self.columns:
            full = np.full(len(self.gdf), len(texts))  # rows outside the view: never shown
            full[rows] = codes
            self.columns[key] = (full, np.append(texts, "—"))
        return key

    def finish(self) -> list[str]:
        """Write the page data; return the column texts (for the font subset)."""
        columns = _encode_columns(self.columns)
        self.data_js = _script_json({"geometry": self.geometry, **columns})
        return [columns["strings"]["text"]]


def _view_rows(base: _Source | None, gdf: gpd.GeoDataFrame) -> np.ndarray | None:
    """Rows of ``base`` holding the features of ``gdf``, when it restyles them; else None.

    That is when both layers have unique ``parcel_id`` values, every feature of
    ``gdf`` is in ``base`` with the very same geometry (same CRS).
    """
    if base is None or "parcel_id" not in gdf or "parcel_id" not in base.gdf:
        return None
    index = pd.Index(base.gdf["parcel_id"])
    if gdf.crs != base.gdf.crs or not index.is_unique or not gdf["parcel_id"].is_unique:
        return None
    rows = index.get_indexer(gdf["parcel_id"])
    if (rows < 0).any():
        return None
    same = shapely.equals_exact(base.gdf.geometry.array[rows], gdf.geometry.array, tolerance=0)
    return rows if bool(np.all(same)) else None


class _FeatureLayer(folium.map.Layer):
    """A layer drawn by ``LU.FeatureLayer`` on the map's canvas tiles, from a shared source."""

    _template = Template(
        """
{% macro script(this, kwargs) %}
    var {{ this.get_name() }} = new LU.FeatureLayer(
        {{ this.source.get_name() }}, {{ this.spec_js }});
    LU.register({{ this.key_js }}, {{ this.get_name() }}, {{ this._parent.get_name() }});
{% endmacro %}
"""
    )

    def __init__(self, source: _Source, spec: MapLayer, page: dict[str, Any]) -> None:
        super().__init__(name=html.escape(spec.label), overlay=True, control=True, show=spec.show)
        self._name = "LanduseLayer"
        self.source = source
        self.spec_js = _script_json(page)
        self.key_js = _script_json(spec.key)


def _layer_page(
    spec: MapLayer,
    gdf: gpd.GeoDataFrame,
    source: _Source,
    rows: np.ndarray,
    styles: dict[str, dict],
    precision: int,
) -> dict[str, Any]:
    """What the page needs of one layer besides its source: columns, styles, labels."""
    popup = [(c, label) for c, label in spec.popup if c in gdf.columns]
    keys = list(styles)
    if spec.style_by and spec.style_by in gdf.columns and len(keys) > 1:
        value = gdf[spec.style_by].astype("string").fillna("")
        style = pd.Index(keys).get_indexer(value).astype(np.int64)
        style[style < 0] = len(keys) - 1  # an unknown value takes the last style (其他)
    else:
        style = np.zeros(len(gdf), dtype=np.int64)
    full = np.full(len(source.gdf), 255, dtype=np.uint8)  # 255: not in this layer
    full[rows] = style
    page: dict[str, Any] = {
        "key": spec.key,
        "title": spec.label,
        "labels": [label for _, label in popup],
        "cols": [source.column(spec.key, gdf, c, rows) for c, _ in popup],
        "styles": list(styles.values()),
        "style": None if not full.any() else _base64(full),
        "search": [source.column(spec.key, gdf, c, rows) for c in spec.searchable if c in gdf],
        "tip": None,
        "name": None,
    }
    if spec.names and spec.names in gdf.columns:
        page["name"] = source.column(spec.key, gdf, spec.names, rows)
        at = shapely.get_coordinates(shapely.point_on_surface(source.geoms[rows]))
        page["nameAt"] = np.column_stack([rows, np.round(at[:, ::-1], precision)]).tolist()
    elif spec.tooltip and spec.tooltip in gdf.columns:
        page["tip"] = source.column(spec.key, gdf, spec.tooltip, rows)
    return page


def _font_face(texts: list[str]) -> str:
    """@font-face with the Chinese font cut to the characters of ``texts`` (WOFF, inline).

    Listed after the system Chinese fonts in landuse_map.css: a PC that has one
    uses it, one that has none still shows Chinese, not boxes.
    """
    return _font_css("".join(sorted(set("".join(texts)))))


@functools.lru_cache(maxsize=4)
def _font_css(chars: str) -> str:
    font = web_font_file()
    options = subset.Options()
    options.flavor = "woff"
    options.name_IDs = ["*"]  # keep the copyright and licence (SIL OFL) records
    options.font_number = font.face_index
    # Plain horizontal text needs no OpenType layout; inlined outlines subset faster.
    options.layout_features = []
    options.drop_tables += ["GSUB", "GPOS", "GDEF"]
    options.desubroutinize = True
    face = subset.load_font(str(font.path), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=chars)
    subsetter.subset(face)
    buffer = io.BytesIO()
    subset.save_font(face, buffer, options)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (
        f"<style>@font-face {{ font-family: '{EMBEDDED_FONT}'; "
        f"src: url(data:font/woff;base64,{data}) format('woff'); }}</style>"
    )


class _Raw(Element):
    """HTML put in the page as it is: not a Jinja template (Leaflet's code, the font)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def render(self, **kwargs: Any) -> str:
        return self.text


class _Map(folium.Map):
    """folium.Map without CDN assets: Leaflet and landuse's controls are inlined."""

    default_js: list[tuple[str, str]] = []  # noqa: RUF012 - overrides folium's class list
    default_css: list[tuple[str, str]] = []  # noqa: RUF012


def _leaflet_assets() -> str:
    base = Path(xleaflet.BASE_DIR)
    css = (base / "leaflet.css").read_text(encoding="utf-8")

    def inline(match: re.Match[str]) -> str:
        data = base64.b64encode((base / match.group(1)).read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{data})"

    # Image URLs become data: URIs, so the page fetches nothing.
    css = re.sub(r"url\((images/[\w.-]+\.png)\)", inline, css)
    assets = resources.files("landuse.assets")
    own_css = (assets / "landuse_map.css").read_text(encoding="utf-8")
    own_js = (assets / "landuse_map.js").read_text(encoding="utf-8")
    js = (base / "leaflet.js").read_text(encoding="utf-8")
    # "</" inside inlined code would end the <script> element early.
    js, own_js = js.replace("</", "<\\/"), own_js.replace("</", "<\\/")
    return (
        f"<style>{css}</style>\n<style>{own_css}</style>\n"
        f"<script>{js}</script>\n<script>{own_js}</script>"
    )


_TIANDITU = (
    "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}"
    "&TILEROW={{y}}&TILECOL={{x}}&tk={token}"
)


def _add_basemap(m: folium.Map, basemap: Basemap, token: str | None) -> None:
    if basemap == "osm":
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap").add_to(m)
    elif basemap in ("tianditu-vec", "tianditu-img"):
        token = token or os.environ.get("TIANDITU_TOKEN")
        if not token:
            raise ConfigError(
                "天地图 basemaps need a user token: pass --tianditu-token or set TIANDITU_TOKEN "
                "(free at the 天地图 developer site)."
            )
        base, notes = ("vec", "cva") if basemap == "tianditu-vec" else ("img", "cia")
        for layer, overlay, name in ((base, False, "天地图"), (notes, True, "天地图注记")):
            folium.TileLayer(
                _TIANDITU.format(s="{s}", layer=layer, token=token),
                attr="天地图 © 国家地理信息公共服务平台",
                name=name,
                subdomains="01234567",
                overlay=overlay,
                control=overlay,
                max_zoom=18,
            ).add_to(m)
    elif basemap == "amap":
        folium.TileLayer(
            "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
            "&x={x}&y={y}&z={z}",
            attr="高德地图 (GCJ-02)",
            name="高德地图",
            subdomains="1234",
            max_zoom=18,
        ).add_to(m)


def _display_geometry(gdf: gpd.GeoDataFrame, *, simplify_m: float, basemap: Basemap) -> np.ndarray:
    """A layer's geometry as drawn: simplified in metres, in lon/lat (GCJ-02 for AMap)."""
    geoms = gdf.geometry
    if simplify_m > 0:
        metric = gdf.crs if gdf.crs.is_projected else analysis_crs(gdf)
        geoms = geoms.to_crs(metric).simplify(simplify_m, preserve_topology=True)
    arr = np.asarray(geoms.to_crs(4326).array, dtype=object)
    return _to_gcj02(arr) if basemap == "amap" else arr


def build_map(
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    title: str,
    subtitle: str = "",
    synthetic: bool = False,
    basemap: Basemap = "none",
    tianditu_token: str | None = None,
    simplify_m: float = 0.5,
    precision: int = 6,
) -> folium.Map:
    """Build the meeting map.

    Parameters
    ----------
    layers : mapping of str to GeoDataFrame
        Keys of :data:`LAYERS` (``district``, ``dltb``, ``parks``, ``udb``, ``udb_zones``,
        ``farmland``, ``eco_redline``, ``parcels``, ``efficiency``, ``indicators``,
        ``buildable``, ``redline``, ``conflicts``); missing ones are skipped.  Any CRS;
        the map is the only place that goes to EPSG:4326.
    title, subtitle : str
        Shown at the top right (e.g. the district and the date).
    synthetic : bool
        Show the 示例数据 badge.
    basemap : {"none", "osm", "tianditu-vec", "tianditu-img", "amap"}
        "none" makes a fully offline map.
    tianditu_token : str, optional
        Token for 天地图 (else ``TIANDITU_TOKEN``); written only into the map.
    simplify_m : float
        Display simplification tolerance in metres (topology kept); 0 for none.
    precision : int
        Coordinates are sent as whole multiples of 10^-precision degrees (6 ≈ 0.1 m).

    Returns
    -------
    folium.Map

    Notes
    -----
    The page is built for 100,000 parcels: each layer's geometry and popup values
    are sent once (a view such as 亩均税收分类 restyles the parcels' own features),
    coordinates as quantized integer differences and popup values as a dictionary
    per column with integer codes; the page draws them on canvas tiles and builds a
    popup only when a feature is clicked.
    """
    if basemap not in get_args(Basemap):
        raise ConfigError(
            f"Unknown basemap {basemap!r}; choose from {', '.join(get_args(Basemap))}."
        )
    styles = map_styles()
    m = _Map(
        location=(23.7, 109.2), zoom_start=11, tiles=None, prefer_canvas=True, control_scale=False
    )
    root = cast(Figure, m.get_root())
    assets = _leaflet_assets()
    root.header.add_child(_Raw(assets), name="landuse_assets", index=0)
    root.title = html.escape(title)
    _add_basemap(m, basemap, tianditu_token)
    notes = []
    if simplify_m > 0:
        notes.append(
            f"显示已简化：容差 {simplify_m:g} 米，坐标保留 {precision} 位小数；"
            "面积等数据以 GeoPackage/表格为准"
        )
    if basemap == "amap":
        notes.append("数据已由 WGS84/CGCS2000 转换为 GCJ-02，以对齐高德底图")
    legend, pages = [], []
    sources: dict[str, _Source] = {}
    for spec in LAYERS:
        gdf = layers.get(spec.key)
        if gdf is None or len(gdf) == 0:
            continue
        if gdf.crs is None:
            raise LanduseError(f"Map layer '{spec.key}' has no CRS.")
        base = sources.get(spec.view_of) if spec.view_of else None
        rows = _view_rows(base, gdf)
        if base is None or rows is None:
            geoms = _display_geometry(gdf, simplify_m=simplify_m, basemap=basemap)
            base, rows = _Source(gdf, geoms, precision, spec.key), np.arange(len(gdf))
            base.add_to(m)
        sources[spec.key] = base
        style = styles.get(spec.key, {})
        nested = bool(style) and all(isinstance(v, dict) for v in style.values())
        table = dict(style) if nested else {"": style}
        page = _layer_page(spec, gdf, base, rows, table, precision)
        _FeatureLayer(base, spec, page).add_to(m)
        pages.append(page)
        legend.append(
            {
                "key": spec.key,
                "title": spec.label,
                "items": [[k or spec.label, v] for k, v in table.items()],
            }
        )
    texts = [
        text for source in {id(s): s for s in sources.values()}.values() for text in source.finish()
    ]
    folium.LayerControl(collapsed=False).add_to(m)
    if sources:
        b = np.array([shapely.total_bounds(s.geoms) for s in sources.values()])
        bounds = [[b[:, 1].min(), b[:, 0].min()], [b[:, 3].max(), b[:, 2].max()]]
        # Not folium's fit_bounds: an animated zoom would draw the map twice on opening.
        fit = MacroElement()
        fit._template = Template(
            "{% macro script(this, kwargs) %}"
            f"{m.get_name()}.fitBounds({_script_json(bounds)}, {{animate: false}});"
            "{% endmacro %}"
        )
        fit.add_to(m)
    info = {"title": title, "subtitle": subtitle, "synthetic": synthetic, "notes": notes}
    legend_js, info_js = _script_json(legend), _script_json(info)
    controls = Element(
        "<script>document.addEventListener('DOMContentLoaded', function () {"
        f"var map = {m.get_name()};"
        "new LU.SearchControl().addTo(map); new LU.FullscreenControl().addTo(map);"
        "new LU.MeasureControl().addTo(map); new LU.PrintControl().addTo(map);"
        "L.control.scale({metric: true, imperial: false, maxWidth: 160}).addTo(map);"
        f"new LU.LegendControl({legend_js}).addTo(map);"
        f"new LU.TitleControl({info_js}).addTo(map);"
        "window.LU_READY = true;});</script>"
    )
    root.html.add_child(controls)
    texts += [assets, legend_js, info_js, _script_json(pages)]
    root.header.add_child(_Raw(_font_face(texts)), name="landuse_font")
    return m


_EXTERNAL = re.compile(
    r"""<(?:script|link|img)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE
)


def render_html(m: folium.Map, *, offline: bool) -> str:
    """The map as one HTML document; with ``offline`` it must reference nothing external.

    Raises
    ------
    LanduseError
        An offline map still links to an external script, stylesheet or image.
    """
    text = m.get_root().render()
    if offline and _EXTERNAL.search(text):
        raise LanduseError("The offline map still links to an external asset; this is a bug.")
    return text

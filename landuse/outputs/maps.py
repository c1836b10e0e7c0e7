"""Folium web maps for meetings: layered, styled, self-contained and safe.

:func:`build_map` returns a :class:`folium.Map` whose HTML carries Leaflet
(from the ``XStatic-Leaflet`` package on disk) and landuse's own controls
inline: with no basemap it makes no network request at all, for intranets.
Each layer is one :class:`MapLayer` declaration in :data:`LAYERS`; styles
come from ``layers/styles.toml``.

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
import html
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal, cast, get_args

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import xstatic.pkg.leaflet as xleaflet
from branca.element import Element, Figure
from folium.template import Template

from landuse.core.config import layers_dir
from landuse.core.crs import analysis_crs
from landuse.core.errors import ConfigError, LanduseError

__all__ = [
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
    """

    key: str
    label: str
    popup: tuple[tuple[str, str], ...]
    tooltip: str | None = None
    style_by: str | None = None
    show: bool = True
    searchable: tuple[str, ...] = ()
    names: str | None = None


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


def _script_safe(json_text: str) -> str:
    """JSON text made safe inside <script>: <, > and & escaped, so no value closes it."""
    return json_text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _script_json(value: object) -> str:
    """A Python value as script-safe JSON."""
    return _script_safe(json.dumps(value, ensure_ascii=False))


def _features(
    gdf: gpd.GeoDataFrame, spec: MapLayer, style_keys: list[str], geoms: np.ndarray
) -> str:
    """A GeoJSON FeatureCollection with compact display properties."""
    # Popup values only; the labels are sent once per layer (see _GeoJsonLayer).
    cols = [c for c, _ in spec.popup if c in gdf.columns]
    values = [_format(gdf[c], c).tolist() for c in cols]
    rows = [list(r) for r in zip(*values, strict=True)] if values else [[]] * len(gdf)
    props = pd.DataFrame({"_p": rows}, index=gdf.index)
    if spec.style_by and spec.style_by in gdf.columns:
        value = gdf[spec.style_by].astype("string").fillna("")
        fallback = style_keys[-1] if style_keys else ""
        props["_s"] = value.where(value.isin(style_keys), fallback)
    else:
        props["_s"] = ""
    if spec.tooltip and spec.tooltip in gdf.columns:
        props["_t"] = _format(gdf[spec.tooltip], spec.tooltip)
    if spec.names and spec.names in gdf.columns:
        props["_n"] = _format(gdf[spec.names], spec.names)
    if spec.searchable:
        present = [c for c in spec.searchable if c in gdf.columns]
        props["_q"] = gdf[present].astype("string").fillna("").agg(" ".join, axis=1)
    records = props.to_dict("records")
    geometries = shapely.to_geojson(geoms)
    body = ",".join(
        f'{{"type":"Feature","properties":{json.dumps(r, ensure_ascii=False)},"geometry":{g}}}'
        for r, g in zip(records, geometries, strict=True)
    )
    return _script_safe('{"type":"FeatureCollection","features":[' + body + "]}")


class _GeoJsonLayer(folium.map.Layer):
    """A GeoJSON overlay with landuse's safe popups and per-value styles."""

    _template = Template(
        """
{% macro script(this, kwargs) %}
    var {{ this.get_name() }} = L.geoJson({{ this.data_js }}, {
        style: function (f) {
            var s = {{ this.styles_js }};
            return s[f.properties._s] || s[""];
        },
        onEachFeature: function (f, layer) {
            LU.bind(layer, f, {{ this.title_js }}, {{ this.labels_js }});
        }
    });
    LU.register({{ this.key_js }}, {{ this.get_name() }}, {{ this._parent.get_name() }},
                {{ this.searchable_js }});
    {%- if this.show %}
    {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
    {%- endif %}
{% endmacro %}
"""
    )

    def __init__(
        self, data_js: str, spec: MapLayer, styles: dict[str, dict], labels: list[str]
    ) -> None:
        super().__init__(name=html.escape(spec.label), overlay=True, control=True, show=spec.show)
        self._name = "LanduseGeoJson"
        self.data_js = data_js
        self.styles_js = _script_json(styles)
        self.title_js = _script_json(spec.label)
        self.labels_js = _script_json(labels)
        self.key_js = _script_json(spec.key)
        self.searchable_js = "true" if spec.searchable else "false"


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
        ``buildable``,
        ``redline``, ``conflicts``); missing ones are skipped.  Any CRS; the map
        is the only place that goes to EPSG:4326.
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
        Decimal places kept in coordinates (6 ≈ 0.1 m).

    Returns
    -------
    folium.Map
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
    root.header.add_child(Element(_leaflet_assets()), name="landuse_assets", index=0)
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
    legend = []
    bounds = []
    for spec in LAYERS:
        gdf = layers.get(spec.key)
        if gdf is None or len(gdf) == 0:
            continue
        if gdf.crs is None:
            raise LanduseError(f"Map layer '{spec.key}' has no CRS.")
        geoms = gdf.geometry
        if simplify_m > 0:
            metric = gdf.crs if gdf.crs.is_projected else analysis_crs(gdf)
            geoms = geoms.to_crs(metric).simplify(simplify_m, preserve_topology=True)
        arr = np.asarray(geoms.to_crs(4326).array, dtype=object)
        if basemap == "amap":
            arr = _to_gcj02(arr)
        arr = shapely.transform(arr, lambda c: np.round(c, precision))
        bounds.append(shapely.total_bounds(arr))
        style = styles.get(spec.key, {})
        nested = bool(style) and all(isinstance(v, dict) for v in style.values())
        table = dict(style) if nested else {"": style}
        data_js = _features(gdf, spec, list(table) if nested else [], arr)
        labels = [lbl for col, lbl in spec.popup if col in gdf.columns]
        _GeoJsonLayer(data_js, spec, table, labels).add_to(m)
        legend.append(
            {
                "key": spec.key,
                "title": spec.label,
                "items": [[k or spec.label, v] for k, v in table.items()],
            }
        )
    folium.LayerControl(collapsed=False).add_to(m)
    if bounds:
        b = np.array(bounds)
        m.fit_bounds([[b[:, 1].min(), b[:, 0].min()], [b[:, 3].max(), b[:, 2].max()]])
    info = {"title": title, "subtitle": subtitle, "synthetic": synthetic, "notes": notes}
    controls = Element(
        "<script>document.addEventListener('DOMContentLoaded', function () {"
        f"var map = {m.get_name()};"
        "new LU.SearchControl().addTo(map); new LU.FullscreenControl().addTo(map);"
        "new LU.MeasureControl().addTo(map); new LU.PrintControl().addTo(map);"
        "L.control.scale({metric: true, imperial: false, maxWidth: 160}).addTo(map);"
        f"new LU.LegendControl({_script_json(legend)}).addTo(map);"
        f"new LU.TitleControl({_script_json(info)}).addTo(map);"
        "window.LU_READY = true;});</script>"
    )
    cast(Figure, m.get_root()).html.add_child(controls)
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

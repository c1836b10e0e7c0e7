"""Printable thematic maps (专题图): a PDF and a PNG per map, A3 or A4 landscape.

Each map carries what a printed bureau map must: the title, the map itself at
a round scale (1:50,000, 1:120,000 …) with a metric scale bar and a north
arrow, a legend, a location inset of the county, and a line naming the
coordinate system, the data date and the mapping unit (制图单位); maps of the
synthetic sample carry the 示例数据 mark.  The PDF embeds the Chinese font as
TrueType (``pdf.fonttype = 42``), so its text stays text: it can be searched,
copied and read by a screen reader.

A map is one :class:`ThematicMap` declaration in :data:`THEMATIC_MAPS`; the
layers' colours come from ``layers/styles.toml``, as the web map's do.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import matplotlib
import numpy as np
import pyproj
import shapely
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Polygon, Rectangle

from landuse.core.crs import crs_label
from landuse.core.errors import LanduseError
from landuse.io import write_bytes
from landuse.outputs.fonts import cjk_style, glyphs_required
from landuse.outputs.maps import map_styles

__all__ = [
    "PAPER_MM",
    "THEMATIC_MAPS",
    "MapInfo",
    "ThematicMap",
    "ThemeLayer",
    "draw_layer",
    "nice_scale",
    "north_arrow",
    "plain_metadata",
    "scale_bar",
    "thematic_map",
    "write_thematic_maps",
]

#: Landscape paper sizes (width, height) in millimetres.
PAPER_MM: dict[str, tuple[float, float]] = {"A3": (420.0, 297.0), "A4": (297.0, 210.0)}

_MM = 1 / 25.4  # inches per millimetre

#: (left, bottom, width, height) as fractions of the figure.
Rect = tuple[float, float, float, float]
_PNG_DPI = {"A3": 150, "A4": 200}  # about 2 500 × 1 750 pixels either way


@dataclass(frozen=True)
class ThemeLayer:
    """One layer of a thematic map, drawn in declaration order (bottom first).

    Attributes
    ----------
    key : str
        Key in the layers mapping and in styles.toml.
    label : str
        Legend text of a single-style layer.
    style_by : str, optional
        Column whose value picks a styles.toml sub-table; the legend then has
        one row per value present, worded by ``legend``.
    style : str, optional
        One sub-table of a nested style used for every feature.
    legend : str
        Legend text per value of ``style_by``; ``{value}`` is replaced.
    only : (column, value), optional
        Draw the features with this value only (e.g. real conflicts, not noise).
    names : str, optional
        Column written at each feature (park names).
    """

    key: str
    label: str
    style_by: str | None = None
    style: str | None = None
    legend: str = "{value}"
    only: tuple[str, object] | None = None
    names: str | None = None


@dataclass(frozen=True)
class ThematicMap:
    """A thematic map: its name (title and file name), layers and what it needs.

    Attributes
    ----------
    name : str
        E.g. ``三区三线冲突图``; the title is the project name followed by it.
    layers : tuple of ThemeLayer
        Bottom to top.
    requires : str
        Layer key that must be present and non-empty for the map to be drawn.
    requires_column : str, optional
        Column that layer must have (the idle map needs the idle status).
    focus : str, optional
        Layer whose surroundings the map shows (at least 300 m around it);
        default everything drawn but the county outline.
    """

    name: str
    layers: tuple[ThemeLayer, ...]
    requires: str
    requires_column: str | None = None
    focus: str | None = None


_DISTRICT = ThemeLayer("district", "行政区界")
_PARKS = ThemeLayer("parks", "园区边界", names="park")
_UDB = ThemeLayer("udb", "城镇开发边界")
_PARCELS = ThemeLayer("parcels", "工业地块", style="已供在用")

#: The thematic maps of the meeting pack, each drawn when its layer is there.
THEMATIC_MAPS: tuple[ThematicMap, ...] = (
    ThematicMap(
        "三区三线冲突图",
        (
            _DISTRICT,
            ThemeLayer("farmland", "永久基本农田"),
            ThemeLayer("eco_redline", "生态保护红线"),
            _PARCELS,
            _UDB,
            _PARKS,
            ThemeLayer(
                "conflicts",
                "冲突图斑",
                style_by="constraint_label",
                legend="冲突：{value}",
                only=("kind", "conflict"),
            ),
        ),
        requires="conflicts",
    ),
    ThematicMap(
        "可建设用地分布图",
        (_DISTRICT, _PARCELS, _UDB, _PARKS, ThemeLayer("buildable", "可建设用地")),
        requires="buildable",
    ),
    ThematicMap(
        "闲置土地分布图",
        (
            _DISTRICT,
            ThemeLayer("parcels", "地块", style_by="map_status", legend="地块：{value}"),
            _UDB,
            _PARKS,
        ),
        requires="parcels",
        requires_column="idle",
    ),
    ThematicMap(
        "亩均效益分类图",
        (
            _DISTRICT,
            ThemeLayer("efficiency", "亩均效益", style_by="grade", legend="亩均效益 {value}"),
            _UDB,
            _PARKS,
        ),
        requires="efficiency",
    ),
    ThematicMap(
        "用地预审图",
        (
            _DISTRICT,
            ThemeLayer("dltb", "地类图斑", style_by="category", legend="地类：{value}"),
            ThemeLayer("farmland", "永久基本农田"),
            ThemeLayer("eco_redline", "生态保护红线"),
            _UDB,
            ThemeLayer("redline", "项目红线"),
        ),
        requires="redline",
        focus="redline",
    ),
)


@dataclass(frozen=True)
class MapInfo:
    """What every thematic map states besides its layers.

    Attributes
    ----------
    project : str
        Project name; the title starts with it.
    crs : pyproj.CRS
        The projected CRS the map is drawn in (metres).
    data_date : str or None
        Day the data are as of (2025-12-31).
    mapping_unit : str or None
        制图单位 (``[project] mapping_unit``).
    paper : {"A3", "A4"}
        Landscape paper.
    synthetic : bool
        The data are the synthetic sample: the 示例数据 mark.
    """

    project: str
    crs: pyproj.CRS
    data_date: str | None = None
    mapping_unit: str | None = None
    paper: Literal["A3", "A4"] = "A3"
    synthetic: bool = False

    def footer(self) -> str:
        """The line under the map: coordinate system, data date, mapping unit."""
        return "　　".join(
            [
                f"坐标系：{crs_label(self.crs)}",
                f"数据截至：{self.data_date or '未注明'}",
                f"制图单位：{self.mapping_unit or '未设置'}",
            ]
        )


def plain_metadata(fmt: str) -> dict[str, Any]:
    """Figure metadata without the software version or a creation time (reproducible files)."""
    if fmt == "pdf":
        return {"Creator": "landuse", "Producer": None, "CreationDate": None}
    return {"Software": None}


def nice_scale(denominator: float) -> int:
    """The round map scale at or above ``denominator`` (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10ⁿ).

    Examples
    --------
    >>> nice_scale(103_400), nice_scale(50_000), nice_scale(7_100)
    (120000, 50000, 8000)
    """
    power = 10 ** math.floor(math.log10(denominator))
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * power >= denominator * (1 - 1e-9):
            return round(step * power)
    raise AssertionError("unreachable: 10 × 10ⁿ ≥ any value in [10ⁿ, 10ⁿ⁺¹)")


def _style_of(style: Mapping[str, Any]) -> dict[str, Any]:
    """Matplotlib keywords of a Leaflet path style (styles.toml)."""
    filled = style.get("fill", True) is not False
    edge = style.get("color", "#333333")
    return {
        "facecolor": style.get("fillColor", edge) if filled else "none",
        "edgecolor": edge,
        "linewidth": min(float(style.get("weight", 1)), 3.0) * 0.6,  # Leaflet px → points
        "linestyle": "--" if style.get("dashArray") else "-",
        "alpha": float(style.get("fillOpacity", 1)) if filled else 1.0,
        "hatch": style.get("hatch"),
    }


def draw_layer(ax: Axes, gdf: gpd.GeoDataFrame, style: Mapping[str, Any], label: str) -> Patch:
    """Draw polygons with a styles.toml style; return the legend patch."""
    kw = _style_of(style)
    if len(gdf):
        gdf.plot(ax=ax, **kw)
    return Patch(
        facecolor=kw["facecolor"],
        edgecolor=kw["edgecolor"],
        linestyle=kw["linestyle"],
        hatch=kw["hatch"],
        alpha=None if kw["facecolor"] == "none" else max(float(kw["alpha"]), 0.35),
        label=label,
    )


def north_arrow(fig: Figure, rect: Rect) -> Axes:
    """A north arrow (grid north, up) in ``rect`` = (left, bottom, width, height) of the figure."""
    ax = fig.add_axes(rect)
    ax.set_axis_off()
    ax.set_xlim(-1, 1)
    ax.set_ylim(-1.2, 1.6)
    ax.set_aspect("equal")
    ax.add_patch(Polygon([(0, 1), (-0.55, -1), (0, -0.45)], closed=True, fc="black", ec="black"))
    ax.add_patch(Polygon([(0, 1), (0.55, -1), (0, -0.45)], closed=True, fc="white", ec="black"))
    ax.text(0, 1.15, "北", ha="center", va="bottom", fontsize=11, fontweight="bold")
    return ax


def scale_bar(
    ax: Axes, *, width_m: float, denominator: int | None = None, fontsize: float = 9
) -> float:
    """A metric scale bar at the lower left of ``ax`` (data in metres); returns its length.

    The bar is about a fifth of the map width, rounded to 1, 2 or 5 × 10ⁿ metres,
    in four black and white parts, labelled in 米 or 千米; with a ``denominator``
    the numeric scale (比例尺 1:100,000) stands above it.
    """
    target = width_m / 5
    power = 10 ** math.floor(math.log10(target))
    length = max(s * power for s in (1, 2, 5) if s * power <= target)
    km = length >= 1000
    unit, factor = ("千米", 1000.0) if km else ("米", 1.0)
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    left, base = x0 + 0.03 * (x1 - x0), y0 + 0.05 * (y1 - y0)
    height = 0.012 * (y1 - y0)
    ax.add_patch(
        Rectangle(
            (left - 0.01 * (x1 - x0), base - 0.035 * (y1 - y0)),
            length + 0.05 * (x1 - x0),
            0.1 * (y1 - y0) if denominator else 0.07 * (y1 - y0),
            fc="white",
            ec="#999999",
            lw=0.5,
            alpha=0.85,
            zorder=20,
        )
    )
    for i in range(4):
        ax.add_patch(
            Rectangle(
                (left + i * length / 4, base),
                length / 4,
                height,
                fc="black" if i % 2 == 0 else "white",
                ec="black",
                lw=0.6,
                zorder=21,
            )
        )
    for value in (0, length / 2, length):
        ax.text(
            left + value,
            base - 0.006 * (y1 - y0),
            f"{value / factor:g}",
            ha="center",
            va="top",
            fontsize=fontsize,
            zorder=22,
        )
    ax.text(
        left + length + 0.012 * (x1 - x0),
        base - 0.006 * (y1 - y0),
        unit,
        ha="left",
        va="top",
        fontsize=fontsize,
        zorder=22,
    )
    if denominator:
        ax.text(
            left,
            base + height + 0.01 * (y1 - y0),
            f"比例尺 1:{denominator:,}",
            ha="left",
            va="bottom",
            fontsize=fontsize,
            zorder=22,
        )
    return length


def _layer_frame(
    gdf: gpd.GeoDataFrame, spec: ThemeLayer, crs: pyproj.CRS
) -> gpd.GeoDataFrame | None:
    if gdf is None or len(gdf) == 0:
        return None
    if gdf.crs is None:
        raise LanduseError(f"专题图图层 '{spec.key}' 没有坐标系 / map layer has no CRS.")
    out = gdf.to_crs(crs)
    if spec.only is not None and spec.only[0] in out.columns:
        out = out[out[spec.only[0]] == spec.only[1]]
    return out


def _extent(frames: Mapping[str, gpd.GeoDataFrame], focus: str | None) -> np.ndarray:
    """The area shown: around the focus layer, else everything but the county outline."""
    if focus is not None and focus in frames and len(frames[focus]):
        x0, y0, x1, y1 = frames[focus].total_bounds
        pad = max(300.0, 0.3 * max(x1 - x0, y1 - y0))
        return np.array([x0 - pad, y0 - pad, x1 + pad, y1 + pad])
    shown = [f for key, f in frames.items() if key != "district" and len(f)]
    bounds = np.array([f.total_bounds for f in (shown or list(frames.values()))])
    return np.array(
        [bounds[:, 0].min(), bounds[:, 1].min(), bounds[:, 2].max(), bounds[:, 3].max()]
    )


def thematic_map(
    spec: ThematicMap, layers: Mapping[str, gpd.GeoDataFrame], out_dir: str | Path, *, info: MapInfo
) -> list[Path]:
    """Draw one thematic map and write ``<name>.pdf`` and ``<name>.png`` into ``out_dir``.

    Parameters
    ----------
    spec : ThematicMap
        Which map (one of :data:`THEMATIC_MAPS`).
    layers : mapping of str to GeoDataFrame
        The map layers by key (see :func:`landuse.pipeline.map_layers`).
    out_dir : str or Path
        Folder for the two files.
    info : MapInfo
        Title, CRS, data date, mapping unit, paper and the 示例数据 mark.

    Returns
    -------
    list of Path
        The PDF and the PNG.

    Raises
    ------
    LanduseError
        The CRS is not projected, or a layer has no CRS.
    """
    if not info.crs.is_projected:
        raise LanduseError(
            f"专题图需要投影坐标系（米）/ thematic maps need a projected CRS, not {info.crs.name}."
        )
    title = f"{info.project}{spec.name}"
    with cjk_style(), matplotlib.rc_context({"pdf.fonttype": 42, "hatch.linewidth": 0.5}):
        fig = _layout(spec, layers, info, title)
        files = []
        for fmt in ("pdf", "png"):
            target = Path(out_dir) / f"{spec.name}.{fmt}"
            buffer = io.BytesIO()
            metadata = {"Title": title, **plain_metadata(fmt)}
            with glyphs_required(fig, target):
                fig.savefig(buffer, format=fmt, dpi=_PNG_DPI[info.paper], metadata=metadata)
            files.append(write_bytes(buffer.getvalue(), target))
    return files


def _layout(
    spec: ThematicMap, layers: Mapping[str, gpd.GeoDataFrame], info: MapInfo, title: str
) -> Figure:
    """The page: title, map frame, legend and inset at the right, the footer line."""
    page_w, page_h = PAPER_MM[info.paper]
    k = page_w / 420.0  # A4 is the A3 layout scaled down
    fig = Figure(figsize=(page_w * _MM, page_h * _MM))

    def box(x: float, y: float, w: float, h: float) -> Rect:
        return (x * k / page_w, y * k / page_h, w * k / page_w, h * k / page_h)

    frame_w, frame_h = 300.0 * k, 245.0 * k  # map frame in mm on paper
    ax = fig.add_axes(box(12, 26, 300, 245))
    styles = map_styles()
    frames = {
        s.key: f
        for s in spec.layers
        if (f := _layer_frame(layers.get(s.key), s, info.crs)) is not None
    }
    x0, y0, x1, y1 = _extent(frames, spec.focus)
    pad = 0.04 * max(x1 - x0, y1 - y0)
    x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    denominator = nice_scale(max((x1 - x0) / (frame_w / 1000), (y1 - y0) / (frame_h / 1000)))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half_w, half_h = denominator * frame_w / 2000, denominator * frame_h / 2000
    handles = []
    for layer in spec.layers:
        gdf = frames.get(layer.key)
        if gdf is None:
            continue
        style = styles.get(layer.key, {})
        if layer.style_by:
            for value, sub in style.items():
                part = gdf[gdf[layer.style_by].astype("string") == value]
                if len(part):
                    handles.append(draw_layer(ax, part, sub, layer.legend.format(value=value)))
        else:
            handles.append(
                draw_layer(ax, gdf, style[layer.style] if layer.style else style, layer.label)
            )
        if layer.names and layer.names in gdf.columns:
            points = shapely.point_on_surface(gdf.geometry.to_numpy())
            for point, name in zip(points, gdf[layer.names].astype(str), strict=True):
                ax.text(
                    point.x,
                    point.y,
                    name,
                    ha="center",
                    va="center",
                    fontsize=10 * k,
                    zorder=15,
                    path_effects=[patheffects.withStroke(linewidth=2.5, foreground="white")],
                )
    ax.set_xlim(cx - half_w, cx + half_w)
    ax.set_ylim(cy - half_h, cy + half_h)
    ax.set_aspect("equal", adjustable="datalim")  # limits already match the frame's shape
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")  # geopandas labels the axes with the CRS's axis names
    ax.set_ylabel("")
    for side in ax.spines.values():
        side.set_linewidth(1.2)
    scale_bar(ax, width_m=2 * half_w, denominator=denominator, fontsize=9 * k)
    north_arrow(fig, box(290, 240, 18, 26))
    fig.text(0.5, 1 - 10 * k / page_h, title, ha="center", va="top", fontsize=22 * k, weight="bold")
    legend_ax = fig.add_axes(box(320, 126, 90, 145))
    legend_ax.set_axis_off()
    legend_ax.legend(
        handles=handles,
        loc="upper left",
        title="图　例",
        fontsize=10 * k,
        title_fontsize=12 * k,
        frameon=True,
        edgecolor="#666666",
        borderpad=0.8,
        labelspacing=0.7,
        handlelength=2.4,
        handleheight=1.4,
    )
    if "district" in frames:
        _inset(fig, box(320, 26, 90, 90), frames["district"], (x0, y0, x1, y1), k)
    fig.text(12 * k / page_w, 14 * k / page_h, info.footer(), fontsize=9 * k, va="center")
    if info.synthetic:
        fig.text(
            1 - 10 * k / page_w,
            1 - 10 * k / page_h,
            "示例数据（模拟生成）",
            ha="right",
            va="top",
            fontsize=12 * k,
            color="#c00000",
            bbox={"boxstyle": "square,pad=0.4", "edgecolor": "#c00000", "facecolor": "white"},
        )
        ax.text(
            0.5,
            0.5,
            "示例数据 · 模拟生成",
            transform=ax.transAxes,
            ha="center",
            va="center",
            rotation=30,
            fontsize=60 * k,
            color="#c00000",
            alpha=0.12,
            zorder=30,
        )
    return fig


def _inset(
    fig: Figure,
    rect: Rect,
    district: gpd.GeoDataFrame,
    extent: tuple[float, float, float, float],
    k: float,
) -> None:
    """Location inset (位置示意图): the county, with the main map's extent in red."""
    ax = fig.add_axes(rect)
    district.plot(ax=ax, facecolor="#eeeeee", edgecolor="#333333", linewidth=0.6)
    x0, y0, x1, y1 = extent
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="#c00000", lw=1.2))
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_title("位置示意图", fontsize=10 * k)


def write_thematic_maps(
    layers: Mapping[str, gpd.GeoDataFrame], out_dir: str | Path, *, info: MapInfo
) -> list[Path]:
    """Every map of :data:`THEMATIC_MAPS` whose required layer is there (PDF and PNG each).

    Parameters
    ----------
    layers : mapping of str to GeoDataFrame
        The map layers by key.
    out_dir : str or Path
        Folder for the files (the meeting pack's ``专题图``).
    info : MapInfo
        Title, CRS, data date, mapping unit, paper and the 示例数据 mark.

    Returns
    -------
    list of Path
    """
    files = []
    for spec in THEMATIC_MAPS:
        needed = layers.get(spec.requires)
        if needed is None or len(needed) == 0:
            continue
        if spec.requires_column and spec.requires_column not in needed.columns:
            continue
        files += thematic_map(spec, layers, out_dir, info=info)
    return files

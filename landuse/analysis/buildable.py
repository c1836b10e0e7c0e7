"""Buildable land (可建设/可供地块) inside industrial parks.

Candidate land = park ∩ urban development boundary (only its 城镇集中建设区 when
the layer carries planning zones, see :func:`buildable_udb`) − permanent basic farmland
− ecological red line − supplied/occupied parcels − road corridors (half the
road width plus a setback) − buffers around further layers (rivers, power
lines) − land steeper than a slope limit (from a DEM).  What is left is cut
into connected pieces; strips narrower than a minimum width are removed by a
morphological opening (shrink by half the width, grow back, square corners
kept) and pieces under a minimum area are dropped.  Pieces are numbered
KJ-0001… by area, largest first, and carry the sub-park they lie in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple, TypedDict

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import rasterio.features
import shapely

from landuse.core.chunks import map_chunks, thread_count
from landuse.core.crs import check_same_crs
from landuse.core.errors import CRSError, SchemaError
from landuse.core.options import BuildableOptions
from landuse.core.overlay import explode, intersect_by_group, polygonal, query_pairs, union_by_group
from landuse.core.units import m2_to_ha, m2_to_mu, mu_to_m2

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.12

__all__ = [
    "BuildableOptions",
    "ObstacleLayers",
    "Obstacles",
    "buildable_summary",
    "buildable_udb",
    "find_buildable",
    "occupied",
    "prepare",
    "ranked_candidates",
    "steep_land",
]


def _geoms(gdf: gpd.GeoDataFrame | None) -> np.ndarray:
    if gdf is None:
        return np.array([], dtype=object)
    return np.asarray(gdf.geometry.array, dtype=object)


def _road_corridors(roads: gpd.GeoDataFrame, opts: BuildableOptions) -> np.ndarray:
    width = (
        pd.to_numeric(roads["width_m"], errors="coerce").fillna(opts.default_road_width_m)
        if "width_m" in roads.columns
        else pd.Series(opts.default_road_width_m, index=roads.index)
    )
    return shapely.buffer(_geoms(roads), width.to_numpy() / 2 + opts.road_setback_m)


def _occupied_parcels(parcels: gpd.GeoDataFrame, opts: BuildableOptions) -> gpd.GeoDataFrame:
    """The parcels that take their land (every one without ``supply_status``)."""
    if "supply_status" not in parcels.columns:
        return parcels
    return parcels[parcels["supply_status"].isin(opts.occupied_status)]


def occupied(parcels: gpd.GeoDataFrame | None, opts: BuildableOptions) -> np.ndarray:
    """The geometries of the parcels that take their land (none without parcels)."""
    return _geoms(None if parcels is None else _occupied_parcels(parcels, opts))


def steep_land(
    dem: np.ndarray,
    transform: rasterio.Affine,
    crs: pyproj.CRS,
    max_slope_deg: float,
    *,
    nodata: float | None = None,
) -> gpd.GeoDataFrame:
    """Polygons of DEM cells steeper than a limit.

    Parameters
    ----------
    dem : ndarray
        Elevations in metres (2-D).
    transform : Affine
        The raster's geotransform.
    crs : pyproj.CRS
        The raster's CRS; for geographic DEMs the cell size is converted to
        metres at the raster's mid latitude.
    max_slope_deg : float
        Cells with a slope above this are returned.
    nodata : float, optional
        Cells with this value are ignored.

    Returns
    -------
    GeoDataFrame
        One row per connected steep region, in ``crs``.
    """
    z = dem.astype("float64")
    valid = np.isfinite(z) if nodata is None else np.isfinite(z) & (z != nodata)
    dx, dy = abs(transform.a), abs(transform.e)
    if crs.is_geographic:
        lat = np.deg2rad(transform.f + transform.e * dem.shape[0] / 2)
        dx, dy = dx * 111_320.0 * np.cos(lat), dy * 110_574.0
    dz_dy, dz_dx = np.gradient(np.where(valid, z, np.nan), dy, dx)
    slope = np.degrees(np.arctan(np.hypot(dz_dx, dz_dy)))
    steep = valid & (np.nan_to_num(slope, nan=0.0) > max_slope_deg)
    shapes = rasterio.features.shapes(
        steep.astype("uint8"), mask=steep, transform=transform, connectivity=8
    )
    geoms = [shapely.geometry.shape(g) for g, _ in shapes]
    return gpd.GeoDataFrame(geometry=geoms, crs=crs)


def buildable_udb(udb: gpd.GeoDataFrame, options: BuildableOptions) -> gpd.GeoDataFrame:
    """The features of the UDB that buildable land may lie in.

    When the layer carries planning zones (``zone_type`` GHFQMC or ``zone_code``
    GHFQDM filled in), only the features whose zone name or code is among
    ``options.udb_zones`` (default 城镇集中建设区) count; 弹性发展区 and
    特别用途区 are not available for supply.  Without zones every feature counts.
    """
    fields = [
        udb[c].astype("string").str.strip().fillna("")
        for c in ("zone_type", "zone_code")
        if c in udb.columns
    ]
    if not any((f != "").any() for f in fields):
        return udb
    keep = np.logical_or.reduce([f.isin(options.udb_zones).to_numpy() for f in fields])
    return udb[keep]


def find_buildable(
    parks: gpd.GeoDataFrame,
    udb: gpd.GeoDataFrame,
    *,
    farmland: gpd.GeoDataFrame | None = None,
    eco_redline: gpd.GeoDataFrame | None = None,
    parcels: gpd.GeoDataFrame | None = None,
    roads: gpd.GeoDataFrame | None = None,
    buffers: Mapping[str, tuple[gpd.GeoDataFrame, float]] | None = None,
    steep: gpd.GeoDataFrame | None = None,
    options: BuildableOptions | None = None,
    threads: int | None = None,
) -> gpd.GeoDataFrame:
    """Find land in the parks that can still be supplied and built on.

    Parameters
    ----------
    parks : GeoDataFrame
        Park (sub-park) boundaries with a ``park`` name column.
    udb : GeoDataFrame
        Urban development boundary; with planning zones, only those in
        ``options.udb_zones`` (see :func:`buildable_udb`).
    farmland, eco_redline : GeoDataFrame, optional
        Excluded entirely.
    parcels : GeoDataFrame, optional
        Parcels; those supplied/occupied (see ``options.occupied_status``) are excluded.
    roads : GeoDataFrame, optional
        Road centrelines (``width_m`` if known) or road polygons; excluded with
        half their width plus the setback.
    buffers : mapping, optional
        Further layers to keep clear of: name → (layer, distance in metres).
    steep : GeoDataFrame, optional
        Steep land, e.g. from :func:`steep_land`, reprojected to the parks' CRS.
    options : BuildableOptions, optional
        Thresholds; see :class:`BuildableOptions`.
    threads : int, optional
        Threads running spatial chunks of the parks at once (default: every
        core); the result is the same for any number.

    Returns
    -------
    GeoDataFrame
        ``candidate_id`` (KJ-0001 …), ``rank``, ``park``, ``area_m2``, ``area_mu``,
        ``area_ha``, ordered by area, largest first.
    """
    opts, udb, crs, obstacles = prepare(
        parks,
        udb,
        farmland=farmland,
        eco_redline=eco_redline,
        parcels=parcels,
        roads=roads,
        buffers=buffers,
        steep=steep,
        options=options,
    )
    blockers = obstacles.around(occupied(parcels, opts))
    parts, names, part_m2 = _pieces_on_threads(
        _geoms(parks), parks["park"].to_numpy(), _geoms(udb), blockers, opts, thread_count(threads)
    )
    return ranked_candidates(parts, names, part_m2, crs)


def _pieces_on_threads(
    park_geoms: np.ndarray,
    park_names: np.ndarray,
    udb_geoms: np.ndarray,
    blockers: np.ndarray,
    opts: BuildableOptions,
    threads: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_pieces` on spatial chunks of the parks, ``threads`` at a time."""

    def run(
        rows: np.ndarray, near: list[np.ndarray], _picks: list[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return _pieces(park_geoms[rows], park_names[rows], near[0], near[1], opts)

    done = [
        result for _, result in map_chunks(run, park_geoms, [udb_geoms, blockers], threads=threads)
    ]
    parts, names, part_m2 = (np.concatenate([result[k] for result in done]) for k in range(3))
    return parts, names, part_m2


class ObstacleLayers(TypedDict, total=False):
    """The layers that take land out of the candidates, as :func:`find_buildable` takes them."""

    farmland: gpd.GeoDataFrame | None
    eco_redline: gpd.GeoDataFrame | None
    roads: gpd.GeoDataFrame | None
    buffers: Mapping[str, tuple[gpd.GeoDataFrame, float]] | None
    steep: gpd.GeoDataFrame | None


def _check_inputs(
    parks: gpd.GeoDataFrame,
    udb: gpd.GeoDataFrame,
    parcels: gpd.GeoDataFrame | None,
    layers: ObstacleLayers,
) -> pyproj.CRS:
    """Check the layers of the buildable finder once; return their shared projected CRS."""
    named = {
        "parks": parks,
        "udb": udb,
        "farmland": layers.get("farmland"),
        "eco_redline": layers.get("eco_redline"),
        "parcels": parcels,
        "roads": layers.get("roads"),
        "steep": layers.get("steep"),
    }
    named.update({name: layer for name, (layer, _) in (layers.get("buffers") or {}).items()})
    crs = check_same_crs({name: layer for name, layer in named.items() if layer is not None})
    if not crs.is_projected:
        raise CRSError(f"Buildable land needs a projected CRS, got {crs.name}.")
    if "park" not in parks.columns:
        raise SchemaError("Layer 'parks' needs a 'park' name field (YQMC / 园区名称).")
    return crs


class Obstacles(NamedTuple):
    """Every obstacle but the occupied parcels, which the union takes between the two."""

    before: np.ndarray  # farmland, eco red line, steep land
    after: np.ndarray  # road corridors, then each buffered layer

    def around(self, occupied: np.ndarray) -> np.ndarray:
        """Every obstacle, in the order they are unioned."""
        return np.concatenate([self.before, occupied, self.after])


def prepare(
    parks: gpd.GeoDataFrame,
    udb: gpd.GeoDataFrame,
    *,
    options: BuildableOptions | None,
    parcels: gpd.GeoDataFrame | None = None,
    **layers: Unpack[ObstacleLayers],
) -> tuple[BuildableOptions, gpd.GeoDataFrame, pyproj.CRS, Obstacles]:
    """Check the inputs once and gather the obstacles but the occupied parcels.

    Returns the options (defaults when None), the UDB features buildable land
    may lie in (:func:`buildable_udb`), the shared CRS and the obstacles; the
    occupied parcels (:func:`occupied`) go in with :meth:`Obstacles.around`.
    ``parcels``, when given, are only checked (e.g. for their CRS): dask
    workers read them a part at a time.
    """
    options = options or BuildableOptions()
    udb = buildable_udb(udb, options)
    crs = _check_inputs(parks, udb, parcels, layers)
    before = np.concatenate([_geoms(layers.get(n)) for n in ("farmland", "eco_redline", "steep")])
    roads, buffers = layers.get("roads"), layers.get("buffers") or {}
    after = [_geoms(None)] if roads is None else [_road_corridors(roads, options)]
    after += [shapely.buffer(_geoms(layer), d) for layer, d in buffers.values()]
    return options, udb, crs, Obstacles(_present(before), _present(np.concatenate(after)))


def _present(geoms: np.ndarray) -> np.ndarray:
    return geoms[~shapely.is_empty(geoms) & ~shapely.is_missing(geoms)]


def _pieces(
    park_geoms: np.ndarray,
    park_names: np.ndarray,
    udb_geoms: np.ndarray,
    blockers: np.ndarray,
    opts: BuildableOptions,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate pieces of some parks: geometries, park names and areas (m²)."""
    hit, area = intersect_by_group(park_geoms, udb_geoms)[:2]
    if len(blockers) and len(area):
        a_idx, b_idx = query_pairs(blockers, area)
        if len(a_idx):
            groups, blocked = union_by_group(blockers[b_idx], a_idx)
            area = area.copy()
            area[groups] = polygonal(shapely.difference(area[groups], blocked))
    # Opening: strips narrower than min_width vanish; rectangles keep their corners.
    half = opts.min_width_m / 2
    if half > 0:
        shrunk = shapely.buffer(area, -half, join_style="mitre")
        opened = shapely.buffer(shrunk, half, join_style="mitre")
        # Mitre buffers of jagged outlines can self-intersect; repair only those.
        bad = ~shapely.is_valid(opened)
        opened[bad] = shapely.make_valid(opened[bad], method="structure", keep_collapsed=False)
        area = polygonal(shapely.intersection(opened, area))
    parts, owner = explode(area)
    part_m2 = shapely.area(parts)
    keep = part_m2 >= mu_to_m2(opts.min_area_mu)
    return parts[keep], park_names[hit[owner[keep]]], part_m2[keep]


def ranked_candidates(
    parts: np.ndarray, park_names: np.ndarray, area_m2: np.ndarray, crs: pyproj.CRS
) -> gpd.GeoDataFrame:
    """Number candidate pieces KJ-0001… by area, largest first (ties by position)."""
    centroid = shapely.get_coordinates(shapely.centroid(parts)) if len(parts) else np.zeros((0, 2))
    order = np.lexsort((centroid[:, 1], centroid[:, 0], -area_m2))
    parts, park_names, area_m2 = parts[order], park_names[order], area_m2[order]
    rank = np.arange(1, len(parts) + 1)
    return gpd.GeoDataFrame(
        {
            "candidate_id": [f"KJ-{k:04d}" for k in rank],
            "rank": rank,
            "park": park_names,
            "area_m2": area_m2,
            "area_mu": m2_to_mu(area_m2),
            "area_ha": m2_to_ha(area_m2),
        },
        geometry=parts,
        crs=crs,
    )


def buildable_summary(candidates: gpd.GeoDataFrame) -> pd.DataFrame:
    """Candidates per park: count, total and largest area (亩), plus a 合计 row."""
    grouped = candidates.groupby("park", sort=True)["area_mu"]
    table = pd.DataFrame(
        {"candidates": grouped.size(), "area_mu": grouped.sum(), "largest_mu": grouped.max()}
    ).reset_index()
    total = pd.DataFrame(
        {
            "park": ["合计"],
            "candidates": [len(candidates)],
            "area_mu": [candidates["area_mu"].sum()],
            "largest_mu": [candidates["area_mu"].max() if len(candidates) else 0.0],
        }
    )
    return pd.concat([table, total], ignore_index=True)

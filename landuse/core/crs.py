"""Coordinate reference systems: CGCS2000 Gauss-Kruger zones, inference, checks.

Areas are never computed in degrees.  Each analysis works in one *analysis CRS*:
the CGCS2000 3-degree Gauss-Kruger zone whose central meridian is nearest the
data (EPSG:4534–4554, no zone prefix), or the layer's own CRS when that is the
same projection (a prefixed zone with the same central meridian gives identical
areas, only the false easting differs).

EPSG codes (see DOMAIN.md): 3-degree zone n (CM 3n°E) is EPSG:4488+n with the
zone prefix in X and EPSG:4509+n without; 6-degree zone n is EPSG:4478+n with
the prefix and EPSG:4489+n without.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from pyproj.crs import ProjectedCRS
from pyproj.crs.coordinate_operation import LambertCylindricalEqualAreaConversion

from landuse.core.errors import CRSError, CRSMismatchError
from landuse.core.units import m2_to_ha, m2_to_mu

__all__ = [
    "CGCS2000",
    "analysis_crs",
    "apply_datum_transform",
    "area_ellipsoid_m2",
    "area_m2",
    "centre_lon",
    "cgcs2000_equivalent",
    "check_same_crs",
    "crs_label",
    "gk3_epsg",
    "gk3_zone_for_lon",
    "gk6_epsg",
    "infer_crs_from_bounds",
    "local_datum",
    "to_analysis_crs",
    "with_areas",
]

CGCS2000 = 4490

_GK3_ZONES = range(25, 46)  # CM 75°E … 135°E
_GK6_ZONES = range(13, 24)  # CM 75°E … 135°E


def gk3_epsg(zone: int, *, prefixed: bool) -> int:
    """EPSG code of a CGCS2000 3-degree Gauss-Kruger zone.

    Parameters
    ----------
    zone : int
        Zone number, 25–45; the central meridian is ``3 * zone`` °E.
    prefixed : bool
        True for the CRS whose eastings carry the zone number
        (X = zone·10⁶ + 500 000 + offset).

    Examples
    --------
    >>> gk3_epsg(36, prefixed=True), gk3_epsg(36, prefixed=False)
    (4524, 4545)
    """
    if zone not in _GK3_ZONES:
        raise CRSError(
            f"3-degree Gauss-Kruger zone {zone} is outside China (zones 25–45, CM 75°E–135°E)."
        )
    return 4488 + zone if prefixed else 4509 + zone


def gk6_epsg(zone: int, *, prefixed: bool) -> int:
    """EPSG code of a CGCS2000 6-degree Gauss-Kruger zone (zones 13–23).

    Examples
    --------
    >>> gk6_epsg(18, prefixed=True), gk6_epsg(18, prefixed=False)
    (4496, 4507)
    """
    if zone not in _GK6_ZONES:
        raise CRSError(
            f"6-degree Gauss-Kruger zone {zone} is outside China (zones 13–23, CM 75°E–135°E)."
        )
    return 4478 + zone if prefixed else 4489 + zone


def gk3_zone_for_lon(lon: float) -> int:
    """3-degree zone whose central meridian is nearest to a longitude.

    Examples
    --------
    >>> gk3_zone_for_lon(109.2)  # 兴宾区: CM 108°E
    36
    >>> gk3_zone_for_lon(109.6)  # past 109.5°E: CM 111°E
    37
    """
    return math.floor(lon / 3.0 + 0.5)


#: Datums that differ from CGCS2000 by metres to tens of metres in China.
_LOCAL_DATUMS = {"Xian 1980": "西安80", "Beijing 1954": "北京54", "New Beijing": "新北京54"}


def local_datum(crs: pyproj.CRS) -> str | None:
    """``"西安80 (Xian 1980)"`` or ``"北京54 (Beijing 1954)"`` when ``crs`` is on such a datum.

    Examples
    --------
    >>> local_datum(pyproj.CRS.from_epsg(2362))
    '西安80 (Xian 1980)'
    >>> local_datum(pyproj.CRS.from_epsg(4524)) is None
    True
    """
    name = crs.datum.name if crs.datum is not None else ""
    for key, zh in _LOCAL_DATUMS.items():
        if key.lower() in name.lower():
            return f"{zh} ({key})"
    return None


def cgcs2000_equivalent(crs: pyproj.CRS) -> pyproj.CRS | None:
    """The CGCS2000 CRS with the same projection (zone, prefix) as a local-datum CRS.

    Used to suggest ``--crs`` when a ``.prj`` names Xian 1980 or Beijing 1954
    but the coordinates are in fact CGCS2000.

    Examples
    --------
    >>> cgcs2000_equivalent(pyproj.CRS.from_epsg(2362)).to_epsg()  # Xian 80 zone 38
    4526
    """
    if crs.is_geographic:
        return pyproj.CRS.from_epsg(CGCS2000)
    params = _tm_params(crs)
    if params is None:
        return None
    cm = params.get("Longitude of natural origin", 0.0)
    prefix = int(params.get("False easting", 500_000.0) // 1e6)
    # The zone prefix tells 3- from 6-degree zones; without it the unprefixed 3-degree
    # CRS on the same meridian is the same projection.
    try:
        if prefix in _GK6_ZONES:
            code = gk6_epsg(prefix, prefixed=True)
        elif prefix:
            code = gk3_epsg(prefix, prefixed=True)
        else:
            code = gk3_epsg(round(cm / 3), prefixed=False)
    except CRSError:
        return None
    return pyproj.CRS.from_epsg(code)


def apply_datum_transform(gdf: gpd.GeoDataFrame, pipeline: str) -> gpd.GeoDataFrame:
    """Bring a layer on a local datum to CGCS2000 (EPSG:4490) with the user's parameters.

    The layer is first taken to longitude/latitude on its own datum (the
    inverse projection: exact, no datum change); then ``pipeline`` moves those
    longitudes/latitudes (degrees) to CGCS2000.  Only the user's parameters —
    the local 7-parameter Helmert or grid published by the surveying
    authority — change the datum; landuse never guesses one.

    Parameters
    ----------
    gdf : GeoDataFrame
        A layer on Xian 1980 or Beijing 1954 (geographic or projected).
    pipeline : str
        A PROJ pipeline from degrees on the layer's datum to degrees on
        CGCS2000, e.g. ``+proj=pipeline +step +proj=unitconvert +xy_in=deg
        +xy_out=rad +step +proj=cart +ellps=IAU76 +step +proj=helmert +x=...
        +convention=position_vector +step +inv +proj=cart +ellps=GRS80 +step
        +proj=unitconvert +xy_in=rad +xy_out=deg``.

    Returns
    -------
    GeoDataFrame
        In EPSG:4490.

    Raises
    ------
    CRSError
        The pipeline is not valid PROJ, or gives non-finite coordinates.
    """
    try:
        transformer = pyproj.Transformer.from_pipeline(pipeline)
    except pyproj.exceptions.ProjError as exc:
        raise CRSError(
            f"[project] datum_transform is not a valid PROJ pipeline ({exc}); see the README, "
            "坐标基准 Datums."
        ) from exc
    geographic = gdf.to_crs(gdf.crs.geodetic_crs)
    moved = shapely.transform(
        np.asarray(geographic.geometry.array, dtype=object),
        lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])),
    )
    bounds = shapely.total_bounds(moved)
    if not np.isfinite(bounds).all() or not (-180 <= bounds[0] <= bounds[2] <= 180):
        raise CRSError(
            "[project] datum_transform gives coordinates outside longitude/latitude; it must "
            "take degrees on the layer's datum to degrees on CGCS2000."
        )
    out = gdf.copy()
    out[gdf.geometry.name] = gpd.GeoSeries(moved, index=gdf.index, crs=CGCS2000)
    return out.set_crs(CGCS2000, allow_override=True)


def infer_crs_from_bounds(bounds: tuple[float, float, float, float]) -> pyproj.CRS | None:
    """Infer a CGCS2000 GK CRS from coordinates that carry a zone prefix.

    Bureau layers are often delivered without a ``.prj``.  When every easting
    has 8 digits before the decimal point and the leading two are a plausible
    zone number (25–45: 3-degree, 13–23: 6-degree), the zone is proven by the
    numbers themselves.  Anything else returns None: it cannot be told apart.

    Parameters
    ----------
    bounds : tuple of float
        ``(minx, miny, maxx, maxy)`` of the layer.

    Returns
    -------
    pyproj.CRS or None

    Examples
    --------
    >>> infer_crs_from_bounds((36512345.6, 2610000.0, 36530000.0, 2620000.0)).to_epsg()
    4524
    >>> infer_crs_from_bounds((109.1, 23.6, 109.3, 23.8)) is None
    True
    """
    minx, miny, maxx, maxy = bounds
    if not all(math.isfinite(v) for v in bounds):
        return None
    zone = math.floor(minx / 1e6)
    if zone != math.floor(maxx / 1e6) or not 0 <= miny <= maxy <= 6_000_000:
        return None
    # The part after the prefix is a false-easting-centred offset; China never
    # reaches 400 km from a central meridian inside one zone.
    offsets = (minx - zone * 1e6 - 500_000.0, maxx - zone * 1e6 - 500_000.0)
    if max(abs(o) for o in offsets) > 400_000.0:
        return None
    if zone in _GK3_ZONES:
        return pyproj.CRS.from_epsg(gk3_epsg(zone, prefixed=True))
    if zone in _GK6_ZONES:
        return pyproj.CRS.from_epsg(gk6_epsg(zone, prefixed=True))
    return None


def _tm_params(crs: pyproj.CRS) -> dict[str, float] | None:
    """Parameters of a Transverse Mercator CRS with scale 1 (Gauss-Kruger), else None."""
    op = crs.coordinate_operation
    if op is None or "Transverse Mercator" not in op.method_name:
        return None
    params = {p.name: float(p.value) for p in op.params}
    if not math.isclose(params.get("Scale factor at natural origin", 0.0), 1.0):
        return None
    return params


def _central_meridian(crs: pyproj.CRS) -> float | None:
    """Central meridian of a Gauss-Kruger CRS, else None."""
    params = _tm_params(crs)
    return None if params is None else params.get("Longitude of natural origin")


def centre_lon(gdf: gpd.GeoDataFrame) -> float:
    """Longitude (°E) of the centre of a layer's bounds, whatever its CRS."""
    minx, miny, maxx, maxy = gdf.total_bounds
    if not np.isfinite([minx, miny, maxx, maxy]).all():
        raise CRSError("Cannot choose a Gauss-Kruger zone for a layer with no geometry.")
    if gdf.crs.is_geographic:
        return (minx + maxx) / 2.0
    to_geo = pyproj.Transformer.from_crs(gdf.crs, CGCS2000, always_xy=True)
    west, _, east, _ = to_geo.transform_bounds(minx, miny, maxx, maxy)
    return (west + east) / 2.0


def analysis_crs(gdf: gpd.GeoDataFrame) -> pyproj.CRS:
    """The projected CRS in which areas of ``gdf`` are computed.

    Parameters
    ----------
    gdf : GeoDataFrame
        A layer with a CRS.

    Returns
    -------
    pyproj.CRS
        The layer's own CRS when it is a Gauss-Kruger projection on the central
        meridian nearest the data, else the unprefixed CGCS2000 3-degree zone
        for the data's centre longitude.
    """
    if gdf.crs is None:
        raise CRSError("Layer has no CRS; set one with read_layer(..., crs=...) or --crs.")
    zone = gk3_zone_for_lon(centre_lon(gdf))
    cm = _central_meridian(gdf.crs)
    if cm is not None and math.isclose(cm, 3.0 * zone):
        return gdf.crs
    return pyproj.CRS.from_epsg(gk3_epsg(zone, prefixed=False))


def check_same_crs(layers: Mapping[str, gpd.GeoDataFrame]) -> pyproj.CRS:
    """Check that named layers share one CRS and return it.

    Legal and tax figures must never come from silently mixed coordinates, so
    a mismatch raises instead of reprojecting.

    Raises
    ------
    CRSError
        If a layer has no CRS.
    CRSMismatchError
        If the layers' CRSs differ; the message lists them and the fix.
    """
    crss: dict[str, pyproj.CRS] = {}
    for name, gdf in layers.items():
        if gdf.crs is None:
            raise CRSError(f"Layer '{name}' has no CRS; give it one with --crs or gdf.set_crs().")
        crss[name] = gdf.crs
    distinct = {c.to_string() for c in crss.values()}
    if len(distinct) > 1:
        listing = "; ".join(f"{n}: {c.to_string()}" for n, c in crss.items())
        first = next(iter(crss))
        raise CRSMismatchError(
            f"Layers are in different CRSs ({listing}). Reproject them to one CRS first, "
            f"e.g. layer.to_crs({crss[first].to_string()!r})."
        )
    return next(iter(crss.values()))


def to_analysis_crs(gdf: gpd.GeoDataFrame, crs: pyproj.CRS) -> gpd.GeoDataFrame:
    """Return ``gdf`` in ``crs`` (the same object when it already is)."""
    if gdf.crs is None:
        raise CRSError("Layer has no CRS; set one with read_layer(..., crs=...) or --crs.")
    return gdf if gdf.crs == crs else gdf.to_crs(crs)


def area_m2(gdf: gpd.GeoDataFrame | gpd.GeoSeries, crs: pyproj.CRS | None = None) -> pd.Series:
    """Planar area in square metres, computed in the analysis CRS.

    Parameters
    ----------
    gdf : GeoDataFrame or GeoSeries
        Features with a CRS.
    crs : pyproj.CRS, optional
        The projected CRS to measure in; by default :func:`analysis_crs`.

    Returns
    -------
    Series
        Named ``area_m2``, aligned to the input index.
    """
    frame = gdf if isinstance(gdf, gpd.GeoDataFrame) else gpd.GeoDataFrame(geometry=gdf)
    target = crs if crs is not None else analysis_crs(frame)
    if not target.is_projected:
        raise CRSError(f"Areas need a projected CRS, got {target.to_string()}.")
    return to_analysis_crs(frame, target).geometry.area.rename("area_m2")


def area_ellipsoid_m2(
    geoms: np.ndarray | gpd.GeoSeries, crs: pyproj.CRS | str, *, max_segment_m: float = 10.0
) -> np.ndarray:
    """Ellipsoidal area (椭球面积) in square metres, as the 三调 reports areas.

    The figure is the one drawn in ``crs``: its edges are straight in that
    projection (for longitude/latitude, straight in degrees, as the
    第三次全国国土调查 ellipsoidal-area formula takes them).  Edges are split
    into pieces of at most ``max_segment_m``, mapped by the ellipsoidal Lambert
    cylindrical equal-area projection on the CRS's own ellipsoid (CGCS2000:
    a = 6 378 137 m, f = 1/298.257222101, as GRS 80) and measured there: an
    equal-area map keeps every area of the ellipsoid, so the only error is the
    chord of each short piece (relative error about 1e-12 with 10 m pieces on
    parcels of 10 km², where a Gauss-Kruger plane area differs by 1e-5 to 1e-3).

    Parameters
    ----------
    geoms : array of shapely geometries or GeoSeries
        Polygons (anything else has area 0).
    crs : pyproj.CRS or str
        The CRS of the coordinates, projected or geographic.
    max_segment_m : float
        Longest edge piece, in metres (in degrees: this over 111 km).

    Returns
    -------
    ndarray
        Areas in m², aligned with ``geoms``.

    Examples
    --------
    A 100 m square 150 km east of the central meridian of zone 36 (108°E), at
    23.7°N, covers 5.56 m² less of the ellipsoid than of the Gauss-Kruger plane,
    whose scale grows away from the meridian:

    >>> sq = shapely.box(36_650_000, 2_620_000, 36_650_100, 2_620_100)
    >>> round(float(area_ellipsoid_m2([sq], "EPSG:4524")[0]), 2)
    9994.44
    """
    source = pyproj.CRS.from_user_input(crs)
    values = np.asarray(geoms.array if isinstance(geoms, gpd.GeoSeries) else geoms, dtype=object)
    if not len(values):
        return np.zeros(0)
    step = max_segment_m / 111_000.0 if source.is_geographic else max_segment_m
    dense = shapely.segmentize(values, step)
    west, _, east, _ = shapely.total_bounds(values)
    lon0 = (west + east) / 2 if source.is_geographic else _central_meridian(source) or 0.0
    equal_area = ProjectedCRS(
        conversion=LambertCylindricalEqualAreaConversion(0.0, lon0),
        geodetic_crs=source.geodetic_crs,
    )
    to_equal_area = pyproj.Transformer.from_crs(source, equal_area, always_xy=True)
    mapped = shapely.transform(
        dense, lambda xy: np.column_stack(to_equal_area.transform(xy[:, 0], xy[:, 1]))
    )
    return np.asarray(shapely.area(mapped), dtype=float)


def with_areas(gdf: gpd.GeoDataFrame, crs: pyproj.CRS | None = None) -> gpd.GeoDataFrame:
    """Return a copy of ``gdf`` with ``area_m2``, ``area_mu`` and ``area_ha`` columns.

    Parameters
    ----------
    gdf : GeoDataFrame
        Polygons with a CRS; left in their own CRS.
    crs : pyproj.CRS, optional
        The projected CRS to measure in; by default :func:`analysis_crs`.
    """
    out = gdf.copy()
    out["area_m2"] = area_m2(gdf, crs)
    out["area_mu"] = m2_to_mu(out["area_m2"])
    out["area_ha"] = m2_to_ha(out["area_m2"])
    return out


def crs_label(crs: pyproj.CRS) -> str:
    """Chinese name of a CRS with its EPSG code, as printed on maps and covers.

    Examples
    --------
    >>> crs_label(pyproj.CRS.from_epsg(4524))
    '2000国家大地坐标系 高斯-克吕格投影 3度带 第36带（EPSG:4524）'
    >>> crs_label(pyproj.CRS.from_epsg(4545))
    '2000国家大地坐标系 高斯-克吕格投影 3度带 中央经线108°E（EPSG:4545）'
    """
    name = crs.name
    gk = re.fullmatch(r"CGCS2000 / (\d)-degree Gauss-Kruger (?:zone (\d+)|CM (\d+)E)", name)
    if gk:
        where = f"第{gk[2]}带" if gk[2] else f"中央经线{gk[3]}°E"
        text = f"2000国家大地坐标系 高斯-克吕格投影 {gk[1]}度带 {where}"
    elif name == "China Geodetic Coordinate System 2000":
        text = "2000国家大地坐标系（经纬度）"
    else:
        text = name
    epsg = crs.to_epsg()
    return f"{text}（EPSG:{epsg}）" if epsg else text

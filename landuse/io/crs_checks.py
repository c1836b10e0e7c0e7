"""Coordinate systems on read: zone prefixes, missing .prj files and local datums."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj

from landuse.core.crs import (
    apply_datum_transform,
    cgcs2000_equivalent,
    gk3_epsg,
    gk3_zone_for_lon,
    infer_crs_from_bounds,
    local_datum,
)
from landuse.core.errors import CRSError, LanduseWarning


class ZoneUnknownError(CRSError):
    """Unprefixed Gauss-Kruger metres and no CRS: only the location tells the zone."""

    def __init__(self, message: str, path: Path | str) -> None:
        super().__init__(message)
        self.path = path


_HOW_TO_SET = '(--crs {code} on the command line, crs = "{code}" in landuse.toml [layers.<name>])'


def _unprefixed(bounds: np.ndarray) -> bool:
    minx, _, maxx, _ = bounds
    return bool(100_000 <= minx <= maxx <= 900_000)


def _crs_hint(bounds: np.ndarray) -> str:
    minx, _, maxx, _ = bounds
    if -180 <= minx <= maxx <= 180:
        lon = (minx + maxx) / 2
        zone = gk3_zone_for_lon(lon)
        return (
            "The coordinates look like longitude/latitude: set EPSG:4490 (CGCS2000) "
            + _HOW_TO_SET.format(code="EPSG:4490")
            + f"; areas are then measured in 3-degree zone {zone} (CM {3 * zone}°E) for "
            f"{lon:.1f}°E."
        )
    if _unprefixed(bounds):
        return (
            "The coordinates look like Gauss-Kruger metres without a zone prefix; set the "
            "CGCS2000 3-degree zone of your area "
            + _HOW_TO_SET.format(code="EPSG:<4534 + (中央经线 CM − 75) / 3>")
            + ", e.g. CM 108°E → EPSG:4545; `landuse info` on another layer of the same area "
            "shows its longitude."
        )
    return "Set the layer's CRS " + _HOW_TO_SET.format(code="EPSG:<code>") + "."


def zone_hint(error: ZoneUnknownError, layer: str, lon: float) -> CRSError:
    """Make a concrete suggestion for an unprefixed layer from the project's longitude."""
    zone = gk3_zone_for_lon(lon)
    code = f"EPSG:{gk3_epsg(zone, prefixed=False)}"
    return CRSError(
        f"{error.path}: no coordinate system, and the coordinates are Gauss-Kruger metres "
        f"without a zone prefix. The project's other layers lie at {lon:.1f}°E, so this is "
        f'most likely CGCS2000 3-degree zone {zone} (CM {3 * zone}°E): set crs = "{code}" '
        f"in [layers.{layer}] of landuse.toml (--crs {code} for a file on the command line)."
    )


def _check_coordinates_fit(p: Path | str, crs: pyproj.CRS, bounds: np.ndarray) -> None:
    """Catch the common wrong-.prj cases before they produce absurd areas."""
    minx, miny, maxx, _ = bounds
    if not np.isfinite(bounds).all():
        return
    if crs.is_geographic and (abs(minx) > 180 or abs(maxx) > 180 or abs(miny) > 90):
        raise CRSError(
            f"{p}: the .prj says {crs.name} (degrees) but coordinates reach x={maxx:.0f}: "
            f"metres. {_crs_hint(bounds)}"
        )
    prefixed = infer_crs_from_bounds(tuple(bounds))
    if crs.is_projected and prefixed is not None and "zone" not in crs.name.lower():
        raise CRSError(
            f"{p}: eastings carry a zone prefix (x={minx:.0f}) but the .prj says {crs.name}, "
            f"which has none. Fix the .prj or pass --crs EPSG:{prefixed.to_epsg()}."
        )


def _check_datum(p: Path | str, crs: pyproj.CRS, datum_transform: str | None) -> None:
    """Refuse Xian 1980 / Beijing 1954 layers unless the user gives the transformation."""
    datum = local_datum(crs)
    if datum is None or datum_transform is not None:
        return
    same = cgcs2000_equivalent(crs)
    if_wrong = (
        " If the coordinates are in fact CGCS2000 and only the .prj is wrong, set "
        + _HOW_TO_SET.format(code=f"EPSG:{same.to_epsg()}")
        + "."
        if same is not None
        else ""
    )
    raise CRSError(
        f"{p}: the coordinates are on the {datum} datum ({crs.name}). landuse does not apply "
        "a rough datum shift: real Xian 80 / Beijing 54 → CGCS2000 differences are metres to "
        "tens of metres and need the local 7 parameters or a grid, and a rough shift can move "
        "a parcel across a control line. Give the transformation published for your area in "
        'landuse.toml: [project] datum_transform = "+proj=pipeline ..." (see README, '
        f"坐标基准 Datums).{if_wrong}"
    )


def _resolve_crs(
    p: Path | str, gdf: gpd.GeoDataFrame, crs: Any, datum_transform: str | None = None
) -> tuple[gpd.GeoDataFrame, str]:
    """Return the layer with its CRS set (and datum moved) and where the CRS came from."""
    bounds = gdf.total_bounds
    if crs is not None:
        gdf = gdf.set_crs(crs, allow_override=True)
        source = "given"
    elif gdf.crs is not None:
        _check_coordinates_fit(p, gdf.crs, bounds)
        source = "file"
    else:
        inferred = infer_crs_from_bounds(tuple(bounds))
        if inferred is None:
            message = f"{p}: no coordinate system (no .prj or CRS in the file). {_crs_hint(bounds)}"
            if _unprefixed(bounds):
                raise ZoneUnknownError(message, p)
            raise CRSError(message)
        warnings.warn(
            f"{p}: no .prj; eastings carry zone prefix {int(bounds[0] // 1e6)}, so the CRS is "
            f"{inferred.name} (EPSG:{inferred.to_epsg()}).",
            LanduseWarning,
            stacklevel=3,
        )
        gdf, source = gdf.set_crs(inferred), f"inferred from zone prefix: EPSG:{inferred.to_epsg()}"
    _check_datum(p, gdf.crs, datum_transform)
    datum = local_datum(gdf.crs)
    if datum is not None and datum_transform is not None:
        gdf = apply_datum_transform(gdf, datum_transform)
        source += f"; {datum} → CGCS2000 by [project] datum_transform"
    return gdf, source

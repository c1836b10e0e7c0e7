"""用地预审 occupancy analysis: a project's red line against the land survey and the control lines.

Before 用地预审 and 报批 a bureau reports, for a proposed project's red line
(用地红线): its area (plane and 椭球面积), how much of it lies on each land class
of the 第三次全国国土调查 (:mod:`landuse.analysis.landclass`), and whether it crosses the
three control lines (:mod:`landuse.analysis.conflicts`), with its area in each planning
zone of the 城镇开发边界 (城镇集中建设区, 城镇弹性发展区, 特别用途区).
:func:`analyse_redline` does all of it; the 地类面积汇总表 it returns puts the
control lines under the land classes, as bureau forms do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from landuse.analysis.conflicts import ConflictResult, NoiseTolerance, check_conflicts
from landuse.analysis.landclass import (
    OVERLAP_TOLERANCE_M2,
    Basis,
    LandclassResult,
    System,
    apportion,
    landclass_summary,
    measure,
    tabulate_landclass,
)
from landuse.core.crs import area_ellipsoid_m2, check_same_crs
from landuse.core.errors import CRSError
from landuse.core.overlay import intersect_by_group
from landuse.core.units import M2_PER_HA, M2_PER_MU
from landuse.core.validate import check_layer

__all__ = ["ZONE_ORDER", "RedlineResult", "analyse_redline", "zone_labels"]

#: The planning zones inside the 城镇开发边界, in table order.
ZONE_ORDER: tuple[str, ...] = ("城镇集中建设区", "城镇弹性发展区", "特别用途区")


@dataclass
class RedlineResult:
    """What :func:`analyse_redline` found.

    Attributes
    ----------
    parcels : GeoDataFrame
        The red line's parcels with ``area_plane_m2``, ``area_ellipsoid_m2``,
        ``ellipsoid_minus_plane_m2``, ``area_basis``, ``area_m2`` (on that
        basis), ``area_ha``, ``area_mu`` (4 decimals) and, when checked, the
        conflict columns of :func:`landuse.analysis.conflicts.check_conflicts` measured
        on the same basis.
    landclass : LandclassResult or None
        Land classes (with a DLTB layer).
    summary : DataFrame
        The 地类面积汇总表 (``category``, ``level1``, ``level2``, ``area_ha``,
        ``area_mu``): the land classes (with a DLTB layer), 合计, then the
        control-line rows, rounded so that parts add up (平差).
    conflicts : ConflictResult or None
        The conflict check (with a UDB layer), its pieces measured on ``basis``.
    zones : DataFrame
        Area per parcel and UDB planning zone: ``parcel_id``, ``zone``,
        ``area_m2``, ``area_ha``, ``area_mu``, ``area_basis``.
    basis : str
        ``"plane"`` or ``"ellipsoid"``.
    """

    parcels: gpd.GeoDataFrame
    summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    landclass: LandclassResult | None = None
    conflicts: ConflictResult | None = None
    zones: pd.DataFrame = field(default_factory=pd.DataFrame)
    basis: str = "plane"


def zone_labels(zones: gpd.GeoDataFrame) -> pd.Series | None:
    """Each feature's planning zone (GHFQMC, else GHFQDM), or None when the layer has none."""
    for column in ("zone_type", "zone_code"):
        if column in zones.columns:
            values = zones[column].astype("string").str.strip().fillna("")
            if (values != "").any():
                return values.astype(object)
    return None


def _areas(parcels: gpd.GeoDataFrame, crs: pyproj.CRS, basis: Basis) -> gpd.GeoDataFrame:
    out = parcels.copy()
    geoms = np.asarray(parcels.geometry.array, dtype=object)
    plane = np.asarray(shapely.area(geoms), dtype=float)
    ellipsoid = area_ellipsoid_m2(geoms, crs)
    chosen = ellipsoid if basis == "ellipsoid" else plane
    out["area_plane_m2"] = plane
    out["area_ellipsoid_m2"] = ellipsoid
    out["ellipsoid_minus_plane_m2"] = ellipsoid - plane
    out["area_basis"] = basis
    out["area_m2"] = chosen
    out["area_ha"] = np.round(chosen / M2_PER_HA, 4)
    out["area_mu"] = np.round(chosen / M2_PER_MU, 4)
    return out


def _rebase(
    parcels: gpd.GeoDataFrame, result: ConflictResult, crs: pyproj.CRS, basis: Basis
) -> tuple[gpd.GeoDataFrame, ConflictResult]:
    """The conflict check's columns joined to the parcels, its areas measured on ``basis``.

    Returns the parcels and the check with its pieces measured on ``basis`` too
    (which pieces are boundary noise was decided on the plane, as ``landuse check`` does).
    """
    checked = result.parcels
    pieces = result.pieces
    n = len(parcels)
    position = pd.Series(np.arange(n), index=parcels["parcel_id"].astype(str))
    owner = position.loc[pieces["parcel_id"].astype(str)].to_numpy()
    area = measure(np.asarray(pieces.geometry.array, dtype=object), crs, basis)
    total = parcels["area_m2"].to_numpy()
    out = parcels.copy()
    # check_conflicts gives every constraint c a c_share column.
    for name in [c.removesuffix("_share") for c in checked.columns if c.endswith("_share")]:
        sel = (pieces["constraint"] == name).to_numpy()
        m2 = np.bincount(owner[sel], weights=area[sel], minlength=n)
        out[f"{name}_m2"] = m2
        out[f"{name}_mu"] = m2 / M2_PER_MU
        out[f"{name}_share"] = m2 / total
    noise = (pieces["kind"] == "noise").to_numpy()
    out["noise_m2"] = np.bincount(owner[noise], weights=area[noise], minlength=n)
    out["udb_inside_m2"] = total - out["udb_outside_m2"].to_numpy()
    out["udb_inside_mu"] = out["udb_inside_m2"] / M2_PER_MU
    flags = [c for c in checked.columns if c.startswith("occupies_")]
    keep = ["outside_udb", *flags, "compliant", "status", "status_en"]
    for column in keep:
        out[column] = checked[column].to_numpy()
    measured = pieces.assign(area_m2=area, area_mu=area / M2_PER_MU, area_basis=basis)
    return out, replace(result, pieces=measured)


def _zones(
    parcels: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, crs: pyproj.CRS, basis: Basis
) -> pd.DataFrame:
    """Area of each parcel in each planning zone (long table)."""
    labels = zone_labels(zones)
    columns = ["parcel_id", "zone", "area_m2", "area_ha", "area_mu", "area_basis"]
    if labels is None:
        return pd.DataFrame(columns=columns)
    geoms = np.asarray(zones.geometry.array, dtype=object)
    targets = np.asarray(parcels.geometry.array, dtype=object)
    ids = parcels["parcel_id"].astype(str).to_numpy()
    known = [z for z in ZONE_ORDER if z in set(labels)]
    frames = []
    for zone in [*known, *sorted(set(labels) - set(known) - {""})]:
        found = intersect_by_group(targets, geoms[(labels == zone).to_numpy()])
        m2 = measure(found.inside, crs, basis)
        frames.append(pd.DataFrame({"parcel_id": ids[found.hit], "zone": zone, "area_m2": m2}))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    table["area_ha"] = (table["area_m2"] / M2_PER_HA).astype(float).round(4)
    table["area_mu"] = (table["area_m2"] / M2_PER_MU).astype(float).round(4)
    table["area_basis"] = basis
    return table[columns]


def _control_rows(
    parcels: gpd.GeoDataFrame,
    zones: pd.DataFrame,
    labels: Mapping[str, str],
    total: tuple[float, float],
) -> list[tuple[str, str, str, float, float]]:
    """Rows under 合计: 永久基本农田, 城镇开发边界 (and its zones), 生态保护红线, others.

    ``total`` is 合计 in 公顷 and 亩.  Inside and outside the boundary are rounded
    to add up to it, and the zones to the inside when they cover it (平差).
    """
    units = (M2_PER_HA, M2_PER_MU)

    def row(first: str, second: str, m2: float) -> tuple[str, str, str, float, float]:
        return (first, second, "", round(m2 / M2_PER_HA, 4), round(m2 / M2_PER_MU, 4))

    rows = []
    if "farmland_m2" in parcels:
        rows.append(row("占用永久基本农田", "", parcels["farmland_m2"].sum()))
    if "udb_inside_m2" in parcels:
        split = np.array([parcels["udb_inside_m2"].sum(), parcels["udb_outside_m2"].sum()])
        by_zone = zones.groupby("zone", sort=False)["area_m2"].sum()
        whole = abs(by_zone.sum() - split[0]) <= OVERLAP_TOLERANCE_M2
        pair = [
            apportion(split / u, np.zeros(2, int), np.array([t]))
            for u, t in zip(units, total, strict=True)
        ]
        parts = [
            apportion(
                by_zone.to_numpy() / u,
                np.zeros(len(by_zone), int),
                np.array([p[0] if whole else by_zone.sum() / u]),
            )
            for u, p in zip(units, pair, strict=True)
        ]
        rows.append(("城镇开发边界内", "", "", pair[0][0], pair[1][0]))
        for k, zone in enumerate(by_zone.index):
            rows.append(("", f"其中：{zone}", "", parts[0][k], parts[1][k]))
        rows.append(("城镇开发边界外", "", "", pair[0][1], pair[1][1]))
    if "eco_redline_m2" in parcels:
        rows.append(row("占用生态保护红线", "", parcels["eco_redline_m2"].sum()))
    for name, label in labels.items():
        if f"{name}_m2" in parcels:
            rows.append(row(f"占用{label}", "", parcels[f"{name}_m2"].sum()))
    return rows


def analyse_redline(
    redline: gpd.GeoDataFrame,
    *,
    dltb: gpd.GeoDataFrame | None = None,
    udb: gpd.GeoDataFrame | None = None,
    udb_zones: gpd.GeoDataFrame | None = None,
    farmland: gpd.GeoDataFrame | None = None,
    eco_redline: gpd.GeoDataFrame | None = None,
    others: Mapping[str, gpd.GeoDataFrame] | None = None,
    labels: Mapping[str, str] | None = None,
    tolerance: NoiseTolerance | None = None,
    system: System = "gbt21010",
    basis: Basis = "plane",
) -> RedlineResult:
    """Areas, land classes and control lines of a project's red line.

    Parameters
    ----------
    redline : GeoDataFrame
        The parcels of the red line with a unique ``parcel_id``, in a projected CRS.
    dltb : GeoDataFrame, optional
        地类图斑 of the land survey (:func:`landuse.analysis.landclass.tabulate_landclass`).
    udb : GeoDataFrame, optional
        城镇开发边界; with it the conflict check runs on the red line.
    udb_zones : GeoDataFrame, optional
        The boundary's planning zones (``zone_type`` GHFQMC / ``zone_code``
        GHFQDM); by default the zones ``udb`` itself carries, if any.
    farmland, eco_redline : GeoDataFrame, optional
        永久基本农田 and 生态保护红线.
    others : mapping, optional
        Further constraint layers; ``labels`` gives their Chinese names.
    tolerance : NoiseTolerance, optional
        Boundary noise of the conflict check.
    system : {"gbt21010", "ydyh2023"}
        Classification of the DLTB codes.
    basis : {"plane", "ellipsoid"}
        Areas of every table: Gauss-Kruger plane or the ellipsoid (椭球面积).

    Returns
    -------
    RedlineResult
    """
    layers = {"redline": redline}
    for name, layer in (("dltb", dltb), ("udb", udb), ("udb_zones", udb_zones)):
        if layer is not None:
            layers[name] = layer
    crs = check_same_crs(layers)
    if not crs.is_projected:
        raise CRSError(f"Red-line areas need a projected CRS, got {crs.name}.")
    check_layer(redline, layer_name="redline", required=["parcel_id"], id_field="parcel_id")
    parcels = _areas(redline, crs, basis)
    result = RedlineResult(parcels=parcels, basis=basis)
    names = dict(labels or {})
    if udb is not None:
        result.conflicts = check_conflicts(
            redline,
            udb=udb,
            farmland=farmland,
            eco_redline=eco_redline,
            others=others,
            labels={k: (f"占用{v}", f"occupies {k}") for k, v in names.items()},
            tolerance=tolerance,
        )
        result.parcels, result.conflicts = _rebase(parcels, result.conflicts, crs, basis)
    zoned = udb_zones if udb_zones is not None else udb
    if zoned is not None:
        result.zones = _zones(parcels, zoned, crs, basis)
    if dltb is not None:
        result.landclass = tabulate_landclass(redline, dltb, system=system, basis=basis)
        summary = landclass_summary(result.landclass.table, system)
    else:
        total = (
            "合计",
            "",
            "",
            parcels["area_ha"].sum().round(4),
            parcels["area_mu"].sum().round(4),
        )
        summary = pd.DataFrame(
            [total], columns=["category", "level1", "level2", "area_ha", "area_mu"]
        )
    last = summary.iloc[-1]  # 合计
    rows = _control_rows(result.parcels, result.zones, names, (last["area_ha"], last["area_mu"]))
    result.summary = pd.concat(
        [summary, pd.DataFrame(rows, columns=summary.columns)], ignore_index=True
    )
    return result

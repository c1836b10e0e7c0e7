"""Land-class tabulation (地类面积统计): a red line against the land survey's 地类图斑 (DLTB).

For every parcel of a red line: its area on each land class of the DLTB, by
地类编码, in m², 公顷 and 亩, following the survey's own arithmetic:

- a 图斑 carrying a 扣除系数 (KCXS; in the 第三次全国国土调查 the sloped 耕地) is
  split into its class × (1 − KCXS) and 田坎 × KCXS (KCDLBM, else 1203 in
  GB/T 21010-2017 / 2303 in the 2023 用地用海分类), as the survey computes
  KCMJ = TBMJ × KCXS and TBDLMJ = TBMJ − KCMJ;
- land of the red line no 图斑 covers is a row of its own (地类图斑未覆盖), so
  the rows of a parcel sum to its area (gaps of at most 0.01 m², the noise of
  floating-point overlays along shared edges, are not counted as land);
- overlapping 图斑 are an error (三调 图斑 must not overlap): the area would
  count twice.

Codes are read in one classification, stated by the project (``[landclass]
system``): GB/T 21010-2017 with the 三调 working codes, or the 2023 用地用海分类.
Both crosswalks (code → name, 一级类, 三大类) ship as data in ``layers/``
(``landclass_gbt21010_2017.csv``, ``landclass_ydyh_2023.csv``) with each row's
source.  Areas are plane (Gauss-Kruger) or ellipsoidal (``basis``); 公顷 and 亩
are rounded to 4 decimals with the largest-remainder rule (面积平差), so the
rounded rows of a parcel sum exactly to its rounded area.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from landuse.core.crs import area_ellipsoid_m2, check_same_crs
from landuse.core.errors import CRSError, SchemaError
from landuse.core.overlay import explode, polygonal, query_pairs, union_by_group
from landuse.core.units import M2_PER_HA, M2_PER_MU
from landuse.core.validate import check_layer

__all__ = [
    "BASIS_LABELS",
    "GROUPS",
    "SYSTEMS",
    "UNCOVERED",
    "LandclassResult",
    "apportion",
    "check_dltb_overlaps",
    "crosswalk",
    "landclass_summary",
    "measure",
    "tabulate_landclass",
]

System = Literal["gbt21010", "ydyh2023"]
Basis = Literal["plane", "ellipsoid"]

#: Classification → (name shown in tables, crosswalk file in ``layers/``, 田坎 code).
SYSTEMS: dict[str, tuple[str, str, str]] = {
    "gbt21010": (
        "GB/T 21010-2017 土地利用现状分类（含三调工作分类）",
        "landclass_gbt21010_2017.csv",
        "1203",
    ),
    "ydyh2023": (
        "国土空间调查、规划、用途管制用地用海分类（2023）",
        "landclass_ydyh_2023.csv",
        "2303",
    ),
}

#: The 三大类 of the Land Administration Law, in table order (海域: sea uses of 2023).
GROUPS: tuple[str, ...] = ("农用地", "建设用地", "未利用地", "海域")

#: Name of the land no 图斑 covers (its code is empty).
UNCOVERED = "地类图斑未覆盖"

#: How areas were measured, as tables say it.
BASIS_LABELS: dict[str, str] = {
    "plane": "平面面积（高斯-克吕格投影）",
    "ellipsoid": "椭球面积（CGCS2000 椭球）",
}

#: Overlaps of 图斑, and gaps between them under a red line, up to this area (m²)
#: are floating-point noise along shared edges, not double counting or uncovered land.
OVERLAP_TOLERANCE_M2 = 0.01


@functools.cache
def crosswalk(system: System) -> pd.DataFrame:
    """The shipped crosswalk of a classification, indexed by code.

    Parameters
    ----------
    system : {"gbt21010", "ydyh2023"}

    Returns
    -------
    DataFrame
        ``name``, ``level2_code``, ``level1_code``, ``level1_name``, ``group``
        (三大类) and ``source`` per code (all text).

    Examples
    --------
    >>> crosswalk("gbt21010").loc["0601", ["name", "group"]].tolist()
    ['工业用地', '建设用地']
    >>> crosswalk("ydyh2023").loc["0601", "name"], crosswalk("ydyh2023").loc["1001", "name"]
    ('农村道路', '工业用地')
    """
    if system not in SYSTEMS:
        raise SchemaError(
            f"Unknown land classification '{system}'; choose one of {', '.join(SYSTEMS)}."
        )
    text = resources.files("landuse.layers").joinpath(SYSTEMS[system][1]).read_text("utf-8")
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False).set_index("code")


def measure(geoms: np.ndarray, crs: pyproj.CRS, basis: Basis) -> np.ndarray:
    """Areas (m²) of geometries on the plane of ``crs`` or on its ellipsoid."""
    if basis == "ellipsoid":
        return area_ellipsoid_m2(geoms, crs)
    return np.asarray(shapely.area(geoms), dtype=float)


def apportion(
    values: np.ndarray, groups: np.ndarray, totals: np.ndarray, decimals: int = 4
) -> np.ndarray:
    """Round values so those of each group sum exactly to the group's rounded total (平差).

    Each value is rounded down to ``decimals``; the units still missing from
    the group's total go to the values with the largest remainders (ties to
    the earlier row).

    Parameters
    ----------
    values : ndarray
        Non-negative values.
    groups : ndarray of int
        Group of each value, ``0 … len(totals) − 1``.
    totals : ndarray
        Each group's unrounded total (normally the sum of its values).
    decimals : int

    Returns
    -------
    ndarray
        The rounded values.

    Examples
    --------
    Three thirds of 1 ha to 4 decimals: 0.3334 + 0.3333 + 0.3333 = 1.0000.

    >>> apportion(np.full(3, 1 / 3), np.zeros(3, int), np.array([1.0])).round(4).tolist()
    [0.3334, 0.3333, 0.3333]
    """
    scale = 10.0**decimals
    units = np.asarray(values, dtype=float) * scale
    # A hair of tolerance: 0.92 ha × 10⁴ is 9199.999… in binary.
    floor = np.floor(units + 1e-6)
    remainder = units - floor
    groups = np.asarray(groups, dtype=int)
    target = np.round(np.asarray(totals, dtype=float) * scale)
    missing = target - np.bincount(groups, weights=floor, minlength=len(target))
    order = np.lexsort((np.arange(len(units)), -remainder, groups))
    rank = np.empty(len(units), dtype=int)
    starts = np.searchsorted(groups[order], groups[order])
    rank[order] = np.arange(len(units)) - starts
    extra = (rank < missing[groups]).astype(float)
    return (floor + extra) / scale


@dataclass
class LandclassResult:
    """Land classes of a red line.

    Attributes
    ----------
    table : DataFrame
        One row per parcel × 地类编码: ``parcel_id``, ``dlbm``, ``dlmc``,
        ``level1_code``, ``level1_name``, ``category`` (三大类), ``area_m2``,
        ``area_ha``, ``area_mu`` (4 decimals, 平差 per parcel) and ``area_basis``.
    pieces : GeoDataFrame
        One row per parcel × 图斑 piece (and per uncovered piece):
        ``parcel_id``, ``feature_id`` (BSM), ``patch_no`` (TBBH), ``dlbm``,
        ``dlmc``, ``deduction_ratio`` (KCXS), ``deduction_code`` (田坎),
        ``area_m2`` (the piece), ``class_area_m2`` and ``deduction_area_m2``.
    system, basis : str
        The classification and the area basis used.
    """

    table: pd.DataFrame
    pieces: gpd.GeoDataFrame
    system: str
    basis: str


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series("", index=frame.index, dtype=object)
    values = frame[column].astype("string").str.strip().fillna("")
    return values.astype(object)


def check_dltb_overlaps(
    dltb: gpd.GeoDataFrame,
    rows: np.ndarray | None = None,
    *,
    tolerance_m2: float = OVERLAP_TOLERANCE_M2,
) -> None:
    """Raise when 图斑 of the land survey overlap (their area would count twice).

    Parameters
    ----------
    dltb : GeoDataFrame
        The DLTB layer (canonical fields).
    rows : ndarray of int, optional
        Positions of the 图斑 to check (e.g. those under a red line); all by default.
    tolerance_m2 : float
        Overlaps up to this area are digitising noise.

    Raises
    ------
    SchemaError
        Listing the overlapping pairs (BSM or 图斑编号) and their overlap area.
    """
    geoms = np.asarray(dltb.geometry.array, dtype=object)
    rows = np.arange(len(geoms)) if rows is None else np.asarray(rows, dtype=int)
    subset = geoms[rows]
    first, second = query_pairs(subset, subset)
    keep = first < second
    first, second = first[keep], second[keep]
    inner = shapely.relate_pattern(subset[first], subset[second], "T********")
    first, second = first[inner], second[inner]
    overlap = shapely.area(polygonal(shapely.intersection(subset[first], subset[second])))
    bad = overlap > tolerance_m2
    if not bad.any():
        return
    ids = _text(dltb, "feature_id").to_numpy()
    ids = np.where(ids == "", _text(dltb, "patch_no").to_numpy(), ids)
    ids = np.where(ids == "", [f"#{k + 1}" for k in range(len(dltb))], ids)
    pairs = [
        f"{ids[rows[a]]} × {ids[rows[b]]}（{m2:.2f} 平方米）"
        for a, b, m2 in zip(first[bad], second[bad], overlap[bad], strict=True)
    ]
    raise SchemaError(
        f"Layer 'dltb': {len(pairs)} 对地类图斑相互重叠 pair(s) of 图斑 overlap, so their "
        f"area would count twice: {'; '.join(pairs[:20])}"
        + (" …" if len(pairs) > 20 else "")
        + ". 三调图斑不得重叠：fix the DLTB topology (e.g. 拓扑检查 in ArcGIS) and run again."
    )


def _check_codes(codes: pd.Series, system: System) -> None:
    known = crosswalk(system).index
    unknown = sorted(set(codes) - set(known))
    if not unknown:
        return
    counts = codes.value_counts()
    shown = ", ".join(
        f"'{c}'（{counts[c]} 个图斑）" if c else f"空（{counts[c]} 个图斑）" for c in unknown
    )
    other = next(s for s in SYSTEMS if s != system)
    hint = (
        f'; these are codes of {SYSTEMS[other][0]}: set [landclass] system = "{other}"'
        if set(unknown) <= set(crosswalk(other).index)
        else ""
    )
    raise SchemaError(
        f"Layer 'dltb': 地类编码 (DLBM) not in {SYSTEMS[system][0]}: {shown}{hint}. Correct "
        "the codes or map land_class_code to the right field in [layers.dltb.fields]."
    )


def _ratios(dltb: gpd.GeoDataFrame, rows: np.ndarray) -> np.ndarray:
    """扣除系数 of the 图斑 at ``rows`` (0 without the field), checked to lie in [0, 1)."""
    if "deduction_ratio" not in dltb.columns:
        return np.zeros(len(rows))
    raw = dltb["deduction_ratio"].iloc[rows]
    ratio = pd.to_numeric(raw, errors="coerce")
    bad = (raw.notna() & ratio.isna()) | (ratio < 0) | (ratio >= 1)
    if bad.any():
        ids = _text(dltb, "patch_no").iloc[rows].to_numpy()[bad.to_numpy()]
        shown = ", ".join(f"{i or '?'}={v}" for i, v in zip(ids, raw[bad], strict=True))
        raise SchemaError(
            f"Layer 'dltb': 扣除系数 (KCXS) must be a share from 0 to below 1 (e.g. 0.08), "
            f"got {shown}. Correct the values (a percentage must be divided by 100)."
        )
    return ratio.fillna(0.0).to_numpy(dtype=float)


def tabulate_landclass(
    redline: gpd.GeoDataFrame,
    dltb: gpd.GeoDataFrame,
    *,
    system: System = "gbt21010",
    basis: Basis = "plane",
    id_field: str = "parcel_id",
) -> LandclassResult:
    """Area of each parcel of a red line on each land class of the DLTB.

    Parameters
    ----------
    redline : GeoDataFrame
        The project's parcels with a unique ``id_field``, in a projected CRS.
    dltb : GeoDataFrame
        地类图斑 with ``land_class_code`` (DLBM) and optionally
        ``deduction_ratio`` (KCXS), ``deduction_class_code`` (KCDLBM),
        ``feature_id`` (BSM) and ``patch_no`` (TBBH), in the same CRS.
    system : {"gbt21010", "ydyh2023"}
        Classification of the codes.
    basis : {"plane", "ellipsoid"}
        Plane areas in the CRS, or ellipsoidal areas (椭球面积).
    id_field : str
        The parcel id column.

    Returns
    -------
    LandclassResult

    Raises
    ------
    SchemaError
        Overlapping 图斑 under the red line, codes outside the classification,
        扣除系数 outside [0, 1), ids missing or repeated.
    CRSError
        The layers' CRSs differ or are not projected.

    Examples
    --------
    A 100 m square on 旱地 with KCXS 0.08: 9 200 m² 旱地 and 800 m² 田坎.

    >>> crs = "EPSG:4545"
    >>> red = gpd.GeoDataFrame({"parcel_id": ["1"]}, geometry=[shapely.box(0, 0, 100, 100)],
    ...                        crs=crs)
    >>> tb = gpd.GeoDataFrame({"land_class_code": ["0103"], "deduction_ratio": [0.08]},
    ...                       geometry=[shapely.box(-50, -50, 150, 150)], crs=crs)
    >>> t = tabulate_landclass(red, tb).table
    >>> t[["dlbm", "dlmc", "area_m2", "area_mu"]].values.tolist()
    [['0103', '旱地', 9200.0, 13.8], ['1203', '田坎', 800.0, 1.2]]
    """
    crs = check_same_crs({"redline": redline, "dltb": dltb})
    if not crs.is_projected:
        raise CRSError(f"Land-class areas need a projected CRS, got {crs.name}.")
    check_layer(redline, layer_name="redline", required=[id_field], id_field=id_field)
    check_layer(dltb, layer_name="dltb", required=["land_class_code"])
    walk = crosswalk(system)
    parcels = np.asarray(redline.geometry.array, dtype=object)
    patches = np.asarray(dltb.geometry.array, dtype=object)
    p_idx, d_idx = query_pairs(patches, parcels)
    near = np.unique(d_idx)
    check_dltb_overlaps(dltb, near)
    codes = _text(dltb, "land_class_code")
    _check_codes(codes.iloc[near], system)
    ratio = np.zeros(len(dltb))
    ratio[near] = _ratios(dltb, near)

    pieces = polygonal(shapely.intersection(parcels[p_idx], patches[d_idx]))
    positive = shapely.area(pieces) > 0
    p_idx, d_idx, pieces = p_idx[positive], d_idx[positive], pieces[positive]
    rest = parcels.copy()
    if len(pieces):
        hit, covered = union_by_group(pieces, p_idx)
        rest[hit] = polygonal(shapely.difference(parcels[hit], covered))
    # Land no 图斑 covers, by connected part; slivers of floating-point noise along
    # shared edges are no gap.
    rest, rest_idx = explode(rest)
    gap = shapely.area(rest) > OVERLAP_TOLERANCE_M2
    rest, rest_idx = rest[gap], rest_idx[gap]

    ids = redline[id_field].astype(str).to_numpy()
    deduction = _text(dltb, "deduction_class_code").to_numpy()
    deduction = np.where(deduction == "", SYSTEMS[system][2], deduction)
    piece_codes = np.concatenate([codes.to_numpy()[d_idx], np.full(len(rest_idx), "")])
    piece_ratio = np.concatenate([ratio[d_idx], np.zeros(len(rest_idx))])
    geoms = np.concatenate([pieces, rest])
    area = measure(geoms, crs, basis)
    names = walk["name"].reindex(piece_codes).fillna(UNCOVERED).to_numpy()
    frame = gpd.GeoDataFrame(
        {
            id_field: ids[np.concatenate([p_idx, rest_idx])],
            "feature_id": np.concatenate(
                [_text(dltb, "feature_id").to_numpy()[d_idx], np.full(len(rest_idx), "")]
            ),
            "patch_no": np.concatenate(
                [_text(dltb, "patch_no").to_numpy()[d_idx], np.full(len(rest_idx), "")]
            ),
            "dlbm": piece_codes,
            "dlmc": names,
            "deduction_ratio": piece_ratio,
            "deduction_code": np.where(
                piece_ratio > 0,
                np.concatenate([deduction[d_idx], np.full(len(rest_idx), "")]),
                "",
            ),
            "area_m2": area,
            "class_area_m2": area * (1.0 - piece_ratio),
            "deduction_area_m2": area * piece_ratio,
            "area_basis": basis,
        },
        geometry=geoms,
        crs=crs,
    )
    order = np.lexsort((frame["patch_no"].to_numpy(), frame[id_field].to_numpy()))
    frame = frame.iloc[order].reset_index(drop=True)
    table = _table(frame, redline, ids, crs, system, basis, id_field)
    return LandclassResult(table=table, pieces=frame, system=system, basis=basis)


def _table(
    pieces: gpd.GeoDataFrame,
    redline: gpd.GeoDataFrame,
    ids: np.ndarray,
    crs: pyproj.CRS,
    system: System,
    basis: Basis,
    id_field: str,
) -> pd.DataFrame:
    """Pieces summed per parcel × code (田坎 apart), rounded so each parcel adds up."""
    has_deduction = pieces["deduction_area_m2"] > 0
    rows = pd.concat(
        [
            pd.DataFrame(
                {
                    id_field: pieces[id_field],
                    "dlbm": pieces["dlbm"],
                    "area_m2": pieces["class_area_m2"],
                }
            ),
            pd.DataFrame(
                {
                    id_field: pieces.loc[has_deduction, id_field],
                    "dlbm": pieces.loc[has_deduction, "deduction_code"],
                    "area_m2": pieces.loc[has_deduction, "deduction_area_m2"],
                }
            ),
        ],
        ignore_index=True,
    )
    table = rows.groupby([id_field, "dlbm"], sort=True, as_index=False)["area_m2"].sum()
    table = table[table["area_m2"] > 0].reset_index(drop=True)
    walk = crosswalk(system)
    _check_codes(table.loc[table["dlbm"] != "", "dlbm"], system)  # KCDLBM codes too
    info = walk.reindex(table["dlbm"])
    table["dlmc"] = info["name"].fillna(UNCOVERED).to_numpy()
    table["level1_code"] = info["level1_code"].fillna("").to_numpy()
    table["level1_name"] = info["level1_name"].fillna("").to_numpy()
    table["category"] = info["group"].fillna(UNCOVERED).to_numpy()
    # Each parcel's rows are rounded to its own measured area, so the tables agree.
    parcel_m2 = measure(np.asarray(redline.geometry.array, dtype=object), crs, basis)
    position = pd.Series(np.arange(len(ids)), index=ids)
    group = position.loc[table[id_field]].to_numpy()
    table["area_ha"] = apportion(table["area_m2"] / M2_PER_HA, group, parcel_m2 / M2_PER_HA)
    table["area_mu"] = apportion(table["area_m2"] / M2_PER_MU, group, parcel_m2 / M2_PER_MU)
    table["area_basis"] = basis
    columns = [id_field, "dlbm", "dlmc", "level1_code", "level1_name", "category"]
    return table[[*columns, "area_m2", "area_ha", "area_mu", "area_basis"]]


def landclass_summary(table: pd.DataFrame, system: System) -> pd.DataFrame:
    """The 地类面积汇总表 of a red line: 三大类 → 一级类 → 二级类, then 合计.

    Parameters
    ----------
    table : DataFrame
        :attr:`LandclassResult.table` (every parcel of the red line).
    system : {"gbt21010", "ydyh2023"}

    Returns
    -------
    DataFrame
        ``category`` (三大类), ``level1`` (一级类, "01 耕地"), ``level2`` (二级类,
        "0103 旱地"; 三级 codes of 2023 count to their 二级类), ``area_ha`` and
        ``area_mu``; a label only in the column of its level.  Sums of the
        rounded rows, so every subtotal is the sum of the lines under it.
    """
    walk = crosswalk(system)
    level2 = walk["level2_code"].reindex(table["dlbm"]).fillna("").to_numpy()
    frame = pd.DataFrame(
        {
            "category": table["category"].to_numpy(),
            "level1": table["level1_code"].to_numpy(),
            "level2": level2,
            "area_ha": table["area_ha"].to_numpy(),
            "area_mu": table["area_mu"].to_numpy(),
        }
    )
    rank = {g: k for k, g in enumerate((*GROUPS, UNCOVERED))}
    frame["rank"] = frame["category"].map(rank)
    names = walk["name"]
    rows = []
    for _, in_group in frame.groupby("rank", sort=True):
        label = in_group["category"].iloc[0]
        rows.append((label, "", "", in_group["area_ha"].sum(), in_group["area_mu"].sum()))
        if label == UNCOVERED:
            continue
        for code1, in_level1 in in_group.groupby("level1", sort=True):
            name1 = walk.loc[walk["level1_code"] == code1, "level1_name"].iloc[0]
            rows.append(
                ("", f"{code1} {name1}", "", in_level1["area_ha"].sum(), in_level1["area_mu"].sum())
            )
            for code2, in_level2 in in_level1.groupby("level2", sort=True):
                rows.append(
                    (
                        "",
                        "",
                        f"{code2} {names.get(code2, '')}",
                        in_level2["area_ha"].sum(),
                        in_level2["area_mu"].sum(),
                    )
                )
    rows.append(("合计", "", "", frame["area_ha"].sum(), frame["area_mu"].sum()))
    summary = pd.DataFrame(rows, columns=["category", "level1", "level2", "area_ha", "area_mu"])
    # Sums of 4-decimal values: drop the binary noise of the additions.
    summary[["area_ha", "area_mu"]] = summary[["area_ha", "area_mu"]].round(4)
    return summary

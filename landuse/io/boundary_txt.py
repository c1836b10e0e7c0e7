"""界址点坐标 TXT: the ministry's exchange format for parcel boundaries (勘测定界, 报批).

South CASS and the 勘测定界 programs write a project's red line as text::

    [属性描述]
    格式版本号=1.01
    数据产生单位=来宾市自然资源局
    数据产生日期=2025-06-15
    坐标系=2000国家大地坐标系
    几度分带=3
    投影类型=高斯克吕格
    计量单位=米
    带号=36
    精度=0.001
    转换参数=,,,,,,
    [地块坐标]
    5,1.0000,1,地块1,面,,工业用地,,@
    J1,1,2620100.000,36520000.000
    J2,1,2620100.000,36520100.000
    J3,1,2620000.000,36520100.000
    J4,1,2620000.000,36520000.000
    J1,1,2620100.000,36520000.000

Each parcel is one line ``界址点数,地块面积,地块编号,地块名称,图形属性,图幅号,
地块用途,地类编码,@`` (some producers add fields before ``@``), then one line
``点号,圈号,X,Y`` per point: **X is the northing, Y the easting with the zone
prefix**, the opposite of GIS order.  A 圈号 is one ring and repeats its first
point; a parcel's rings are outer parts, holes and islands in holes, nested
here by containment.  Files are GBK with CRLF (sometimes mixed with CR);
界址点数 counts the closing points in some files and not in others; 地块面积 is
in 公顷 (as the format asks) or in m², decided per file by the coordinates.

This module turns bytes into a layer and a layer into bytes; only
:mod:`landuse.io` opens files.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import cast

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from landuse.core.crs import area_ellipsoid_m2, gk3_epsg, gk3_zone_for_lon, gk6_epsg
from landuse.core.errors import CRSError, EncodingError, LanduseWarning, LayerReadError

__all__ = [
    "AREA_UNITS",
    "HEADER_KEYS",
    "format_boundary_txt",
    "header_crs",
    "parse_boundary_txt",
]

#: The keys of [属性描述], in the order the format lists them.
HEADER_KEYS: tuple[str, ...] = (
    "格式版本号",
    "数据产生单位",
    "数据产生日期",
    "坐标系",
    "几度分带",
    "投影类型",
    "计量单位",
    "带号",
    "精度",
    "转换参数",
)

#: Units 地块面积 is written in → m² per unit.
AREA_UNITS: dict[str, float] = {"公顷": 10_000.0, "平方米": 1.0}

_ATTRIBUTES, _COORDINATES = "属性描述", "地块坐标"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_SECTION = re.compile(r"^\s*[\[【]\s*(.+?)\s*[\]】]\s*$")
#: Stated and measured areas agree within half the last written digit plus this share
#: (covers a stated plane or ellipsoidal area: they differ by up to 0.06 % in a 3-degree zone).
_AREA_SHARE = 0.001

# EPSG codes of Gauss-Kruger zones by datum: (3-degree prefixed, 3-degree by CM,
# 6-degree prefixed, 6-degree by CM) as functions of the zone number.
_DATUM_CODES: dict[str, tuple[str, tuple[int, int, int, int]]] = {
    # name written in 坐标系, EPSG offsets: 3° zone n → base + n, 6° zone n → base + n
    "cgcs2000": ("2000国家大地坐标系", (4488, 4509, 4478, 4489)),
    "xian1980": ("1980西安坐标系", (2324, 2345, 2314, 2325)),
    "beijing1954": ("1954北京坐标系", (2376, 2397, 21400, 21440)),
}


@dataclass
class _Parcel:
    line: int
    count: int
    area_text: str
    fields: list[str]
    points: list[tuple[int, str, int, float, float]] = field(default_factory=list)
    broken: bool = False  # a line of it is malformed: its rings are not checked


def _decode(data: bytes, source: str, encoding: str | None) -> tuple[str, str]:
    if encoding is not None:
        try:
            return data.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as exc:
            raise EncodingError(
                f"{source}: cannot be read as {encoding} ({exc}); leave --encoding out to "
                "detect UTF-8 or GBK."
            ) from exc
    for name in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(name), "UTF-8" if name == "utf-8-sig" else "GBK"
        except UnicodeDecodeError:
            continue
    raise EncodingError(f"{source}: neither UTF-8 nor GBK; pass its encoding with --encoding.")


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _decimals(text: str) -> int:
    return len(text.split(".", 1)[1]) if "." in text else 0


def parse_boundary_txt(
    data: bytes, *, source: str, encoding: str | None = None, crs_from_header: bool = True
) -> gpd.GeoDataFrame:
    """Read the bytes of a 界址点坐标 TXT into a polygon layer.

    Parameters
    ----------
    data : bytes
        The file's content.
    source : str
        File name, for messages.
    encoding : str, optional
        Text encoding; by default UTF-8, else GBK (GB18030).
    crs_from_header : bool
        Take the CRS from 坐标系, 几度分带 and 带号 (False when the caller sets one).

    Returns
    -------
    GeoDataFrame
        One row per parcel: ``parcel_id`` (地块编号), ``parcel_name``,
        ``shape_kind`` (图形属性), ``sheet_no`` (图幅号), ``land_use`` (地块用途),
        ``land_class_code`` (地类编码), ``extra_fields`` (further fields before
        ``@``, comma-separated), ``point_count`` (界址点数 as written),
        ``stated_area`` (地块面积 as written), ``stated_area_unit`` (公顷 or 平方米,
        as assumed), ``stated_area_m2``, ``stated_area_diff_m2`` (stated − the
        coordinates' plane area) and ``stated_area_ok`` (None when no area is
        written).  The CRS comes from the header (None without 坐标系).
        ``attrs["boundary_txt"]`` keeps the header, the other sections, the
        coordinate decimals, the area unit and the encoding, for writing back.

    Raises
    ------
    LayerReadError
        Malformed lines (all of them in one message, by line number), or no parcel.
    EncodingError
        The text is neither UTF-8 nor GBK.
    CRSError
        The header names an unknown coordinate system, or 带号 contradicts the eastings.

    Warns
    -----
    LanduseWarning
        Parcels whose stated area disagrees with their coordinates, naming the unit assumed.
    """
    text, used = _decode(data, source, encoding)
    header: dict[str, str] = {}
    others: dict[str, list[str]] = {}
    parcels: list[_Parcel] = []
    bad: list[tuple[int, str, str]] = []
    section = ""
    decimals = 0
    for number, raw in enumerate(_LINE_BREAK.split(text), start=1):
        line = raw.strip()
        if not line:
            continue
        heading = _SECTION.match(line)
        if heading:
            section = heading.group(1)
            if section not in (_ATTRIBUTES, _COORDINATES):
                others.setdefault(section, [])
            continue
        if section == _ATTRIBUTES:
            key, sep, value = line.partition("=")
            if not sep:
                bad.append((number, "属性描述应为 键=值 key=value", raw))
            else:
                header[key.strip()] = value.strip()
        elif section == _COORDINATES:
            if line.endswith("@"):
                parcels.append(_parcel_line(number, line, bad))
                continue
            fields = [f.strip() for f in line.replace("，", ",").split(",")]
            while len(fields) > 4 and not fields[-1]:
                fields.pop()
            values = [_number(f) for f in fields[2:]] if len(fields) == 4 else []
            ring = fields[1] if len(fields) == 4 else ""
            if len(values) != 2 or None in values or not ring.isdigit():
                bad.append((number, "坐标行应为 点号,圈号,X,Y", raw))
                if parcels:
                    parcels[-1].broken = True  # its rings cannot be checked
            elif not parcels:
                bad.append((number, "坐标行之前没有地块行（以 @ 结尾）", raw))
            else:
                x, y = cast(list[float], values)
                parcels[-1].points.append((number, fields[0], int(ring), x, y))
                decimals = max(decimals, _decimals(fields[2]), _decimals(fields[3]))
        elif section:
            others[section].append(line)
        else:
            bad.append((number, "不在 [属性描述] 或 [地块坐标] 之内", raw))
    rings, ring_parcel = _rings(parcels, bad)
    if bad:
        raise _malformed(source, bad)
    if not parcels:
        raise LayerReadError(
            f"{source}: no parcel (没有地块): a [地块坐标] section with lines ending in @ "
            "is needed; is this a 界址点坐标 TXT?"
        )
    geoms = _nest(rings, ring_parcel, len(parcels))
    eastings = np.array([p[4] for parcel in parcels for p in parcel.points])
    crs = header_crs(header, eastings, source=source) if crs_from_header else None
    frame = gpd.GeoDataFrame(_attributes(parcels), geometry=geoms, crs=crs)
    unit = _check_areas(frame, parcels, source)
    frame.attrs["boundary_txt"] = {
        "header": header,
        "sections": others,
        "decimals": decimals,
        "area_unit": unit,
        "encoding": used,
    }
    return frame


def _parcel_line(number: int, line: str, bad: list[tuple[int, str, str]]) -> _Parcel:
    fields = [f.strip() for f in line[:-1].split(",")]
    if fields and not fields[-1]:
        fields.pop()  # the comma before @
    count = fields[0] if fields else ""
    area = fields[1] if len(fields) > 1 else ""
    if len(fields) < 3 or not count.isdigit() or (area and _number(area) is None):
        bad.append((number, "地块行应为 界址点数,地块面积,地块编号,…,@", line))
        return _Parcel(number, 0, "", [], broken=True)
    return _Parcel(number, int(count), area, fields[2:])


def _rings(
    parcels: list[_Parcel], bad: list[tuple[int, str, str]]
) -> tuple[list[np.ndarray], list[int]]:
    """Closed rings (x = easting, y = northing) and their parcel, checking each parcel."""
    rings: list[np.ndarray] = []
    owner: list[int] = []
    for k, parcel in enumerate(parcels):
        if parcel.broken:
            continue
        if not parcel.points:
            bad.append((parcel.line, "地块没有坐标行", ""))
            continue
        runs: list[list[tuple[int, str, int, float, float]]] = []
        for point in parcel.points:
            if runs and runs[-1][-1][2] == point[2]:
                runs[-1].append(point)
            else:
                runs.append([point])
        for run in runs:
            first, last = run[0], run[-1]
            where = f"第 {first[0]}–{last[0]} 行的圈 {first[2]}"
            if (first[3], first[4]) != (last[3], last[4]):
                bad.append((first[0], f"{where}没有回到起点（首尾点应相同）", ""))
            elif len(run) < 4:
                bad.append((first[0], f"{where}少于 3 个点", ""))
            else:
                # X is the northing, Y the easting: GIS x is the file's Y.
                rings.append(np.array([(p[4], p[3]) for p in run]))
                owner.append(k)
        n = len(parcel.points)
        if parcel.count not in (n, n - len(runs)):
            bad.append(
                (
                    parcel.line,
                    f"界址点数 {parcel.count} 与坐标行数 {n}（{len(runs)} 个圈）不符",
                    "",
                )
            )
    return rings, owner


def _malformed(source: str, bad: list[tuple[int, str, str]]) -> LayerReadError:
    bad = sorted(bad)
    numbers = sorted({n for n, _, _ in bad})
    shown = "、".join(map(str, numbers[:50])) + (" …" if len(numbers) > 50 else "")
    details = "; ".join(
        f"第 {n} 行 {why}" + (f"：'{raw.strip()[:40]}'" if raw.strip() else "")
        for n, why, raw in bad[:3]
    )
    return LayerReadError(
        f"{source}: {len(numbers)} 行格式错误 malformed line(s) {shown} ({details}). Correct "
        "these lines in the TXT (地块行 界址点数,地块面积,地块编号,地块名称,面,图幅号,地块用途,"
        "地类编码,@; 坐标行 点号,圈号,X,Y) and read it again."
    )


def _nest(rings: list[np.ndarray], parcel: list[int], n_parcels: int) -> np.ndarray:
    """Polygons of each parcel from its rings: depth by containment, even = part, odd = hole."""
    owner = np.asarray(parcel, dtype=int)
    coords = np.concatenate(rings)
    ring_of_point = np.repeat(np.arange(len(rings)), [len(r) for r in rings])
    linear = shapely.linearrings(coords, indices=ring_of_point)
    filled = shapely.polygons(linear)
    inner, outer = shapely.STRtree(filled).query(filled, predicate="within")
    keep = (inner != outer) & (owner[inner] == owner[outer])
    inner, outer = inner[keep], outer[keep]
    depth = np.bincount(inner, minlength=len(rings))
    # The nearest container of a ring is the deepest one around it: the last of its
    # containers sorted by depth.
    order = np.lexsort((depth[outer], inner))
    inner, outer = inner[order], outer[order]
    deepest = np.r_[inner[1:] != inner[:-1], True] if len(inner) else np.zeros(0, bool)
    nearest = np.arange(len(rings))
    nearest[inner[deepest]] = outer[deepest]
    shell = np.where(depth % 2 == 0, np.arange(len(rings)), nearest)
    order = np.lexsort((np.arange(len(rings)), depth % 2, shell))
    polygon_ids, dense = np.unique(shell[order], return_inverse=True)
    polygons = shapely.polygons(linear[order], indices=dense)
    polygon_parcel = owner[polygon_ids]
    counts = np.bincount(polygon_parcel, minlength=n_parcels)
    out = np.empty(n_parcels, dtype=object)
    single = counts[polygon_parcel] == 1
    out[polygon_parcel[single]] = polygons[single]
    multi = np.flatnonzero(counts > 1)
    if len(multi):
        sel = ~single
        _, idx = np.unique(polygon_parcel[sel], return_inverse=True)
        out[multi] = shapely.multipolygons(polygons[sel], indices=idx)
    return out


def _attributes(parcels: list[_Parcel]) -> pd.DataFrame:
    def column(k: int) -> list[str | None]:
        return [p.fields[k] if len(p.fields) > k and p.fields[k] else None for p in parcels]

    return pd.DataFrame(
        {
            "parcel_id": column(0),
            "parcel_name": column(1),
            "shape_kind": column(2),
            "sheet_no": column(3),
            "land_use": column(4),
            "land_class_code": column(5),
            "extra_fields": [",".join(p.fields[6:]) or None for p in parcels],
            "point_count": [p.count for p in parcels],
        }
    )


def _check_areas(frame: gpd.GeoDataFrame, parcels: list[_Parcel], source: str) -> str:
    """Add the stated-area columns; return the unit the stated areas are read in.

    One unit per file (one producer wrote it): the unit whose reading lies
    closest to the measured areas, 公顷 when nothing is stated.
    """
    stated = np.array([_number(p.area_text) if p.area_text else np.nan for p in parcels])
    plane = np.asarray(shapely.area(frame.geometry.array), dtype=float)
    ellipsoid = (
        area_ellipsoid_m2(frame.geometry.array, frame.crs) if frame.crs is not None else plane
    )
    given = np.isfinite(stated) & (stated > 0)
    unit = "公顷"
    if given.any():
        misfit = {
            name: np.median(np.abs(np.log10(stated[given] * factor / plane[given])))
            for name, factor in AREA_UNITS.items()
        }
        unit = min(misfit, key=misfit.__getitem__)
    factor = AREA_UNITS[unit]
    stated_m2 = stated * factor
    last_digit = np.array([10.0 ** -_decimals(p.area_text) for p in parcels]) * factor
    tolerance = last_digit / 2 + _AREA_SHARE * plane
    ok = (np.abs(stated_m2 - plane) <= tolerance) | (np.abs(stated_m2 - ellipsoid) <= tolerance)
    frame["stated_area"] = stated
    frame["stated_area_unit"] = pd.Series(unit, index=frame.index).where(np.isfinite(stated))
    frame["stated_area_m2"] = stated_m2
    frame["stated_area_diff_m2"] = stated_m2 - plane
    frame["stated_area_ok"] = pd.Series(ok, index=frame.index, dtype="boolean").where(given)
    wrong = given & ~ok
    if wrong.any():
        shown = "；".join(
            f"地块 {frame['parcel_id'].iloc[k]}（第 {parcels[k].line} 行）写 "
            f"{parcels[k].area_text} {unit}，坐标计算 {plane[k] / factor:.4f} {unit}"
            for k in np.flatnonzero(wrong)[:10]
        )
        warnings.warn(
            f"{source}: 地块面积按{unit}理解 (stated areas read as {unit}); "
            f"{int(wrong.sum())} 个地块所写面积与坐标不符 stated area differs from the "
            f"coordinates: {shown}. Check the file's 地块面积 or its coordinates.",
            LanduseWarning,
            stacklevel=5,  # the caller of landuse.io.read_layer
        )
    return unit


def _zone_number(text: str) -> int | None:
    digits = re.search(r"\d+", text)
    return int(digits.group()) if digits else None


def header_crs(
    header: Mapping[str, str], eastings: np.ndarray, *, source: str = "TXT"
) -> pyproj.CRS | None:
    """The CRS a [属性描述] header names, checked against the eastings.

    Parameters
    ----------
    header : mapping
        ``坐标系``, ``几度分带``, ``投影类型``, ``计量单位`` and ``带号`` as written.
    eastings : ndarray
        The Y values of the file (eastings, with or without the zone prefix).
    source : str
        File name, for messages.

    Returns
    -------
    pyproj.CRS or None
        The Gauss-Kruger CRS; None when the header names no 坐标系.

    Raises
    ------
    CRSError
        An unknown coordinate system or projection, a zone the eastings
        contradict, or no zone at all.

    Examples
    --------
    >>> header = {"坐标系": "2000国家大地坐标系", "几度分带": "3", "带号": "36"}
    >>> header_crs(header, np.array([36_520_000.0])).to_epsg()
    4524
    >>> header_crs(header, np.array([520_000.0])).to_epsg()
    4545
    """
    name = header.get("坐标系", "").strip()
    if not name:
        return None
    fix = f"fix [属性描述] in {source} or pass the CRS with --crs (crs in [layers.<name>])"
    if "2000" in name or "CGCS" in name.upper():
        datum = "cgcs2000"
    elif "80" in name or "西安" in name:
        datum = "xian1980"
    elif "54" in name or "北京" in name:
        datum = "beijing1954"
    else:
        raise CRSError(
            f"{source}: 坐标系={name} is not one landuse knows (2000国家大地坐标系, "
            f"1980西安坐标系, 1954北京坐标系); {fix}."
        )
    projection = header.get("投影类型", "").strip()
    if projection and "高斯" not in projection and "gauss" not in projection.lower():
        raise CRSError(f"{source}: 投影类型={projection} is not Gauss-Kruger (高斯克吕格); {fix}.")
    unit = header.get("计量单位", "").strip()
    if unit and unit not in ("米", "m", "M", "metre", "meter"):
        raise CRSError(f"{source}: 计量单位={unit}: coordinates must be in metres (米); {fix}.")
    width = _zone_number(header.get("几度分带", ""))
    zone = _zone_number(header.get("带号", ""))
    prefixes = np.unique(np.floor(eastings / 1e6)) if len(eastings) else np.array([])
    prefixed = bool(len(prefixes)) and bool((eastings >= 1e7).all())
    if prefixed and len(prefixes) > 1:
        raise CRSError(
            f"{source}: the eastings (Y) carry different zone prefixes "
            f"({', '.join(str(int(p)) for p in prefixes)}); one file holds one zone."
        )
    prefix = int(prefixes[0]) if prefixed else None
    if zone is not None and prefix is not None and zone != prefix:
        raise CRSError(
            f"{source}: 带号={zone} but the eastings (Y) carry zone prefix {prefix}; {fix}."
        )
    zone = zone if zone is not None else prefix
    if zone is None:
        raise CRSError(
            f"{source}: no 带号 and the eastings (Y) have no zone prefix, so the zone is "
            f"unknown; {fix}."
        )
    if width is None:
        width = 6 if 13 <= zone <= 23 else 3
    if width not in (3, 6):
        raise CRSError(f"{source}: 几度分带={width}: Gauss-Kruger zones are 3 or 6 degrees wide.")
    # Check the zone exists (CGCS2000 numbering is the same for every datum).
    (gk3_epsg if width == 3 else gk6_epsg)(zone, prefixed=True)
    base = _DATUM_CODES[datum][1][(0 if width == 3 else 2) + (0 if prefixed else 1)]
    return pyproj.CRS.from_epsg(base + zone)


def _header_for(crs: pyproj.CRS) -> dict[str, str] | None:
    """坐标系, 几度分带 and 带号 of a Gauss-Kruger CRS with a zone prefix, else None."""
    code = crs.to_epsg()
    if code is None:
        return None
    for written, (p3, _, p6, _) in _DATUM_CODES.values():
        for width, base, zones in ((3, p3, range(25, 46)), (6, p6, range(13, 24))):
            if code - base in zones:
                return {"坐标系": written, "几度分带": str(width), "带号": str(code - base)}
    return None


def format_boundary_txt(
    parcels: gpd.GeoDataFrame,
    *,
    header: Mapping[str, str] | None = None,
    sections: Mapping[str, list[str]] | None = None,
    decimals: int = 3,
    area_unit: str = "公顷",
) -> bytes:
    """Write parcels as a 界址点坐标 TXT (GB18030, CRLF).

    Coordinates are written in the parcels' CRS when it is a Gauss-Kruger zone
    with the prefix (CGCS2000, Xian 1980 or Beijing 1954), else in the
    CGCS2000 3-degree zone with the prefix nearest the parcels.  Exterior rings
    run clockwise and holes anticlockwise (界址点按顺时针编号); points are named
    J1, J2 … through the parcel, each ring repeating its first point, and
    界址点数 counts every coordinate line.

    Parameters
    ----------
    parcels : GeoDataFrame
        Polygons with ``parcel_id`` (else numbered 1, 2 …) and optionally
        ``parcel_name``, ``shape_kind``, ``sheet_no``, ``land_use``,
        ``land_class_code``, ``extra_fields`` and ``stated_area`` /
        ``stated_area_unit`` (written as they are; else the plane area).
    header : mapping, optional
        [属性描述] of the file read, kept except for what the CRS decides.
    sections : mapping, optional
        Other sections of the file read, written back before [属性描述].
    decimals : int
        Decimals of the coordinates (3 = millimetres).
    area_unit : {"公顷", "平方米"}
        Unit of 地块面积 when the parcels carry no stated area.

    Returns
    -------
    bytes
    """
    if area_unit not in AREA_UNITS:
        raise ValueError(f"area_unit must be one of {', '.join(AREA_UNITS)}")
    crs = parcels.crs
    written = _header_for(crs) if crs is not None else None
    if written is None:
        zone = gk3_zone_for_lon(float(np.mean(parcels.to_crs(4490).total_bounds[[0, 2]])))
        parcels = parcels.to_crs(gk3_epsg(zone, prefixed=True))
        written = _header_for(parcels.crs)
    assert written is not None  # a CGCS2000 zone with the prefix has a header
    values = {key: "" for key in HEADER_KEYS}
    values.update(header or {})
    if values["坐标系"] != written["坐标系"] or not values["转换参数"]:
        values["转换参数"] = ",,,,,,"  # the source's parameters belong to its datum
    values.update(written, 投影类型="高斯克吕格", 计量单位="米")
    values["精度"] = values["精度"] or f"{10.0**-decimals:.{decimals}f}"
    lines = []
    for name, body in (sections or {}).items():
        lines += [f"[{name}]", *body]
    lines += [f"[{_ATTRIBUTES}]", *(f"{k}={v}" for k, v in values.items()), f"[{_COORDINATES}]"]
    geoms = shapely.orient_polygons(
        np.asarray(parcels.geometry.array, dtype=object), exterior_cw=True
    )
    n = len(parcels)

    def text(column: str) -> list[str]:
        if column not in parcels.columns:
            return [""] * n
        return [
            "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)
            for v in parcels[column]
        ]

    ids = text("parcel_id")
    ids = [v or str(k + 1) for k, v in enumerate(ids)]
    names, kinds, sheets = text("parcel_name"), text("shape_kind"), text("sheet_no")
    uses, codes, extras = text("land_use"), text("land_class_code"), text("extra_fields")
    stated, stated_unit = text("stated_area"), text("stated_area_unit")
    plane = shapely.area(geoms)
    for k in range(n):
        rings = [shapely.get_coordinates(r) for r in shapely.get_rings(shapely.get_parts(geoms[k]))]
        count = sum(len(r) for r in rings)
        given = bool(stated[k]) and stated_unit[k] in AREA_UNITS
        unit = stated_unit[k] if given else area_unit
        value = float(stated[k]) if given else plane[k] / AREA_UNITS[unit]
        digits = 4 if unit == "公顷" else 2
        # A stated area is kept to its last digit; a measured one is rounded.
        area = repr(value) if given and round(value, digits) != value else f"{value:.{digits}f}"
        head = [str(count), area, ids[k], names[k], kinds[k] or "面", sheets[k], uses[k]]
        lines.append(",".join([*head, codes[k], *([extras[k]] if extras[k] else []), "@"]))
        label = 0
        for number, ring in enumerate(rings, start=1):
            labels = [*range(label + 1, label + len(ring)), label + 1]
            label += len(ring) - 1
            lines += [
                f"J{j},{number},{y:.{decimals}f},{x:.{decimals}f}"
                for j, (x, y) in zip(labels, ring, strict=True)
            ]
    return ("\r\n".join(lines) + "\r\n").encode("gb18030")

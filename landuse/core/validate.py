"""Layer validation: field mapping, schema checks and polygon repair.

Every problem of a layer is collected and reported together (like osmnx's
validators) instead of failing on the first.  Geometry repairs never lose a
feature silently: each repaired or dropped feature gets a row in the returned
report, so count in = count kept + count dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from landuse.core.errors import DuplicateIdError, SchemaError
from landuse.core.overlay import polygonal

__all__ = [
    "REPORT_COLUMNS",
    "check_layer",
    "clean_geometries",
    "intake_counts",
    "report_order",
    "standardize_fields",
]

REPORT_COLUMNS = ["layer", "feature_id", "action", "detail"]

_LINE, _POLYGON, _MULTILINE, _MULTIPOLYGON, _COLLECTION = 1, 3, 5, 6, 7  # GEOS type ids
_TYPE_NAMES = np.array(
    [
        "Point",
        "LineString",
        "LinearRing",
        "Polygon",
        "MultiPoint",
        "MultiLineString",
        "MultiPolygon",
        "GeometryCollection",
    ]
)
# What clean_geometries reports, in the order it lists the features: these
# events, then features of the wrong type, then repaired polygons.
_EVENTS = (
    ("dropped", "无几何，已剔除 no geometry"),
    ("dropped", "空几何，已剔除 empty geometry"),
    ("dropped", "修复后面积为零，已剔除 no area left after repair"),
    # A valid polygon has area, so only a collection can hold none.
    ("dropped", "几何集合中没有面（GeometryCollection），已剔除 no polygon in the collection"),
    ("repaired", "保留几何集合中的面部分 kept the polygon parts of a collection"),
)
_WRONG_TYPE = "不是"
_REPAIRED = "无效面已修复 invalid polygon repaired: "
_KIND_NAMES = {"polygon": ("面要素", "a polygon"), "line": ("线要素", "a line")}
_ALLOWED_TYPES = {
    "polygon": [_POLYGON, _MULTIPOLYGON, _COLLECTION],
    "line": [_LINE, _MULTILINE],
    "any": list(range(8)),  # buffer layers: points, lines or polygons
}


def standardize_fields(
    df: pd.DataFrame,
    aliases: Mapping[str, Iterable[str]],
    *,
    layer_name: str,
    overrides: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Rename a layer's fields to landuse's canonical names.

    Bureaus name the same field differently (DKBH, 地块编号, ZDDM ...).  An
    explicit override from ``landuse.toml`` wins; otherwise the first alias
    present (case-insensitive) is used, also when a shapefile cut a Chinese
    name at the DBF limit of 10 bytes (统一社会信 for 统一社会信用代码).  Unmatched
    fields are kept as they are.

    Parameters
    ----------
    df : DataFrame or GeoDataFrame
        The layer as read.
    aliases : mapping
        Canonical name → candidate source names, in order of preference.
    layer_name : str
        Used in error messages.
    overrides : mapping, optional
        Canonical name → source field, from the project file.

    Returns
    -------
    DataFrame or GeoDataFrame
        A renamed copy.

    Raises
    ------
    SchemaError
        An override names a field the layer does not have.
    """
    lower = {str(c).lower(): c for c in df.columns}
    rename: dict[str, str] = {}
    for canonical, source in (overrides or {}).items():
        if source not in df.columns:
            raise SchemaError(
                f"Layer '{layer_name}': landuse.toml maps '{canonical}' to field '{source}', "
                f"which does not exist. Fields: {', '.join(map(str, df.columns))}."
            )
        rename[source] = canonical
    for canonical, candidates in aliases.items():
        if canonical in rename.values() or canonical in df.columns:
            continue
        for cand in candidates:
            found = lower.get(cand.lower()) or _truncated(cand, df.columns)
            if found is not None and found not in rename:
                rename[found] = canonical
                break
    return df.rename(columns=rename)


# A DBF field name holds 10 bytes: GBK 约定动工日期 (12 bytes) arrives as 约定动工日,
# UTF-8 (3 bytes a character) as 约定动.
_DBF_NAME_BYTES = 10


def _truncated(alias: str, columns: Iterable[object]) -> str | None:
    """The column that is ``alias`` cut at the DBF name limit, if there is one."""
    for column in columns:
        name = str(column)
        if not alias.startswith(name) or name == alias or name.isascii():
            continue
        nxt = alias[len(name)]
        for encoding in ("gb18030", "utf-8"):
            size = len(name.encode(encoding))
            if size <= _DBF_NAME_BYTES < size + len(nxt.encode(encoding)):
                return name
    return None


def check_layer(
    gdf: pd.DataFrame,
    *,
    layer_name: str,
    required: Iterable[str] = (),
    id_field: str | None = None,
) -> None:
    """Check a layer's schema and report every problem in one error.

    Parameters
    ----------
    gdf : GeoDataFrame or DataFrame
        The layer after :func:`standardize_fields`.
    layer_name : str
        Used in the message.
    required : iterable of str
        Fields that must exist.
    id_field : str, optional
        A field whose values must be present and unique.

    Raises
    ------
    DuplicateIdError
        Ids repeat (the message lists them, with any other problem).
    SchemaError
        Other problems: missing fields, empty ids, no CRS.
    """
    problems: list[str] = []
    missing = [f for f in required if f not in gdf.columns]
    if missing:
        problems.append(
            f"missing field(s) {', '.join(missing)} (fields present: "
            f"{', '.join(map(str, gdf.columns))}; "
            f"map them in landuse.toml [layers.{layer_name}.fields])"
        )
    if isinstance(gdf, gpd.GeoDataFrame) and gdf.crs is None:
        problems.append("no CRS (pass --crs)")
    duplicates: list[str] = []
    if id_field is not None and id_field in gdf.columns:
        ids = gdf[id_field]
        blank = ids.isna() | (ids.astype(str).str.strip() == "")
        if blank.any():
            rows = np.flatnonzero(blank.to_numpy())[:20]
            problems.append(
                f"{int(blank.sum())} feature(s) without {id_field} (rows {rows.tolist()})"
            )
        counts = ids[~blank].value_counts()
        duplicates = sorted(map(str, counts.index[counts > 1]))
        if duplicates:
            shown = ", ".join(duplicates[:50]) + (" ..." if len(duplicates) > 50 else "")
            problems.append(
                f"{len(duplicates)} duplicate {id_field} value(s): {shown}; each id must be unique"
            )
    if not problems:
        return
    message = f"Layer '{layer_name}': " + "; ".join(problems) + "."
    if duplicates:
        raise DuplicateIdError(message, duplicates)
    raise SchemaError(message)


def clean_geometries(
    gdf: gpd.GeoDataFrame,
    *,
    layer_name: str,
    id_field: str | None = None,
    kind: Literal["polygon", "line", "any"] = "polygon",
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Repair invalid polygons and drop unusable features, reporting each one.

    Invalid polygons (bowties, self-touching rings, duplicate points) are
    repaired with ``make_valid(method="structure")``, keeping only polygonal
    parts.  Null, empty, wrong-type (named by type: lines and points in a
    polygon layer), collapsed (zero-area) features and collections without a
    polygon are dropped.  Nothing is exploded: a repaired feature stays one
    feature, so ``len(gdf) == kept + repaired + dropped`` (see
    :func:`intake_counts`).

    Parameters
    ----------
    gdf : GeoDataFrame
        A polygon (or line) layer.
    layer_name : str
        Written into the report.
    id_field : str, optional
        Field identifying features in the report; the row position otherwise.
    kind : {"polygon", "line", "any"}
        The geometry the layer must hold; only polygons are repaired, and with
        ``"any"`` non-polygonal features are kept as they are.

    Returns
    -------
    cleaned : GeoDataFrame
        The kept features, index preserved, input not mutated.
    report : DataFrame
        One row per repaired or dropped feature: ``layer``, ``feature_id``,
        ``action`` (``repaired`` / ``dropped``) and ``detail``, indexed by the
        feature's index; rows grouped by what was done (see :func:`report_order`).
    """
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    ids = gdf[id_field].astype(str).to_numpy() if id_field else np.arange(len(gdf)).astype(str)
    null = shapely.is_missing(geoms)
    empty = ~null & shapely.is_empty(geoms)
    types = shapely.get_type_id(geoms)
    if kind not in _ALLOWED_TYPES:
        raise ValueError(f"kind must be one of {', '.join(_ALLOWED_TYPES)}, got {kind!r}")
    wrong_type = ~null & ~empty & ~np.isin(types, _ALLOWED_TYPES[kind])
    candidate = ~(null | empty | wrong_type)
    polygon_like = candidate & np.isin(types, _ALLOWED_TYPES["polygon"])
    invalid = polygon_like & ~shapely.is_valid(geoms) if kind != "line" else np.zeros_like(null)

    fixed = geoms.copy()
    reasons = np.full(len(geoms), "", dtype=object)
    if invalid.any():
        reasons[invalid] = shapely.is_valid_reason(geoms[invalid])
        fixed[invalid] = shapely.make_valid(
            geoms[invalid], method="structure", keep_collapsed=False
        )
    if kind != "line":
        fixed[polygon_like] = polygonal(fixed[polygon_like])
        collapsed = polygon_like & (shapely.is_empty(fixed) | (shapely.area(fixed) == 0))
    else:
        collapsed = np.zeros_like(null)
    repaired = invalid & ~collapsed
    extracted = candidate & ~invalid & ~collapsed & (types == _COLLECTION)

    masks = [null, empty, collapsed & invalid, collapsed & ~invalid, extracted]
    rows = [
        pd.DataFrame(
            {"feature_id": ids[mask], "action": action, "detail": detail}, index=gdf.index[mask]
        )
        for mask, (action, detail) in zip(masks, _EVENTS, strict=True)
        if mask.any()
    ]
    if wrong_type.any():
        zh, en = _KIND_NAMES[kind]
        names = _TYPE_NAMES[types[wrong_type]]
        rows.append(
            pd.DataFrame(
                {
                    "feature_id": ids[wrong_type],
                    "action": "dropped",
                    "detail": [f"{_WRONG_TYPE}{zh}（{t}），已剔除 not {en}" for t in names],
                },
                index=gdf.index[wrong_type],
            )
        )
    if repaired.any():
        rows.append(
            pd.DataFrame(
                {
                    "feature_id": ids[repaired],
                    "action": "repaired",
                    "detail": [f"{_REPAIRED}{r}" for r in reasons[repaired]],
                },
                index=gdf.index[repaired],
            )
        )
    report = pd.concat(rows) if rows else pd.DataFrame(columns=REPORT_COLUMNS[1:])
    report.insert(0, "layer", layer_name)
    keep = candidate & ~collapsed
    cleaned = gdf.loc[keep].copy()
    cleaned[gdf.geometry.name] = gpd.GeoSeries(fixed[keep], index=cleaned.index, crs=gdf.crs)
    return cleaned, report[REPORT_COLUMNS]


def report_order(report: pd.DataFrame, position: np.ndarray) -> np.ndarray:
    """The order putting reports of parts of a layer as :func:`clean_geometries` of all of it.

    Parameters
    ----------
    report : DataFrame
        The reports of the parts, concatenated.
    position : ndarray of int
        Each row's feature position in the whole layer.

    Returns
    -------
    ndarray of int
        Row positions: by what was done, in the order :func:`clean_geometries`
        lists it, then by feature.
    """
    detail = report["detail"].astype(str)
    group = np.select(
        [detail.str.startswith(_WRONG_TYPE), detail.str.startswith(_REPAIRED)],
        [len(_EVENTS), len(_EVENTS) + 1],
        default=-1,
    )
    for k, (_, text) in enumerate(_EVENTS):
        group[(detail == text).to_numpy()] = k
    return np.lexsort((position, group))


def intake_counts(n_in: int, report: pd.DataFrame) -> dict[str, int]:
    """Count what cleaning did to one layer: ``read = kept + repaired + dropped``.

    Parameters
    ----------
    n_in : int
        Features read (the length of the layer given to :func:`clean_geometries`).
    report : DataFrame
        That layer's report from :func:`clean_geometries`.

    Returns
    -------
    dict
        ``read``, ``kept`` (unchanged), ``repaired`` and ``dropped``.

    Raises
    ------
    ValueError
        The report cannot come from ``n_in`` features: a feature listed twice,
        an unknown action, or more rows than features.

    Examples
    --------
    >>> report = pd.DataFrame({"feature_id": ["7"], "action": ["dropped"]})
    >>> intake_counts(12, report)
    {'read': 12, 'kept': 11, 'repaired': 0, 'dropped': 1}
    """
    actions = report["action"].value_counts()
    unknown = set(actions.index) - {"repaired", "dropped"}
    if unknown or report["feature_id"].duplicated().any() or len(report) > n_in:
        raise ValueError(
            f"a report of {len(report)} rows (actions {sorted(map(str, actions.index))}) "
            f"does not describe {n_in} features once each"
        )
    repaired, dropped = int(actions.get("repaired", 0)), int(actions.get("dropped", 0))
    return {
        "read": n_in,
        "kept": n_in - repaired - dropped,
        "repaired": repaired,
        "dropped": dropped,
    }

"""Loading a project: every layer and table through the intake path, with counts."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely

from landuse.core.chunks import MISSING, chunks_by_distance
from landuse.core.config import (
    FIELD_ALIASES,
    GEOMETRY_KINDS,
    ID_FIELDS,
    LAYER_LABELS,
    REQUIRED_FIELDS,
    Project,
)
from landuse.core.crs import CGCS2000, analysis_crs, centre_lon, to_analysis_crs
from landuse.core.errors import ConfigError, LayerReadError
from landuse.core.tables import DROPPED_COLUMNS
from landuse.core.validate import (
    REPORT_COLUMNS,
    check_layer,
    clean_geometries,
    intake_counts,
    standardize_fields,
)
from landuse.io import postgis
from landuse.io.crs_checks import ZoneUnknownError, zone_hint
from landuse.io.info import _choose_layer
from landuse.io.paths import _gdal_path
from landuse.io.read import read_database_layer, read_layer, read_table


def load_layer(
    project: Project,
    name: str,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    bbox_crs: pyproj.CRS | None = None,
    fids: np.ndarray | None = None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Read a project's spatial layer with canonical fields, checked and repaired.

    Parameters
    ----------
    project : Project
        From :func:`landuse.core.config.load_project` or ``sample_project()``.
    name : str
        Logical layer: ``parcels``, ``udb``, ``farmland``, ``eco_redline``,
        ``parks``, ``district`` or ``roads``.
    bbox, bbox_crs : optional
        For a layer in a database table: read only features meeting this box.
    fids : ndarray of int, optional
        For a layer in a file: read only these features, one part from
        :func:`layer_parts` (the layer is then indexed by them, and checks that
        need the whole layer, such as unique ids, are the caller's).

    Returns
    -------
    layer : GeoDataFrame
        Fields renamed to canonical names, geometry repaired.
    report : DataFrame
        The features repaired or dropped (see :func:`landuse.core.validate.clean_geometries`).

    Raises
    ------
    SchemaError
        Missing required fields, duplicate or empty ids, all listed together.
    """
    kind = GEOMETRY_KINDS.get(name, "any")
    if kind is None:
        raise LayerReadError(f"'{name}' is a table, not a spatial layer; use load_table().")
    spec = project.layer(name)
    transform = project.options.project.datum_transform
    if spec.table is not None:
        url = postgis.database_url(project.options.project.database)
        raw = read_database_layer(
            url, spec.table, crs=spec.crs, datum_transform=transform, bbox=bbox, bbox_crs=bbox_crs
        )
    else:
        assert spec.path is not None  # a spec names a path or a table (config checks)
        raw = read_layer(
            spec.path,
            spec.layer,
            crs=spec.crs,
            encoding=spec.encoding,
            datum_transform=transform,
            fids=fids,
        )
    gdf = standardize_fields(
        raw, FIELD_ALIASES.get(name, {}), layer_name=name, overrides=spec.fields
    )
    id_field = ID_FIELDS.get(name)
    check_layer(gdf, layer_name=name, required=REQUIRED_FIELDS.get(name, ()), id_field=id_field)
    cleaned, report = clean_geometries(gdf, layer_name=name, id_field=id_field, kind=kind)
    cleaned.attrs = {
        **raw.attrs,
        "landuse_source": {**raw.attrs["landuse_source"], "read": len(raw)},
    }
    return cleaned, report


def can_split(project: Project, name: str) -> bool:
    """Whether :func:`layer_parts` can split a layer: a file other than ``.txt`` and ``.dxf``."""
    spec = project.layer(name)
    return spec.path is not None and spec.path.suffix.lower() not in (".txt", ".dxf")


def layer_parts(project: Project, name: str, n: int) -> tuple[list[np.ndarray], np.ndarray, Any]:
    """A file layer's feature ids in ``n`` spatially compact parts, from their boxes only.

    Nothing is decoded: a GeoPackage's boxes come from its spatial index, other
    files' from :func:`pyogrio.read_bounds`.  The parts follow the Hilbert
    order of the boxes as :func:`landuse.core.chunks.spatial_chunks` (features
    without geometry in the last), computed a batch at a time.

    Parameters
    ----------
    project : Project
        The project.
    name : str
        A logical layer in a file other than ``.txt`` or ``.dxf``.
    n : int
        Parts wanted.

    Returns
    -------
    parts : list of ndarray of int
        Ascending feature ids, for ``load_layer(..., fids=part)``.
    total_bounds : ndarray
        ``(minx, miny, maxx, maxy)`` of every feature, in the layer's own CRS.
    crs
        The file's CRS (``[layers] crs`` if given), None when it has none.

    Raises
    ------
    LayerReadError
        A database table, a ``.txt`` or a ``.dxf`` (see :func:`can_split`).
    """
    spec = project.layer(name)
    if spec.path is None or not can_split(project, name):
        raise LayerReadError(f"Layer '{name}' cannot be read in parts (a table, .txt or .dxf).")
    source = _gdal_path(spec.path)
    layer = _choose_layer(spec.path, spec.layer)
    info = pyogrio.read_info(source, layer=layer)
    fids, bounds = _gpkg_index_bounds(spec.path, layer, info) or pyogrio.read_bounds(
        source, layer=layer
    )
    present = np.isfinite(bounds).all(axis=0)
    total = np.array([*bounds[:2, present].min(axis=1), *bounds[2:, present].max(axis=1)])
    # A box's Hilbert distance is that of its centre, on the extent of the centres
    # (as geopandas' hilbert_distance computes it for the whole layer).
    centres = (bounds[:2] + bounds[2:]) / 2.0
    extent = [*centres[:, present].min(axis=1), *centres[:, present].max(axis=1)]
    distance = np.full(len(fids), MISSING)
    at = np.flatnonzero(present)
    for start in range(0, len(at), _POINTS_AT_ONCE):
        rows = at[start : start + _POINTS_AT_ONCE]
        points = gpd.GeoSeries(shapely.points(*centres[:, rows]))
        distance[rows] = points.hilbert_distance(total_bounds=extent).to_numpy()
    parts = [fids[rows] for rows in chunks_by_distance(distance, n)]
    return parts, total, spec.crs or info["crs"]


#: Centres made points at a time for their Hilbert distances (bounds the memory).
_POINTS_AT_ONCE = 100_000


def _gpkg_index_bounds(
    path: Path, layer: str, info: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray] | None:
    """Ids and boxes (4 × n) of a GeoPackage layer from its R-tree, or None without one.

    The R-tree leaves out features without geometry: they get NaN boxes.
    """
    if path.suffix.lower() != ".gpkg":
        return None
    tree = f"rtree_{layer}_{info['geometry_name']}"
    has_tree = (
        "SELECT 1 AS yes FROM gpkg_extensions WHERE extension_name = 'gpkg_rtree_index' "
        f"AND table_name = '{layer.replace(chr(39), chr(39) * 2)}'"
    )
    if pyogrio.read_arrow(path, sql=has_tree)[1].num_rows == 0:
        return None
    ids = pyogrio.read_arrow(path, layer=layer, columns=[], read_geometry=False, return_fids=True)
    fids = np.sort(ids[1].column(0).to_numpy())
    boxes = pyogrio.read_arrow(path, sql=f'SELECT id, minx, miny, maxx, maxy FROM "{tree}"')[1]
    bounds = np.full((4, len(fids)), np.nan)
    at = np.searchsorted(fids, boxes.column("id").to_numpy())
    for k, side in enumerate(("minx", "miny", "maxx", "maxy")):
        bounds[k, at] = boxes.column(side).to_numpy()
    return fids, bounds


def load_table(project: Project, name: str = "enterprises") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a project's attribute table (e.g. enterprises) with canonical fields.

    Parameters
    ----------
    project : Project
        The project.
    name : str
        Logical table name.

    Returns
    -------
    table : DataFrame
        Canonical fields; the index is the row number as Excel shows it.
    report : DataFrame
        The rows left out under the header (合计/小计, units, notes, blank
        rows), one report row each: ``feature_id`` is ``第 N 行``.
    """
    spec = project.layer(name)
    if spec.table is not None:
        url = postgis.database_url(project.options.project.database)
        df = postgis.read_plain_table(url, spec.table)
        df.attrs["landuse_source"] = {
            "path": f"{postgis.redact(url)} {spec.table}",
            "layer": spec.table,
            "read": len(df),
        }
    else:
        assert spec.path is not None  # a spec names a path or a table (config checks)
        df = read_table(spec.path, sheet=spec.layer)
    df = standardize_fields(df, FIELD_ALIASES.get(name, {}), layer_name=name, overrides=spec.fields)
    check_layer(df, layer_name=name, required=REQUIRED_FIELDS.get(name, ()))
    return df, table_report(name, df)


def table_report(name: str, table: pd.DataFrame) -> pd.DataFrame:
    """The rows :func:`read_table` left out, as report rows (``feature_id`` = ``第 N 行``)."""
    dropped = pd.DataFrame(table.attrs.get("landuse_dropped_rows", []), columns=DROPPED_COLUMNS)
    return pd.DataFrame(
        {
            "layer": name,
            "feature_id": [f"第 {r} 行" for r in dropped["row"]],
            "action": "dropped",
            "detail": (dropped["reason"] + "：" + dropped["text"]).tolist(),
        },
        columns=REPORT_COLUMNS,
    )


@dataclass(frozen=True)
class LayerIntake:
    """What reading one layer did to it: ``read = kept + repaired + dropped``.

    Attributes
    ----------
    layer : str
        Logical layer name (``parcels``, ``udb`` ...).
    source : str
        The file (and layer inside it) read.
    read, repaired, dropped : int
        Features read, repaired (kept, geometry fixed) and dropped (listed in
        the geometry report with the reason).
    """

    layer: str
    source: str
    read: int
    repaired: int
    dropped: int

    @property
    def kept(self) -> int:
        """Features kept as they were."""
        return self.read - self.repaired - self.dropped

    def line(self, report: str | None = "geometry_report.csv") -> str:
        """The one line every command prints for this layer, pointing at ``report``."""
        label = LAYER_LABELS.get(self.layer, self.layer)
        return (
            f"{label}（{self.source}）：读入 {self.read}，原样保留 {self.kept}，"
            f"修复 {self.repaired}，剔除 {self.dropped}"
            + (f"（见 {report}）" if report and (self.repaired or self.dropped) else "")
        )


def layer_intake(name: str, layer: pd.DataFrame, report: pd.DataFrame) -> LayerIntake:
    """What reading ``layer`` (as logical layer ``name``) did, from its source and report."""
    src = layer.attrs["landuse_source"]
    if postgis.is_database_url(src["path"]):
        shown = src["path"]  # the redacted URL and the table
    else:
        path = Path(src["path"])
        inner = src.get("layer") or src.get("sheet")
        shown = path.name + (f":{inner}" if inner and inner != path.stem else "")
    counts = intake_counts(int(src["read"]), report)
    return LayerIntake(
        layer=name,
        source=shown,
        read=counts["read"],
        repaired=counts["repaired"],
        dropped=counts["dropped"],
    )


@dataclass
class ProjectData:
    """A project's layers, all in one analysis CRS, plus what loading repaired.

    Attributes
    ----------
    report : DataFrame
        Every repaired or dropped feature (``layer``, ``feature_id``, ``action``, ``detail``).
    intake : list of LayerIntake
        Per layer: features read, kept, repaired and dropped.
    parts : dict
        Layer name → feature ids in spatial parts (:func:`layer_parts`), for
        layers the dask engine's workers read themselves; their intake is added
        when they have been read.
    """

    project: Project
    crs: pyproj.CRS
    layers: dict[str, gpd.GeoDataFrame]
    tables: dict[str, pd.DataFrame]
    report: pd.DataFrame
    intake: list[LayerIntake] = field(default_factory=list)
    #: Layers not loaded here but read by the dask engine's workers: feature-id parts.
    parts: dict[str, list[np.ndarray]] = field(default_factory=dict)

    @property
    def synthetic(self) -> bool:
        """The data are the synthetic sample (示例数据), by the GeoPackage's own label."""
        return any(g.attrs.get("landuse_source", {}).get("synthetic") for g in self.layers.values())

    def layer(self, name: str) -> gpd.GeoDataFrame:
        """A loaded layer, or the project's error naming the missing ``[layers.<name>]``."""
        if name not in self.layers:
            self.project.layer(name)  # raises ConfigError when the project lacks it
            raise ConfigError(f"Layer '{name}' was not loaded for this step.")
        return self.layers[name]


def load_project_data(
    project: Project,
    names: Iterable[str] | None = None,
    *,
    on_step: Callable[[str], None] | None = None,
    area_of: str | None = None,
    crs: pyproj.CRS | None = None,
) -> ProjectData:
    """Load a project's layers and tables and bring them into one analysis CRS.

    The analysis CRS is ``[project] analysis_crs`` when set, else the
    Gauss-Kruger zone of the parcels (or of the first layer).  Reprojection
    happens here, once, where data enter; analyses then require one CRS.

    Parameters
    ----------
    project : Project
        The project.
    names : iterable of str, optional
        Logical layers to load; by default every layer the project lists.
    on_step : callable, optional
        Called with each layer name before it is read (progress display).
    area_of : str, optional
        A layer covering the only area analysed (a red line given as
        ``parcels``): it is read first, and database tables are read within its
        bounding box (plus 1 km) only.
    crs : pyproj.CRS, optional
        The analysis CRS, when chosen elsewhere (the dask engine chooses it
        from the boxes of parcels it does not load).
    """
    wanted = list(names) if names is not None else list(project.layers)
    if area_of is not None and area_of in wanted:
        wanted.remove(area_of)
        wanted.insert(0, area_of)
    layers: dict[str, gpd.GeoDataFrame] = {}
    tables: dict[str, pd.DataFrame] = {}
    reports = []
    intake = []
    no_zone: tuple[str, ZoneUnknownError] | None = None
    for name in wanted:
        if on_step:
            on_step(f"读取 {LAYER_LABELS.get(name, name)} reading {name}")
        if name in GEOMETRY_KINDS and GEOMETRY_KINDS[name] is None:
            tables[name], report = load_table(project, name)
            reports.append(report)
            intake.append(layer_intake(name, tables[name], report))
            continue
        area: dict[str, Any] = {}
        if area_of is not None and area_of in layers and name != area_of:
            around = layers[area_of]
            minx, miny, maxx, maxy = around.total_bounds
            margin = 1_000.0 if around.crs is not None and around.crs.is_projected else 0.01
            area = {
                "bbox": (minx - margin, miny - margin, maxx + margin, maxy + margin),
                "bbox_crs": around.crs,
            }
        try:
            layers[name], report = load_layer(project, name, **area)
        except ZoneUnknownError as exc:
            # The other layers' location tells the zone: read them before reporting.
            no_zone = no_zone or (name, exc)
            continue
        reports.append(report)
        intake.append(layer_intake(name, layers[name], report))
    if no_zone is not None:
        unplaced, error = no_zone
        if not layers:
            raise error
        raise zone_hint(error, unplaced, centre_lon(next(iter(layers.values())))) from error
    if crs is None and project.analysis_crs:
        crs = pyproj.CRS.from_user_input(project.analysis_crs)
    elif crs is None and layers:
        crs = analysis_crs(layers.get("parcels", next(iter(layers.values()))))
    elif crs is None:
        crs = pyproj.CRS.from_epsg(CGCS2000)
    layers = {name: to_analysis_crs(gdf, crs) for name, gdf in layers.items()}
    report = (
        pd.concat(reports, ignore_index=True) if reports else pd.DataFrame(columns=REPORT_COLUMNS)
    )
    return ProjectData(
        project=project, crs=crs, layers=layers, tables=tables, report=report, intake=intake
    )

"""Reading layers, tables, rasters and database tables through one checked path."""

from __future__ import annotations

import csv
import io
import warnings
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio._io
import pyogrio.raw
import pyproj
import rasterio
import rasterio.errors
import shapely
import shapely.errors

from landuse.core.config import FIELD_ALIASES
from landuse.core.errors import (
    CRSError,
    EncodingError,
    LanduseWarning,
    LayerNotFoundError,
    LayerReadError,
    SchemaError,
)
from landuse.core.tables import ROW_INDEX, clean_table
from landuse.io import postgis
from landuse.io.boundary_txt import parse_boundary_txt
from landuse.io.crs_checks import _resolve_crs
from landuse.io.encoding import TextEncoding, _check_encoding_name, detect_shapefile_encoding
from landuse.io.info import _choose_layer, layer_info, list_layers
from landuse.io.integrity import (
    DAMAGED_FIX,
    _check_shapefiles,
    _layer_info,
    _read_features,
    check_read_geometries,
)
from landuse.io.paths import PathLike, _existing


def read_layer(
    path: PathLike,
    layer: str | None = None,
    *,
    crs: Any = None,
    encoding: str | None = None,
    datum_transform: str | None = None,
    fids: np.ndarray | None = None,
) -> gpd.GeoDataFrame:
    """Read one spatial layer, fixing what real bureau files get wrong.

    Damaged files are errors, never partial reads: a shapefile's ``.shp``,
    ``.shx`` and ``.dbf`` are checked against each other before reading
    (:func:`landuse.io.integrity.check_shapefile`), any error GDAL reports while
    reading fails the read, and the features read must number what the layer
    declares.

    A ``.txt`` is a 界址点坐标 TXT (see :mod:`landuse.io.boundary_txt`); a
    ``.dxf`` gives its closed polylines as polygons (other entities are left
    out, with a warning saying how many), of one CAD layer if ``layer`` names one.

    Parameters
    ----------
    path : str or path-like
        ``.shp``, ``.zip`` (zipped shapefile or FileGDB), ``.gpkg``, ``.gdb``
        folder, ``.geojson``, ``.kml``, ``.dxf``, ``.txt`` (界址点坐标) or
        anything else GDAL reads.
    layer : str, optional
        Layer name inside a multi-layer file; may be omitted when the file
        holds exactly one spatial layer.
    crs : optional
        CRS to use when the file has none (or a wrong one), e.g. ``"EPSG:4524"``.
    encoding : str, optional
        Attribute encoding; detected for shapefiles without ``.cpg``.
    datum_transform : str, optional
        PROJ pipeline taking Xian 1980 / Beijing 1954 degrees to CGCS2000
        degrees (``[project] datum_transform``); layers on those datums are
        refused without it.
    fids : ndarray of int, optional
        Read only these features (ascending feature ids, as
        :func:`pyogrio.read_bounds` gives them): one partition of a layer read
        in pieces.  Not for ``.txt`` and ``.dxf``.

    Returns
    -------
    GeoDataFrame
        ``attrs["landuse_source"]`` records the file, layer, encoding and where
        the CRS came from.  With ``fids``, indexed by them.

    Raises
    ------
    LayerNotFoundError
        The file or layer does not exist.
    LayerReadError
        The file is empty, not spatial, damaged (cut short, garbage bytes,
        parts missing or disagreeing, GDAL read errors) or has no features.
    CRSError
        No CRS and none can be proven from the coordinates.

    Warns
    -----
    LanduseWarning
        GDAL's warnings during the read, and a CRS or encoding that was inferred.
    """
    p = _existing(path)
    _check_encoding_name(p, encoding)
    if fids is not None and p.suffix.lower() in (".txt", ".dxf"):
        raise LayerReadError(f"{p}: a .txt or .dxf layer is read whole, not in pieces.")
    if p.suffix.lower() == ".txt":
        return _read_boundary_txt(p, crs=crs, encoding=encoding, datum_transform=datum_transform)
    cad_layer = None
    if p.suffix.lower() == ".dxf" and layer is not None:
        cad_layer, layer = layer, None  # a DXF's layers are CAD layers of its one GDAL layer
    shapefiles = _check_shapefiles(p, layer)
    name = _choose_layer(p, layer)
    layers = list_layers(p).set_index("name")["geometry_type"]
    if layers.get(name) is None:
        raise LayerReadError(
            f"{p}: layer '{name}' has no geometry; it is a table. Read it with read_table()."
        )
    is_shp = p.suffix.lower() in (".shp", ".zip")
    enc = encoding or (detect_shapefile_encoding(p, name) if is_shp else None)
    info = _layer_info(p, name, enc)
    gdf, enc = _read_features(p, name, enc, info["driver"], fids)
    wanted = info["features"] if fids is None else len(fids)
    if len(gdf) != wanted:
        asked = "声明" if fids is None else "请求"
        raise LayerReadError(
            f"{p}: 图层 '{name}' {asked} {wanted} 个要素，只读到 {len(gdf)} 个 "
            f"{'declares' if fids is None else 'was asked for'} {wanted} features but "
            f"{len(gdf)} were read. {DAMAGED_FIX}"
        )
    if name in shapefiles:
        index, shown = shapefiles[name]
        check_read_geometries(index, np.asarray(gdf.geometry.array), name=shown, fids=fids)
    if info["driver"] == "DXF":
        gdf = _dxf_polygons(p, gdf, cad_layer)
    if len(gdf) == 0 and fids is None:
        raise LayerReadError(f"{p}: layer '{name}' has no features. Check the export.")
    gdf, crs_source = _resolve_crs(p, gdf, crs, datum_transform)
    metadata = info.get("layer_metadata") or {}
    gdf.attrs["landuse_source"] = {
        "path": str(p),
        "layer": name,
        "encoding": enc or "as declared",
        "crs": crs_source,
        "synthetic": str(metadata.get("SYNTHETIC", "")).lower() == "yes",
    }
    return gdf


def _read_boundary_txt(
    p: Path, *, crs: Any, encoding: str | None, datum_transform: str | None
) -> gpd.GeoDataFrame:
    """A 界址点坐标 TXT as a layer; the CRS comes from its header unless ``crs`` is given."""
    gdf = parse_boundary_txt(
        p.read_bytes(), source=str(p), encoding=encoding, crs_from_header=crs is None
    )
    from_header = gdf.crs is not None
    gdf, crs_source = _resolve_crs(p, gdf, crs, datum_transform)
    txt = gdf.attrs["boundary_txt"]
    gdf.attrs["landuse_source"] = {
        "path": str(p),
        "layer": p.stem,
        "encoding": txt["encoding"],
        "crs": crs_source.replace("file", "[属性描述] 坐标系/带号", 1)
        if from_header
        else crs_source,
        # The format has no metadata table: the sample says so where the producer goes.
        "synthetic": "示例数据" in txt["header"].get("数据产生单位", ""),
    }
    return gdf


def read_result_layers(paths: Iterable[Path]) -> dict[str, gpd.GeoDataFrame | pd.DataFrame]:
    """Every layer of the GeoPackages a step wrote, by layer name (to copy them elsewhere)."""
    layers: dict[str, gpd.GeoDataFrame | pd.DataFrame] = {}
    for path in paths:
        for name, kind in pyogrio.list_layers(path):
            layers[name] = pyogrio.read_dataframe(path, layer=name, read_geometry=kind is not None)
    return layers


def read_database_layer(
    url: str,
    table: str,
    *,
    crs: Any = None,
    datum_transform: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    bbox_crs: pyproj.CRS | None = None,
) -> gpd.GeoDataFrame:
    """Read a PostGIS table with the checks :func:`read_layer` applies to files.

    Parameters
    ----------
    url : str
        ``postgresql://`` URL (its password never appears in messages or outputs).
    table : str
        ``schema.name``.
    crs, datum_transform
        As for :func:`read_layer`.
    bbox, bbox_crs
        Read only features meeting this box (a red line, a park), via the index.

    Returns
    -------
    GeoDataFrame
        ``attrs["landuse_source"]`` holds the redacted URL, the table and a
        content hash (``sha256``) for the workbook cover.
    """
    where = f"{postgis.redact(url)} {table}"
    gdf = postgis.read_table_layer(url, table, bbox=bbox, bbox_crs=bbox_crs)
    if len(gdf) == 0:
        area = " in the area analysed" if bbox else ""
        raise LayerReadError(f"{where}: the table has no features{area}.")
    gdf, crs_source = _resolve_crs(where, gdf, crs, datum_transform)
    gdf.attrs["landuse_source"] = {
        "path": where,
        "layer": table,
        "encoding": "UTF-8 (database)",
        "crs": crs_source,
        "synthetic": False,
        "sha256": postgis.table_sha256(gdf),
    }
    return gdf


_LINES = (1, 2)  # GEOS LineString, LinearRing


def _dxf_polygons(p: Path, gdf: gpd.GeoDataFrame, cad_layer: str | None) -> gpd.GeoDataFrame:
    """Closed polylines of a DXF (of one CAD layer) as polygons; the rest left out, counted."""
    if cad_layer is not None:
        on_layer = gdf["Layer"].astype("string").eq(cad_layer).fillna(False).to_numpy(dtype=bool)
        if not on_layer.any():
            names = ", ".join(sorted(gdf["Layer"].dropna().astype(str).unique()))
            raise LayerNotFoundError(f"{p}: no CAD layer named '{cad_layer}'. Layers: {names}.")
        gdf = gdf.loc[on_layer]
    geoms = shapely.force_2d(np.asarray(gdf.geometry.array, dtype=object))
    types = shapely.get_type_id(geoms)
    closed = (
        np.isin(types, _LINES)
        & shapely.is_closed(geoms)
        & (shapely.get_num_coordinates(geoms) >= 4)
    )
    polygonal = np.isin(types, [3, 6])  # Polygon, MultiPolygon (hatches)
    coords, owner = shapely.get_coordinates(geoms[closed], return_index=True)
    geoms[closed] = shapely.polygons(shapely.linearrings(coords, indices=owner))
    keep = closed | polygonal
    if not keep.any():
        raise LayerReadError(
            f"{p}: no closed polyline or hatch in the DXF (没有闭合多段线): draw the red line "
            "as closed polylines (闭合多段线) or export it as SHP/TXT."
        )
    if not keep.all():
        left = pd.Series(shapely.get_type_id(geoms[~keep])).map(
            {0: "点/文字 points or text", 1: "未闭合的线 open lines", 5: "多段线 multi-lines"}
        )
        counts = left.fillna("其他 other").value_counts()
        warnings.warn(
            f"{p}: DXF 中 {int((~keep).sum())} 个对象不是闭合多段线，未读入 left out ("
            + ", ".join(f"{what} {n}" for what, n in counts.items())
            + ")",
            LanduseWarning,
            stacklevel=3,
        )
    out = gdf.loc[keep].copy()
    out[gdf.geometry.name] = gpd.GeoSeries(geoms[keep], index=out.index, crs=gdf.crs)
    return out


def _known_aliases() -> dict[str, tuple[str, ...]]:
    """Every field name landuse recognises (all layers, and the ledger import)."""
    # Imported here: landuse.ledger imports this module.
    from landuse.ledger import IMPORT_ALIASES

    merged: dict[str, tuple[str, ...]] = {}
    for table in (*FIELD_ALIASES.values(), IMPORT_ALIASES):
        for canonical, names in table.items():
            merged[canonical] = (*merged.get(canonical, ()), *names)
    return merged


def _csv_grid(p: Path) -> tuple[pd.DataFrame, str]:
    """The cells of a CSV (UTF-8 or GBK) as text; rows may differ in length (title lines)."""
    raw = p.read_bytes()
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError:
            continue
        records = list(csv.reader(io.StringIO(text, newline="")))
        width = max(map(len, records), default=0)
        return pd.DataFrame([r + [""] * (width - len(r)) for r in records], dtype=str), enc
    raise EncodingError(f"{p}: neither UTF-8 nor GBK. Save the CSV as UTF-8 and retry.")


def _excel_grid(p: Path, sheet: str | int | None) -> tuple[pd.DataFrame, str]:
    """The cells of one sheet as text (date cells as "2024-03-02 00:00:00") and its name."""
    try:
        with pd.ExcelFile(p) as book:
            names = [str(n) for n in book.sheet_names]
            if sheet is None or isinstance(sheet, int):
                position = sheet or 0
                name = names[position] if 0 <= position < len(names) else f"#{position}"
            else:
                name = sheet
            grid = (
                pd.read_excel(book, sheet_name=name, header=None, dtype=str, keep_default_na=False)
                if name in names
                else None
            )
    except ImportError as exc:  # .xls needs xlrd, which landuse does not install
        raise LayerReadError(
            f"{p}: old Excel format (.xls) cannot be read ({exc}). Open it in Excel or WPS "
            "and save it as .xlsx (另存为 .xlsx)."
        ) from exc
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        raise LayerReadError(
            f"{p}: not a readable Excel workbook ({exc}); save it again as .xlsx."
        ) from exc
    if grid is None:
        raise LayerNotFoundError(
            f"{p}: no sheet '{name}'. Sheets in this workbook: {', '.join(names)}."
        )
    return grid, name


def read_table(
    path: PathLike,
    *,
    sheet: str | int | None = None,
    aliases: Mapping[str, Iterable[str]] | None = None,
) -> pd.DataFrame:
    """Read an attribute table: CSV (UTF-8 or GBK), Excel, or a GeoPackage table.

    All cells of a CSV or Excel sheet are read as text, so that bureau number
    formats ("1,234.5", "12.3万元") reach the parsers unchanged, and the sheet
    is cleaned by :func:`landuse.core.tables.clean_table`: the header is found
    under any title rows, a units row under it is applied, and 合计/小计 rows,
    notes and blank rows are dropped and listed.

    Parameters
    ----------
    path : str or path-like
        ``.csv``, ``.xlsx``/``.xlsm`` or ``.gpkg``.
    sheet : str or int, optional
        Excel sheet (name or 0-based position; default the first), or
        GeoPackage table name.
    aliases : mapping, optional
        Canonical field → names that identify the header row; by default every
        field name landuse knows.

    Returns
    -------
    DataFrame
        Indexed by the row number Excel/WPS shows (the fid for a GeoPackage
        table).  ``attrs["landuse_source"]`` holds ``path``, ``sheet``,
        ``encoding``, ``header_rows``, ``units`` (column → unit applied) and
        ``read`` (rows under the header);
        ``attrs["landuse_dropped_rows"]`` lists the rows under the header left
        out, as records ``{"row", "reason", "text"}`` (``pd.DataFrame(records)``
        makes a table; a DataFrame inside ``attrs`` would make pandas fail to
        concat or merge two tables): rows under the header = rows kept + rows
        dropped.

    Raises
    ------
    LayerNotFoundError
        The file, sheet or table does not exist.
    LayerReadError
        Unreadable or unsupported file.
    EncodingError
        A CSV neither in UTF-8 nor in GBK.
    SchemaError
        No filled cell, or a header unit that contradicts the units row.
    """
    p = _existing(path)
    suffix = p.suffix.lower()
    if suffix == ".gpkg":
        if sheet is None:
            raise LayerReadError(f"{p}: name the table to read inside the GeoPackage.")
        _choose_layer(p, str(sheet))
        df = pyogrio.read_dataframe(p, layer=str(sheet), read_geometry=False, fid_as_index=True)
        df.index.name = ROW_INDEX
        df.attrs["landuse_source"] = {
            "path": str(p),
            "sheet": str(sheet),
            "encoding": None,
            "header_rows": [],
            "units": {},
            "read": len(df),
        }
        df.attrs["landuse_dropped_rows"] = []
        return df
    if suffix == ".csv":
        grid, encoding = _csv_grid(p)
        name = None
    elif suffix in (".xlsx", ".xlsm", ".xls"):
        (grid, name), encoding = _excel_grid(p, sheet), None
    else:
        raise LayerReadError(f"{p}: unsupported table format '{suffix}'; use CSV or Excel.")
    where = f"{p}" + (f", sheet {name}" if name is not None else "")
    try:
        cleaned = clean_table(grid, aliases=_known_aliases() if aliases is None else aliases)
    except SchemaError as exc:
        raise SchemaError(f"{where}: {exc}") from None
    df = cleaned.table
    df.attrs["landuse_source"] = {
        "path": str(p),
        "sheet": name,
        "encoding": encoding,
        "header_rows": list(cleaned.header_rows),
        "units": cleaned.units,
        "read": len(df) + len(cleaned.dropped),  # rows under the header
    }
    df.attrs["landuse_dropped_rows"] = cleaned.dropped.to_dict("records")
    return df


@dataclass
class Raster:
    """A single-band raster read into memory."""

    array: np.ndarray
    transform: rasterio.Affine
    crs: pyproj.CRS
    nodata: float | None


def read_raster(path: PathLike, *, band: int = 1) -> Raster:
    """Read one band of a GeoTIFF (or any raster GDAL reads).

    Raises
    ------
    LayerReadError
        Not a raster, or the band does not exist.
    CRSError
        The raster has no CRS.
    """
    p = _existing(path)
    try:
        with rasterio.open(p) as src:
            if band > src.count:
                raise LayerReadError(f"{p}: has {src.count} band(s), band {band} requested.")
            if src.crs is None:
                raise CRSError(f"{p}: raster has no CRS; assign one with gdal_edit.py -a_srs.")
            return Raster(
                array=src.read(band),
                transform=src.transform,
                crs=pyproj.CRS.from_user_input(src.crs.to_wkt()),
                nodata=src.nodata,
            )
    except rasterio.errors.RasterioIOError as exc:
        raise LayerReadError(f"{p}: not a readable raster ({exc}).") from exc


def describe_layer(
    path: PathLike, layer: str | None = None, *, encoding: str | None = None, crs: Any = None
) -> dict[str, Any]:
    """Summarise a layer for ``landuse info``.

    Parameters
    ----------
    path : str or path-like
        The file.
    layer : str, optional
        Layer name inside a multi-layer file.
    encoding : str, optional
        Attribute encoding, when detection is not enough.
    crs : optional
        CRS to use when the file has none or a wrong one.

    Returns
    -------
    dict
        ``layer``, ``driver``, ``crs`` (and where it came from), ``features``,
        ``geometry_type``, ``fields`` (decoded name → type), ``examples``
        (field → first non-empty value as text), ``encoding`` (what the text
        was decoded with), ``names_encoding`` and ``values_encoding`` (how the
        field names and the values were decoded, and why), ``bounds`` and a
        validity summary ``invalid``, ``empty``, ``null`` (feature counts).
    """
    # The header first: undecodable field names give a clear error here.
    info = layer_info(path, layer, encoding=encoding)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LanduseWarning)
        gdf = read_layer(path, info["layer"], encoding=encoding, crs=crs)
    src = gdf.attrs["landuse_source"]
    text: TextEncoding = info["text"]
    examples = {}
    for name in info["fields"]:
        first = gdf[name].first_valid_index() if name in gdf.columns else None
        examples[name] = "" if first is None else str(gdf[name].loc[first])[:40]
    geoms = gdf.geometry.array
    null = shapely.is_missing(geoms)
    empty = shapely.is_empty(geoms) & ~null
    invalid = ~shapely.is_valid(geoms) & ~null & ~empty
    return {
        "path": src["path"],
        "layer": src["layer"],
        "layers": list_layers(path)["name"].tolist(),
        "driver": info["driver"],
        "crs": f"{gdf.crs.name} (EPSG:{gdf.crs.to_epsg()})",
        "crs_source": src["crs"],
        "features": len(gdf),
        "geometry_type": info["geometry_type"],
        "fields": info["fields"],
        "examples": examples,
        "encoding": text.encoding or text.values,
        "names_encoding": text.names,
        "values_encoding": text.values,
        "bounds": tuple(float(v) for v in gdf.total_bounds),
        "invalid": int(invalid.sum()),
        "empty": int(empty.sum()),
        "null": int(null.sum()),
    }

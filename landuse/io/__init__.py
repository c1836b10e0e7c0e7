"""Reading and writing layers and tables: the only module that touches file paths.

Reads what bureaus actually hand over: Shapefiles (also zipped) with GBK
attributes and no ``.cpg``, GeoPackages, FileGDB folders, GeoJSON and KML;
layers without a ``.prj`` whose eastings carry a Gauss-Kruger zone prefix.
Writes GeoPackage (default), Shapefile (UTF-8 with a ``.cpg``) and GeoJSON,
always atomically: a crash leaves the previous file in place.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import ctypes
import ctypes.util
import functools
import io
import os
import re
import shutil
import struct
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

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
from pyogrio.errors import DataLayerError, DataSourceError, FeatureError

from landuse.core.config import (
    FIELD_ALIASES,
    GEOMETRY_KINDS,
    ID_FIELDS,
    LAYER_LABELS,
    REQUIRED_FIELDS,
    Project,
)
from landuse.core.crs import (
    CGCS2000,
    analysis_crs,
    apply_datum_transform,
    centre_lon,
    cgcs2000_equivalent,
    gk3_epsg,
    gk3_zone_for_lon,
    infer_crs_from_bounds,
    local_datum,
    to_analysis_crs,
)
from landuse.core.errors import (
    ConfigError,
    CRSError,
    EncodingError,
    LanduseWarning,
    LayerNotFoundError,
    LayerReadError,
    SchemaError,
)
from landuse.core.tables import DROPPED_COLUMNS, ROW_INDEX, clean_table
from landuse.core.validate import (
    REPORT_COLUMNS,
    check_layer,
    clean_geometries,
    intake_counts,
    standardize_fields,
)
from landuse.io import postgis
from landuse.io.boundary_txt import format_boundary_txt, parse_boundary_txt
from landuse.io.integrity import (
    DAMAGED_FIX,
    ShapefileIndex,
    check_read_geometries,
    check_shapefile,
    fid_ranges,
)

__all__ = [
    "LayerIntake",
    "ProjectData",
    "Raster",
    "TextEncoding",
    "describe_layer",
    "detect_shapefile_encoding",
    "find_layer_sources",
    "layer_info",
    "layer_intake",
    "list_layers",
    "load_layer",
    "load_project_data",
    "load_table",
    "read_layer",
    "read_raster",
    "read_result_layers",
    "read_table",
    "refuse_existing",
    "shapefile_text_encoding",
    "table_report",
    "write_boundary_txt",
    "write_bytes",
    "write_layer",
    "write_layers",
    "write_table",
    "write_text",
]

PathLike = str | os.PathLike[str]

_WRITE_DRIVERS = {
    ".gpkg": "GPKG",
    ".shp": "ESRI Shapefile",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
}
_SHP_SIDECARS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
# DBF rows sampled for encoding detection; enough to meet Chinese text in real layers.
_SNIFF_ROWS = 20000


# --------------------------------------------------------------------------- paths


def _existing(path: PathLike) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise LayerNotFoundError(
            f"{p}: file not found. Check the path (relative paths are from "
            f"{Path.cwd()}) or the 'path' entry in landuse.toml."
        )
    if p.is_file() and p.stat().st_size == 0:
        raise LayerReadError(f"{p}: the file is empty (0 bytes). Export the layer again.")
    return p


def _zip_folder(p: Path) -> str:
    """Folder inside a zip that holds the FileGDB or the shapefiles ("" = root)."""
    try:
        with zipfile.ZipFile(p) as zf:
            names = zf.namelist()
    except zipfile.BadZipFile as exc:
        raise LayerReadError(f"{p}: not a valid zip archive ({exc}).") from exc
    gdbs = sorted({n[: n.lower().index(".gdb/") + 4] for n in names if ".gdb/" in n.lower()})
    folders = gdbs or sorted({str(Path(n).parent) for n in names if n.lower().endswith(".shp")})
    if len(folders) > 1:
        raise LayerReadError(
            f"{p}: holds layers in several folders ({', '.join(folders)}); unzip it and "
            "name the folder or file to read."
        )
    return "" if not folders or folders[0] == "." else folders[0]


def _gdal_path(p: Path) -> str:
    # GDAL reads zipped shapefiles and FileGDBs through /vsizip/, also from a subfolder,
    # which is how most deliveries are packed.
    if p.suffix.lower() != ".zip":
        return str(p)
    folder = _zip_folder(p)
    return f"/vsizip/{p}/{folder}" if folder else f"/vsizip/{p}"


def list_layers(path: PathLike, *, counts: bool = False) -> pd.DataFrame:
    """List the layers in a file with their geometry types.

    Parameters
    ----------
    path : str or path-like
        Any file or folder GDAL reads (``.shp``, ``.zip``, ``.gpkg``, ``.gdb``, ...).
    counts : bool, default False
        Also give each layer's ``features`` count and declared ``crs``.

    Returns
    -------
    DataFrame
        Columns ``name`` and ``geometry_type`` (None for attribute-only tables),
        plus ``features`` and ``crs`` when asked.
    """
    p = _existing(path)
    if p.suffix.lower() == ".txt":  # a 界址点坐标 TXT is one polygon layer
        info = layer_info(p)
        layers = pd.DataFrame({"name": [info["layer"]], "geometry_type": ["Polygon"]})
        return layers.assign(features=info["features"], crs=info["crs"]) if counts else layers
    try:
        layers = pd.DataFrame(pyogrio.list_layers(_gdal_path(p)), columns=["name", "geometry_type"])
        if counts:
            infos = [pyogrio.read_info(_gdal_path(p), layer=n) for n in layers["name"]]
            layers["features"] = [i["features"] for i in infos]
            layers["crs"] = [i["crs"] for i in infos]
    except DataSourceError as exc:
        raise LayerReadError(f"{p}: not a readable GIS file ({exc}).") from exc
    return layers


# Files GIS layers are read from when scanning a delivery folder (.gdb folders too).
_SOURCE_SUFFIXES = (".shp", ".gpkg", ".zip", ".geojson", ".kml")


def find_layer_sources(path: PathLike) -> tuple[list[Path], list[Path]]:
    """Find what layers can be read from in a delivery folder, recursively.

    Parameters
    ----------
    path : str or path-like
        A folder, or a single ``.zip``, ``.gdb``, ``.gpkg``, ``.shp`` ...

    Returns
    -------
    sources : list of Path
        Shapefiles, GeoPackages, zip files, GeoJSON and KML files, and FileGDB
        folders (not entered), sorted.
    others : list of Path
        The other files (documents, rasters, tables), sorted; the parts of a
        shapefile (``.dbf``, ``.prj`` ...) and hidden files are left out.
    """
    p = _existing(path)
    if not p.is_dir() or p.suffix.lower() == ".gdb":
        return [p], []
    sources: list[Path] = []
    others: list[Path] = []
    for folder, dirs, files in os.walk(p):
        base = Path(folder)
        sources += [base / d for d in dirs if d.lower().endswith(".gdb")]
        dirs[:] = [d for d in dirs if not d.startswith(".") and not d.lower().endswith(".gdb")]
        shapefiles = {f.lower()[:-4] for f in files if f.lower().endswith(".shp")}
        for f in files:
            lower = f.lower()
            stem = lower.rsplit(".", 1)[0]
            if f.startswith(".") or lower.endswith(("-wal", "-shm", "-journal")):
                continue
            if lower.endswith(_SOURCE_SUFFIXES):
                sources.append(base / f)
            elif stem not in shapefiles and stem.removesuffix(".shp") not in shapefiles:
                others.append(base / f)
    return sorted(sources), sorted(others)


def _choose_layer(p: Path, layer: str | None) -> str:
    layers = list_layers(p)
    names = layers["name"].tolist()
    if layer is not None:
        if layer not in names:
            raise LayerNotFoundError(
                f"{p}: no layer named '{layer}'. Layers in this file: {', '.join(names)}."
            )
        return layer
    spatial = layers.loc[layers["geometry_type"].notna(), "name"].tolist()
    if len(spatial) == 1:
        return spatial[0]
    if not spatial:
        raise LayerReadError(
            f"{p}: has no spatial layer (no geometry column); it is a table. "
            "Read it with read_table() or give a file with geometry."
        )
    raise LayerReadError(
        f"{p}: holds several layers ({', '.join(spatial)}); name one with layer=... "
        "(--layer on the command line, 'layer' in landuse.toml)."
    )


# ------------------------------------------------------------------------ encoding


@dataclass(frozen=True)
class TextEncoding:
    """How a layer's field names and attribute values are decoded.

    Attributes
    ----------
    encoding : str or None
        The encoding to hand to GDAL; None when GDAL knows it by itself (a
        ``.cpg``, the DBF language byte, a format that is always UTF-8) or when
        all text is plain ASCII.
    names : str
        How the field names were decoded, for people, e.g. ``"GB18030 (detected,
        no .cpg)"``, ``"UTF-8 (.cpg)"`` or ``"ASCII"``.
    values : str
        The same for the attribute values.
    """

    encoding: str | None
    names: str
    values: str


def _read_dbf_head(f: IO[bytes]) -> bytes:
    """The header and the first sampled records of a DBF, not the whole file."""
    head = f.read(32)
    if len(head) < 32:
        return head
    n_records, header_len, record_len = struct.unpack("<IHH", head[4:12])
    return head + f.read(header_len - 32 + min(n_records, _SNIFF_ROWS) * record_len)


def _dbf_bytes(p: Path, layer: str) -> tuple[bytes | None, bytes | None]:
    """Return (.dbf head bytes, .cpg bytes) of a shapefile, plain or zipped."""
    if p.suffix.lower() != ".zip":
        dbf, cpg = p.with_suffix(".dbf"), p.with_suffix(".cpg")
        if not dbf.exists():
            dbf = p.with_suffix(".DBF")
        head = None
        if dbf.exists():
            with dbf.open("rb") as f:
                head = _read_dbf_head(f)
        return head, cpg.read_bytes() if cpg.exists() else None
    with zipfile.ZipFile(p) as zf:
        members = {Path(n).name.lower(): n for n in zf.namelist()}
        dbf_name = members.get(f"{layer.lower()}.dbf")
        cpg_name = members.get(f"{layer.lower()}.cpg")
        head = None
        if dbf_name:
            with zf.open(dbf_name) as f:
                head = _read_dbf_head(f)
        return head, zf.read(cpg_name) if cpg_name else None


def _dbf_text(dbf: bytes) -> tuple[list[bytes], list[tuple[bytes, bool]]]:
    """The non-ASCII field names and character values in the first rows of a DBF.

    Each value comes with whether it fills its field: only such a value can have
    had its last character cut by the writer.
    """
    n_records, header_len, record_len = struct.unpack("<IHH", dbf[4:12])
    names: list[bytes] = []
    fields: list[tuple[int, int]] = []  # (offset in record, length) of C fields
    offset = 1  # byte 0 of a record is the deletion flag
    for pos in range(32, header_len - 1, 32):
        desc = dbf[pos : pos + 32]
        if not desc or desc[0] == 0x0D:
            break
        names.append(desc[:11].split(b"\x00", 1)[0])
        length = desc[16]
        if desc[11:12] == b"C":
            fields.append((offset, length))
        offset += length
    values: list[tuple[bytes, bool]] = []
    for row in range(min(n_records, _SNIFF_ROWS)):
        start = header_len + row * record_len
        record = dbf[start : start + record_len]
        for f_off, f_len in fields:
            value = record[f_off : f_off + f_len].rstrip(b" \x00")
            if not value.isascii():
                values.append((value, len(value) == f_len))
    return [n for n in names if not n.isascii()], values


def _is_utf8(value: bytes, *, cut: bool = True) -> bool:
    # A writer may cut a multi-byte character at the field width: accept an
    # incomplete tail where the text fills its field, reject anything else.
    try:
        codecs.getincrementaldecoder("utf-8")().decode(value, final=not cut)
    except UnicodeDecodeError:
        return False
    return True


def _guess_encoding(texts: list[bytes]) -> str:
    """The first of the other encodings met in China that decodes every text."""
    for encoding in ("BIG5", "cp1252"):
        try:
            for t in texts:
                t.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    return "latin1"  # decodes any bytes


def _sniff_dbf(p: Path, dbf: bytes) -> TextEncoding:
    """Decide one encoding for the field names and values of a DBF with no declaration."""
    names, values = _dbf_text(dbf)
    if not names and not values:
        return TextEncoding(None, "ASCII", "ASCII")
    # GDAL decodes names and values with one encoding, so both must agree.
    if all(_is_utf8(t) for t in names) and all(_is_utf8(v, cut=c) for v, c in values):
        enc = "UTF-8"
    else:
        texts = names + [v for v, _ in values]
        for t in texts:
            try:
                t.decode("gb18030")
            except UnicodeDecodeError:
                guess = _guess_encoding(texts)
                raise EncodingError(
                    f"{p}: text {t[:40]!r} is neither UTF-8 nor GBK (既非 UTF-8 也非 GBK). "
                    f"Pass its encoding: --encoding {guess} on the command line, or "
                    f'encoding = "{guess}" in [layers.<name>] of landuse.toml ({guess} decodes '
                    f"every value here; check the text with `landuse info {p.name} --encoding "
                    f"{guess}`), or add a .cpg file naming it."
                ) from None
        enc = "GB18030"
    detected = f"{enc} (detected, no .cpg)"
    return TextEncoding(enc, detected if names else "ASCII", detected if values else "ASCII")


def shapefile_text_encoding(path: PathLike, layer: str | None = None) -> TextEncoding:
    """How GDAL must decode a shapefile's field names and values, and why.

    GDAL honours a ``.cpg`` file and the DBF language byte (0x4D = CP936).  When
    a shapefile has neither, GDAL assumes ISO-8859-1 and Chinese field names
    and values come out as mojibake (``µØ¿é±àºÅ``); the bytes of both are then
    examined: a GBK file whose values are all ASCII but whose field names are
    Chinese is still recognised.

    Parameters
    ----------
    path : str or path-like
        A ``.shp`` file, or a ``.zip`` holding one.
    layer : str, optional
        The shapefile's name inside a zip holding several.

    Returns
    -------
    TextEncoding
        ``encoding`` is None when GDAL already knows or the text is plain
        ASCII, else ``"UTF-8"`` or ``"GB18030"`` (a superset of GBK).

    Raises
    ------
    EncodingError
        Non-ASCII text is neither UTF-8 nor GBK/GB18030.
    """
    p = _existing(path)
    dbf, cpg = _dbf_bytes(p, layer or p.stem)
    if dbf is None or len(dbf) < 32:
        return TextEncoding(None, "ASCII", "ASCII")
    if cpg is not None:
        declared = f"{cpg.decode('ascii', 'replace').strip()} (.cpg)"
        return TextEncoding(None, declared, declared)
    if dbf[29] != 0:
        declared = f"DBF language byte 0x{dbf[29]:02X}"
        return TextEncoding(None, declared, declared)
    return _sniff_dbf(p, dbf)


def detect_shapefile_encoding(path: PathLike, layer: str | None = None) -> str | None:
    """Find the encoding of a shapefile GDAL would otherwise misread.

    See :func:`shapefile_text_encoding`, which also says how the field names
    and the values were decoded.

    Parameters
    ----------
    path : str or path-like
        A ``.shp`` file, or a ``.zip`` holding one.
    layer : str, optional
        The shapefile's name inside a zip holding several.

    Returns
    -------
    str or None
        None when GDAL already knows (``.cpg``/language byte) or the field
        names and values are plain ASCII; ``"UTF-8"`` or ``"GB18030"`` otherwise.

    Raises
    ------
    EncodingError
        When non-ASCII text is neither UTF-8 nor GBK/GB18030.
    """
    return shapefile_text_encoding(path, layer).encoding


# ----------------------------------------------------------------------------- CRS


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


# ------------------------------------------------------------------ damaged files


def _shapefile_sources(p: Path) -> dict[str, dict[str, str]]:
    """Shapefiles at ``p``: layer name → extension → file path (or zip member)."""
    suffix = p.suffix.lower()
    if suffix == ".zip":
        folder = _zip_folder(p) or "."
        with zipfile.ZipFile(p) as zf:
            names = [n for n in zf.namelist() if str(Path(n).parent) == folder]
    elif suffix == ".shp":
        names = [str(f) for f in p.parent.iterdir() if f.stem == p.stem]
    elif p.is_dir() and suffix != ".gdb":
        names = [str(f) for f in p.iterdir()]
    else:
        return {}
    groups: dict[str, dict[str, str]] = {}
    for n in names:
        stem, ext = os.path.splitext(n)
        groups.setdefault(Path(stem).name, {})[ext.lower()] = n
    return {stem: parts for stem, parts in groups.items() if ".shp" in parts}


def _check_shapefiles(p: Path, layer: str | None) -> dict[str, tuple[ShapefileIndex, str]]:
    """Check each shapefile that may be read from ``p`` before GDAL opens it.

    GDAL cannot list a shapefile without its ``.shx`` and reads one without its
    ``.dbf`` as a layer without attributes, so this runs first.  Returns layer
    name → (what its ``.shp`` declares, the ``.shp`` as named in messages).
    """
    sources = _shapefile_sources(p)
    if layer is not None and p.suffix.lower() != ".shp":
        sources = {k: v for k, v in sources.items() if k == layer}
    in_zip = p.suffix.lower() == ".zip"
    indexes = {}
    for stem, parts in sources.items():
        shown = {ext: f"{p}/{m}" if in_zip else m for ext, m in parts.items()}
        for ext, role in ((".shx", "索引 index"), (".dbf", "属性表 attribute table")):
            if ext not in parts:
                raise LayerReadError(
                    f"{shown['.shp']}: 缺少{role} file {stem}{ext}; a shapefile needs its .shp, "
                    f".shx and .dbf side by side. Copy {stem}{ext} along with the .shp or "
                    "export the layer again."
                )
        if in_zip:
            with zipfile.ZipFile(p) as zf:
                shp = np.frombuffer(zf.read(parts[".shp"]), dtype=np.uint8)
                shx = zf.read(parts[".shx"])
                with zf.open(parts[".dbf"]) as f:
                    dbf_head = f.read(32)
                dbf_size = zf.getinfo(parts[".dbf"]).file_size
        else:
            shp_path = Path(parts[".shp"])
            shp = (
                np.memmap(shp_path, dtype=np.uint8, mode="r")
                if shp_path.stat().st_size
                else np.zeros(0, dtype=np.uint8)
            )
            shx = Path(parts[".shx"]).read_bytes()
            with open(parts[".dbf"], "rb") as f:
                dbf_head = f.read(32)
            dbf_size = Path(parts[".dbf"]).stat().st_size
        index = check_shapefile(shp, shx, dbf_head, dbf_size, names=shown)
        indexes[stem] = (index, shown[".shp"])
        del shp  # release the memory map before GDAL opens the file
    return indexes


_CE_WARNING, _CE_FAILURE = 2, 3  # GDAL CPLErr classes
_FIRST_SENTENCE = re.compile(r"\.\s+(?=[A-Z])")
_CPL_HANDLER = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_int, ctypes.c_char_p)


@functools.cache
def _libgdal() -> ctypes.CDLL | None:
    """The GDAL library pyogrio runs on, for its error-handler API (None if not found)."""
    # dlsym through pyogrio's extension module finds the libgdal it links (ELF, Mach-O);
    # wheels for Windows ship it in pyogrio.libs, conda uses the system's.
    here = Path(pyogrio.__file__).parent
    candidates = [
        pyogrio._io.__file__,
        *map(str, sorted(here.parent.glob("pyogrio.libs/*gdal*"))),
        *map(str, sorted(here.glob(".dylibs/*gdal*"))),
        ctypes.util.find_library("gdal"),
    ]
    for candidate in filter(None, candidates):
        try:
            lib = ctypes.CDLL(candidate)
            lib.CPLPushErrorHandler.argtypes = [_CPL_HANDLER]
            lib.CPLPopErrorHandler.argtypes = []
        except (OSError, AttributeError):
            continue
        return lib
    return None


@contextlib.contextmanager
def _gdal_messages() -> Iterator[list[tuple[int, str]]]:
    """Collect the errors and warnings GDAL reports in this thread meanwhile.

    pyogrio turns only the GDAL errors of a failed call into exceptions; while
    reading features it drops them, so a record GDAL cannot decode comes back
    without geometry and nobody hears of it.  Yields a list that fills with
    ``(class, message)`` pairs (class 2 = warning, 3 = error).
    """
    messages: list[tuple[int, str]] = []
    lib = _libgdal()
    if lib is None:
        yield messages
        return

    @_CPL_HANDLER
    def handler(err_class: int, _err_no: int, msg: bytes | None) -> None:
        text = (msg or b"").decode("utf-8", "replace")
        # Keep what happened, not GDAL's advice on config options no landuse user can set.
        messages.append((err_class, _FIRST_SENTENCE.split(text, maxsplit=1)[0].rstrip(".")))

    lib.CPLPushErrorHandler(handler)  # thread-local: other threads keep their handlers
    try:
        yield messages
    finally:
        lib.CPLPopErrorHandler()


_FEATURE_IN_MESSAGE = re.compile(r"\b(?:shape|feature|fid)\s*[#:=]?\s*(\d+)", re.IGNORECASE)


def _gdal_failure(p: Path, name: str, failures: list[str]) -> LayerReadError:
    fids = sorted({int(m) for msg in failures for m in _FEATURE_IN_MESSAGE.findall(msg)})
    where = f" (FID) {fid_ranges(np.array(fids))}" if fids else ""
    more = f" (+{len(failures) - 1} more)" if len(failures) > 1 else ""
    return LayerReadError(
        f"{p}: 图层 '{name}' 读取出错 GDAL could not read features{where}: "
        f"{failures[0]}{more}. {DAMAGED_FIX}"
    )


def _undecodable(src: str, name: str, enc: str | None, use_arrow: bool) -> np.ndarray:
    """FIDs whose geometry bytes no valid shape can be built from, read as the failed read."""
    if use_arrow:
        meta, table = pyogrio.raw.read_arrow(
            src, layer=name, encoding=enc, columns=[], return_fids=True
        )
        wkb = table[meta["geometry_name"] or "wkb_geometry"].to_numpy(zero_copy_only=False)
        fids = table[meta["fid_column"]].to_numpy()
    else:
        _, fids, wkb, _ = pyogrio.raw.read(
            src, layer=name, encoding=enc, columns=[], return_fids=True
        )
    built = shapely.from_wkb(wkb, on_invalid="ignore")
    return np.asarray(fids)[pd.notna(wkb) & shapely.is_missing(built)]


def _check_encoding_name(p: Path, encoding: str | None) -> None:
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise EncodingError(
                f"{p}: unknown encoding '{encoding}'; use e.g. GBK, GB18030, BIG5 or UTF-8."
            ) from None


def _undecodable_text(p: Path, name: str, enc: str | None, exc: UnicodeError) -> EncodingError:
    return EncodingError(
        f"{p}: 图层 '{name}' 的文字不能按 {enc or 'UTF-8'} 解码 text is not {enc or 'UTF-8'} "
        f"({exc}). Pass its encoding with --encoding (e.g. --encoding GBK) or 'encoding' "
        "in landuse.toml. If the encoding is right, a shapefile field name was cut inside a "
        "character (names hold 10 bytes: 3 Chinese characters in UTF-8, 5 in GBK): rename "
        "it and export again."
    )


def _layer_info(p: Path, name: str, enc: str | None) -> dict[str, Any]:
    """Return pyogrio's layer info, with the feature count even where it costs a pass."""
    try:
        info = pyogrio.read_info(_gdal_path(p), layer=name, encoding=enc)
        if info["features"] < 0:  # the driver cannot count without reading
            info = pyogrio.read_info(
                _gdal_path(p), layer=name, encoding=enc, force_feature_count=True
            )
    except UnicodeError as exc:
        raise _undecodable_text(p, name, enc, exc) from exc
    return info


def _read_features(
    p: Path, name: str, enc: str | None, driver: str
) -> tuple[gpd.GeoDataFrame, str | None]:
    """Read a layer with Arrow where pyogrio allows it; any GDAL error is an error.

    Returns the layer and the encoding it was read with.
    """
    src = _gdal_path(p)
    shapefile = driver == "ESRI Shapefile"
    utf8 = enc is None or codecs.lookup(enc).name == "utf-8"
    # pyogrio's Arrow path refuses non-UTF-8 text except in shapefiles, whose
    # encoding it hands to GDAL (SHAPE_ENCODING) to recode; elsewhere it decodes
    # on its non-Arrow path.
    use_arrow = shapefile or utf8
    with _gdal_messages() as messages:
        try:
            try:
                gdf = pyogrio.read_dataframe(src, layer=name, encoding=enc, use_arrow=use_arrow)
            except DataSourceError as exc:
                # Undeclared non-UTF-8 text Arrow cannot take (e.g. GBK field names over
                # ASCII values, which encoding detection does not see).  Chinese DBFs
                # without .cpg are GBK (GB18030 is its superset).
                if not (shapefile and enc is None and isinstance(exc.__cause__, UnicodeError)):
                    raise
                enc = "GB18030"
                warnings.warn(
                    f"{p}: 图层 '{name}' 的文字不是 UTF-8 且未声明编码，按 GB18030 (GBK) 读取 "
                    "text is not UTF-8 and no .cpg names its encoding: read as GB18030. If "
                    "names look wrong, pass the right one with --encoding.",
                    LanduseWarning,
                    stacklevel=3,
                )
                gdf = pyogrio.read_dataframe(src, layer=name, encoding=enc, use_arrow=True)
        except UnicodeError as exc:
            raise _undecodable_text(p, name, enc, exc) from exc
        except (DataSourceError, DataLayerError, FeatureError) as exc:
            raise LayerReadError(
                f"{p}: 无法读取图层 cannot read layer '{name}' ({exc}). {DAMAGED_FIX}"
            ) from exc
        except shapely.errors.GEOSException as exc:
            said = "".join(f"; GDAL: {m}" for _, m in messages)
            bad = _undecodable(src, name, enc, use_arrow)
            where = f" (FID) {fid_ranges(bad)}" if len(bad) else ""
            raise LayerReadError(
                f"{p}: 图层 '{name}' 几何无法构建 features{where} cannot be built into shapes "
                f"({exc}{said}). {DAMAGED_FIX}"
            ) from exc
    failures = [m for cls, m in messages if cls >= _CE_FAILURE]
    if failures:
        raise _gdal_failure(p, name, failures)
    for cls, m in messages:
        if cls == _CE_WARNING:
            warnings.warn(f"{p}: GDAL: {m}", LanduseWarning, stacklevel=3)
    return gdf, enc


# --------------------------------------------------------------------------- reads


def read_layer(
    path: PathLike,
    layer: str | None = None,
    *,
    crs: Any = None,
    encoding: str | None = None,
    datum_transform: str | None = None,
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

    Returns
    -------
    GeoDataFrame
        ``attrs["landuse_source"]`` records the file, layer, encoding and where
        the CRS came from.

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
    gdf, enc = _read_features(p, name, enc, info["driver"])
    if len(gdf) != info["features"]:
        raise LayerReadError(
            f"{p}: 图层 '{name}' 声明 {info['features']} 个要素，只读到 {len(gdf)} 个 "
            f"declares {info['features']} features but {len(gdf)} were read. {DAMAGED_FIX}"
        )
    if name in shapefiles:
        index, shown = shapefiles[name]
        check_read_geometries(index, np.asarray(gdf.geometry.array), name=shown)
    if info["driver"] == "DXF":
        gdf = _dxf_polygons(p, gdf, cad_layer)
    if len(gdf) == 0:
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


def load_layer(
    project: Project,
    name: str,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    bbox_crs: pyproj.CRS | None = None,
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
            spec.path, spec.layer, crs=spec.crs, encoding=spec.encoding, datum_transform=transform
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
    """

    project: Project
    crs: pyproj.CRS
    layers: dict[str, gpd.GeoDataFrame]
    tables: dict[str, pd.DataFrame]
    report: pd.DataFrame
    intake: list[LayerIntake] = field(default_factory=list)

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
    if project.analysis_crs:
        crs = pyproj.CRS.from_user_input(project.analysis_crs)
    elif layers:
        crs = analysis_crs(layers.get("parcels", next(iter(layers.values()))))
    else:
        crs = pyproj.CRS.from_epsg(CGCS2000)
    layers = {name: to_analysis_crs(gdf, crs) for name, gdf in layers.items()}
    report = (
        pd.concat(reports, ignore_index=True) if reports else pd.DataFrame(columns=REPORT_COLUMNS)
    )
    return ProjectData(
        project=project, crs=crs, layers=layers, tables=tables, report=report, intake=intake
    )


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


def layer_info(
    path: PathLike, layer: str | None = None, *, encoding: str | None = None
) -> dict[str, Any]:
    """Summarise one layer from its header, without reading its features.

    Field names come out decoded: a GBK shapefile without ``.cpg`` is
    detected as :func:`read_layer` does.

    Parameters
    ----------
    path : str or path-like
        Any file or folder :func:`read_layer` takes.
    layer : str, optional
        Layer name inside a multi-layer file.
    encoding : str, optional
        Attribute encoding, when detection is not enough.

    Returns
    -------
    dict
        ``path``, ``layer``, ``driver``, ``geometry_type`` (None for a table),
        ``features``, ``crs`` (as declared, None when the file has none),
        ``bounds`` (None when unknown), ``fields`` (name → dtype) and ``text``
        (a :class:`TextEncoding`).

    Raises
    ------
    LayerReadError
        The file or layer cannot be read.
    EncodingError
        The text encoding cannot be determined, or the given one is wrong.
    """
    p = _existing(path)
    _check_encoding_name(p, encoding)
    if p.suffix.lower() == ".txt":
        return _boundary_txt_info(p, encoding)
    name = _choose_layer(p, layer)
    gdal_path = _gdal_path(p)

    def read(enc: str | None) -> dict[str, Any]:
        try:
            return pyogrio.read_info(
                gdal_path,
                layer=name,
                encoding=enc,
                force_feature_count=True,
                force_total_bounds=True,
            )
        except (DataSourceError, DataLayerError) as exc:
            raise LayerReadError(f"{p}: cannot read layer '{name}' ({exc}).") from exc
        except UnicodeError as exc:
            raise _undecodable_text(p, name, enc, exc) from exc

    info = read(encoding)
    if encoding is not None:
        text = TextEncoding(encoding, f"{encoding} (given)", f"{encoding} (given)")
    elif info["driver"] == "ESRI Shapefile":
        text = shapefile_text_encoding(p, name)
        if text.encoding is not None:
            info = read(text.encoding)
    else:
        declared = f"{info['encoding']} ({info['driver']})"
        text = TextEncoding(None, declared, declared)
    bounds = info.get("total_bounds")
    return {
        "path": str(p),
        "layer": name,
        "driver": info["driver"],
        "geometry_type": info["geometry_type"],
        "features": int(info["features"]),
        "crs": info["crs"],
        "bounds": tuple(float(v) for v in bounds) if bounds is not None else None,
        "fields": dict(zip(info["fields"], info["dtypes"], strict=True)),
        "text": text,
    }


def _boundary_txt_info(p: Path, encoding: str | None) -> dict[str, Any]:
    """:func:`layer_info` of a 界址点坐标 TXT (its header gives the CRS)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LanduseWarning)  # describe_layer reads it again
        gdf = parse_boundary_txt(p.read_bytes(), source=str(p), encoding=encoding)
    used = gdf.attrs["boundary_txt"]["encoding"]
    return {
        "path": str(p),
        "layer": p.stem,
        "driver": "界址点坐标 TXT",
        "geometry_type": "Polygon",
        "features": len(gdf),
        "crs": gdf.crs.to_string() if gdf.crs is not None else None,
        "bounds": tuple(float(v) for v in gdf.total_bounds),
        "fields": {c: str(gdf[c].dtype) for c in gdf.columns if c != gdf.geometry.name},
        "text": TextEncoding(None, f"{used} (detected)", f"{used} (detected)"),
    }


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


# -------------------------------------------------------------------------- writes


@contextlib.contextmanager
def _atomic_target(path: Path, *, seed_from_existing: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; replace ``path`` only on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if seed_from_existing and path.exists():
            shutil.copy2(path, tmp)
        else:
            tmp.unlink()
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_layer(
    gdf: gpd.GeoDataFrame | pd.DataFrame,
    path: PathLike,
    layer: str | None = None,
    *,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Write a layer atomically: GeoPackage (default), Shapefile or GeoJSON.

    Writing a layer into an existing GeoPackage keeps its other layers and
    replaces only the named one; readers never see a half-written file.
    Shapefiles are written in UTF-8 with a ``.cpg`` so any GIS reads the
    Chinese text.  A plain DataFrame is written as an attribute-only table
    (GeoPackage only).

    Parameters
    ----------
    gdf : GeoDataFrame or DataFrame
        What to write.
    path : str or path-like
        Output file; the suffix picks the format (``.gpkg``, ``.shp``, ``.geojson``).
    layer : str, optional
        Layer name (GeoPackage); defaults to the file stem.
    metadata : dict, optional
        Layer metadata (GeoPackage), e.g. a note that the data are synthetic.

    Returns
    -------
    Path
        The written file.
    """
    p = Path(path).expanduser()
    name = layer or p.stem
    return write_layers({name: gdf}, p, metadata={name: metadata} if metadata else None)


def write_layers(
    layers: dict[str, gpd.GeoDataFrame | pd.DataFrame],
    path: PathLike,
    *,
    metadata: dict[str, dict[str, str]] | None = None,
) -> Path:
    """Write several layers into one GeoPackage in a single atomic step.

    Existing layers of the file that are not named are kept.  Shapefile and
    GeoJSON hold one layer only.

    Parameters
    ----------
    layers : dict
        Layer name → GeoDataFrame (or DataFrame for an attribute table).
    path : str or path-like
        Output file.
    metadata : dict, optional
        Layer name → metadata dict (GeoPackage only).
    """
    p = Path(path).expanduser()
    driver = _WRITE_DRIVERS.get(p.suffix.lower())
    if driver is None:
        raise LayerReadError(
            f"{p}: cannot write '{p.suffix}'. Use .gpkg (recommended), .shp or .geojson."
        )
    if driver != "GPKG":
        if len(layers) != 1:
            raise LayerReadError(f"{p}: {driver} holds one layer; write several into a .gpkg.")
        (gdf,) = layers.values()
        if not isinstance(gdf, gpd.GeoDataFrame):
            raise LayerReadError(f"{p}: a table without geometry can only go into a .gpkg.")
        if driver == "ESRI Shapefile":
            return _write_shapefile(gdf, p)
    with _atomic_target(p, seed_from_existing=driver == "GPKG") as tmp:
        for name, gdf in layers.items():
            extra = {"layer_metadata": metadata[name]} if metadata and name in metadata else {}
            pyogrio.write_dataframe(gdf, tmp, layer=name, driver=driver, **extra)
    return p


def _write_shapefile(gdf: gpd.GeoDataFrame, p: Path) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=p.parent, prefix=f".{p.stem}.") as tmpdir:
        tmp = Path(tmpdir) / p.name
        pyogrio.write_dataframe(gdf, tmp, driver="ESRI Shapefile", encoding="UTF-8")
        for ext in _SHP_SIDECARS:
            part = tmp.with_suffix(ext)
            if part.exists():
                os.replace(part, p.with_suffix(ext))
    return p


def write_boundary_txt(parcels: gpd.GeoDataFrame, path: PathLike) -> Path:
    """Write parcels as a 界址点坐标 TXT atomically (GB18030, CRLF).

    A layer read from such a TXT keeps its header, coordinate decimals and area
    unit (``attrs["boundary_txt"]``), so it is written back as it was read; see
    :func:`landuse.io.boundary_txt.format_boundary_txt`.
    """
    p = Path(path).expanduser()
    txt = parcels.attrs.get("boundary_txt", {})
    data = format_boundary_txt(
        parcels,
        header=txt.get("header"),
        sections=txt.get("sections"),
        decimals=txt.get("decimals") or 3,
        area_unit=txt.get("area_unit", "公顷"),
    )
    with _atomic_target(p) as tmp:
        tmp.write_bytes(data)
    return p


def refuse_existing(path: PathLike) -> None:
    """Raise FileExistsError when ``path`` exists (writers that must not overwrite)."""
    p = Path(path).expanduser()
    if p.exists():
        raise FileExistsError(p)


def write_text(text: str, path: PathLike, *, overwrite: bool = True) -> Path:
    """Write a UTF-8 text file (e.g. an HTML map) atomically.

    With ``overwrite=False`` an existing file is left alone and
    FileExistsError is raised.
    """
    p = Path(path).expanduser()
    if not overwrite:
        refuse_existing(p)
    with _atomic_target(p) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return p


def write_bytes(data: bytes, path: PathLike) -> Path:
    """Write a binary file (workbook, Word document, PDF, PNG) atomically."""
    p = Path(path).expanduser()
    with _atomic_target(p) as tmp:
        tmp.write_bytes(data)
    return p


def write_table(df: pd.DataFrame, path: PathLike) -> Path:
    """Write a table atomically as CSV in UTF-8 with BOM (opens cleanly in Chinese Excel).

    Codes made of digits (13-digit 地块编号, 18-digit 统一社会信用代码 without
    letters, codes with a leading zero) get a leading tab so Excel and WPS keep
    them as text instead of 4.51302E+12.

    Parameters
    ----------
    df : DataFrame
        The table; a geometry column, if any, is dropped.
    path : str or path-like
        Output ``.csv`` file.
    """
    p = Path(path).expanduser()
    if isinstance(df, gpd.GeoDataFrame):
        df = pd.DataFrame(df.drop(columns=df.geometry.name))
    with _atomic_target(p) as tmp:
        _codes_as_text(df).to_csv(tmp, index=False, encoding="utf-8-sig", lineterminator="\n")
    return p


# Digit strings Excel/WPS would turn into numbers and damage: 11+ digits (shown as
# 4.51302E+12, digits past the 15th lost) or a leading zero.
_CODE = r"\d{11,}|0\d+"


def _codes_as_text(df: pd.DataFrame) -> pd.DataFrame:
    """Keep codes (统一社会信用代码, 13-digit 地块编号 ...) text when a CSV opens in Excel or WPS.

    A leading tab makes Excel and WPS keep the cell as text; it is invisible in the
    cell and ``str.strip()`` removes it for programs reading the file.
    """
    out = df
    for col in df.columns:
        if not (pd.api.types.is_object_dtype(df[col]) or pd.api.types.is_string_dtype(df[col])):
            continue
        text = df[col].astype("string")
        code = text.str.fullmatch(_CODE).fillna(False).to_numpy(dtype=bool)
        if code.any():
            out = out.copy() if out is df else out
            out[col] = df[col].where(~code, "\t" + text)
    return out

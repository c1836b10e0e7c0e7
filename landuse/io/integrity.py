"""Byte-level integrity checks of shapefiles, before and after GDAL reads them.

GDAL reads a damaged shapefile without complaint: a ``.shp`` cut short in
transit comes back with its tail features as empty geometries, a ``.dbf`` with
fewer records shortens the layer, garbage bytes in a record's coordinates make
a polygon of 10^254 m².  These checks compare the three files' headers and
record index with each other and with the file sizes (ESRI Shapefile Technical
Description, 1998), vectorised over the ``.shx`` so that a 100 000-feature
layer costs milliseconds.

The byte checks take bytes; the read wrappers below them open the files, run
GDAL with its error messages captured (pyogrio drops them while reading
features) and compare what came back with what the files declare.  Every
failure is a :class:`~landuse.core.errors.LayerReadError` whose message names
the file, the features (by FID, GDAL's 0-based feature number) and the fix.
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import ctypes.util
import functools
import os
import re
import struct
import warnings
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyogrio
import pyogrio._io
import pyogrio.raw
import shapely
import shapely.errors
from pyogrio.errors import DataLayerError, DataSourceError, FeatureError

from landuse.core.errors import LanduseWarning, LayerReadError
from landuse.io.encoding import _undecodable, _undecodable_text
from landuse.io.paths import _gdal_path, _zip_folder

__all__ = [
    "DAMAGED_FIX",
    "ShapefileIndex",
    "check_read_geometries",
    "check_shapefile",
    "fid_ranges",
]

_HEADER_LEN = 100  # .shp and .shx main file header
_MAGIC = 9994
_VERSION = 1000
_SHX_RECORD_LEN = 8
_DBF_HEADER_LEN = 32
_DBF_EOF = 1  # optional 0x1A end-of-file byte after the last record
DAMAGED_FIX = "请重新导出该图层或重新拷贝文件 Export the layer again or copy the file again."


@dataclass(frozen=True)
class ShapefileIndex:
    """What the ``.shp`` declares, for checking the geometries GDAL returns.

    Attributes
    ----------
    shape_type : int
        The file's shape type (5 = polygon, 3 = polyline, 1 = point ...).
    bbox : tuple of float
        ``(xmin, ymin, xmax, ymax)`` from the ``.shp`` header.
    record_types : ndarray of int32
        Shape type of each record in FID order; 0 is a null shape.
    """

    shape_type: int
    bbox: tuple[float, float, float, float]
    record_types: np.ndarray


def fid_ranges(fids: np.ndarray, limit: int = 10) -> str:
    """Write feature numbers compactly: ``[3, 29, 30, 31]`` → ``"3, 29–31"``.

    Parameters
    ----------
    fids : array of int
        Sorted, distinct feature numbers.
    limit : int, default 10
        Runs shown before the rest is summarised as ``"… (N in all)"``.

    Examples
    --------
    >>> fid_ranges(np.array([3, 29, 30, 31]))
    '3, 29–31'
    """
    fids = np.asarray(fids, dtype=np.int64)
    if not len(fids):
        return ""
    breaks = np.flatnonzero(np.diff(fids) != 1) + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [len(fids)]]) - 1
    runs = [
        f"{fids[s]}" if s == e else f"{fids[s]}–{fids[e]}"
        for s, e in zip(starts[:limit], ends[:limit], strict=True)
    ]
    more = f" … ({len(fids)} in all)" if len(starts) > limit else ""
    return ", ".join(runs) + more


def _features(fids: np.ndarray) -> str:
    return f"要素 features (FID) {fid_ranges(fids)}"


def _check_main_header(head: np.ndarray | bytes, size: int, name: str) -> tuple[int, int]:
    """Return (declared file length in bytes, shape type) of a .shp/.shx header."""
    if size < _HEADER_LEN:
        raise LayerReadError(
            f"{name}: 文件头不完整 only {size} bytes, shorter than the 100-byte shapefile "
            f"header. {DAMAGED_FIX}"
        )
    raw = bytes(head[:_HEADER_LEN])
    magic, length_words = struct.unpack(">i20xi", raw[:28])
    version, shape_type = struct.unpack("<ii", raw[28:36])
    if magic != _MAGIC or version != _VERSION:
        raise LayerReadError(
            f"{name}: 文件头已损坏 the shapefile header is damaged (file code {magic}, "
            f"version {version}; expected {_MAGIC}, {_VERSION}). {DAMAGED_FIX}"
        )
    return 2 * length_words, shape_type


def _gather_i4(buf: np.ndarray, pos: np.ndarray, dtype: str) -> np.ndarray:
    """Read one 4-byte integer at each byte position (``>i4`` or ``<i4``)."""
    quad = np.stack([buf[pos + k] for k in range(4)], axis=1)
    return quad.view(dtype).ravel()


def check_shapefile(
    shp: np.ndarray,
    shx: bytes,
    dbf_header: bytes,
    dbf_size: int,
    *,
    names: Mapping[str, str],
) -> ShapefileIndex:
    """Check that a shapefile's ``.shp``, ``.shx`` and ``.dbf`` are whole and agree.

    Checked: both main headers; the ``.shp`` and ``.shx`` lengths against
    their headers; every ``.shx`` entry points inside the ``.shp``; the
    ``.shx`` and ``.dbf`` hold the same number of records and the ``.dbf``
    size matches its header; each ``.shp`` record header (record number,
    content length) matches the ``.shx`` and its shape type is null or the
    file's type.

    Parameters
    ----------
    shp : ndarray of uint8
        The whole ``.shp`` (a memory map is fine: only the headers are read).
    shx : bytes
        The whole ``.shx``.
    dbf_header : bytes
        At least the first 32 bytes of the ``.dbf``.
    dbf_size : int
        Size of the ``.dbf`` in bytes.
    names : mapping
        ``".shp"``, ``".shx"``, ``".dbf"`` → the name to show in messages.

    Returns
    -------
    ShapefileIndex
        The declared shape type, extent and per-record shape types.

    Raises
    ------
    LayerReadError
        The first problem found, naming the file, the features and the fix.
    """
    shp_len, shape_type = _check_main_header(shp, len(shp), names[".shp"])
    shx_len, _ = _check_main_header(shx, len(shx), names[".shx"])
    n_bytes = len(shx) - _HEADER_LEN
    if shx_len != len(shx) or n_bytes % _SHX_RECORD_LEN:
        raise LayerReadError(
            f"{names['.shx']}: 索引文件长度不符 is {len(shx)} bytes but its header says "
            f"{shx_len} (file cut short?). {DAMAGED_FIX}"
        )
    entries = np.frombuffer(shx, dtype=">i4", offset=_HEADER_LEN).reshape(-1, 2)
    offsets = 2 * entries[:, 0].astype(np.int64)
    lengths = 2 * entries[:, 1].astype(np.int64)
    n = len(entries)

    # A record is an 8-byte header then its content, which starts with the shape type.
    outside = (offsets < _HEADER_LEN) | (lengths < 4) | (offsets + 8 + lengths > len(shp))
    if len(shp) != shp_len:
        past = ""
        if outside.any():
            past = f"; {_features(np.flatnonzero(outside))} 超出文件末尾 point past its end"
        raise LayerReadError(
            f"{names['.shp']}: 文件不完整 is {len(shp)} bytes but its header says {shp_len}"
            f"{past} (file cut short?). {DAMAGED_FIX}"
        )
    if outside.any():
        raise LayerReadError(
            f"{names['.shx']}: {_features(np.flatnonzero(outside))} 指向 .shp 之外 point "
            f"outside the .shp ({len(shp)} bytes): the .shx is damaged or belongs to "
            f"another export. {DAMAGED_FIX}"
        )

    if len(dbf_header) < _DBF_HEADER_LEN:
        raise LayerReadError(
            f"{names['.dbf']}: 属性表文件头不完整 only {dbf_size} bytes, shorter than the "
            f"32-byte dBASE header. {DAMAGED_FIX}"
        )
    n_dbf, dbf_header_len, record_len = struct.unpack("<IHH", dbf_header[4:12])
    dbf_expected = dbf_header_len + n_dbf * record_len
    if dbf_size not in (dbf_expected, dbf_expected + _DBF_EOF):
        raise LayerReadError(
            f"{names['.dbf']}: 属性表长度不符 is {dbf_size} bytes but its header declares "
            f"{n_dbf} records of {record_len} bytes ({dbf_expected} bytes with the header; "
            f"file cut short?). {DAMAGED_FIX}"
        )
    if n_dbf != n:
        raise LayerReadError(
            f"{names['.dbf']}: 属性表记录数不符 holds {n_dbf} records but "
            f"{names['.shx']} indexes {n} shapes: the files come from different exports "
            f"or one is damaged. {DAMAGED_FIX}"
        )

    record_no = _gather_i4(shp, offsets, ">i4")
    content = 2 * _gather_i4(shp, offsets + 4, ">i4").astype(np.int64)
    record_types = _gather_i4(shp, offsets + 8, "<i4")
    bad = (
        (record_no != np.arange(1, n + 1))
        | (content != lengths)
        | ((record_types != 0) & (record_types != shape_type))
    )
    if bad.any():
        raise LayerReadError(
            f"{names['.shp']}: {_features(np.flatnonzero(bad))} 记录头与索引不符 have "
            f"record headers (number, length or shape type) that disagree with the .shx: "
            f"bytes overwritten. {DAMAGED_FIX}"
        )
    bbox = struct.unpack("<4d", bytes(shp[36:68]))
    return ShapefileIndex(
        shape_type=shape_type,
        bbox=(bbox[0], bbox[1], bbox[2], bbox[3]),
        record_types=record_types,
    )


def check_read_geometries(
    index: ShapefileIndex, geoms: np.ndarray, *, name: str, fids: np.ndarray | None = None
) -> None:
    """Check the geometries GDAL returned against what the ``.shp`` declares.

    GDAL turns a record it cannot decode into a null geometry and takes
    garbage coordinates at face value; both are caught here.

    Parameters
    ----------
    index : ShapefileIndex
        From :func:`check_shapefile`.
    geoms : ndarray of shapely geometries
        As read, in FID order.
    name : str
        The ``.shp`` as shown in messages.
    fids : ndarray of int, optional
        The features ``geoms`` are, when only some were read (ascending).

    Raises
    ------
    LayerReadError
        A record with a shape came back without one, or a feature has
        coordinates outside the extent in the ``.shp`` header.
    """
    fid = np.arange(len(geoms)) if fids is None else np.asarray(fids)
    missing = shapely.is_missing(geoms)
    lost = missing & (index.record_types[fid] != 0)
    if lost.any():
        raise LayerReadError(
            f"{name}: {_features(fid[lost])} 几何无法解读 have a shape in the .shp "
            f"that cannot be decoded (damaged bytes). {DAMAGED_FIX}"
        )
    xmin, ymin, xmax, ymax = index.bbox
    tol = 1e-6 * max(xmax - xmin, ymax - ymin, 1.0)
    present = np.flatnonzero(~missing & ~shapely.is_empty(geoms))
    bounds = shapely.bounds(geoms[present])
    # NaN coordinates compare False, so they count as outside too.
    inside = (
        (bounds[:, 0] >= xmin - tol)
        & (bounds[:, 1] >= ymin - tol)
        & (bounds[:, 2] <= xmax + tol)
        & (bounds[:, 3] <= ymax + tol)
    )
    if not inside.all():
        outside = fid[present[~inside]]
        raise LayerReadError(
            f"{name}: {_features(outside)} 坐标超出文件范围 have coordinates outside the extent "
            f"in the file header (x {xmin:.3f}–{xmax:.3f}, y {ymin:.3f}–{ymax:.3f}): "
            f"garbage bytes in the records. {DAMAGED_FIX}"
        )


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
    p: Path, name: str, enc: str | None, driver: str, fids: np.ndarray | None = None
) -> tuple[gpd.GeoDataFrame, str | None]:
    """Read a layer (only the features ``fids``) with Arrow where pyogrio allows it.

    Any GDAL error is an error.  Returns the layer and the encoding it was read
    with; with ``fids`` the layer is indexed by them.
    """
    some = {} if fids is None else {"fids": fids, "fid_as_index": True}
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
                gdf = pyogrio.read_dataframe(
                    src, layer=name, encoding=enc, use_arrow=use_arrow, **some
                )
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
                gdf = pyogrio.read_dataframe(src, layer=name, encoding=enc, use_arrow=True, **some)
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

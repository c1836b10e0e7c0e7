"""Part files of the dask engine: workers write result parts, the client joins them.

A worker writes each part of a result layer as an Arrow IPC file (the table
the GeoPackage writer would write: fields as :func:`landuse.io.write_layers`
types them, geometry as WKB) with the features' order key.  The GeoPackage
layer is then written from the parts in key order, a batch at a time
(:func:`write_parts_gpkg`), and the rows can be read in that order, a batch at
a time (:func:`layer_rows`): no process holds the whole layer.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyogrio.raw
import pyproj
import shapely

from landuse.core.errors import ConfigError
from landuse.io.write import _as_row_writer_types, _atomic_target

__all__ = [
    "PartLayer",
    "layer_rows",
    "needs_promotion",
    "part_folder",
    "promote_part",
    "write_part",
    "write_parts_gpkg",
]

#: Column holding a row's place in the joined layer.
ORDER = "__order"
#: The results' geometry column.
GEOMETRY = "geometry"
#: Rows written to the GeoPackage at a time.
BATCH = 16_384

_TYPE_NAMES = {
    0: "Point",
    1: "LineString",
    3: "Polygon",
    4: "MultiPoint",
    5: "MultiLineString",
    6: "MultiPolygon",
    7: "GeometryCollection",
}
_MULTI = {"Point": "MultiPoint", "LineString": "MultiLineString", "Polygon": "MultiPolygon"}
_MAKE_MULTI = {0: shapely.multipoints, 1: shapely.multilinestrings, 3: shapely.multipolygons}


@contextlib.contextmanager
def part_folder(out_dir: Path) -> Iterator[Path]:
    """A scratch folder for part files inside the output folder, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=".landuse-dask-", dir=out_dir))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def write_part(gdf: gpd.GeoDataFrame, order: np.ndarray, path: Path) -> list[int]:
    """Write one part of a layer (rows in ``order``'s ascending order) as an Arrow IPC file.

    Returns the geometry types it holds (shapely type ids, for the layer's declared type).

    Raises
    ------
    ConfigError
        The folder is not there: a dask worker on another machine that does
        not see the output folder at the client's path.
    """
    if not path.parent.is_dir():
        raise ConfigError(
            f"{path.parent}: dask 工作进程看不到输出目录 a dask worker cannot see the output "
            "folder; workers need the project's files and the output folder at the same "
            "paths as the client (a shared drive), or use --engine local."
        )
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    types = sorted(set(shapely.get_type_id(geoms[~shapely.is_missing(geoms)]).tolist()))
    if _declared_type(types)[1]:  # mixed here, so in the whole layer too
        geoms = _promoted(geoms)
    frame = pd.DataFrame(_as_row_writer_types(gdf), copy=False)
    frame[gdf.geometry.name] = shapely.to_wkb(geoms)
    frame[ORDER] = order
    _write_ipc(pa.Table.from_pandas(frame, preserve_index=False), path)
    return types


#: Rows of one batch of a part file: a window reads whole batches.
PART_BATCH = 1_024


def promote_part(path: Path) -> None:
    """Make the single geometries of a part multi, the whole layer mixing both types."""
    table = pa.ipc.open_file(pa.memory_map(str(path))).read_all()
    at = table.schema.get_field_index(GEOMETRY)
    geoms = _promoted(shapely.from_wkb(table[GEOMETRY].to_numpy(zero_copy_only=False)))
    _write_ipc(table.set_column(at, GEOMETRY, pa.array(shapely.to_wkb(geoms), pa.binary())), path)


def _write_ipc(table: pa.Table, path: Path) -> None:
    # Beside, then in place: the table may be a memory map of the file it replaces.
    tmp = path.with_name(path.name + ".tmp")
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=PART_BATCH)
    os.replace(tmp, path)


def _promoted(geoms: np.ndarray) -> np.ndarray:
    """Single points, lines and polygons made multi, as pyogrio writes mixed GeoPackage layers."""
    types = shapely.get_type_id(geoms)
    out = geoms.copy()
    for single, make in _MAKE_MULTI.items():
        if (types == single).any():
            out[types == single] = make(np.atleast_2d(geoms[types == single]), axis=0)
    return out


def needs_promotion(types: Sequence[int]) -> bool:
    """Whether a layer holding these geometry types has its single geometries made multi."""
    return _declared_type(types)[1]


def _declared_type(type_ids: Sequence[int]) -> tuple[str, bool]:
    """The layer's geometry type and whether singles are made multi, as pyogrio decides."""
    names = {_TYPE_NAMES[t] for t in type_ids}
    if len(names) == 1:
        return names.pop(), False
    if len(names) == 2:
        for single, multi in _MULTI.items():
            if names == {single, multi}:
                return multi, True
    return "Unknown", False


@dataclass(frozen=True)
class PartLayer:
    """A result layer written in parts, to join into a GeoPackage layer.

    Attributes
    ----------
    paths : list of Path
        Its parts (:func:`write_part`); where :func:`needs_promotion` of
        ``types``, each has been promoted (by :func:`write_part` or
        :func:`promote_part`).
    types : list of int
        Geometry types of all parts together.
    sort_keys : list, optional
        Arrow sort keys giving the rows' order; None: the parts' order keys.
    """

    paths: list[Path]
    types: list[int]
    sort_keys: list[tuple[str, str]] | None = None


def layer_rows(layer: PartLayer, columns: Sequence[str] | None = None) -> Iterator[pa.Table]:
    """The rows of a layer written in parts, in its order, a batch at a time.

    Each field has one type in every batch, the one the whole layer read at
    once would have: a part reads an integer field with a missing value as
    floats, and a field without any value as nothing (then text, as pyogrio
    writes it).  Rows ordered by ``sort_keys`` are sorted in memory (a small
    layer); by order keys, only those keys are held and the rows are read a
    window at a time.

    Parameters
    ----------
    layer : PartLayer
        The layer.
    columns : sequence of str, optional
        The fields wanted (all, and the geometry, by default).
    """
    if not layer.paths:
        return
    files = [pa.ipc.open_file(pa.OSFile(str(p))) for p in layer.paths]
    schema = _without_nulls(
        pa.unify_schemas([f.schema for f in files], promote_options="permissive")
    )
    keep = list(columns) if columns is not None else [n for n in schema.names if n != ORDER]
    if layer.sort_keys is not None:
        table = pa.Table.from_batches(
            [b.cast(schema) for f in files for b in _batches(f)], schema=schema
        )
        if len(table):
            table = table.take(pc.sort_indices(table, sort_keys=layer.sort_keys))
        for start in range(0, len(table), BATCH):
            yield table.select(keep).slice(start, BATCH)
        return
    orders = [_order_keys(p) for p in layer.paths]
    last = max((int(o[-1]) for o in orders if len(o)), default=-1)
    wanted = [*keep, ORDER]
    for low in range(0, last + 1, BATCH):
        pieces = []
        for file, order in zip(files, orders, strict=True):
            a, b = (int(i) for i in np.searchsorted(order, [low, low + BATCH]))
            for k in range(a // PART_BATCH, -(-b // PART_BATCH)) if b > a else ():
                first = k * PART_BATCH
                batch = file.get_batch(k)
                lo, hi = max(a, first) - first, min(b, first + len(batch)) - first
                part = batch.slice(lo, hi - lo).cast(schema)
                pieces.append(pa.Table.from_batches([part]).select(wanted))
        if pieces:
            window = pa.concat_tables(pieces)
            window = window.take(pc.sort_indices(window, sort_keys=[(ORDER, "ascending")]))
            yield window.select(keep)


def _batches(file: pa.ipc.RecordBatchFileReader) -> Iterator[pa.RecordBatch]:
    return (file.get_batch(i) for i in range(file.num_record_batches))


def _order_keys(path: Path) -> np.ndarray:
    """A part's order keys (memory-mapped: only that column's pages are read)."""
    with pa.memory_map(str(path)) as mapped:
        file = pa.ipc.open_file(mapped)
        keys = [b.column(ORDER).to_numpy() for b in _batches(file)]
        return np.concatenate([np.empty(0, np.int64), *keys])


def _without_nulls(schema: pa.Schema) -> pa.Schema:
    """Fields without any value (Arrow's null type) as text, as pyogrio writes them."""
    return pa.schema(
        [f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in schema],
        metadata=schema.metadata,
    )


def write_parts_gpkg(layers: Mapping[str, PartLayer], path: Path, crs: pyproj.CRS) -> None:
    """Write layers in parts as GeoPackage layers atomically, as :func:`write_layers` would.

    Parameters
    ----------
    layers : mapping
        Layer name → the layer's parts (an empty layer is left out).
    path : Path
        The GeoPackage (replaced).
    crs : pyproj.CRS
        The layers' CRS.
    """
    epsg = crs.to_epsg()
    srs = f"EPSG:{epsg}" if epsg else crs.to_wkt("WKT1_GDAL")
    with _atomic_target(path) as tmp:
        for name, layer in layers.items():
            tables = layer_rows(layer)
            first = next(tables, None)
            if first is None:
                continue
            batches = (b for t in itertools.chain([first], tables) for b in t.to_batches())
            pyogrio.raw.write_arrow(
                pa.RecordBatchReader.from_batches(first.schema, batches),
                tmp,
                layer=name,
                driver="GPKG",
                geometry_name=GEOMETRY,
                geometry_type=_declared_type(layer.types)[0],
                crs=srs,
            )

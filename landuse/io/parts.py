"""Part files of the dask engine: workers write result parts, the client joins them.

A worker writes each part of a result layer as an Arrow IPC file (the table
the GeoPackage writer would write: fields as :func:`landuse.io.write_layers`
types them, geometry as WKB) with the features' order key.  The client then
writes the GeoPackage layer from the parts in key order, a batch at a time,
so it never holds the layer's geometries as shapely objects; the attribute
table it keeps for the CSV tables holds text in Arrow, not as Python strings.
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
BATCH = 65_536

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
PART_BATCH = 8_192


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
    leave_out : frozenset of str
        Fields written but not returned as a table (the geometry never is).
    """

    paths: list[Path]
    types: list[int]
    sort_keys: list[tuple[str, str]] | None
    leave_out: frozenset[str]


def _sorted_batches(layer: PartLayer) -> Iterator[pa.RecordBatch]:
    """Every row of a small layer, in memory, in ``sort_keys`` order."""
    tables = [pa.ipc.open_file(pa.OSFile(str(p))).read_all() for p in layer.paths]
    table = _without_nulls(pa.concat_tables(tables, promote_options="permissive"))
    if len(table):
        table = table.take(pc.sort_indices(table, sort_keys=layer.sort_keys))
    yield from table.drop_columns([ORDER]).to_batches(max_chunksize=BATCH)


def _ordered_batches(layer: PartLayer) -> Iterator[pa.RecordBatch]:
    """The rows of all parts in order-key order, a window at a time (parts ascending each).

    Only the order keys of every row are held; the rows of a window are read
    from the parts' batches that hold them (no memory map: read pages count as
    this process's memory until unmapped).
    """
    readers = [pa.ipc.open_file(pa.OSFile(str(p))) for p in layer.paths]
    orders = [_order_keys(p) for p in layer.paths]
    last = max((int(o[-1]) for o in orders if len(o)), default=-1)
    for low in range(0, last + 1, BATCH):
        pieces = []
        for reader, order in zip(readers, orders, strict=True):
            a, b = (int(i) for i in np.searchsorted(order, [low, low + BATCH]))
            for k in range(a // PART_BATCH, -(-b // PART_BATCH)) if b > a else ():
                first = k * PART_BATCH
                batch = reader.get_batch(k)
                lo, hi = max(a, first) - first, min(b, first + len(batch)) - first
                pieces.append(pa.Table.from_batches([batch.slice(lo, hi - lo)]))
        if pieces:
            window = _without_nulls(pa.concat_tables(pieces, promote_options="permissive"))
            window = window.take(pc.sort_indices(window, sort_keys=[(ORDER, "ascending")]))
            yield from window.drop_columns([ORDER]).to_batches()


def _order_keys(path: Path) -> np.ndarray:
    """A part's order keys (memory-mapped: only that column's pages are read)."""
    with pa.memory_map(str(path)) as mapped:
        file = pa.ipc.open_file(mapped)
        keys = [file.get_batch(i).column(ORDER).to_numpy() for i in range(file.num_record_batches)]
        return np.concatenate([np.empty(0, np.int64), *keys])


def _keeping(
    batches: Iterator[pa.RecordBatch], leave_out: frozenset[str], into: list[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    """``batches`` passed on, their fields but ``leave_out`` and the geometry kept ``into``."""
    for batch in batches:
        into.append(batch.drop_columns([GEOMETRY, *(leave_out & set(batch.schema.names))]))
        yield batch


def _without_nulls(table: pa.Table) -> pa.Table:
    """Fields without any value (Arrow's null type) as text, as pyogrio writes them."""
    for i, f in enumerate(table.schema):
        if pa.types.is_null(f.type):
            table = table.set_column(i, f.with_type(pa.string()), table[i].cast(pa.string()))
    return table


def write_parts_gpkg(
    layers: Mapping[str, PartLayer], path: Path, crs: pyproj.CRS
) -> dict[str, pa.Table]:
    """Write layers in parts as GeoPackage layers atomically, as :func:`write_layers` would.

    Parameters
    ----------
    layers : mapping
        Layer name → the layer's parts.
    path : Path
        The GeoPackage (replaced).
    crs : pyproj.CRS
        The layers' CRS.

    Returns
    -------
    dict
        Layer name → its fields but ``leave_out`` in the rows' order (Arrow:
        text is not made Python strings).
    """
    epsg = crs.to_epsg()
    srs = f"EPSG:{epsg}" if epsg else crs.to_wkt("WKT1_GDAL")
    kept: dict[str, list[pa.RecordBatch]] = {}
    with _atomic_target(path) as tmp:
        for name, layer in layers.items():
            batches = _ordered_batches(layer) if layer.sort_keys is None else _sorted_batches(layer)
            first = next(batches, None)
            if first is None:
                continue
            kept[name] = []
            every = _keeping(itertools.chain([first], batches), layer.leave_out, kept[name])
            reader = pa.RecordBatchReader.from_batches(first.schema, every)
            pyogrio.raw.write_arrow(
                reader,
                tmp,
                layer=name,
                driver="GPKG",
                geometry_name=GEOMETRY,
                geometry_type=_declared_type(layer.types)[0],
                crs=srs,
            )
    return {name: pa.Table.from_batches(batches) for name, batches in kept.items()}

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
    "needs_promotion",
    "part_folder",
    "promote_part",
    "read_parts",
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
        writer.write_table(table)
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


def read_parts(paths: Sequence[Path]) -> pa.Table:
    """The parts as one table (memory-mapped: the files' pages, not copies).

    A field without any value in a part (Arrow's null type) takes the type it
    has in the others; text where it has none anywhere, as pyogrio writes it.
    """
    tables = [pa.ipc.open_file(pa.memory_map(str(p))).read_all() for p in paths]
    table = pa.concat_tables(tables, promote_options="permissive")
    for i, f in enumerate(table.schema):
        if pa.types.is_null(f.type):
            table = table.set_column(i, f.with_type(pa.string()), table[i].cast(pa.string()))
    return table


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


def _batches(table: pa.Table, sort_keys: list[tuple[str, str]] | None) -> Iterator[pa.RecordBatch]:
    """The table's rows in order (by ``ORDER``, parts each already in order, or by keys)."""
    if sort_keys is not None:
        table = table.take(pc.sort_indices(table, sort_keys=sort_keys))
        windows: Iterator[pa.Table] = (
            table.slice(start, BATCH) for start in range(0, len(table), BATCH)
        )
    else:
        windows = _by_order(table)
    for window in windows:
        yield from window.drop_columns([ORDER]).to_batches()


def _by_order(table: pa.Table) -> Iterator[pa.Table]:
    """Windows of ``table`` in ``ORDER``: the table is parts, each ascending in ``ORDER``."""
    order = table[ORDER].to_numpy()
    if len(order) == 0:
        return
    bounds = np.cumsum([0, *(len(c) for c in table[ORDER].chunks)])
    for low in range(int(order.min()), int(order.max()) + 1, BATCH):
        pieces = []
        for start, end in itertools.pairwise(bounds):
            a, b = start + np.searchsorted(order[start:end], [low, low + BATCH])
            if b > a:
                pieces.append(table.slice(a, b - a))
        if pieces:
            window = pa.concat_tables(pieces)
            yield window.take(pc.sort_indices(window, sort_keys=[(ORDER, "ascending")]))


def write_parts_gpkg(
    layers: Mapping[str, tuple[pa.Table, list[int], list[tuple[str, str]] | None]],
    path: Path,
    crs: pyproj.CRS,
) -> Path:
    """Write joined parts as GeoPackage layers atomically, as :func:`write_layers` would.

    Parameters
    ----------
    layers : mapping
        Layer name → (the parts from :func:`read_parts`, the geometry types
        :func:`write_part` returned, sort keys or None for the parts' order).
        Where :func:`needs_promotion`, every part has been through
        :func:`promote_part` or was promoted by :func:`write_part`.
    path : Path
        The GeoPackage (replaced).
    crs : pyproj.CRS
        The layers' CRS.
    """
    epsg = crs.to_epsg()
    srs = f"EPSG:{epsg}" if epsg else crs.to_wkt("WKT1_GDAL")
    with _atomic_target(path) as tmp:
        for name, (table, types, keys) in layers.items():
            declared = _declared_type(types)[0]
            schema = table.schema.remove(table.schema.get_field_index(ORDER))
            reader = pa.RecordBatchReader.from_batches(schema, _batches(table, keys))
            pyogrio.raw.write_arrow(
                reader,
                tmp,
                layer=name,
                driver="GPKG",
                geometry_name=GEOMETRY,
                geometry_type=declared,
                crs=srs,
            )
    return path

"""Province scale: the conflict check and buildable land on a dask cluster.

Parcels (or parks) are partitioned spatially by their Hilbert distance, as
for the local engine's threads (:mod:`landuse.core.chunks`), and each
partition runs the same vectorised engine as the single-machine path.

For a project (:func:`check_parts`, :func:`buildable_parts`) the client
does not load the parcels: it splits them by their boxes alone
(:func:`landuse.io.layer_parts`) and each worker reads its part itself through
the same intake as the local engine (``load_layer(..., fids=part)``); the
intake counts and the geometry report are summed from the parts.  The
constraint layers (small beside the parcels) are loaded on the client, which
counts them, and sent once to every worker.  Workers therefore need the
project's files at the same paths as the client.

Given layers in memory (:func:`check_conflicts_dask`,
:func:`find_buildable_dask`), each partition is scattered to the workers
together with only the constraint features that reach its bounding box.  A parcel's figures depend
only on the parcel and the features it meets, so the results are the same
as :func:`landuse.analysis.conflicts.check_conflicts` and
:func:`landuse.analysis.buildable.find_buildable` — tested for equality.

By default a local cluster (2 worker processes, 1 thread each) is started;
pass a scheduler address (``tcp://host:8786``) to use a running one.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyproj
import shapely
from distributed import Client, LocalCluster, as_completed, wait
from geopandas.array import GeometryArray, from_shapely

from landuse.analysis.buildable import (
    BuildableOptions,
    ObstacleLayers,
    Obstacles,
    _geoms,
    _occupied_parcels,
    _pieces,
    occupied,
    prepare,
    ranked_candidates,
)
from landuse.analysis.conflicts import (
    _ID_CANDIDATES,
    ConflictResult,
    NoiseTolerance,
    _feature_ids,
    check_conflicts,
    sort_pieces,
)
from landuse.core.chunks import CHUNKS_PER_THREAD, private_copies, spatial_chunks
from landuse.core.config import ID_FIELDS, Project
from landuse.core.crs import analysis_crs, check_same_crs, to_analysis_crs
from landuse.core.errors import LayerReadError, SchemaError
from landuse.core.validate import check_layer, report_order
from landuse.io import ProjectData, can_split, layer_intake, layer_parts, load_layer
from landuse.io.parts import (
    GEOMETRY,
    ORDER,
    PartLayer,
    layer_rows,
    needs_promotion,
    part_folder,
    promote_part,
    write_part,
    write_parts_gpkg,
)
from landuse.pipeline.engine import Engine

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.12

__all__ = [
    "buildable_parts",
    "check_conflicts_dask",
    "check_parts",
    "cluster_started_early",
    "dask_client",
    "find_buildable_dask",
    "split_parcels",
]

_T = TypeVar("_T")


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, *, n_workers: int = 2) -> Iterator[Client]:
    """A dask client: to ``scheduler`` if given, else on a new local cluster.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler, e.g. ``tcp://10.0.0.5:8786``.
    n_workers : int
        Worker processes of the local cluster (one thread each).
    """
    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    with _local_cluster(n_workers) as cluster, Client(cluster) as client:
        yield client


def _local_cluster(n_workers: int) -> LocalCluster:
    return LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        # Workers import the engine as they start (in the background, while the client
        # reads), not when their first partition arrives (0.6 s each).
        preload=["landuse.pipeline.distributed"],
        # dask's own log lines (a worker's heartbeat racing the shutdown, with its
        # traceback) are not for the user; a worker's real failure reaches the
        # client as the task's exception.
        silence_logs=logging.CRITICAL,
    )


@contextlib.contextmanager
def cluster_started_early(engine: Engine) -> Iterator[Callable[[], Engine]]:
    """Start the local cluster of ``engine`` in the background while the client reads.

    Yields a function that waits until the cluster is up and returns the engine
    pointed at it (its scheduler's address); the cluster closes on exit.  An
    engine with a scheduler (or the local engine) is returned as it is.
    """
    if engine.kind != "dask" or engine.scheduler:
        yield lambda: engine
        return
    pool = ThreadPoolExecutor(1, thread_name_prefix="landuse-cluster")
    starting = pool.submit(_local_cluster, engine.workers)
    try:
        yield lambda: replace(engine, scheduler=starting.result().scheduler_address)
    finally:
        pool.shutdown()
        if starting.exception() is None:
            starting.result().close()


def _hilbert_chunks(gdf: gpd.GeoDataFrame, npartitions: int) -> list[np.ndarray]:
    """Row positions of ``gdf`` split into spatially compact chunks (Hilbert order)."""
    return spatial_chunks(np.asarray(gdf.geometry.array, dtype=object), npartitions)


def _run_windowed(
    client: Client, func: Callable, jobs: Iterable[tuple], *, scatter: bool = True
) -> list:
    """Run ``func(*job)`` for each job on the cluster, in order of the jobs.

    At most two jobs per worker are in flight: inputs are prepared and shipped
    lazily (scattered, but for the last argument, when ``scatter``) and results
    fetched as they finish, so neither the client nor the workers ever hold
    every partition at once.
    """
    window = 2 * max(1, len(client.scheduler_info()["workers"]))
    results: dict[int, object] = {}
    running = as_completed()
    position: dict = {}
    for index, job in enumerate(jobs):
        args = [*client.scatter(list(job[:-1]), hash=False), job[-1]] if scatter else job
        future = client.submit(func, *args, pure=False)
        position[future.key] = index
        running.add(future)
        if running.count() >= window:
            done = next(running)
            results[position.pop(done.key)] = done.result()
    for done in running:
        results[position.pop(done.key)] = done.result()
    return [results[i] for i in sorted(results)]


def _subset(layer: gpd.GeoDataFrame, bounds: np.ndarray) -> gpd.GeoDataFrame:
    """The features meeting ``bounds``, in layer order, with private copies of their geometries.

    ``layer`` may be shared by the tasks a worker runs on several threads (a
    scattered layer; every task of an in-process cluster): a task only reads
    it, never indexes or prepares it (libgeos/geos#825), and prepares only its
    own copies.
    """
    if not np.isfinite(bounds).all():  # an empty part
        return layer.iloc[:0]
    # In layer order: unions see the same sequence.
    near = layer.iloc[_meeting(_geoms(layer), bounds)].copy()
    near[near.geometry.name] = from_shapely(private_copies(_geoms(near)), crs=layer.crs)
    return near


def _boxes_meeting(boxes: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Ascending positions of the ``boxes`` (n × 4) meeting the box ``bounds``."""
    minx, miny, maxx, maxy = bounds
    x0, y0, x1, y1 = boxes.T
    return np.flatnonzero((x0 <= maxx) & (x1 >= minx) & (y0 <= maxy) & (y1 >= miny))


def _meeting(geoms: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Ascending positions of ``geoms`` meeting the box ``bounds``, without a shared index."""
    hits = _boxes_meeting(shapely.bounds(geoms), bounds)
    window = shapely.box(*bounds)
    shapely.prepare(window)
    return hits[shapely.intersects(window, geoms[hits])]


def _constraints(
    udb: gpd.GeoDataFrame,
    farmland: gpd.GeoDataFrame | None,
    eco_redline: gpd.GeoDataFrame | None,
    others: Mapping[str, gpd.GeoDataFrame] | None,
) -> dict[str, gpd.GeoDataFrame]:
    """The constraint layers given, by name, with their feature ids (:func:`_with_ids`)."""
    named = {"udb": udb, "farmland": farmland, "eco_redline": eco_redline, **(others or {})}
    return _with_ids({name: layer for name, layer in named.items() if layer is not None})


def _with_ids(layers: Mapping[str, gpd.GeoDataFrame]) -> dict[str, gpd.GeoDataFrame]:
    """Layers with their feature ids as a column, so subsets keep the whole layer's ids.

    A layer without an id field is numbered ``name#1`` ... by position in the whole
    layer, not in a subset.
    """
    return {
        name: layer
        if any(col in layer.columns for col in _ID_CANDIDATES)
        else layer.assign(**{_ID_CANDIDATES[0]: _feature_ids(layer, name)})
        for name, layer in layers.items()
    }


def _check_partition(
    part: gpd.GeoDataFrame, layers: Mapping[str, gpd.GeoDataFrame], kwargs: dict
) -> ConflictResult:
    others = {k: v for k, v in layers.items() if k not in ("udb", "farmland", "eco_redline")}
    return check_conflicts(
        part,
        udb=layers["udb"],
        farmland=layers.get("farmland"),
        eco_redline=layers.get("eco_redline"),
        others=others,
        threads=1,  # a worker process runs one partition at a time
        **kwargs,
    )


def check_conflicts_dask(
    parcels: gpd.GeoDataFrame,
    *,
    client: Client,
    udb: gpd.GeoDataFrame,
    farmland: gpd.GeoDataFrame | None = None,
    eco_redline: gpd.GeoDataFrame | None = None,
    others: Mapping[str, gpd.GeoDataFrame] | None = None,
    labels: Mapping[str, tuple[str, str]] | None = None,
    tolerance: NoiseTolerance | None = None,
    id_field: str = "parcel_id",
    npartitions: int | None = None,
) -> ConflictResult:
    """:func:`~landuse.analysis.conflicts.check_conflicts` on a dask cluster; same result.

    Parameters
    ----------
    parcels, udb, farmland, eco_redline, others, labels, tolerance, id_field
        As for :func:`landuse.analysis.conflicts.check_conflicts`.
    client : distributed.Client
        E.g. from :func:`dask_client`.
    npartitions : int, optional
        Spatial partitions; default :data:`~landuse.core.chunks.CHUNKS_PER_THREAD` per worker.
    """
    if not parcels.index.is_unique:
        raise SchemaError("Parcels need a unique index for the dask engine; reset_index() first.")
    layers = _constraints(udb, farmland, eco_redline, others)
    # Validate once, here, exactly as the single-machine path does (also on an empty set).
    check_conflicts(parcels.iloc[:0], udb=udb.iloc[:0], id_field=id_field)
    check_same_crs({"parcels": parcels, **layers})
    tolerance = tolerance or NoiseTolerance()
    kwargs = {"labels": labels, "tolerance": tolerance, "id_field": id_field}
    n = npartitions or CHUNKS_PER_THREAD * max(1, len(client.scheduler_info()["workers"]))

    def inputs(rows: np.ndarray) -> tuple:
        # Each partition travels with only the constraint features near it.
        part = parcels.iloc[rows].set_axis(rows)
        local = {name: _subset(layer, part.total_bounds) for name, layer in layers.items()}
        return part, local, kwargs

    results = _run_windowed(client, _check_partition, map(inputs, _hilbert_chunks(parcels, n)))
    out = pd.concat([r.parcels for r in results]).sort_index()
    out.index = parcels.index[out.index.to_numpy()]
    pieces = gpd.GeoDataFrame(
        pd.concat([r.pieces for r in results], ignore_index=True), crs=parcels.crs
    )
    return ConflictResult(
        parcels=gpd.GeoDataFrame(out, crs=parcels.crs),
        pieces=sort_pieces(pieces, id_field=id_field),
        tolerance=tolerance,
    )


def _packed(geoms: np.ndarray) -> np.ndarray:
    """Geometries for one task, as WKB: what a GeoPandas array pickles to.

    An object array of geometries pickles each on its own, about 7 times slower
    (the 1M-parcel buildable's obstacles took 7.5 s to reach the workers).  The
    task parses the WKB into objects of its own, which it may prepare even
    when an in-process worker shares this process's memory.
    """
    return shapely.to_wkb(geoms)


def _unpacked(wkb: np.ndarray) -> np.ndarray:
    return shapely.from_wkb(wkb)


#: What one task's buildable pieces come back as: WKB, park names, areas (m²).
_Pieces = tuple[np.ndarray, np.ndarray, np.ndarray]


def _buildable_partition(
    part: gpd.GeoDataFrame, udb: np.ndarray, blockers: np.ndarray, opts: BuildableOptions
) -> _Pieces:
    """Buildable pieces of a partition of the parks sent with its features (WKB)."""
    return _buildable_pieces(part, _unpacked(udb), _unpacked(blockers), opts)


def _buildable_pieces(
    part: gpd.GeoDataFrame, udb: np.ndarray, blockers: np.ndarray, opts: BuildableOptions
) -> _Pieces:
    pieces, names, area = _pieces(_geoms(part), part["park"].to_numpy(), udb, blockers, opts)
    return _packed(pieces), names, area


def _joined(results: list[_Pieces], crs: pyproj.CRS) -> gpd.GeoDataFrame:
    """The partitions' buildable pieces, ranked as :func:`find_buildable` ranks them."""
    pieces, names, area = (
        np.concatenate([np.asarray(r[k], dtype=dtype) for r in results])
        if results
        else np.array([], dtype=dtype)
        for k, dtype in ((0, object), (1, object), (2, float))
    )
    return ranked_candidates(_unpacked(pieces), names, area, crs)


def find_buildable_dask(
    parks: gpd.GeoDataFrame,
    udb: gpd.GeoDataFrame,
    *,
    client: Client,
    parcels: gpd.GeoDataFrame | None = None,
    options: BuildableOptions | None = None,
    npartitions: int | None = None,
    **layers: Unpack[ObstacleLayers],
) -> gpd.GeoDataFrame:
    """:func:`~landuse.analysis.buildable.find_buildable` on a dask cluster, parks partitioned."""
    opts, udb, crs, obstacles = prepare(parks, udb, options=options, parcels=parcels, **layers)
    blockers = obstacles.around(occupied(parcels, opts))
    n = npartitions or CHUNKS_PER_THREAD * max(1, len(client.scheduler_info()["workers"]))
    udb_geoms = _geoms(udb)
    udb_tree, blocker_tree = shapely.STRtree(udb_geoms), shapely.STRtree(blockers)

    def inputs(rows: np.ndarray) -> tuple:
        part = parks.iloc[rows]
        box = shapely.box(*part.total_bounds)
        near_udb = udb_geoms[np.sort(udb_tree.query(box, predicate="intersects"))]
        near = blockers[np.sort(blocker_tree.query(box, predicate="intersects"))]
        return part, _packed(near_udb), _packed(near), opts

    return _joined(
        _run_windowed(client, _buildable_partition, map(inputs, _hilbert_chunks(parks, n))), crs
    )


def split_parcels(
    project: Project, names: list[str], workers: int
) -> tuple[list[str], pyproj.CRS | None, list[np.ndarray]]:
    """Leave the parcels to the workers: the layers to load, the analysis CRS, the parts.

    The parcels are split by their boxes only; the analysis CRS is chosen from
    those boxes exactly as from the parcels (``[project] analysis_crs`` wins).
    Parcels in a database table, a ``.txt`` or a ``.dxf`` are loaded as usual
    (no parts).

    Parameters
    ----------
    project : Project
        The project.
    names : list of str
        The layers the step reads.
    workers : int
        Workers of the cluster.
    """
    if "parcels" not in names or not can_split(project, "parcels"):
        return names, None, []
    parts, total_bounds, _ = layer_parts(project, "parcels", CHUNKS_PER_THREAD * max(1, workers))
    crs = None
    if not project.analysis_crs:
        # The CRS the intake gives the layer (it may come from [layers] crs or be proven);
        # the zone depends only on the layer's total bounds.
        first, _ = load_layer(project, "parcels", fids=parts[0][:1])
        extent = gpd.GeoDataFrame(geometry=[shapely.box(*total_bounds)], crs=first.crs)
        crs = analysis_crs(extent)
    return [name for name in names if name != "parcels"], crs, parts


def _read_part(
    project: Project, name: str, fids: np.ndarray, position: np.ndarray, crs: pyproj.CRS
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, dict]:
    """Read one part of a layer through the intake; index and report by whole-layer position."""
    try:
        layer, report = load_layer(project, name, fids=fids)
    except (FileNotFoundError, LayerReadError) as exc:
        raise LayerReadError(
            f"{exc} (dask 工作进程读不到文件 a dask worker cannot read the file: workers need the "
            "project's files and the output folder at the same paths as the client)"
        ) from exc
    source = dict(layer.attrs["landuse_source"], read=len(fids))
    layer = to_analysis_crs(layer, crs).set_axis(position[np.searchsorted(fids, layer.index)])
    report = report.set_axis(position[np.searchsorted(fids, report.index)])
    return layer, report, source


def _positions(parts: list[np.ndarray]) -> list[np.ndarray]:
    """Each part's features' positions in the whole layer (feature ids ascending)."""
    every = np.sort(np.concatenate(parts))
    return [np.searchsorted(every, part) for part in parts]


def _add_intake(data: ProjectData, name: str, reports: list[pd.DataFrame], sources: list) -> None:
    """Add a layer read in parts to what was read, in the project's order of layers."""
    report = pd.concat(reports)
    position = report.index.to_numpy()
    report = report.iloc[report_order(report, position)].reset_index(drop=True)
    layer = pd.DataFrame()
    layer.attrs["landuse_source"] = dict(sources[0], read=sum(s["read"] for s in sources))
    order = [n for n in data.project.layers if n == name or n in data.layers or n in data.tables]
    at = order.index(name)
    data.intake.insert(at, layer_intake(name, layer, report))
    report_of = data.report.groupby("layer", sort=False)
    by_layer = [report_of.get_group(i.layer) for i in data.intake if i.layer in report_of.groups]
    by_layer.insert(at, report)
    data.report = pd.concat(by_layer, ignore_index=True)
    del data.parts[name]


class _Checked(NamedTuple):
    """What a worker did with one part of the parcels."""

    report: pd.DataFrame  # repaired and dropped features, by position in the layer
    source: dict  # the layer's source, features read
    ids: pa.Array  # the parcels' ids (to be unique over the whole layer)
    fields: list[str]  # the parcels' own fields
    types: dict[str, list[int]]  # geometry types of the parts written
    paths: dict[str, Path]  # the part files: parcels and pieces


def _check_part(
    project: Project,
    fids: np.ndarray,
    position: np.ndarray,
    crs: pyproj.CRS,
    layers: Mapping[str, gpd.GeoDataFrame],
    kwargs: dict,
    folder: Path,
) -> _Checked:
    """Read, check and write one part of the parcels."""
    parcels, report, source = _read_part(project, "parcels", fids, position, crs)
    near = {name: _subset(layer, parcels.total_bounds) for name, layer in layers.items()}
    result = _check_partition(parcels, near, kwargs)
    k = int(position[0]) if len(position) else 0
    paths = {"parcels": folder / f"parcels-{k}", "pieces": folder / f"pieces-{k}"}
    types = {
        "parcels": write_part(result.parcels, result.parcels.index.to_numpy(), paths["parcels"]),
        "pieces": write_part(result.pieces, np.arange(len(result.pieces)), paths["pieces"]),
    }
    return _Checked(report, source, _ids(parcels), list(parcels.columns), types, paths)


def _ids(parcels: gpd.GeoDataFrame) -> pa.Array:
    return pa.array(parcels[ID_FIELDS["parcels"]].astype(str), pa.string())


def _check_unique_ids(parts: Iterable[pa.Array]) -> None:
    """Each part checked its own ids; repeats across parts are found here."""
    id_field = ID_FIELDS["parcels"]
    ids = pd.Series(pa.chunked_array(list(parts), pa.string()), dtype=pd.ArrowDtype(pa.string()))
    check_layer(pd.DataFrame({id_field: ids}), layer_name="parcels", id_field=id_field)


def check_parts(
    data: ProjectData,
    *,
    client: Client,
    gpkg: Path,
    tables: Callable[[Iterator[pd.DataFrame]], _T],
    udb: gpd.GeoDataFrame,
    farmland: gpd.GeoDataFrame | None = None,
    eco_redline: gpd.GeoDataFrame | None = None,
    others: Mapping[str, gpd.GeoDataFrame] | None = None,
    labels: Mapping[str, tuple[str, str]] | None = None,
    tolerance: NoiseTolerance | None = None,
    keep: Callable[[str], bool] | None = None,
) -> tuple[_T, pd.DataFrame]:
    """The conflict check of parcels the workers read themselves (``data.parts``).

    Each worker reads its parts of the parcels, checks them and writes the
    results as part files in a scratch folder beside ``gpkg``.  Then this
    process joins them into ``gpkg`` (layers ``parcels_check`` and
    ``conflict_pieces``, as the local engine writes them) while a worker runs
    ``tables`` on the checked parcels' rows, a batch at a time in the layer's
    order: no process holds every parcel.  The parcels' intake is added to
    ``data``.

    Parameters
    ----------
    data : ProjectData
        The project's layers but the parcels, and their parts.
    client : distributed.Client
        E.g. from :func:`dask_client`.
    gpkg : Path
        The GeoPackage to write; its folder holds the scratch folder.
    tables : callable
        Run on a worker with the batches of checked parcels (no geometry; text
        held by Arrow), e.g. to write tables; what it returns is returned.
    udb, farmland, eco_redline, others, labels, tolerance
        As for :func:`landuse.analysis.conflicts.check_conflicts`.
    keep : callable, optional
        Which of the parcels' own fields the batches hold (all by default;
        every field goes into ``gpkg``, and the fields the check adds are kept).

    Returns
    -------
    tables
        What ``tables`` returned.
    pieces : DataFrame
        The conflict pieces, as :func:`~landuse.analysis.conflicts.check_conflicts`
        gives them but without geometries (they are in ``gpkg``).
    """
    layers = _constraints(udb, farmland, eco_redline, others)
    id_field = ID_FIELDS["parcels"]
    kwargs = {"labels": labels, "tolerance": tolerance or NoiseTolerance(), "id_field": id_field}
    parts = data.parts["parcels"]
    # Once per worker, not per part; not hashed (dask would tokenize every geometry).
    shared = client.scatter(layers, broadcast=True, hash=False)
    with part_folder(gpkg.parent) as folder:
        jobs = (
            (data.project, fids, position, data.crs, shared, kwargs, folder)
            for fids, position in zip(parts, _positions(parts), strict=True)
        )
        done: list[_Checked] = _run_windowed(client, _check_part, jobs, scatter=False)
        _add_intake(data, "parcels", [d.report for d in done], [d.source for d in done])
        _check_unique_ids(d.ids for d in done)
        joined = {}
        for name in ("parcels", "pieces"):
            types = sorted({t for d in done for t in d.types[name]})
            if needs_promotion(types):  # the parts that had only single geometries
                alone = [d.paths[name] for d in done if not needs_promotion(d.types[name])]
                client.gather(client.map(promote_part, alone, pure=False))
            joined[name] = PartLayer([d.paths[name] for d in done], types)
        by_piece = [(id_field, "ascending"), ("constraint", "ascending"), ("area_m2", "descending")]
        joined["pieces"] = replace(joined["pieces"], sort_keys=by_piece)
        layers_out = {"parcels_check": joined["parcels"], "conflict_pieces": joined["pieces"]}
        own = set(done[0].fields) if done else set()
        shown = [
            name
            for name in _fields(joined["parcels"])
            if name not in own or name == id_field or keep is None or keep(name)
        ]
        # GDAL holds the GIL while it writes: the tables are made in another process.
        made = client.submit(_rows_to, tables, joined["parcels"], shown, pure=False)
        try:
            write_parts_gpkg(layers_out, gpkg, data.crs)
        finally:
            wait(made)  # the part files stay until it is done
        pieces = pd.concat(
            [_frame(t) for t in layer_rows(joined["pieces"], _fields(joined["pieces"]))],
            ignore_index=True,
        )
        return made.result(), pieces


def _rows_to(
    tables: Callable[[Iterator[pd.DataFrame]], _T], layer: PartLayer, fields: list[str]
) -> _T:
    """``tables`` run on a layer's rows, a batch at a time (as frames, in order)."""
    return tables(_frame(t) for t in layer_rows(layer, fields))


def _fields(layer: PartLayer) -> list[str]:
    """A layer's fields (but the geometry), from its first part."""
    if not layer.paths:
        return []
    with pa.OSFile(str(layer.paths[0])) as file:
        names = pa.ipc.open_file(file).schema.names
    return [name for name in names if name not in (GEOMETRY, ORDER)]


def _frame(table: pa.Table) -> pd.DataFrame:
    """An Arrow table as a frame, text held by Arrow (no Python string per cell)."""
    text = pd.StringDtype("pyarrow")
    mapper = {pa.string(): text, pa.large_string(): text}.get
    return table.to_pandas(types_mapper=mapper)


class _Occupied(NamedTuple):
    """What a worker did with one part of the parcels, for the buildable finder."""

    report: pd.DataFrame  # repaired and dropped features, by position in the layer
    source: dict  # the layer's source, features read
    ids: pa.Array  # the parcels' ids (to be unique over the whole layer)
    position: np.ndarray  # of the occupied parcels, ascending
    bounds: np.ndarray  # their boxes (n × 4)
    path: Path  # their geometries (WKB), in a part file


def _occupied_part(
    project: Project,
    fids: np.ndarray,
    position: np.ndarray,
    crs: pyproj.CRS,
    opts: BuildableOptions,
    folder: Path,
) -> _Occupied:
    """Read one part of the parcels; write the occupied ones (obstacles) to a part file."""
    parcels, report, source = _read_part(project, "parcels", fids, position, crs)
    occupied = _occupied_parcels(parcels, opts)
    path = folder / f"occupied-{int(position[0]) if len(position) else 0}"
    write_part(occupied[[occupied.geometry.name]], occupied.index.to_numpy(), path)
    bounds = shapely.bounds(_geoms(occupied))
    return _Occupied(report, source, _ids(parcels), occupied.index.to_numpy(), bounds, path)


def _near_occupied(paths: list[Path], rows: list[np.ndarray]) -> np.ndarray:
    """Occupied parcels' geometries: ``rows[k]`` of part file ``paths[k]``, in layer order."""
    geoms, order = [], []
    for path, picked in zip(paths, rows, strict=True):
        if len(picked):
            table = pa.ipc.open_file(pa.memory_map(str(path))).read_all().take(picked)
            geoms.append(shapely.from_wkb(table[GEOMETRY].to_numpy(zero_copy_only=False)))
            order.append(table[ORDER].to_numpy())
    if not geoms:
        return np.array([], dtype=object)
    return np.concatenate(geoms)[np.argsort(np.concatenate(order), kind="stable")]


def _buildable_part_of(
    part: gpd.GeoDataFrame,
    udb: GeometryArray,
    before: GeometryArray,
    after: GeometryArray,
    paths: list[Path],
    rows: list[np.ndarray],
    opts: BuildableOptions,
) -> _Pieces:
    # The obstacles in the local engine's order: farmland, red line, steep land, occupied
    # parcels, roads, buffers (each in layer order); only those meeting the parks' box.
    near_udb, near_before, near_after = (
        private_copies(g[_meeting(g, part.total_bounds)])  # shared by the worker's tasks
        for g in (np.asarray(layer, dtype=object) for layer in (udb, before, after))
    )
    taken = _near_occupied(paths, rows)  # read from the part files: this task's own
    taken = taken[_meeting(taken, part.total_bounds)]
    return _buildable_pieces(part, near_udb, Obstacles(near_before, near_after).around(taken), opts)


def buildable_parts(
    data: ProjectData,
    parks: gpd.GeoDataFrame,
    udb: gpd.GeoDataFrame,
    *,
    client: Client,
    out_dir: Path,
    options: BuildableOptions | None = None,
    **layers: Unpack[ObstacleLayers],
) -> gpd.GeoDataFrame:
    """Buildable land with parcels (obstacles) the workers read themselves (``data.parts``).

    Same result as :func:`~landuse.analysis.buildable.find_buildable` on the
    loaded parcels.  First each worker reads parts of the parcels (their intake
    is added to ``data``) and writes the occupied ones to part files in a
    scratch folder of ``out_dir``; then the parks, in spatial partitions, each
    take the obstacles meeting their box, the occupied parcels from those files.
    """
    opts, udb, crs, obstacles = prepare(parks, udb, options=options, **layers)
    parts = data.parts["parcels"]
    with part_folder(out_dir) as folder:
        jobs = (
            (data.project, fids, position, data.crs, opts, folder)
            for fids, position in zip(parts, _positions(parts), strict=True)
        )
        done: list[_Occupied] = _run_windowed(client, _occupied_part, jobs, scatter=False)
        _add_intake(data, "parcels", [d.report for d in done], [d.source for d in done])
        _check_unique_ids(d.ids for d in done)
        # Parsed once per worker, shared by its tasks (arrays pickle as WKB).
        arrays = [from_shapely(g) for g in (_geoms(udb), *obstacles)]
        shared = client.scatter(arrays, broadcast=True, hash=False)
        n = CHUNKS_PER_THREAD * max(1, len(client.scheduler_info()["workers"]))

        def job(rows: np.ndarray) -> tuple:
            bounds = parks.iloc[rows].total_bounds
            meets = [_boxes_meeting(d.bounds, bounds) for d in done]
            return (parks.iloc[rows], *shared, [d.path for d in done], meets, opts)

        results = _run_windowed(
            client, _buildable_part_of, map(job, _hilbert_chunks(parks, n)), scatter=False
        )
    return _joined(results, crs)

"""Province scale: the conflict check and buildable land on a dask cluster.

Parcels (or parks) are partitioned spatially by their Hilbert distance, as
for the local engine's threads (:mod:`landuse.core.chunks`); each partition is
scattered to the workers together with only the constraint features that
reach its bounding box, and runs the same vectorised engine as the
single-machine path on them.  A parcel's figures depend
only on the parcel and the features it meets, so the results are the same
as :func:`landuse.analysis.conflicts.check_conflicts` and
:func:`landuse.analysis.buildable.find_buildable` — tested for equality.

By default a local cluster (2 worker processes, 1 thread each) is started;
pass a scheduler address (``tcp://host:8786``) to use a running one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from distributed import Client, LocalCluster, as_completed

from landuse.analysis.buildable import (
    BuildableOptions,
    _geoms,
    _pieces,
    buildable_udb,
    prepare,
    ranked_candidates,
)
from landuse.analysis.conflicts import ConflictResult, NoiseTolerance, check_conflicts, sort_pieces
from landuse.core.chunks import spatial_chunks
from landuse.core.crs import check_same_crs
from landuse.core.errors import SchemaError

__all__ = ["check_conflicts_dask", "dask_client", "find_buildable_dask"]


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
    with (
        LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _hilbert_chunks(gdf: gpd.GeoDataFrame, npartitions: int) -> list[np.ndarray]:
    """Row positions of ``gdf`` split into spatially compact chunks (Hilbert order)."""
    return spatial_chunks(np.asarray(gdf.geometry.array, dtype=object), npartitions)


def _run_windowed(client: Client, func: Callable, jobs: Iterable[tuple]) -> list:
    """Run ``func(*job)`` for each job on the cluster, in order of the jobs.

    At most two jobs per worker are in flight: inputs are prepared and shipped
    lazily and results fetched as they finish, so neither the client nor the
    workers ever hold every partition at once.
    """
    window = 2 * max(1, len(client.scheduler_info()["workers"]))
    results: dict[int, object] = {}
    running = as_completed()
    position: dict = {}
    for index, job in enumerate(jobs):
        future = client.submit(func, *client.scatter(list(job[:-1])), job[-1], pure=False)
        position[future.key] = index
        running.add(future)
        if running.count() >= window:
            done = next(running)
            results[position.pop(done.key)] = done.result()
    for done in running:
        results[position.pop(done.key)] = done.result()
    return [results[i] for i in sorted(results)]


def _subset(layer: gpd.GeoDataFrame, bounds: np.ndarray) -> gpd.GeoDataFrame:
    hits = layer.sindex.query(shapely.box(*bounds), predicate="intersects")
    return layer.iloc[np.sort(hits)]  # original order: unions see the same sequence


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
        Spatial partitions; default four per worker.
    """
    if not parcels.index.is_unique:
        raise SchemaError("Parcels need a unique index for the dask engine; reset_index() first.")
    layers = {
        "udb": udb,
        **({"farmland": farmland} if farmland is not None else {}),
        **({"eco_redline": eco_redline} if eco_redline is not None else {}),
        **(others or {}),
    }
    # Validate once, here, exactly as the single-machine path does (also on an empty set).
    check_conflicts(parcels.iloc[:0], udb=udb.iloc[:0], id_field=id_field)
    check_same_crs({"parcels": parcels, **layers})
    tolerance = tolerance or NoiseTolerance()
    kwargs = {"labels": labels, "tolerance": tolerance, "id_field": id_field}
    n = npartitions or 4 * max(1, len(client.scheduler_info()["workers"]))

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


def _buildable_partition(
    part: gpd.GeoDataFrame, udb: np.ndarray, blockers: np.ndarray, opts: BuildableOptions
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return _pieces(_geoms(part), part["park"].to_numpy(), udb, blockers, opts)


def find_buildable_dask(
    parks: gpd.GeoDataFrame,
    udb: gpd.GeoDataFrame,
    *,
    client: Client,
    farmland: gpd.GeoDataFrame | None = None,
    eco_redline: gpd.GeoDataFrame | None = None,
    parcels: gpd.GeoDataFrame | None = None,
    roads: gpd.GeoDataFrame | None = None,
    buffers: Mapping[str, tuple[gpd.GeoDataFrame, float]] | None = None,
    steep: gpd.GeoDataFrame | None = None,
    options: BuildableOptions | None = None,
    npartitions: int | None = None,
) -> gpd.GeoDataFrame:
    """:func:`~landuse.analysis.buildable.find_buildable` on a dask cluster, parks partitioned."""
    opts = options or BuildableOptions()
    udb = buildable_udb(udb, opts)
    crs, blockers = prepare(
        parks,
        udb,
        farmland=farmland,
        eco_redline=eco_redline,
        parcels=parcels,
        roads=roads,
        buffers=buffers,
        steep=steep,
        options=opts,
    )
    n = npartitions or 4 * max(1, len(client.scheduler_info()["workers"]))
    udb_geoms = _geoms(udb)
    udb_tree, blocker_tree = shapely.STRtree(udb_geoms), shapely.STRtree(blockers)

    def inputs(rows: np.ndarray) -> tuple:
        part = parks.iloc[rows]
        box = shapely.box(*part.total_bounds)
        near_udb = udb_geoms[np.sort(udb_tree.query(box, predicate="intersects"))]
        near = blockers[np.sort(blocker_tree.query(box, predicate="intersects"))]
        return part, near_udb, near, opts

    results = _run_windowed(client, _buildable_partition, map(inputs, _hilbert_chunks(parks, n)))
    parts = np.concatenate([r[0] for r in results]) if results else np.array([], dtype=object)
    names = np.concatenate([r[1] for r in results]) if results else np.array([], dtype=object)
    area = np.concatenate([r[2] for r in results]) if results else np.array([])
    return ranked_candidates(parts, names, area, crs)

"""Province scale: the conflict check and buildable land on a dask cluster.

Parcels (or parks) are partitioned spatially by their Hilbert distance
(dask-geopandas), partitions and constraint layers are scattered to the
workers (the constraint layers once to every worker), and each
partition runs the same vectorised engine as the single-machine path on the
constraint features that reach its bounding box.  A parcel's figures depend
only on the parcel and the features it meets, so the results are the same
as :func:`landuse.conflicts.check_conflicts` and
:func:`landuse.buildable.find_buildable` — tested for equality.

By default a local cluster (2 worker processes, 1 thread each) is started;
pass a scheduler address (``tcp://host:8786``) to use a running one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

import dask
import dask_geopandas
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from distributed import Client, LocalCluster

from landuse.buildable import BuildableOptions, _geoms, _pieces, prepare, ranked_candidates
from landuse.conflicts import ConflictResult, NoiseTolerance, check_conflicts, sort_pieces
from landuse.crs import check_same_crs
from landuse.errors import SchemaError

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


_ROW = "_landuse_row"


def _spatial_partitions(gdf: gpd.GeoDataFrame, npartitions: int, client: Client) -> list:
    """Partitions of ``gdf`` in Hilbert order, scattered to the workers.

    The Hilbert distances come from dask-geopandas, computed in this process;
    the partitions then go straight to the workers (``scatter``) rather than
    through the task graph.  Each row's position in ``gdf`` travels in a column
    and becomes the partition's index again (:func:`_restore`).
    """
    numbered = gdf.reset_index(drop=True).assign(**{_ROW: np.arange(len(gdf))})
    n = max(1, min(npartitions, len(gdf)))
    # Keep pandas dtypes as they are (dask would turn text into Arrow strings).
    with dask.config.set({"dataframe.convert-string": False, "scheduler": "sync"}):
        ddf = dask_geopandas.from_geopandas(numbered, npartitions=1)
        distance = ddf.hilbert_distance().compute().to_numpy()
    order = np.argsort(distance, kind="stable")
    return client.scatter([numbered.iloc[idx] for idx in np.array_split(order, n)])


def _restore(part: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return part.set_index(_ROW).rename_axis(None)


def _subset(layer: gpd.GeoDataFrame, bounds: np.ndarray) -> gpd.GeoDataFrame:
    hits = layer.sindex.query(shapely.box(*bounds), predicate="intersects")
    return layer.iloc[np.sort(hits)]  # original order: unions see the same sequence


def _check_partition(
    part: gpd.GeoDataFrame, layers: Mapping[str, gpd.GeoDataFrame], kwargs: dict
) -> ConflictResult | None:
    if len(part) == 0:
        return None
    part = _restore(part)
    bounds = part.total_bounds
    local = {name: _subset(layer, bounds) for name, layer in layers.items()}
    others = {k: v for k, v in local.items() if k not in ("udb", "farmland", "eco_redline")}
    return check_conflicts(
        part,
        udb=local["udb"],
        farmland=local.get("farmland"),
        eco_redline=local.get("eco_redline"),
        others=others,
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
    """:func:`~landuse.conflicts.check_conflicts` on a dask cluster; same result.

    Parameters
    ----------
    parcels, udb, farmland, eco_redline, others, labels, tolerance, id_field
        As for :func:`landuse.conflicts.check_conflicts`.
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
    kwargs = {"labels": labels, "tolerance": tolerance or NoiseTolerance(), "id_field": id_field}
    n = npartitions or 4 * max(1, len(client.scheduler_info()["workers"]))
    shared = client.scatter(layers, broadcast=True)
    tasks = [
        dask.delayed(_check_partition)(part, shared, kwargs)
        for part in _spatial_partitions(parcels, n, client)
    ]
    results = [r for r in client.compute(tasks, sync=True) if r is not None]
    out = pd.concat([r.parcels for r in results]).sort_index()
    out.index = parcels.index[out.index.to_numpy()]
    pieces = gpd.GeoDataFrame(
        pd.concat([r.pieces for r in results], ignore_index=True), crs=parcels.crs
    )
    return ConflictResult(
        parcels=gpd.GeoDataFrame(out, crs=parcels.crs),
        pieces=sort_pieces(pieces, id_field=id_field),
        tolerance=kwargs["tolerance"],
    )


def _buildable_partition(
    part: gpd.GeoDataFrame, udb: np.ndarray, blockers: np.ndarray, opts: BuildableOptions
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if len(part) == 0:
        empty = np.array([], dtype=object)
        return empty, empty, np.array([])
    part = _restore(part)
    box = shapely.box(*part.total_bounds)
    near = np.sort(shapely.STRtree(blockers).query(box, predicate="intersects"))
    near_udb = np.sort(shapely.STRtree(udb).query(box, predicate="intersects"))
    return _pieces(_geoms(part), part["park"].to_numpy(), udb[near_udb], blockers[near], opts)


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
    """:func:`~landuse.buildable.find_buildable` on a dask cluster, parks partitioned."""
    opts = options or BuildableOptions()
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
    shared_udb, shared_blockers = client.scatter([_geoms(udb), blockers], broadcast=True)
    tasks = [
        dask.delayed(_buildable_partition)(part, shared_udb, shared_blockers, opts)
        for part in _spatial_partitions(parks, n, client)
    ]
    results = client.compute(tasks, sync=True)
    parts = np.concatenate([r[0] for r in results]) if results else np.array([], dtype=object)
    names = np.concatenate([r[1] for r in results]) if results else np.array([], dtype=object)
    area = np.concatenate([r[2] for r in results]) if results else np.array([])
    return ranked_candidates(parts, names, area, crs)

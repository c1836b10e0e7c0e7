"""The local engine on every core: spatial chunks of targets on a thread pool.

shapely 2 releases the GIL inside GEOS, so threads overlay different chunks of
parcels (or parks) at the same time.  Chunks are compact in space (Hilbert
order of the targets) so each needs few layer features: those whose box meets
the chunk's box, in layer order.  With more than one thread every chunk gets
its own copies of them, because predicates cache GEOS prepared geometries on
a feature and those are not thread-safe (libgeos/geos#825).

A target's result depends only on the target and the features it meets, taken
in layer order, so results do not depend on the chunks or the thread count.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import geopandas as gpd
import numpy as np
import shapely

__all__ = [
    "chunk_count",
    "chunks_by_distance",
    "map_chunks",
    "private_copies",
    "spatial_chunks",
    "thread_count",
]

#: Most targets in one chunk: bounds the memory of a chunk's pieces.
MAX_CHUNK = 50_000
#: Chunks per thread: a chunk of dense parcels takes longer than one of sparse ones, and
#: with few chunks one thread idles while the other finishes the last (1M-parcel
#: buildable: 4 per thread left a core idle for a third of the run, 16 do not).
CHUNKS_PER_THREAD = 16

_T = TypeVar("_T")


def thread_count(threads: int | None = None) -> int:
    """``threads``, or every core this process may run on when None.

    Raises
    ------
    ValueError
        ``threads`` below 1 (the CLI and ``[project] threads`` refuse it earlier).
    """
    if threads is None:
        if hasattr(os, "sched_getaffinity"):  # cores this process may use (Linux)
            return len(os.sched_getaffinity(0))
        return os.cpu_count() or 1
    if threads < 1:
        raise ValueError(f"threads must be at least 1, not {threads}")
    return threads


def chunk_count(n_targets: int, threads: int) -> int:
    """How many chunks ``n_targets`` are split into on ``threads`` threads.

    One thread: a single pass unless more than :data:`MAX_CHUNK` targets.
    More: :data:`CHUNKS_PER_THREAD` per thread to balance the load, more when
    chunks would exceed :data:`MAX_CHUNK`.
    """
    by_size = math.ceil(n_targets / MAX_CHUNK)
    if threads == 1:
        return max(1, by_size)
    return max(1, min(n_targets, max(CHUNKS_PER_THREAD * threads, by_size)))


def spatial_chunks(geoms: np.ndarray, n: int) -> list[np.ndarray]:
    """Positions of ``geoms`` split into ``n`` spatially compact chunks.

    Chunks follow the Hilbert order of the geometries' boxes (geopandas'
    ``hilbert_distance``; missing and empty geometries last); positions within
    a chunk are ascending.
    """
    if n <= 1 or len(geoms) <= 1:
        return [np.arange(len(geoms))]
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    distance = np.full(len(geoms), MISSING)
    if present.any():
        distance[present] = gpd.GeoSeries(geoms[present]).hilbert_distance().to_numpy()
    return chunks_by_distance(distance, n)


#: Hilbert distance of a missing or empty geometry: last.
MISSING = np.iinfo(np.int64).max


def chunks_by_distance(distance: np.ndarray, n: int) -> list[np.ndarray]:
    """Positions split into ``n`` chunks in ascending ``distance``, ascending within a chunk.

    :func:`spatial_chunks` once the Hilbert distances are known (e.g. computed
    from features' boxes a batch at a time, with the layer's total bounds).
    """
    order = np.argsort(distance, kind="stable")
    return [np.sort(chunk) for chunk in np.array_split(order, n) if len(chunk)]


def private_copies(geoms: np.ndarray) -> np.ndarray:
    """Exact copies (WKB keeps every double) that one thread may prepare.

    Reading a geometry from several threads is safe; preparing it (predicates
    cache GEOS prepared geometries on it) is not.
    """
    return shapely.from_wkb(shapely.to_wkb(geoms))


def map_chunks(
    func: Callable[[np.ndarray, list[np.ndarray], list[np.ndarray]], _T],
    targets: np.ndarray,
    layers: Sequence[np.ndarray],
    *,
    threads: int,
) -> list[tuple[np.ndarray, _T]]:
    """Run ``func(rows, near, picks)`` on spatial chunks of ``targets``, ``threads`` at a time.

    Parameters
    ----------
    func : callable
        Called once per chunk with ``rows`` (ascending positions in
        ``targets``), ``near`` (per layer, the features whose box meets the
        chunk's box, in layer order; private copies when ``threads`` > 1) and
        ``picks`` (their positions in each layer).
    targets : ndarray of shapely geometries
        E.g. parcels; none missing.
    layers : sequence of ndarray of shapely geometries
        E.g. the UDB and the farmland.
    threads : int
        Threads running chunks at once (see :func:`thread_count`).

    Returns
    -------
    list of (rows, result)
        In chunk order.
    """
    chunks = spatial_chunks(targets, chunk_count(len(targets), threads))
    if len(chunks) == 1:
        whole = [np.arange(len(layer)) for layer in layers]
        return [(chunks[0], func(chunks[0], list(layers), whole))]
    bounds = np.array([shapely.total_bounds(targets[rows]) for rows in chunks])
    boxes = shapely.box(bounds[:, 0], bounds[:, 1], bounds[:, 2], bounds[:, 3])
    near_by_layer = []
    for layer in layers:
        # Queried here, not in the threads: GEOS builds an STRtree on its first query.
        box_idx, feature_idx = shapely.STRtree(layer).query(boxes)
        order = np.lexsort((feature_idx, box_idx))
        split = np.searchsorted(box_idx[order], np.arange(1, len(chunks)))
        near_by_layer.append(np.split(feature_idx[order], split))

    def run(k: int) -> _T:
        picks = [near[k] for near in near_by_layer]
        near = [layer[pick] for layer, pick in zip(layers, picks, strict=True)]
        if threads > 1:
            near = [private_copies(geoms) for geoms in near]
        return func(chunks[k], near, picks)

    if threads == 1:
        results = [run(k) for k in range(len(chunks))]
    else:
        pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="landuse")
        try:
            results = list(pool.map(run, range(len(chunks))))
        finally:  # after an error or Ctrl-C, chunks not yet started never start
            pool.shutdown(cancel_futures=True)
    return list(zip(chunks, results, strict=True))

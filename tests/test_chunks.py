import time

import numpy as np
import pytest
import shapely

from landuse.core.chunks import MAX_CHUNK, chunk_count, map_chunks, spatial_chunks, thread_count


def test_thread_count():
    assert thread_count(3) == 3
    assert thread_count(None) >= 1
    with pytest.raises(ValueError, match="at least 1"):
        thread_count(0)


def test_chunk_count():
    assert chunk_count(10, 1) == 1  # one thread: one pass
    assert chunk_count(MAX_CHUNK + 1, 1) == 2  # ... unless a chunk would be too big
    assert chunk_count(1_000, 2) == 32  # sixteen per thread
    assert chunk_count(3, 2) == 3  # never more chunks than targets
    assert chunk_count(40 * MAX_CHUNK, 2) == 40


def test_spatial_chunks_cover_every_target_once_and_stay_compact():
    # Two 10 × 10 grids of unit squares 1 km apart: two chunks are the two grids.
    xy = [(x, y) for x0 in (0, 1000) for x in range(x0, x0 + 10) for y in range(10)]
    geoms = np.array([shapely.box(x, y, x + 1, y + 1) for x, y in xy], dtype=object)
    order = np.random.default_rng(1).permutation(len(geoms))
    chunks = spatial_chunks(geoms[order], 2)
    assert sorted(np.concatenate(chunks).tolist()) == list(range(200))
    assert all((np.diff(c) > 0).all() for c in chunks)  # ascending positions
    for c in chunks:
        x = shapely.bounds(geoms[order][c])[:, 0]
        assert x.max() - x.min() < 10  # one grid per chunk
    # Missing and empty geometries go last instead of failing the Hilbert curve.
    mixed = np.array([None, shapely.box(0, 0, 1, 1), shapely.Polygon(), shapely.box(5, 5, 6, 6)])
    assert sorted(np.concatenate(spatial_chunks(mixed, 2)).tolist()) == [0, 1, 2, 3]


@pytest.mark.parametrize("threads", [1, 2])
def test_map_chunks_hands_each_chunk_every_feature_its_targets_meet(threads):
    rng = np.random.default_rng(7)
    corners = rng.uniform(0, 1000, (300, 2))
    targets = shapely.box(corners[:, 0], corners[:, 1], corners[:, 0] + 20, corners[:, 1] + 20)
    centres = rng.uniform(0, 1000, (60, 2))
    layer = shapely.buffer(shapely.points(centres), 40)

    def run(rows, near, picks):
        # Private copies with more than one thread, the same features and coordinates.
        assert (near[0] is layer) == (threads == 1 and len(rows) == len(targets))
        assert shapely.equals_exact(near[0], layer[picks[0]], 0).all()
        assert (np.diff(picks[0]) > 0).all()
        features = shapely.STRtree(layer).query(targets[rows], predicate="intersects")[1]
        assert set(features) <= set(picks[0])
        return len(rows)

    done = map_chunks(run, targets, [layer], threads=threads)
    assert len(done) == chunk_count(300, threads)
    assert sum(n for _, n in done) == 300


def test_an_error_in_one_chunk_stops_the_rest():
    targets = shapely.box(np.arange(100.0), 0, np.arange(100.0) + 1, 1)
    started = []

    def run(rows, near, picks):
        started.append(rows[0])
        time.sleep(0.05)  # the error reaches the caller while chunks are still queued
        raise RuntimeError("bad chunk")

    with pytest.raises(RuntimeError, match="bad chunk"):
        map_chunks(run, targets, [], threads=2)
    assert len(started) < chunk_count(100, 2)  # queued chunks were cancelled

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from distributed import LocalCluster

from landuse.analysis.buildable import find_buildable
from landuse.analysis.conflicts import check_conflicts
from landuse.pipeline.distributed import check_conflicts_dask, dask_client, find_buildable_dask


@pytest.fixture(scope="module")
def client():
    with dask_client(n_workers=2) as c:
        yield c


def _same(got, want):
    pd.testing.assert_frame_equal(
        pd.DataFrame(got.drop(columns="geometry")), pd.DataFrame(want.drop(columns="geometry"))
    )
    assert got.geometry.geom_equals_exact(want.geometry, 0).all()
    assert got.crs == want.crs


def test_check_identical_to_local(client, sample_data):
    L = sample_data.layers
    args = dict(
        udb=L["udb"],
        farmland=L["farmland"],
        eco_redline=L["eco_redline"],
        others={"flood": L["eco_redline"].iloc[:2]},
    )
    want = check_conflicts(L["parcels"], **args)
    got = check_conflicts_dask(L["parcels"], client=client, npartitions=7, **args)
    _same(got.parcels, want.parcels)
    _same(got.pieces, want.pieces)
    assert got.parcels.index.equals(L["parcels"].index)


def test_buildable_identical_to_local(client, sample_data):
    L = sample_data.layers
    args = dict(
        farmland=L["farmland"], eco_redline=L["eco_redline"], parcels=L["parcels"], roads=L["roads"]
    )
    want = find_buildable(L["parks"], L["udb"], **args)
    got = find_buildable_dask(L["parks"], L["udb"], client=client, npartitions=3, **args)
    _same(got, want)


def test_runs_on_a_given_scheduler_address(sample_data):
    L = sample_data.layers
    parcels = L["parcels"].iloc[:300]
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        dask_client(cluster.scheduler_address) as client,
    ):
        got = check_conflicts_dask(parcels, client=client, udb=L["udb"], farmland=L["farmland"])
    want = check_conflicts(parcels, udb=L["udb"], farmland=L["farmland"])
    _same(got.parcels, want.parcels)


def test_workers_read_the_parcels_same_outputs_as_local(tmp_path):
    # The sample project from files: the client never loads the parcels; every output
    # file and the intake lines must be those of the local engine, byte for byte.
    from landuse.core.config import sample_project
    from landuse.pipeline.engine import Engine
    from landuse.pipeline.run import run_project

    local = run_project("check", sample_project(), tmp_path / "local")
    dask = run_project("check", sample_project(), tmp_path / "dask", engine=Engine("dask"))
    assert dask.lines == [line.replace("/local", "/dask") for line in local.lines]
    assert [f.name for f in dask.files] == [f.name for f in local.files]
    for name in ("geometry_report.csv", "conflicts.csv", "conflict_pieces.csv"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    report = pd.read_csv(tmp_path / "dask" / "geometry_report.csv")
    assert len(report) > 0  # the sample's damaged parcels are reported, from several parts
    for layer in ("parcels_check", "conflict_pieces"):
        got, want = (
            pyogrio.read_dataframe(
                tmp_path / engine / "conflicts.gpkg", layer=layer, fid_as_index=True
            )
            for engine in ("dask", "local")
        )
        _same(got, want)
        assert got.index.equals(want.index)
        assert (got.geometry.to_wkb() == want.geometry.to_wkb()).all()
        info = {
            engine: pyogrio.read_info(tmp_path / engine / "conflicts.gpkg", layer=layer)
            for engine in ("dask", "local")
        }
        for key in ("geometry_type", "fields", "dtypes", "crs"):
            assert str(info["dask"][key]) == str(info["local"][key])
    assert not list((tmp_path / "dask").glob(".landuse-dask-*"))  # the scratch parts are gone


def test_layers_without_ids_numbered_in_the_whole_layer(client, sample_data):
    # farmland without an id field: pieces name farmland#k, k the position in the whole
    # layer (the local engine's numbering), not in the subset a partition receives.
    L = sample_data.layers
    farmland = L["farmland"].drop(
        columns=[c for c in ("zone_id", "patch_id", "park_id") if c in L["farmland"]]
    )
    want = check_conflicts(L["parcels"], udb=L["udb"], farmland=farmland)
    got = check_conflicts_dask(
        L["parcels"], client=client, udb=L["udb"], farmland=farmland, npartitions=7
    )
    _same(got.pieces, want.pieces)
    assert want.pieces["constraint_ids"].str.contains("farmland#").any()


def test_buildable_with_parcels_read_by_workers_same_outputs(tmp_path):
    # The parcels (obstacles) never reach the client: every output as the local engine's.
    from landuse.core.config import sample_project
    from landuse.pipeline.engine import Engine
    from landuse.pipeline.run import run_project

    local = run_project("buildable", sample_project(), tmp_path / "local")
    dask = run_project("buildable", sample_project(), tmp_path / "dask", engine=Engine("dask"))
    assert dask.lines == [line.replace("/local", "/dask") for line in local.lines]
    for name in ("geometry_report.csv", "buildable.csv", "buildable_by_park.csv"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    got, want = (pyogrio.read_dataframe(tmp_path / e / "buildable.gpkg") for e in ("dask", "local"))
    _same(got, want)
    assert not list((tmp_path / "dask").glob(".landuse-dask-*"))


def test_local_cluster_starts_while_the_client_reads_and_closes_after():
    from distributed import Client

    from landuse.pipeline.distributed import cluster_started_early
    from landuse.pipeline.engine import Engine

    # The local engine and a given scheduler are left as they are (nothing started).
    for engine in (Engine("local"), Engine("dask", "tcp://10.0.0.5:8786")):
        with cluster_started_early(engine) as started:
            assert started() is engine
    with cluster_started_early(Engine("dask", workers=1)) as started:
        engine = started()
        assert engine.kind == "dask" and engine.scheduler.startswith("tcp://")
        with Client(engine.scheduler) as client:
            assert len(client.scheduler_info()["workers"]) == 1
    with pytest.raises(OSError):  # closed on exit
        Client(engine.scheduler, timeout="2s")


def test_parts_joined_in_small_windows_keep_one_type_per_field(tmp_path, monkeypatch):
    # A parcel field of whole numbers with missing values in only some parcels: a part
    # without them reads it as integers, one with them as floats; the whole layer (the
    # local engine) as floats. Joined in windows of 100 rows (part batches of 16 rows)
    # the dask outputs must still be the local engine's, byte for byte. In-process
    # workers, so the small windows hold in them too.
    import shutil

    from landuse.core.config import layers_dir, load_project
    from landuse.pipeline.engine import Engine
    from landuse.pipeline.run import run_project

    for path in layers_dir().glob("xingbin_sample*"):
        shutil.copy(path, tmp_path / path.name)
    gpkg = tmp_path / "xingbin_sample.gpkg"
    parcels = gpd.read_file(gpkg, layer="parcels")
    planned = pd.array(np.arange(len(parcels)) % 40 + 1, dtype="Int64")
    planned[:50] = pd.NA  # the first 50 parcels only
    parcels["planned_mu"] = planned  # shown in conflicts.csv, as any field in 亩
    parcels.to_file(gpkg, layer="parcels", driver="GPKG")
    project = load_project(tmp_path / "xingbin_sample.toml")
    monkeypatch.setattr("landuse.io.parts.BATCH", 100)
    monkeypatch.setattr("landuse.io.parts.PART_BATCH", 16)
    local = run_project("check", project, tmp_path / "local")
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        engine = Engine("dask", cluster.scheduler_address)
        dask = run_project("check", project, tmp_path / "dask", engine=engine)
    assert dask.lines == [line.replace("/local", "/dask") for line in local.lines]
    for name in ("conflicts.csv", "conflict_pieces.csv", "certified_outside_udb.csv"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    header = (tmp_path / "dask" / "conflicts.csv").read_text(encoding="utf-8-sig").split("\n")[0]
    assert "planned_mu" in header.split(",")
    for layer in ("parcels_check", "conflict_pieces"):
        got, want = (
            pyogrio.read_dataframe(tmp_path / e / "conflicts.gpkg", layer=layer, fid_as_index=True)
            for e in ("dask", "local")
        )
        _same(got, want)
        got, want = (
            pyogrio.read_info(tmp_path / e / "conflicts.gpkg", layer=layer)["dtypes"]
            for e in ("dask", "local")
        )
        assert str(got) == str(want)


def _fresh(layer):
    """The layer with new geometry objects (not prepared or indexed by earlier tests)."""
    geoms = shapely.from_wkb(shapely.to_wkb(layer.geometry.to_numpy()))
    return layer.set_geometry(gpd.GeoSeries(geoms, index=layer.index, crs=layer.crs))


def test_tasks_never_prepare_or_index_the_features_they_share(sample_data, tmp_path):
    # A worker with several threads runs several tasks at once on the constraint
    # features scattered to it (and an in-process worker on the client's own objects).
    # GEOS prepared geometries and lazily built trees are not thread-safe: two tasks
    # preparing the same feature crashed the process (segmentation fault). So a task
    # prepares only its own copies and builds no index on what it shares.
    from landuse.analysis.buildable import BuildableOptions
    from landuse.core.config import ID_FIELDS
    from landuse.pipeline.distributed import (
        _buildable_part_of,
        _check_partition,
        _subset,
        _with_ids,
    )

    L = sample_data.layers
    shared = _with_ids({n: _fresh(L[n]) for n in ("udb", "farmland", "eco_redline")})
    part = L["parcels"].iloc[:700]
    near = {name: _subset(layer, part.total_bounds) for name, layer in shared.items()}
    kwargs = {"labels": None, "tolerance": None, "id_field": ID_FIELDS["parcels"]}
    result = _check_partition(part, near, kwargs)
    assert len(result.pieces) > 0  # features near the part were prepared: the copies
    assert any(shapely.is_prepared(layer.geometry.to_numpy()).any() for layer in near.values())
    for name, layer in shared.items():
        assert not shapely.is_prepared(layer.geometry.to_numpy()).any(), name
        assert not layer.has_sindex, name

    udb, before, after = (_fresh(L[n]).geometry.array for n in ("udb", "farmland", "eco_redline"))
    *_, area = _buildable_part_of(L["parks"], udb, before, after, [], [], BuildableOptions())
    assert area.sum() > 0
    for packed in (udb, before, after):
        assert not shapely.is_prepared(np.asarray(packed, dtype=object)).any()


@pytest.mark.parametrize("command", ["check", "buildable"])
def test_a_worker_running_two_tasks_at_once(tmp_path, command):
    # One in-process worker with 2 threads: two partitions run at once on the same
    # scattered features (what `dask worker` does with its default of a thread per core).
    from landuse.core.config import sample_project
    from landuse.pipeline.engine import Engine
    from landuse.pipeline.run import run_project

    local = run_project(command, sample_project(), tmp_path / "local")
    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0"
    ) as cluster:
        engine = Engine("dask", cluster.scheduler_address)
        dask = run_project(command, sample_project(), tmp_path / "dask", engine=engine)
    assert dask.lines == [line.replace("/local", "/dask") for line in local.lines]
    for path in (tmp_path / "local").glob("*.csv"):
        assert (tmp_path / "dask" / path.name).read_bytes() == path.read_bytes(), path.name

"""Benchmark: landuse vs geopandas.overlay vs DuckDB spatial on the same per-parcel figures.

Run by hand (needs the ``bench`` extra: ``pip install -e ".[bench]"``):

    python benchmarks/bench_peers.py --parcels 100000 --rounds 3

The figures are the two at the heart of the 三区三线 check, for every parcel:
the area outside the urban development boundary (城镇开发边界) and the area on
permanent basic farmland (永久基本农田), overlapping features unioned first so
nothing counts twice.

- landuse: ``check_conflicts(parcels, udb=..., farmland=..., threads=N)``, the
  whole check (it also cuts and attributes the pieces and classifies noise).
- DuckDB spatial: one query per figure, the straightforward formulation
  (spatial join, ``ST_Union_Agg`` of the features per parcel, then
  ``ST_Difference`` / ``ST_Intersection`` with the parcel), ``SET threads = N``.
  The layers are loaded into DuckDB tables first (WKB → GEOMETRY, reported
  separately, not in the time).
- geopandas.overlay: ``overlay(parcels, udb, "difference")`` and
  ``overlay(parcels, farmland, "intersection")`` dissolved per parcel.

Every contender starts from the same in-memory layers of one generated sample
and runs in a forked child (fresh state: no geometry prepared by an earlier
run); rounds alternate the contenders so a busy machine slows all alike.  Each
contender's figures must equal landuse's (one thread) within ``--tolerance``
m², else the benchmark fails.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import pathlib
import statistics
import time
from collections.abc import Callable

import geopandas as gpd
import numpy as np
from bench_check import LAYERS, _status_kb, load

from landuse.analysis.conflicts import check_conflicts

Figures = tuple[np.ndarray, np.ndarray]  # (outside-UDB m², on-farmland m²) per parcel


def _geoms(name: str) -> np.ndarray:
    return np.asarray(LAYERS[name].geometry.array, dtype=object)


def landuse_figures(threads: int) -> Callable[[], Callable[[], Figures]]:
    def setup() -> Callable[[], Figures]:
        def run() -> Figures:
            p = check_conflicts(
                LAYERS["parcels"], udb=LAYERS["udb"], farmland=LAYERS["farmland"], threads=threads
            ).parcels
            return p["udb_outside_m2"].to_numpy(), p["farmland_m2"].to_numpy()

        return run

    return setup


_DUCK_OUTSIDE = """
SELECT p.id, ST_Area(ST_Difference(any_value(p.geom), ST_Union_Agg(u.geom))) AS m2
FROM parcels p JOIN udb u ON ST_Intersects(p.geom, u.geom) GROUP BY p.id
"""
_DUCK_FARMLAND = """
SELECT p.id, ST_Area(ST_Intersection(any_value(p.geom), ST_Union_Agg(f.geom))) AS m2
FROM parcels p JOIN farmland f ON ST_Intersects(p.geom, f.geom) GROUP BY p.id
"""


def duckdb_figures(threads: int) -> Callable[[], Callable[[], Figures]]:
    def setup() -> Callable[[], Figures]:
        import duckdb
        import duckdb_ext
        import pyarrow as pa
        import shapely

        con = duckdb.connect()
        # The spatial extension from the duckdb-ext-spatial wheel: no download.
        folder = pathlib.Path(next(iter(duckdb_ext.__path__))) / "extensions"
        con.execute("SET extension_directory = ?", [str(folder)])
        con.execute("SET autoinstall_known_extensions = false")
        con.execute("LOAD spatial")
        con.execute(f"SET threads = {threads}")
        for name in ("parcels", "udb", "farmland"):
            wkb = shapely.to_wkb(_geoms(name))
            table = pa.table({"id": np.arange(len(wkb)), "wkb": pa.array(list(wkb), pa.binary())})
            con.register(f"{name}_wkb", table)
            con.execute(
                f"CREATE TABLE {name} AS SELECT id, ST_GeomFromWKB(wkb) AS geom FROM {name}_wkb"
            )
        n = len(LAYERS["parcels"])
        parcel_m2 = shapely.area(_geoms("parcels"))

        def run() -> Figures:
            outside = parcel_m2.copy()  # parcels meeting no UDB feature lie wholly outside
            got = con.sql(_DUCK_OUTSIDE).fetchnumpy()
            outside[got["id"]] = got["m2"]
            farmland = np.zeros(n)
            got = con.sql(_DUCK_FARMLAND).fetchnumpy()
            farmland[got["id"]] = got["m2"]
            return outside, farmland

        return run

    return setup


def overlay_figures() -> Callable[[], Figures]:
    def run() -> Figures:
        p = LAYERS["parcels"][["parcel_id", "geometry"]]
        ids = p["parcel_id"]
        out = gpd.overlay(p, LAYERS["udb"][["geometry"]], how="difference", keep_geom_type=True)
        # One row per parcel (the UDB features it meets are unioned); none when covered.
        outside = out.set_index("parcel_id").area.reindex(ids, fill_value=0.0).to_numpy()
        inter = gpd.overlay(
            p, LAYERS["farmland"][["geometry"]], how="intersection", keep_geom_type=True
        )
        farmland = inter.dissolve("parcel_id").area.reindex(ids, fill_value=0.0).to_numpy()
        return outside, farmland

    return run


def _child(setup: Callable[[], Callable[[], Figures]], conn) -> None:
    t0 = time.perf_counter()
    run = setup()
    loaded = time.perf_counter() - t0
    base = _status_kb("VmRSS:")
    t0, c0 = time.perf_counter(), time.process_time()
    figures = run()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    conn.send((seconds, cpu, loaded, (_status_kb("VmHWM:") - base) / 1024, figures))


def measure(
    setup: Callable[[], Callable[[], Figures]],
) -> tuple[float, float, float, float, Figures]:
    """Wall and CPU seconds, setup seconds, extra peak MiB and figures of a forked run."""
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_child, args=(setup, child))
    proc.start()
    result = parent.recv()
    proc.join()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parcels", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3, help="runs of each contender")
    ap.add_argument("--tolerance", type=float, default=1e-6, help="largest difference allowed, m²")
    ap.add_argument("--no-overlay", action="store_true", help="skip geopandas.overlay (slow)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    load(args.parcels)
    print(
        f"{args.parcels:,} parcels, {len(LAYERS['udb']):,} UDB features, "
        f"{len(LAYERS['farmland']):,} farmland patches (sample generated in "
        f"{time.perf_counter() - t0:.1f} s)",
        flush=True,
    )
    contenders: dict[str, Callable] = {
        "landuse, 1 thread": landuse_figures(1),
        "landuse, 2 threads": landuse_figures(2),
        "DuckDB spatial, 1 thread": duckdb_figures(1),
        "DuckDB spatial, 2 threads": duckdb_figures(2),
    }
    if not args.no_overlay:
        contenders["geopandas.overlay (1 thread)"] = overlay_figures
    times: dict[str, list[float]] = {name: [] for name in contenders}
    cpu: dict[str, list[float]] = {name: [] for name in contenders}
    setup_s: dict[str, float] = {}
    peak: dict[str, float] = {}
    figures: dict[str, Figures] = {}
    for k in range(args.rounds):
        for name, setup in contenders.items():
            if name.startswith("geopandas") and k > 0:
                continue  # one run: it takes ten times longer than the rest
            seconds, cpu_s, loaded, mib, figures[name] = measure(setup)
            times[name].append(seconds)
            cpu[name].append(cpu_s)
            setup_s[name] = loaded
            peak[name] = max(peak.get(name, 0.0), mib)
            print(f"  round {k + 1}: {name:<30} {seconds:7.2f} s (CPU {cpu_s:.2f} s)", flush=True)
    reference = figures["landuse, 1 thread"]
    parcel_m2 = LAYERS["parcels"].area.to_numpy()
    print()
    print(
        f"{'contender':<30} {'best s':>7} {'median s':>9} {'CPU s':>6} {'peak MiB':>9} "
        f"{'load s':>7} {'max |Δ| outside m²':>19} {'max |Δ| farmland m²':>20}"
    )
    failed = []
    for name in contenders:
        outside, farmland = figures[name]
        d_out = float(np.max(np.abs(outside - reference[0])))
        d_farm = float(np.max(np.abs(farmland - reference[1])))
        if max(d_out, d_farm) > args.tolerance:
            failed.append(name)
        loaded = f"{setup_s[name]:7.2f}" if name.startswith("DuckDB") else f"{'—':>7}"
        print(
            f"{name:<30} {min(times[name]):7.2f} {statistics.median(times[name]):9.2f} "
            f"{min(cpu[name]):6.2f} {peak[name]:9.0f} {loaded} {d_out:19.2e} {d_farm:20.2e}"
        )
    print(
        f"(parcels: {parcel_m2.sum() / 1e6:,.1f} km²; outside the UDB "
        f"{reference[0].sum() / 1e6:,.3f} km², on farmland {reference[1].sum() / 1e6:,.3f} km²; "
        f"differences against landuse on 1 thread, tolerance {args.tolerance:g} m²)"
    )
    if failed:
        raise SystemExit(f"figures differ beyond the tolerance: {', '.join(failed)}")


if __name__ == "__main__":
    main()

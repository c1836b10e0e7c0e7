"""Benchmark: conflict check and buildable land vs the geopandas.overlay formulation.

Run by hand (not a test):

    python benchmarks/bench_check.py --sizes 10000 100000 1000000 --overlay-max 100000
    python benchmarks/bench_check.py --files 1000000 --data /tmp/sample-1m

In memory (``--sizes``): for each size a sample is generated in memory; every
measurement then runs in a forked child so its time and extra peak memory
(VmHWM − VmRSS at start) are its own.

From files (``--files N``): a project of N parcels is generated once into
``--data`` (kept and reused when given, else a temporary folder), then
``landuse check`` and ``landuse buildable`` (``--commands``) each run as a
subprocess, as a user runs them.  Reported: wall time, peak RSS of the
subprocess, and where the time went (imports, reading each layer, the
analysis, GeoPackage and CSV writing, the rest), in wall and CPU seconds,
measured by timers wrapped around those functions inside the subprocess.

In-memory steps:

- intersection: parcels ∩ farmland, one area per parcel (overlapping patches
  unioned), one thread.  landuse: ``intersect_by_group``; overlay: ``gpd.overlay(...,
  "intersection")`` then ``dissolve`` by parcel.
- difference: parcel area outside the UDB.  landuse: ``check_conflicts``'s
  outside step (one thread); overlay: ``gpd.overlay(parcels, udb, "difference")``.
- buildable difference: (park ∩ UDB) − obstacles.  landuse: ``find_buildable``
  without size filters, one thread; overlay: ``gpd.overlay(area, obstacles,
  "difference")``.
- full check and full buildable (landuse only), on each of ``--threads``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from landuse.analysis.buildable import BuildableOptions, find_buildable
from landuse.analysis.conflicts import _outside_pieces, check_conflicts
from landuse.core.config import FIELD_ALIASES
from landuse.core.overlay import intersect_by_group
from landuse.core.validate import clean_geometries, standardize_fields
from landuse.sample import generate_sample

LAYERS: dict[str, gpd.GeoDataFrame] = {}


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def _child(fn: Callable[[], object], conn) -> None:
    base = _status_kb("VmRSS:")
    t0 = time.perf_counter()
    fn()
    conn.send((time.perf_counter() - t0, (_status_kb("VmHWM:") - base) / 1024))


def measure(fn: Callable[[], object]) -> tuple[float, float]:
    """Seconds and extra peak MiB of ``fn`` run in a forked child."""
    parent, child = mp.get_context("fork").Pipe()
    proc = mp.get_context("fork").Process(target=_child, args=(fn, child))
    proc.start()
    result = parent.recv()
    proc.join()
    return result


def load(n: int) -> None:
    s = generate_sample(n)
    for name in ("parcels", "udb", "farmland", "eco_redline", "parks", "roads"):
        gdf = standardize_fields(getattr(s, name), FIELD_ALIASES[name], layer_name=name)
        kind = "line" if name == "roads" else "polygon"
        LAYERS[name] = clean_geometries(gdf, layer_name=name, kind=kind)[0]


def _geoms(name: str) -> np.ndarray:
    return np.asarray(LAYERS[name].geometry.array, dtype=object)


def ours_intersection() -> None:
    parcels = _geoms("parcels")
    found = intersect_by_group(parcels, _geoms("farmland"))
    np.bincount(found.hit, shapely.area(found.inside), minlength=len(parcels))


def overlay_intersection() -> None:
    p = LAYERS["parcels"][["parcel_id", "geometry"]]
    inter = gpd.overlay(
        p, LAYERS["farmland"][["geometry"]], how="intersection", keep_geom_type=True
    )
    inter.dissolve("parcel_id").area.reindex(p["parcel_id"], fill_value=0.0)


def ours_difference() -> None:
    _outside_pieces(_geoms("parcels"), _geoms("udb"))


def overlay_difference() -> object:
    p = LAYERS["parcels"][["parcel_id", "geometry"]]
    return gpd.overlay(p, LAYERS["udb"][["geometry"]], how="difference", keep_geom_type=True).area


def _obstacles() -> gpd.GeoDataFrame:
    p = LAYERS["parcels"]
    roads = LAYERS["roads"]
    geoms = (
        list(LAYERS["farmland"].geometry)
        + list(LAYERS["eco_redline"].geometry)
        + list(p.geometry[p["supply_status"] == "已供"])
        + list(roads.buffer(roads["width_m"].astype(float) / 2))
    )
    return gpd.GeoDataFrame(geometry=geoms, crs=p.crs)


def _buildable(options: BuildableOptions | None = None, threads: int = 1) -> object:
    return find_buildable(
        LAYERS["parks"],
        LAYERS["udb"],
        farmland=LAYERS["farmland"],
        eco_redline=LAYERS["eco_redline"],
        parcels=LAYERS["parcels"],
        roads=LAYERS["roads"],
        options=options,
        threads=threads,
    )


def ours_buildable_difference() -> object:
    return _buildable(BuildableOptions(min_area_mu=0, min_width_m=0))


def overlay_buildable_difference() -> object:
    area = gpd.overlay(
        LAYERS["parks"][["park", "geometry"]],
        LAYERS["udb"][["geometry"]],
        how="intersection",
        keep_geom_type=True,
    )
    return gpd.overlay(area, _obstacles(), how="difference", keep_geom_type=True).area


def ours_full_check(threads: int) -> Callable[[], object]:
    return lambda: check_conflicts(
        LAYERS["parcels"],
        udb=LAYERS["udb"],
        farmland=LAYERS["farmland"],
        eco_redline=LAYERS["eco_redline"],
        threads=threads,
    )


def ours_full_buildable(threads: int) -> Callable[[], object]:
    return lambda: _buildable(threads=threads)


def run_command(
    args: list[str], log: Path
) -> tuple[float, float, float, dict[str, list[float]], int]:
    """Wall and CPU seconds, peak RSS (MiB), phases (wall, CPU) and exit code of a command."""
    times = log.with_suffix(".json")
    script = Path(__file__).with_name("cli_phases.py")
    t0 = time.perf_counter()
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen([sys.executable, str(script), str(times), *args], stdout=out)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    phases = json.loads(times.read_text(encoding="utf-8"))["phases"] if times.exists() else {}
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, usage.ru_maxrss / 1024, phases, os.waitstatus_to_exitcode(status)


def from_files(n: int, data: Path | None, commands: list[str], out: Path | None) -> None:
    """Generate an n-parcel project once, then time each command on it as a subprocess."""
    folder = data or Path(tempfile.mkdtemp(prefix=f"landuse-bench-{n}-"))
    folder.mkdir(parents=True, exist_ok=True)
    project = folder / "sample.toml"
    if not project.exists():
        t0 = time.perf_counter()
        subprocess.run(
            ["landuse", "sample", "--parcels", str(n), "--out", str(folder / "sample.gpkg")],
            check=True,
        )
        print(f"[{n:,} parcels] project written to {folder} in {time.perf_counter() - t0:.0f} s")
    outputs = out or folder
    outputs.mkdir(parents=True, exist_ok=True)
    for command in commands:
        target = outputs / f"out_{command}"
        args = [command, "--project", str(project), "--out", str(target)]
        wall, cpu, peak, phases, code = run_command(args, outputs / f"{command}.log")
        print(
            f"landuse {command}: {wall:.1f} s wall, {cpu:.1f} s CPU, "
            f"peak RSS {peak / 1024:.2f} GiB"
            + (f", EXIT {code} (see {outputs / f'{command}.log'})" if code else ""),
            flush=True,
        )
        print(f"  {'phase':<28} {'wall s':>7} {'CPU s':>7}")
        for phase, (seconds, cpu_s) in sorted(phases.items(), key=lambda kv: -kv[1][0]):
            print(f"  {phase:<28} {seconds:7.1f} {cpu_s:7.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument(
        "--files",
        type=int,
        default=None,
        metavar="N",
        help="time the CLI on an N-parcel project from files instead of the in-memory steps",
    )
    ap.add_argument("--data", type=Path, default=None, help="project folder to reuse or fill")
    ap.add_argument("--commands", nargs="+", default=["check", "buildable"])
    ap.add_argument("--out", type=Path, default=None, help="where outputs and logs go")
    ap.add_argument(
        "--overlay-max",
        type=int,
        default=100_000,
        help="largest size at which the (slow) overlay formulation also runs",
    )
    ap.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=[1, 2],
        help="threads of the full check and buildable runs",
    )
    args = ap.parse_args()
    if args.files is not None:
        from_files(args.files, args.data, args.commands, args.out)
        return
    rows = []
    pairs = [
        ("intersection", ours_intersection, overlay_intersection),
        ("difference (outside UDB)", ours_difference, overlay_difference),
        ("buildable difference", ours_buildable_difference, overlay_buildable_difference),
    ]
    for threads in args.threads:
        pairs.append((f"full check_conflicts, {threads} thr", ours_full_check(threads), None))
    for threads in args.threads:
        pairs.append((f"full find_buildable, {threads} thr", ours_full_buildable(threads), None))
    for n in args.sizes:
        t0 = time.perf_counter()
        load(n)
        print(
            f"[{n:>9,} parcels] sample generated in {time.perf_counter() - t0:.1f} s "
            f"({len(LAYERS['farmland']):,} farmland patches)",
            flush=True,
        )
        for step, ours, overlay in pairs:
            t_ours, m_ours = measure(ours)
            row = {"parcels": n, "step": step, "landuse_s": t_ours, "landuse_peak_MiB": m_ours}
            if overlay is not None and n <= args.overlay_max:
                t_ov, m_ov = measure(overlay)
                row.update(overlay_s=t_ov, overlay_peak_MiB=m_ov, speedup=t_ov / t_ours)
            rows.append(row)
            print(
                f"  {step:<28} landuse {t_ours:8.2f} s"
                + (
                    f"   overlay {row['overlay_s']:8.2f} s   x{row['speedup']:.1f}"
                    if "overlay_s" in row
                    else ""
                ),
                flush=True,
            )
    table = pd.DataFrame(rows)
    print()
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))


if __name__ == "__main__":
    main()

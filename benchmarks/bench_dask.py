"""Benchmark: conflict check and buildable land, local engine vs dask (2 workers).

Run by hand:

    python benchmarks/bench_dask.py --sizes 1000000 5000000
    python benchmarks/bench_dask.py --project /work/bench1m/sample.toml --out /tmp/bench-dask

In memory (``--sizes``), each run reports wall time and peak memory: for the
local engine the extra peak of a forked child; for dask the client's extra
peak plus the workers' peak resident memory.

From files (``--project``), ``landuse check`` and ``landuse buildable`` run
as subprocesses, as a user runs them: the local engine with ``--threads 2``,
dask with ``--engine dask --workers 2``.  Reported: wall time, the peak RSS
of the command's own process (the client; dask's workers are other
processes), the largest peak of any process it started (a dask worker or
nanny) and the load average before the run (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_check import LAYERS, _status_kb, load, measure

from landuse.analysis.buildable import find_buildable
from landuse.analysis.conflicts import check_conflicts
from landuse.pipeline.distributed import check_conflicts_dask, dask_client, find_buildable_dask


def _check(**extra) -> dict:
    return dict(
        udb=LAYERS["udb"], farmland=LAYERS["farmland"], eco_redline=LAYERS["eco_redline"], **extra
    )


def _buildable(**extra) -> dict:
    return dict(
        farmland=LAYERS["farmland"],
        eco_redline=LAYERS["eco_redline"],
        parcels=LAYERS["parcels"],
        roads=LAYERS["roads"],
        **extra,
    )


def _worker_peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# Runs the CLI in this process and, at exit, writes its own peak RSS and the largest
# of its children's (dask's nannies and workers, waited for at cluster shutdown).
_CLI = """
import atexit, json, os, resource, sys
path, pid = sys.argv[1], os.getpid()
def report():
    if os.getpid() != pid:  # a worker process that inherited the handler
        return
    with open(path, "w") as f:
        json.dump({"client": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                   "children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}, f)
atexit.register(report)
from landuse.cli import main
sys.argv = ["landuse", *sys.argv[2:]]
main()
"""


def run_cli(command: str, project: Path, out: Path, engine: list[str]) -> dict:
    """Time one ``landuse`` command as a subprocess; wall time, peaks (MiB), load average."""
    load = os.getloadavg()[0]
    with tempfile.NamedTemporaryFile(suffix=".json") as peaks:
        cmd = [sys.executable, "-c", _CLI, peaks.name, command, "--project", str(project)]
        t0 = time.perf_counter()
        subprocess.run([*cmd, "--out", str(out), *engine], check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        kib = json.loads(Path(peaks.name).read_text())
    return {
        "wall_s": wall,
        "client_mib": kib["client"] / 1024,
        "children_mib": kib["children"] / 1024,
        "load": load,
    }


def from_files(project: Path, out: Path, commands: list[str], workers: int, repeat: int) -> None:
    """Local engine (2 threads) vs dask (``workers``) on a project's files, as the CLI runs."""
    engines = {
        "local": ["--threads", "2"],
        "dask": ["--engine", "dask", "--workers", str(workers)],
    }
    print(f"{'step':<10} {'engine':<6} {'wall s':>7} {'client MiB':>10} {'worker MiB':>10} load")
    for command in commands:
        for name, options in engines.items():
            for _ in range(repeat):
                r = run_cli(command, project, out / f"{command}-{name}", options)
                workers_mib = f"{r['children_mib']:10.0f}" if name == "dask" else f"{'—':>10}"
                print(
                    f"{command:<10} {name:<6} {r['wall_s']:7.1f} {r['client_mib']:10.0f} "
                    f"{workers_mib} {r['load']:5.2f}",
                    flush=True,
                )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--local-only", action="store_true", help="skip the dask runs")
    ap.add_argument("--dask-only", action="store_true", help="skip the local runs")
    ap.add_argument("--project", type=Path, help="time the CLI on this project's files")
    ap.add_argument("--out", type=Path, help="output folders of --project runs")
    ap.add_argument("--commands", nargs="+", default=["check", "buildable"])
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    if args.project is not None:
        if args.out is None:
            ap.error("--project needs --out (a folder for the outputs)")
        from_files(args.project, args.out, args.commands, args.workers, args.repeat)
        return
    print(
        f"{'parcels':>10} {'step':<10} {'local s':>8} {'local MiB':>10} "
        f"{'dask s':>7} {'dask MiB':>9}"
    )
    for n in args.sizes:
        load(n)
        t_lc = m_lc = t_lb = m_lb = float("nan")
        if not args.dask_only:
            t_lc, m_lc = measure(lambda: check_conflicts(LAYERS["parcels"], **_check()))
            t_lb, m_lb = measure(
                lambda: find_buildable(LAYERS["parks"], LAYERS["udb"], **_buildable())
            )
        if args.local_only:
            print(f"{n:>10,} {'check':<10} {t_lc:8.1f} {m_lc:10.0f} {'—':>7} {'—':>9}")
            print(
                f"{n:>10,} {'buildable':<10} {t_lb:8.1f} {m_lb:10.0f} {'—':>7} {'—':>9}", flush=True
            )
            continue
        with dask_client(n_workers=args.workers) as client:
            # Reset this process's high-water mark: it still holds the sample's generation.
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            base = _status_kb("VmRSS:")
            t0 = time.perf_counter()
            check_conflicts_dask(LAYERS["parcels"], client=client, **_check())
            t_dc = time.perf_counter() - t0
            t0 = time.perf_counter()
            find_buildable_dask(LAYERS["parks"], LAYERS["udb"], client=client, **_buildable())
            t_db = time.perf_counter() - t0
            client_mib = (_status_kb("VmHWM:") - base) / 1024
            workers_mib = sum(client.run(_worker_peak_mib).values())
        m_dask = client_mib + workers_mib
        print(f"{n:>10,} {'check':<10} {t_lc:8.1f} {m_lc:10.0f} {t_dc:7.1f} {m_dask:9.0f}")
        print(
            f"{n:>10,} {'buildable':<10} {t_lb:8.1f} {m_lb:10.0f} {t_db:7.1f} {'(same)':>9}",
            flush=True,
        )


if __name__ == "__main__":
    main()

"""Benchmark: conflict check and buildable land, local engine vs dask (2 workers).

Run by hand:

    python benchmarks/bench_dask.py --sizes 1000000 5000000

Each run reports wall time and peak memory: for the local engine the extra
peak of a forked child; for dask the client's extra peak plus the workers'
peak resident memory.
"""

from __future__ import annotations

import argparse
import resource
import time

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--local-only", action="store_true", help="skip the dask runs")
    ap.add_argument("--dask-only", action="store_true", help="skip the local runs")
    args = ap.parse_args()
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

"""Run one ``landuse`` command with timers around its phases and write them as JSON.

Used by ``bench_check.py --files`` (run by hand, not a test)::

    python benchmarks/cli_phases.py TIMES.json check --project sample.toml --out out
    python benchmarks/cli_phases.py TIMES.json check --project sample.toml --engine dask --out out

The command runs in this process exactly as the ``landuse`` entry point runs it;
the timers wrap the functions every command goes through (project loading and
each layer read, the analysis, the GeoPackage and CSV writers).  Times are
exclusive: a phase inside another (a layer read inside the project load) is
counted once, in the inner phase.  Only the standard library is imported before
the clock starts, so ``imports`` is what the command pays for its imports.
"""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

T0, C0 = time.perf_counter(), time.process_time()
# Phase → wall seconds and CPU seconds (all threads): on a shared machine the CPU
# time is what the phase costs, the wall time also what other jobs took.
PHASES: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
_inner: list[list[float]] = []  # wall and CPU of timed calls nested in each open one


def _timed(fn: Callable[..., Any], label: Callable[..., str]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _inner.append([0.0, 0.0])
        start = time.perf_counter(), time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            spent = time.perf_counter() - start[0], time.process_time() - start[1]
            inner = _inner.pop()
            phase = PHASES[label(*args, **kwargs)]
            for i in (0, 1):
                phase[i] += spent[i] - inner[i]
                if _inner:
                    _inner[-1][i] += spent[i]

    return wrapper


def _replace_everywhere(fn: Callable[..., Any], label: Callable[..., str]) -> None:
    """Wrap ``fn`` in every landuse module that holds it (``from … import fn`` copies)."""
    wrapper = _timed(fn, label)
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] != "landuse":
            continue
        for attr, value in list(vars(module).items()):
            if value is fn:
                setattr(module, attr, wrapper)


def main() -> None:
    times_path, args = sys.argv[1], sys.argv[2:]
    import landuse.cli
    import landuse.io
    import landuse.pipeline  # the CLI imports it lazily; here, inside "imports"

    dask = "dask" in args  # --engine dask
    if dask:
        import landuse.pipeline.distributed
    PHASES["imports"] = [time.perf_counter() - T0, time.process_time() - C0]
    from landuse.io import project, write

    _replace_everywhere(project.load_project_data, lambda *a, **k: "read: CRS, report")
    _replace_everywhere(project.load_layer, lambda _p, name, **k: f"read {name}")
    _replace_everywhere(project.load_table, lambda _p, name="enterprises": f"read {name}")
    _replace_everywhere(write.write_layers, lambda *a, **k: "write GeoPackage")
    _replace_everywhere(write.write_table, lambda *a, **k: "write CSV")
    from landuse.pipeline import buildable, check

    check.check_conflicts = _timed(check.check_conflicts, lambda *a, **k: "analysis")
    buildable.find_buildable = _timed(buildable.find_buildable, lambda *a, **k: "analysis")
    if dask:
        from landuse.io import parts
        from landuse.pipeline import distributed

        _replace_everywhere(distributed.split_parcels, lambda *a, **k: "dask: split by boxes")
        _replace_everywhere(distributed._run_windowed, lambda *a, **k: "dask: workers")
        _replace_everywhere(parts.write_parts_gpkg, lambda *a, **k: "write GeoPackage")
        for step in (distributed.check_parts, distributed.buildable_parts):
            _replace_everywhere(step, lambda *a, **k: "dask: send, wait, join")
    code = 0
    try:
        landuse.cli.main(args, standalone_mode=False)
    except SystemExit as exc:  # a LanduseError: one line and exit 2
        code = int(exc.code or 0)
    finally:
        total = [time.perf_counter() - T0, time.process_time() - C0]
        PHASES["other"] = [total[i] - sum(p[i] for p in PHASES.values()) for i in (0, 1)]
        with open(times_path, "w", encoding="utf-8") as f:
            json.dump({"total_s": total, "phases": PHASES}, f, ensure_ascii=False)
    sys.exit(code)


if __name__ == "__main__":
    main()

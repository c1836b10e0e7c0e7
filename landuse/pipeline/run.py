"""Running a step on a project: load, report what was read, run, write (files or PostGIS)."""

from __future__ import annotations

import contextlib
import importlib
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, cast

from landuse.core.config import Project, sample_project
from landuse.core.errors import ConfigError
from landuse.io import load_project_data, postgis, read_result_layers
from landuse.pipeline.load import run_intake
from landuse.pipeline.registry import ANALYSES
from landuse.pipeline.result import StepResult
from landuse.pipeline.step import Step


def run_demo(
    out_dir: str | Path,
    *,
    project: Project | None = None,
    on_step: Callable[[str], None] | None = None,
) -> StepResult:
    """Run the whole pipeline and the meeting pack on the shipped sample (or a project).

    Parameters
    ----------
    out_dir : str or Path
        Folder for the outputs; created if needed.
    project : Project, optional
        Defaults to :func:`landuse.core.config.sample_project`.
    on_step : callable, optional
        Called with a short description before each step.

    Returns
    -------
    StepResult
    """
    return run_project("report", project or sample_project(), out_dir, on_step=on_step)


class _Steps(Mapping[str, Step]):
    """Command → step: every analysis, then the meeting map and the whole report.

    The map and report steps are imported when first asked for: they load
    folium, matplotlib, openpyxl and python-docx, which ``landuse check`` and
    the other single analyses never use (about 1.5 s of every command).
    """

    _LATER: ClassVar[dict[str, str]] = {
        "map": "landuse.pipeline.map",
        "report": "landuse.pipeline.report",
    }

    def __getitem__(self, command: str) -> Step:
        for step in ANALYSES:
            if step.command == command:
                return step
        if command in self._LATER:
            return cast(Step, importlib.import_module(self._LATER[command]).STEP)
        raise KeyError(command)

    def __iter__(self) -> Iterator[str]:
        yield from (step.command for step in ANALYSES)
        yield from self._LATER

    def __len__(self) -> int:
        return len(ANALYSES) + len(self._LATER)


#: Command → step: every analysis, the meeting map and the whole report.
STEPS: Mapping[str, Step] = _Steps()


def run_project(
    step: str,
    project: Project,
    out_dir: str | Path,
    *,
    on_step: Callable[[str], None] | None = None,
    area_of: str | None = None,
    **options: Any,
) -> StepResult:
    """Load what a step reads of a project, report it, run the step and write its outputs.

    Parameters
    ----------
    step : str
        A key of :data:`STEPS` (``check``, ``buildable``, ``idle``, ``rates``,
        ``tax``, ``indicators``, ``map``, ``report``).
    project : Project
        The project (``landuse.core.config.load_project``).
    out_dir : str or Path
        Output folder, created if needed; or a ``postgresql://…[?schema=s]`` URL:
        the result layers then go only there, as tables, in one transaction.
        With ``[output] database`` they go to the folder and the database.
    on_step : callable, optional
        Progress callback, called with a short description before each stage.
    area_of : str, optional
        The layer covering the only area analysed (``parcels`` for a red line):
        database tables are read within its bounding box.
    **options
        The step's own keyword arguments (``as_of``, ``year``, ``engine`` ...).

    Returns
    -------
    StepResult
        The intake lines first, then the step's lines and files.
    """
    only_database = postgis.is_database_url(out_dir)
    if only_database and step in ("report", "map"):
        raise ConfigError(
            f"'{step}' writes files for people (workbook, map): give --out a folder, and set "
            "[output] database to also write the result layers to the database."
        )
    database = str(out_dir) if only_database else data_url(project)
    with contextlib.ExitStack() as stack:
        if only_database:  # the files are only a stage on the way to the tables
            out = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="landuse-")))
        else:
            out = Path(out_dir)
            out.mkdir(parents=True, exist_ok=True)
        needs = STEPS[step].needs(project)
        names = [name for name in project.layers if name in needs]  # the project's order
        engine = options.get("engine")
        parts: list = []
        crs = None
        started: Callable[[], Any] | None = None
        if engine is not None and engine.kind == "dask":
            from landuse.pipeline.distributed import cluster_started_early, split_parcels

            # A local cluster starts (about 4 s) while this process reads.
            started = stack.enter_context(cluster_started_early(engine))
            # The workers read the parcels themselves (not a red line: area_of).
            if area_of is None and step in ("check", "buildable"):
                names, crs, parts = split_parcels(project, names, engine.workers)
        data = load_project_data(project, names, on_step=on_step, area_of=area_of, crs=crs)
        if started is not None:
            options["engine"] = started()
        if parts:
            data.parts["parcels"] = parts
        if on_step is not None:
            on_step(STEPS[step].label)
        if step == "report":
            options["on_step"] = on_step
        done = STEPS[step].run(data, out, **options)  # may stop before writing (report's checks)
        result = run_intake(data, out)
        result.extend(done)
        if database is not None:
            url, schema = postgis.split_schema(database)
            layers = read_result_layers(f for f in result.files if f.suffix == ".gpkg")
            tables = postgis.write_tables(url, layers, schema=schema)
            result.lines.append(
                f"结果已写入数据库 Written to {postgis.redact(url)}：{', '.join(tables)}"
            )
        if only_database:
            result.files, result.database = [], postgis.redact(str(out_dir))
    return result


def data_url(project: Project) -> str | None:
    """``[output] database``: where result layers also go (None: the folder only)."""
    return project.options.output.database

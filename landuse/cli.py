"""Command-line interface: parses arguments, calls the library, prints.

Library errors (:class:`landuse.core.errors.LanduseError`) become one line on
stderr and exit status 2; ``--debug`` shows the traceback instead.  The
library is imported inside each command, so ``landuse --help`` starts without
loading pandas, GDAL, matplotlib or dask.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from landuse import __version__
from landuse.core.errors import ConfigError, LanduseError, LanduseWarning, LedgerError

if TYPE_CHECKING:
    from landuse.core.config import LayerSpec, Project
    from landuse.ledger import Ledger
    from landuse.pipeline import Engine, StepResult

console = Console(stderr=True)


@contextmanager
def _progress(total: int) -> Iterator[Callable[[str], None]]:
    """A step progress bar; yields the ``on_step`` callback library functions take."""
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("", total=total)
        started = False

        def on_step(message: str) -> None:
            nonlocal started
            if started:
                bar.advance(task)
            started = True
            bar.update(task, description=message)

        yield on_step
        bar.update(task, completed=total)


class _Group(click.Group):
    """Turns LanduseError into one line and exit 2, unless --debug.

    Anything else escaping a command is a bug in landuse: it is reported as
    such on one line (exit 3) instead of a traceback the user can't act on.
    """

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except LanduseError as exc:
            if ctx.meta.get("landuse.debug"):
                raise
            click.echo(f"错误 Error: {exc}", err=True)
            sys.exit(2)
        except (click.exceptions.Exit, click.ClickException, KeyboardInterrupt):
            raise
        except Exception as exc:
            if ctx.meta.get("landuse.debug"):
                raise
            click.echo(
                f"内部错误 Internal error (a bug in landuse {__version__}): "
                f"{type(exc).__name__}: {exc}. Run again with --debug and report the traceback.",
                err=True,
            )
            sys.exit(3)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="landuse")
@click.option("--debug", is_flag=True, help="出错时显示完整调用栈 Show full tracebacks on errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """landuse：三区三线检查、可建设用地、闲置土地、亩均效益与会议材料 / Land-use checks.

    landuse: 三区三线 conflict checks, buildable and idle land, per-mu
    efficiency, meeting maps and workbooks.  Start with `landuse init 数据文件夹`
    (writes landuse.toml), or try `landuse demo` on the synthetic sample.
    """
    ctx.meta["landuse.debug"] = debug
    warnings.simplefilter("default", LanduseWarning)
    warnings.showwarning = lambda msg, *_a, **_k: console.print(f"[yellow]注意 Note:[/] {msg}")


def _read_options(func: Callable) -> Callable:
    """--layer, --crs and --encoding for a file named on the command line."""
    for option in reversed(
        [
            click.option("--layer", default=None, help="图层名 Layer inside a multi-layer file."),
            click.option(
                "--crs",
                default=None,
                help="坐标系 CRS when the file has none or a wrong one, e.g. EPSG:4524.",
            ),
            click.option(
                "--encoding",
                default=None,
                help="属性编码 Attribute encoding when detection fails, e.g. GBK.",
            ),
        ]
    ):
        func = option(func)
    return func


@main.command()
@click.option(
    "--parcels",
    "n_parcels",
    type=click.IntRange(min=1),
    default=None,
    help="地块数 Number of parcels (default 2000).",
)
@click.option("--seed", type=int, default=None, help="随机种子 Random seed (default fixed).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("landuse_sample/xingbin_sample.gpkg"),
    show_default=True,
    help="输出 GeoPackage to write; the land-cover GeoTIFF goes beside it.",
)
def sample(n_parcels: int | None, seed: int | None, out: Path) -> None:
    """生成模拟示例数据（兴宾区）/ Generate the synthetic sample county."""
    from landuse.sample import DEFAULT_PARCELS, DEFAULT_SEED, generate_sample, write_sample

    with _progress(7) as on_step:
        data = generate_sample(
            n_parcels or DEFAULT_PARCELS, seed=seed or DEFAULT_SEED, on_step=on_step
        )
        on_step("写出 writing")
        gpkg, tif = write_sample(data, out)
    click.echo(f"示例数据已写出 Sample written: {gpkg} ({len(data.parcels)} 个地块) and {tif}")


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@_read_options
def info(path: Path, layer: str | None, crs: str | None, encoding: str | None) -> None:
    """查看图层：坐标系、要素、字段、编码、有效性 / Describe a layer."""
    from landuse.io import describe_layer, list_layers

    if layer is None and list_layers(path)["geometry_type"].notna().sum() > 1:
        layers = list_layers(path, counts=True)
        click.echo(f"文件 File: {path} — {len(layers)} 个图层 layers (--layer NAME for details)")
        for row in layers.itertuples():
            kind = row.geometry_type if isinstance(row.geometry_type, str) else "表格 table"
            crs = row.crs if isinstance(row.crs, str) else "no CRS"
            click.echo(f"  {row.name}: {kind}, {row.features} features, {crs}")
        return
    d = describe_layer(path, layer, encoding=encoding, crs=crs)
    click.echo(f"文件 File:      {d['path']}")
    click.echo(f"图层 Layers:    {', '.join(d['layers'])} (showing '{d['layer']}', {d['driver']})")
    click.echo(f"坐标系 CRS:     {d['crs']} [{d['crs_source']}]")
    click.echo(f"要素 Features:  {d['features']} {d['geometry_type']}")
    click.echo(
        f"编码 Encoding:  字段名 names: {d['names_encoding']}; "
        f"属性值 values: {d['values_encoding']}"
    )
    click.echo("范围 Bounds:    " + ", ".join(f"{v:.3f}" for v in d["bounds"]))
    click.echo(
        f"有效性 Validity: {d['invalid']} invalid, {d['empty']} empty, {d['null']} null geometries"
    )
    click.echo("字段 Fields (类型 type, 示例 example):")
    for name, dtype in d["fields"].items():
        click.echo(f"  {name}: {dtype}, {d['examples'][name]}")


def _echo_result(result: StepResult) -> None:
    for line in result.lines:
        click.echo(line)
    if result.database is not None:
        click.echo(f"输出数据库 Outputs: {result.database}")
        return
    click.echo(f"输出目录 Outputs: {result.out_dir.resolve()}")
    for f in result.files:
        click.echo(f"  {f.relative_to(result.out_dir) if f.is_relative_to(result.out_dir) else f}")


_engine_options = [
    click.option(
        "--engine",
        type=click.Choice(["local", "dask"]),
        default="local",
        show_default=True,
        help="计算引擎 dask: spatial partitions on a dask cluster.",
    ),
    click.option(
        "--scheduler",
        default=None,
        help="dask 调度器地址 scheduler address (default: start a local cluster).",
    ),
    click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=2,
        show_default=True,
        help="本地 dask 进程数 Workers of the local dask cluster.",
    ),
]
_threads_option = click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="本地引擎线程数 Threads of the local engine "
    "(default: [project] threads, else every core; results are the same for any number).",
)


def _engine_option(func: Callable) -> Callable:
    for option in reversed([*_engine_options, _threads_option]):
        func = option(func)
    return func


_out_option = click.option(
    "--out",
    default=None,
    help="输出文件夹或数据库 Output folder (default: landuse_<command>), or "
    "postgresql://…[?schema=s] to write the result layers as tables.",
)


def _project_options(func: Callable) -> Callable:
    """--project and --sample: which project a command runs on."""
    func = click.option(
        "--sample",
        is_flag=True,
        help="在示例数据上运行 Run on the shipped synthetic sample (示例数据).",
    )(func)
    return click.option(
        "--project",
        "project_file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="项目文件 Project file (default: ./landuse.toml; make one with `landuse init`).",
    )(func)


def _run(
    step: str,
    project_file: Path | None,
    sample: bool,
    out: str | None,
    *,
    parcels: LayerSpec | None = None,
    threads: int | None = None,
    stages: int = 10,
    **options: object,
) -> None:
    """Resolve the project, run one library step with a progress bar, print the result."""
    from landuse.core.config import find_project

    project = find_project(project_file, sample=sample)
    if parcels is not None:  # e.g. a proposed project's red-line drawing
        project = replace(project, layers={**project.layers, "parcels": parcels})
    if threads is not None:  # --threads overrides [project] threads
        settings = replace(project.options.project, threads=threads)
        project = replace(project, options=replace(project.options, project=settings))
    area_of = "parcels" if parcels is not None else None
    _run_on(step, project, out, stages=stages, area_of=area_of, **options)


def _run_on(
    step: str,
    project: Project,
    out: str | None,
    *,
    stages: int = 10,
    area_of: str | None = None,
    **options: object,
) -> None:
    """Run one library step on a project with a progress bar and print the result."""
    from landuse.pipeline import run_project

    with _progress(stages) as on_step:
        result = run_project(
            step,
            project,
            out or f"landuse_{step}",
            on_step=on_step,
            area_of=area_of,
            **options,
        )
    _echo_result(result)


@main.command()
@_out_option
def demo(out: str | None) -> None:
    """示例演示：在示例数据上运行全部分析并输出会议材料 / Run everything on the sample."""
    from landuse.pipeline import run_demo

    with _progress(20) as on_step:
        result = run_demo(out or Path("landuse_demo"), on_step=on_step)
    _echo_result(result)


@main.command()
@_project_options
@click.option(
    "--parcels",
    type=click.Path(path_type=Path),
    default=None,
    help="检查这些地块（如项目红线）Check these parcels (e.g. a red line) instead.",
)
@_read_options
@_engine_option
@_out_option
def check(
    project_file: Path | None,
    sample: bool,
    parcels: Path | None,
    layer: str | None,
    crs: str | None,
    encoding: str | None,
    engine: str,
    scheduler: str | None,
    workers: int,
    threads: int | None,
    out: str | None,
) -> None:
    """三区三线冲突检查 / Conflict check: UDB, basic farmland, eco red line."""
    from landuse.core.config import LayerSpec

    spec = None
    if parcels is not None:
        spec = LayerSpec("parcels", parcels, layer=layer, crs=crs, encoding=encoding)
    elif layer or crs or encoding:
        raise ConfigError(
            "--layer/--crs/--encoding apply to the file given with --parcels; for the project's "
            "layers set layer/crs/encoding in its [layers.<name>] table."
        )
    run_on = _engine(engine, scheduler, workers, threads)
    _run("check", project_file, sample, out, parcels=spec, threads=threads, engine=run_on)


def _engine(kind: str, scheduler: str | None, workers: int, threads: int | None) -> Engine:
    from landuse.pipeline import Engine

    if kind == "dask" and threads is not None:
        raise ConfigError(
            "--threads applies to the local engine (--engine local); "
            "with --engine dask use --workers."
        )
    return Engine("dask" if kind == "dask" else "local", scheduler, workers)


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@_project_options
@_read_options
@_out_option
def redline(
    path: Path,
    project_file: Path | None,
    sample: bool,
    layer: str | None,
    crs: str | None,
    encoding: str | None,
    out: str | None,
) -> None:
    """用地预审：项目红线的地类面积与三区三线 / A project's red line: land classes, control lines.

    PATH is the red line: a 界址点坐标 TXT, SHP, KML, GeoJSON, GeoPackage or DXF
    (closed polylines).  Without a project (no --project, --sample or
    ./landuse.toml) it is read, checked and converted (GeoPackage, areas, the
    stated-area check, TXT); with one, also against the project's DLTB and
    control lines (workbook 用地预审.xlsx with the 地类面积汇总表, map).
    """
    from landuse.core.config import LayerSpec, Project, find_project

    spec = LayerSpec("redline", path, layer=layer, crs=crs, encoding=encoding)
    if project_file is None and not sample and not Path("landuse.toml").is_file():
        project = Project(source=None, name=path.stem, layers={})
    else:
        project = find_project(project_file, sample=sample)
    project = replace(project, layers={**project.layers, "redline": spec})
    # Database layers are read within the red line's bounding box.
    _run_on("redline", project, out, area_of="redline")


@main.command()
@_project_options
@_engine_option
@_out_option
def buildable(
    project_file: Path | None,
    sample: bool,
    engine: str,
    scheduler: str | None,
    workers: int,
    threads: int | None,
    out: str | None,
) -> None:
    """可建设用地 / Buildable land inside the parks."""
    run_on = _engine(engine, scheduler, workers, threads)
    _run("buildable", project_file, sample, out, threads=threads, engine=run_on)


@main.command()
@_project_options
@click.option(
    "--as-of",
    "as_of",
    default=None,
    help="判定日期 Judge as of this day, e.g. 2025-12-31 (default [idle] as_of).",
)
@click.option(
    "--ledger",
    metavar="L.gpkg|postgresql://…?table=…",
    default=None,
    help="处置台账 Ledger (GeoPackage or postgresql:// URL) for the procedure's next steps "
    "and deadlines (default: [idle] ledger or ledger_import of the project).",
)
@_out_option
def idle(
    project_file: Path | None,
    sample: bool,
    as_of: str | None,
    ledger: str | None,
    out: str | None,
) -> None:
    """闲置土地认定与处置程序 / Idle land by the legal rules, and the procedure's deadlines."""
    from landuse.ledger import Ledger

    led = Ledger(ledger, create=False) if ledger is not None else None
    _run("idle", project_file, sample, out, as_of=as_of, ledger=led)


def _open_ledger(project_file: Path | None, ledger: str | None, *, create: bool = False) -> Ledger:
    """The ledger named by --ledger, else by the project's ``[idle] ledger``."""
    from landuse.core.config import find_project
    from landuse.ledger import Ledger, named_ledger

    if ledger is not None:
        return Ledger(ledger, create=create)
    if project_file is None and not Path("landuse.toml").is_file():
        raise ConfigError(
            "Name the ledger (指定台账): --ledger 台账.gpkg, or --project landuse.toml "
            "with [idle] ledger."
        )
    found = named_ledger(find_project(project_file), create=create)
    if found is None:
        raise ConfigError("Name the ledger: --ledger 台账.gpkg or [idle] ledger in landuse.toml.")
    return found


_project_option = click.option(
    "--project",
    "project_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="项目文件 Project file (default: ./landuse.toml).",
)
_ledger_option = click.option(
    "--ledger",
    metavar="L.gpkg|postgresql://…?table=…",
    default=None,
    help="台账 Ledger: a GeoPackage, or postgresql://user@host/db?table=schema.name "
    "(default: [idle] ledger of the project).",
)


@main.group()
def ledger() -> None:
    """闲置土地处置台账（只增不改）/ Idle-land disposal ledger, append-only."""


@ledger.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@_project_option
@_ledger_option
@click.option("--layer", "sheet", default=None, help="工作表 Excel sheet (default: the first).")
@click.option(
    "--no-id-check",
    is_flag=True,
    help="不核对地块编号 Import without checking 地块编号 against the parcels (recorded).",
)
def ledger_import(
    file: Path,
    project_file: Path | None,
    ledger: str | None,
    sheet: str | None,
    no_id_check: bool,
) -> None:
    """导入台账记录（全部或全不）/ Append ledger rows from CSV/Excel, all or nothing."""
    if project_file is None and not no_id_check and not Path("landuse.toml").is_file():
        raise ConfigError(
            "ledger import checks 地块编号 against the project's parcels: add "
            "--project landuse.toml (or --no-id-check to import unchecked; the batch records it)."
        )
    from landuse.core.config import find_project
    from landuse.pipeline import import_ledger

    target = _open_ledger(project_file, ledger, create=True)
    project = None if no_id_check else find_project(project_file)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("导入 importing", total=None)
        count, intake, left_out = import_ledger(
            target,
            file,
            project,
            sheet=sheet,
            on_row=lambda done: bar.update(task, completed=done),
        )
    click.echo(intake.line(report=None))
    for row in left_out.itertuples():
        click.echo(f"  {row.feature_id}：{row.detail}")
    click.echo(f"已导入 Imported {count} 条记录 into {target.location}")


@ledger.command("verify")
@_project_option
@_ledger_option
@click.option(
    "--upgrade",
    is_flag=True,
    help="升级旧台账 First add the hash chain to a ledger from an older landuse (its rows "
    "hashed as they are now) and restore missing append-only triggers.",
)
def ledger_verify(project_file: Path | None, ledger: str | None, upgrade: bool) -> None:
    """校验台账：完整性、只增触发器、哈希链 / Verify the ledger's integrity and chain."""
    target = _open_ledger(project_file, ledger)
    if upgrade and (hashed := target.upgrade()):
        click.echo(f"已升级 Upgraded: {hashed} 条既有记录已计算哈希 existing rows hashed")
    report = target.verify()
    click.echo(f"台账 Ledger: {report.location} ({report.rows} 条记录 rows)")
    for passed, text in report.checks():
        click.echo(f"  {'✓' if passed else '✗'} {text}")
    if report.upgraded_rows:
        click.echo(
            f"  注 Note: 记录 1–{report.upgraded_rows} 于 {report.upgraded_at} 升级时补算哈希 — "
            "rows hashed when an older ledger was upgraded; changes before then cannot be seen"
        )
    if not report.ok:
        failed = sum(not passed for passed, _ in report.checks())
        raise LedgerError(
            f"{report.location}: 台账校验未通过 {failed} check(s) failed (the ✗ lines above); "
            "compare the ledger with a backup copy before relying on it."
        )


@ledger.command("init-db")
@click.option(
    "--ledger",
    required=True,
    metavar="postgresql://…?table=…",
    help="数据库台账 The ledger to set up: postgresql://owner@host/db?table=schema.name; "
    "connect as the role that is to own the table.",
)
@click.option(
    "--writer",
    default=None,
    help="写入角色 The insert-only role staff log in through (default <table>_writer).",
)
@click.option(
    "--sql",
    "print_sql",
    is_flag=True,
    help="只打印 SQL Print the set-up SQL (for psql) instead of running it.",
)
def ledger_init_db(ledger: str, writer: str | None, print_sql: bool) -> None:
    """建数据库台账（只增）/ Set up a PostGIS ledger: table, triggers, insert-only role."""
    from landuse.io.postgis import is_database_url, redact
    from landuse.ledger.postgis import init_database, setup_sql

    if not is_database_url(ledger):
        raise ConfigError(
            f"{ledger}: init-db sets up a database ledger (--ledger postgresql://…?table=…); "
            "a GeoPackage ledger is created by its first `landuse ledger import`."
        )
    if print_sql:
        click.echo(setup_sql(ledger, writer=writer), nl=False)
        return
    role = init_database(ledger, writer=writer)
    click.echo(
        f"已建台账 Ledger ready: {redact(ledger)} — 只增触发器 append-only triggers in place; "
        f"角色 {role} 仅可查询和追加 may only SELECT and INSERT. Staff log in as members: "
        f"GRANT {role} TO <login>;"
    )


@ledger.command("history")
@click.argument("parcel_id")
@_project_option
@_ledger_option
def ledger_history(parcel_id: str, project_file: Path | None, ledger: str | None) -> None:
    """地块处置记录（含更正）/ Every ledger row of one parcel."""
    from landuse.core.labels import labelled

    rows = _open_ledger(project_file, ledger).history(parcel_id)
    if rows.empty:
        click.echo(f"地块 {parcel_id} 在台账中没有记录 (no entries).")
        return
    cols = ["entry_id", "event", "method", "event_date", "area_mu", "doc_no", "corrects", "note"]
    shown = rows[cols].astype(object).where(rows[cols].notna(), "")
    click.echo(labelled(shown).to_string(index=False))


@ledger.command("export")
@click.argument("csv", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--effective", is_flag=True, help="仅有效记录 Leave out corrected and withdrawn rows."
)
@_project_option
@_ledger_option
def ledger_export(
    csv: Path, effective: bool, project_file: Path | None, ledger: str | None
) -> None:
    """导出台账为 CSV / Write the ledger to a CSV table with Chinese headers."""
    from landuse.core.labels import labelled
    from landuse.io import write_table

    rows = _open_ledger(project_file, ledger).entries(effective=effective)
    write_table(labelled(rows), csv)
    click.echo(f"已导出 Exported {len(rows)} 条记录 to {csv}")


@main.command()
@_project_options
@_ledger_option
@click.option(
    "--from", "start", default=None, help="统计期起 First day of the period (2025-01-01)."
)
@click.option("--to", "end", default=None, help="统计期止 Last day of the period (2025-12-31).")
@click.option(
    "--by",
    type=click.Choice(["park", "county"]),
    default=None,
    help="按园区或全县 Rows per park or the county only (default [rates] by, else park).",
)
@click.option(
    "--approved-from",
    default=None,
    help="批准日期起 Count only land approved from this year or day (2009 or 2009-01-01).",
)
@click.option(
    "--approved-to",
    default=None,
    help="批准日期止 Count only land approved up to this year or day (2018 or 2018-12-31).",
)
@click.option(
    "--cumulative",
    is_flag=True,
    default=None,
    help="累计口径 Count from the first day of the approval window to --to.",
)
@_out_option
def rates(
    project_file: Path | None,
    sample: bool,
    ledger: str | None,
    start: str | None,
    end: str | None,
    by: str | None,
    approved_from: str | None,
    approved_to: str | None,
    cumulative: bool | None,
    out: str | None,
) -> None:
    """处置率、净减少率、批而未供、近五年供地率 / Disposal rates and supply rate."""
    led = _open_ledger(None if sample else project_file, ledger)
    _run(
        "rates",
        project_file,
        sample,
        out,
        ledger=led,
        start=start,
        end=end,
        by=by,
        approved_from=approved_from,
        approved_to=approved_to,
        cumulative=cumulative,
    )


@main.command()
@_project_options
@click.option(
    "--year", type=int, default=None, help="评价年度 Year evaluated (default: the latest)."
)
@click.option(
    "--scheme",
    default=None,
    # Names only: the presets load with the library (layers/efficiency_schemes.toml).
    help="评价方案 Scheme preset: zhejiang, huangyan_2022, huaian_2024 (default: "
    "[efficiency] scheme, else zhejiang); [efficiency] rules still apply over it.",
)
@_out_option
def tax(
    project_file: Path | None,
    sample: bool,
    year: int | None,
    scheme: str | None,
    out: str | None,
) -> None:
    """亩均税收、亩均论英雄分类 / Per-mu metrics, A/B/C/D/T classes, park figures."""
    _run("tax", project_file, sample, out, year=year, scheme=scheme)


@main.command()
@_project_options
@click.option(
    "--year",
    type=int,
    default=None,
    help="企业数据年度 Enterprise-table year of the 标准地 figures (default: the latest).",
)
@click.option(
    "--as-of",
    "as_of",
    default=None,
    help="达产判定日 Judge agreed 达产 dates as of this day, e.g. 2025-12-31 "
    "(default [indicators] as_of, else 31 Dec of the year).",
)
@_out_option
def indicators(
    project_file: Path | None, sample: bool, year: int | None, as_of: str | None, out: str | None
) -> None:
    """工业用地控制指标与标准地核验 / Control indicators and 标准地 targets of industrial land."""
    _run("indicators", project_file, sample, out, year=year, as_of=as_of)


_basemap_option = click.option(
    "--basemap",
    type=click.Choice(["none", "osm", "tianditu-vec", "tianditu-img", "amap"]),
    default="none",
    show_default=True,
    help="底图 none = 离线 offline (no network); amap shifts the data to GCJ-02.",
)
_token_option = click.option(
    "--tianditu-token",
    envvar="TIANDITU_TOKEN",
    default=None,
    show_envvar=True,
    help="天地图密钥 Tianditu token (written only into the map file).",
)


@main.command()
@_project_options
@_basemap_option
@_token_option
@_threads_option
@_out_option
def report(
    project_file: Path | None,
    sample: bool,
    basemap: str,
    tianditu_token: str | None,
    threads: int | None,
    out: str | None,
) -> None:
    """会议材料：全部分析、地图、工作簿、图表、摘要 / The meeting pack."""
    _run(
        "report",
        project_file,
        sample,
        out,
        stages=20,
        basemap=basemap,
        tianditu_token=tianditu_token,
        threads=threads,
    )


@main.command("map")
@_project_options
@_basemap_option
@_token_option
@_out_option
def map_command(
    project_file: Path | None,
    sample: bool,
    basemap: str,
    tianditu_token: str | None,
    out: str | None,
) -> None:
    """会议地图：单个离线 HTML 文件 / Meeting map: one self-contained HTML file."""
    _run("map", project_file, sample, out, basemap=basemap, tianditu_token=tianditu_token)


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("landuse.toml"),
    show_default=True,
    help="项目文件 Project file to write.",
)
@click.option("--force", is_flag=True, help="覆盖已有的项目文件 Overwrite an existing file.")
def init(path: Path, out: Path, force: bool) -> None:
    """由交付资料生成项目文件 / Write landuse.toml from a delivery folder, .zip, .gdb or .gpkg."""
    # Imported here: only this command needs them.
    import shutil
    from io import StringIO

    from rich.table import Table

    from landuse.io.delivery import METHOD_LABELS, ROLE_LABELS, init_project

    with console.status("扫描交付资料 scanning the delivery"):
        delivery = init_project(path, out, force=force)
    chosen = delivery.chosen()
    table = Table("图层 Layer", "用途 Role", "识别依据 How", "要素 Features", "字段 Fields")
    for layer in delivery.layers:
        role = f"{layer.role} {ROLE_LABELS[layer.role]}" if layer.role else "—"
        if layer.role and not layer.chosen:
            role += " (未采用 unused)" if layer.role in chosen else " (待定 TODO)"
        how = f"{METHOD_LABELS[layer.method]}: {layer.evidence}" if layer.method else layer.evidence
        mapped = [f"{c}←{f}" for c, f in layer.field_map.items()]
        fields = ", ".join(mapped[:4]) + (f" … (+{len(mapped) - 4})" if len(mapped) > 4 else "")
        table.add_row(layer.name, role, how, str(layer.features), fields)
    width = max(shutil.get_terminal_size((160, 24)).columns, 100)
    buffer = StringIO()
    Console(file=buffer, width=width).print(table)
    click.echo(buffer.getvalue().rstrip())
    for source, why in delivery.unreadable:
        click.echo(f"无法读取 Unreadable: {source}: {why}")
    if delivery.others:
        click.echo(f"其他文件 Other files (not read): {len(delivery.others)}")
    for n, todo in enumerate(delivery.todos, 1):
        where = f"[{todo.layer}] " if todo.layer else ""
        click.echo(f"TODO {n} ({todo.role}): {where}{todo.message}")
    click.echo(
        f"已写出 Written: {out} — {len(chosen)} 个图层 layers, "
        f"{len(delivery.todos)} 个待办 TODO"
        + ("；先处理 TODO 再运行 landuse check" if delivery.todos else "")
    )


if __name__ == "__main__":  # pragma: no cover
    main()

"""Command-line interface: parses arguments, calls the library, prints.

Library errors (:class:`landuse.errors.LanduseError`) become one line on
stderr and exit status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from landuse import __version__
from landuse.config import LayerSpec, load_project, sample_project
from landuse.errors import ConfigError, LanduseError, LanduseWarning, LedgerError
from landuse.io import (
    ProjectData,
    describe_layer,
    list_layers,
    load_layer,
    load_project_data,
    write_table,
)
from landuse.labels import labelled
from landuse.ledger import Ledger, read_ledger_file
from landuse.pipeline import (
    Engine,
    StepResult,
    run_buildable,
    run_check,
    run_demo,
    run_efficiency,
    run_idle,
    run_map,
    run_rates,
    run_report,
)
from landuse.report import file_sha256
from landuse.sample import DEFAULT_PARCELS, DEFAULT_SEED, generate_sample, write_sample

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
    """Turns LanduseError into one line and exit 2, unless --debug."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except LanduseError as exc:
            if ctx.meta.get("landuse.debug"):
                raise
            click.echo(f"错误 Error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="landuse")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """landuse: 三区三线 checks, buildable and idle land, 亩均效益 and meeting maps."""
    ctx.meta["landuse.debug"] = debug
    warnings.simplefilter("default", LanduseWarning)
    warnings.showwarning = lambda msg, *_a, **_k: console.print(f"[yellow]注意 Note:[/] {msg}")


@main.command()
@click.option(
    "--parcels",
    "n_parcels",
    type=click.IntRange(min=1),
    default=None,
    help="Number of parcels (default 2000).",
)
@click.option("--seed", type=int, default=None, help="Random seed (default fixed).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("landuse_sample/xingbin_sample.gpkg"),
    show_default=True,
    help="GeoPackage to write; the land-cover GeoTIFF goes beside it.",
)
def sample(n_parcels: int | None, seed: int | None, out: Path) -> None:
    """Generate the synthetic 兴宾区 sample (示例数据)."""
    with _progress(5) as on_step:
        data = generate_sample(
            n_parcels or DEFAULT_PARCELS, seed=seed or DEFAULT_SEED, on_step=on_step
        )
        on_step("写出 writing")
        gpkg, tif = write_sample(data, out)
    click.echo(f"示例数据已写出 Sample written: {gpkg} ({len(data.parcels)} 个地块) and {tif}")


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--layer", default=None, help="Layer inside a multi-layer file.")
def info(path: Path, layer: str | None) -> None:
    """Describe a layer: CRS, features, fields, encoding, validity."""
    layers = list_layers(path, counts=True)
    if layer is None and layers["geometry_type"].notna().sum() > 1:
        click.echo(f"文件 File: {path} — {len(layers)} 个图层 layers (--layer NAME for details)")
        for row in layers.itertuples():
            kind = row.geometry_type if isinstance(row.geometry_type, str) else "表格 table"
            crs = row.crs if isinstance(row.crs, str) else "no CRS"
            click.echo(f"  {row.name}: {kind}, {row.features} features, {crs}")
        return
    d = describe_layer(path, layer)
    click.echo(f"文件 File:      {d['path']}")
    click.echo(f"图层 Layers:    {', '.join(d['layers'])} (showing '{d['layer']}', {d['driver']})")
    click.echo(f"坐标系 CRS:     {d['crs']} [{d['crs_source']}]")
    click.echo(f"要素 Features:  {d['features']} {d['geometry_type']}")
    click.echo(f"编码 Encoding:  {d['encoding']}")
    click.echo("范围 Bounds:    " + ", ".join(f"{v:.3f}" for v in d["bounds"]))
    click.echo(
        f"有效性 Validity: {d['invalid']} invalid, {d['empty']} empty, {d['null']} null geometries"
    )
    click.echo("字段 Fields:")
    for name, dtype in d["fields"].items():
        click.echo(f"  {name}: {dtype}")


def _echo_result(result: StepResult) -> None:
    for line in result.lines:
        click.echo(line)
    click.echo(f"输出目录 Outputs: {result.out_dir.resolve()}")
    for f in result.files:
        click.echo(f"  {f.relative_to(result.out_dir) if f.is_relative_to(result.out_dir) else f}")


_engine_options = [
    click.option(
        "--engine",
        type=click.Choice(["local", "dask"]),
        default="local",
        show_default=True,
        help="dask: spatial partitions on a dask cluster.",
    ),
    click.option(
        "--scheduler", default=None, help="dask scheduler address (default: start a local cluster)."
    ),
    click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=2,
        show_default=True,
        help="Workers of the local dask cluster.",
    ),
]


def _engine_option(func: Callable) -> Callable:
    for option in reversed(_engine_options):
        func = option(func)
    return func


_out_option = click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output folder (default: landuse_<command> in the current folder).",
)
_project_option = click.option(
    "--project",
    "project_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Project file landuse.toml (default: the shipped sample).",
)


def _project_data(
    project_file: Path | None, on_step: Callable[[str], None], parcels: Path | None = None
) -> ProjectData:
    project = load_project(project_file) if project_file else sample_project()
    if parcels is not None:  # e.g. a proposed project's red-line drawing
        project = replace(
            project, layers={**project.layers, "parcels": LayerSpec("parcels", parcels)}
        )
    return load_project_data(project, on_step=on_step)


@main.command()
@_out_option
def demo(out: Path | None) -> None:
    """Run the whole pipeline on the shipped sample and write the outputs."""
    with _progress(9) as on_step:
        result = run_demo(out or Path("landuse_demo"), on_step=on_step)
    _echo_result(result)


@main.command()
@_project_option
@click.option(
    "--parcels",
    type=click.Path(path_type=Path),
    default=None,
    help="Check these parcels (e.g. a proposed project's red line) instead.",
)
@_engine_option
@_out_option
def check(
    project_file: Path | None,
    parcels: Path | None,
    engine: str,
    scheduler: str | None,
    workers: int,
    out: Path | None,
) -> None:
    """三区三线 conflict check: UDB, permanent basic farmland, eco red line."""
    with _progress(9) as on_step:
        data = _project_data(project_file, on_step, parcels)
        on_step("三区三线检查 checking")
        result = run_check(
            data, out or Path("landuse_check"), engine=Engine(engine, scheduler, workers)
        )  # type: ignore[arg-type]
    _echo_result(result)


@main.command()
@_project_option
@_engine_option
@_out_option
def buildable(
    project_file: Path | None, engine: str, scheduler: str | None, workers: int, out: Path | None
) -> None:
    """Buildable land (可建设用地) inside the parks."""
    with _progress(9) as on_step:
        data = _project_data(project_file, on_step)
        on_step("可建设用地 finding buildable land")
        result = run_buildable(
            data, out or Path("landuse_buildable"), engine=Engine(engine, scheduler, workers)
        )  # type: ignore[arg-type]
    _echo_result(result)


@main.command()
@_project_option
@click.option("--as-of", "as_of", default=None, help="Judge as of this day (default [idle] as_of).")
@_out_option
def idle(project_file: Path | None, as_of: str | None, out: Path | None) -> None:
    """Idle land (闲置土地) by the legal rules, with fee / recovery and raster evidence."""
    with _progress(9) as on_step:
        data = _project_data(project_file, on_step)
        on_step("闲置土地 idle land")
        result = run_idle(data, out or Path("landuse_idle"), as_of=as_of)
    _echo_result(result)


def _ledger_path(project_file: Path | None, ledger: Path | None) -> Path:
    if ledger is not None:
        return ledger
    project = load_project(project_file) if project_file else None
    configured = project.section("idle").get("ledger") if project else None
    if not configured or project is None or project.source is None:
        raise ConfigError("Name the ledger: --ledger 台账.gpkg or [idle] ledger in landuse.toml.")
    return project.source.parent / str(configured)


_ledger_option = click.option(
    "--ledger",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Ledger GeoPackage (default: [idle] ledger of the project).",
)


@main.group()
def ledger() -> None:
    """Idle-land disposal ledger (处置台账): append-only history per parcel."""


@ledger.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@_project_option
@_ledger_option
@click.option(
    "--no-id-check",
    is_flag=True,
    help="Import without checking 地块编号 against the project's parcels (the batch records it).",
)
def ledger_import(
    file: Path, project_file: Path | None, ledger: Path | None, no_id_check: bool
) -> None:
    """Append the rows of a CSV/Excel file (地块编号, 事项, 处置方式, 日期, 面积（亩）...)."""
    if project_file is None and not no_id_check:
        raise ConfigError(
            "ledger import checks 地块编号 against the project's parcels: add "
            "--project landuse.toml (or --no-id-check to import unchecked; the batch records it)."
        )
    target = Ledger(_ledger_path(project_file, ledger))
    rows = read_ledger_file(file)
    parcel_ids = None
    if not no_id_check:
        parcel_ids = load_layer(load_project(project_file), "parcels")[0]["parcel_id"]
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("导入 importing", total=len(rows))
        count = target.append(
            rows,
            source=file.name,
            parcel_ids=parcel_ids,
            content_sha256=file_sha256(file),
            on_row=lambda done: bar.update(task, completed=done),
        )
    click.echo(f"已导入 Imported {count} 条记录 into {target.path}")


@ledger.command("verify")
@_project_option
@_ledger_option
@click.option(
    "--upgrade",
    is_flag=True,
    help="First add the hash chain to a ledger from an older landuse (hashing its rows as "
    "they are now) and restore missing append-only triggers.",
)
def ledger_verify(project_file: Path | None, ledger: Path | None, upgrade: bool) -> None:
    """Check the ledger: SQLite integrity, append-only triggers, hash chain, head record."""
    target = Ledger(_ledger_path(project_file, ledger), create=False)
    if upgrade and (hashed := target.upgrade()):
        click.echo(f"已升级 Upgraded: {hashed} 条既有记录已计算哈希 existing rows hashed")
    report = target.verify()
    click.echo(f"台账 Ledger: {report.path} ({report.rows} 条记录 rows)")
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
            f"{report.path}: 台账校验未通过 {failed} check(s) failed (the ✗ lines above); "
            "compare the ledger with a backup copy before relying on it."
        )


@ledger.command("history")
@click.argument("parcel_id")
@_project_option
@_ledger_option
def ledger_history(parcel_id: str, project_file: Path | None, ledger: Path | None) -> None:
    """Every ledger row of one parcel, corrections included."""
    rows = Ledger(_ledger_path(project_file, ledger), create=False).history(parcel_id)
    if rows.empty:
        click.echo(f"地块 {parcel_id} 在台账中没有记录 (no entries).")
        return
    cols = ["entry_id", "event", "method", "event_date", "area_mu", "corrects", "note"]
    shown = rows[cols].astype(object).where(rows[cols].notna(), "")
    click.echo(labelled(shown).to_string(index=False))


@ledger.command("export")
@click.argument("csv", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--effective", is_flag=True, help="Leave out corrected and withdrawn rows.")
@_project_option
@_ledger_option
def ledger_export(
    csv: Path, effective: bool, project_file: Path | None, ledger: Path | None
) -> None:
    """Write the ledger to a CSV table with Chinese headers."""
    rows = Ledger(_ledger_path(project_file, ledger), create=False).entries(effective=effective)
    write_table(labelled(rows), csv)
    click.echo(f"已导出 Exported {len(rows)} 条记录 to {csv}")


@main.command()
@_project_option
@_ledger_option
@click.option("--from", "start", default=None, help="First day of the period (2025-01-01).")
@click.option("--to", "end", default=None, help="Last day of the period (2025-12-31).")
@click.option("--by", type=click.Choice(["park", "county"]), default="park", show_default=True)
@_out_option
def rates(
    project_file: Path | None,
    ledger: Path | None,
    start: str | None,
    end: str | None,
    by: str,
    out: Path | None,
) -> None:
    """Idle-land disposal rate, net reduction rate and 批而未供 disposal rate."""
    with _progress(9) as on_step:
        data = _project_data(project_file, on_step)
        on_step("处置率 rates")
        led = Ledger(_ledger_path(project_file, ledger), create=False)
        result = run_rates(data, led, out or Path("landuse_rates"), start=start, end=end, by=by)
    _echo_result(result)


@main.command()
@_project_option
@click.option("--year", type=int, default=None, help="Year evaluated (default: the latest).")
@_out_option
def tax(project_file: Path | None, year: int | None, out: Path | None) -> None:
    """亩均税收 / 亩均论英雄: per-mu metrics, A/B/C/D classes, park figures."""
    with _progress(9) as on_step:
        data = _project_data(project_file, on_step)
        on_step("亩均效益 per-mu efficiency")
        result = run_efficiency(data, out or Path("landuse_tax"), year=year)
    _echo_result(result)


_basemap_option = click.option(
    "--basemap",
    type=click.Choice(["none", "osm", "tianditu-vec", "tianditu-img", "amap"]),
    default="none",
    show_default=True,
    help="none = offline map (no network). amap shifts the data to GCJ-02.",
)
_token_option = click.option(
    "--tianditu-token",
    envvar="TIANDITU_TOKEN",
    default=None,
    show_envvar=True,
    help="天地图 user token (written only into the map file).",
)


@main.command()
@_project_option
@_basemap_option
@_token_option
@_out_option
def report(
    project_file: Path | None, basemap: str, tianditu_token: str | None, out: Path | None
) -> None:
    """Meeting pack: every analysis, the map, an Excel workbook, charts and a summary."""
    with _progress(16) as on_step:
        data = _project_data(project_file, on_step)
        result = run_report(
            data,
            out or Path("landuse_report"),
            on_step=on_step,
            basemap=basemap,
            tianditu_token=tianditu_token,
        )  # type: ignore[arg-type]
    _echo_result(result)


@main.command("map")
@_project_option
@_basemap_option
@_token_option
@_out_option
def map_command(
    project_file: Path | None, basemap: str, tianditu_token: str | None, out: Path | None
) -> None:
    """Meeting map: one self-contained HTML file with every layer."""
    with _progress(9) as on_step:
        data = _project_data(project_file, on_step)
        on_step("会议地图 map")
        result = run_map(
            data,
            out or Path("landuse_map"),
            basemap=basemap,  # type: ignore[arg-type]
            tianditu_token=tianditu_token,
        )
    _echo_result(result)


if __name__ == "__main__":  # pragma: no cover
    main()

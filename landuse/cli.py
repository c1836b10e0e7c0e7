"""Command-line interface: parses arguments, calls the library, prints.

Library errors (:class:`landuse.errors.LanduseError`) become one line on
stderr and exit status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from landuse import __version__
from landuse.errors import LanduseError, LanduseWarning

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
    from landuse.sample import DEFAULT_PARCELS, DEFAULT_SEED, generate_sample, write_sample

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
    from landuse.io import describe_layer, list_layers

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


@main.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("landuse_demo"),
    show_default=True,
    help="Output folder.",
)
def demo(out: Path) -> None:
    """Run the whole pipeline on the shipped sample and write the outputs."""
    from landuse.demo import run_demo

    with _progress(2) as on_step:
        result = run_demo(out, on_step=on_step)
    for line in result.lines:
        click.echo(line)
    click.echo(f"输出目录 Outputs: {result.out_dir.resolve()}")
    for f in result.files:
        click.echo(f"  {f.name}")


if __name__ == "__main__":  # pragma: no cover
    main()

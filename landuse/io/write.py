"""Writing outputs atomically: a crash leaves the previous file in place."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
import pyogrio._io
import pyogrio.raw
import rasterio
from affine import Affine
from numpy.typing import NDArray

from landuse.core.errors import LayerReadError
from landuse.io.boundary_txt import format_boundary_txt
from landuse.io.csv_text import CsvRows, write_csv
from landuse.io.paths import _SHP_SIDECARS, PathLike

_WRITE_DRIVERS = {
    ".gpkg": "GPKG",
    ".shp": "ESRI Shapefile",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
}


@contextlib.contextmanager
def _atomic_target(path: Path, *, seed_from_existing: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; replace ``path`` only on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if seed_from_existing and path.exists():
            shutil.copy2(path, tmp)
        else:
            tmp.unlink()
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_layer(
    gdf: gpd.GeoDataFrame | pd.DataFrame,
    path: PathLike,
    layer: str | None = None,
    *,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Write a layer atomically: GeoPackage (default), Shapefile or GeoJSON.

    Writing a layer into an existing GeoPackage keeps its other layers and
    replaces only the named one; readers never see a half-written file.
    Shapefiles are written in UTF-8 with a ``.cpg`` so any GIS reads the
    Chinese text.  A plain DataFrame is written as an attribute-only table
    (GeoPackage only).

    Parameters
    ----------
    gdf : GeoDataFrame or DataFrame
        What to write.
    path : str or path-like
        Output file; the suffix picks the format (``.gpkg``, ``.shp``, ``.geojson``).
    layer : str, optional
        Layer name (GeoPackage); defaults to the file stem.
    metadata : dict, optional
        Layer metadata (GeoPackage), e.g. a note that the data are synthetic.

    Returns
    -------
    Path
        The written file.
    """
    p = Path(path).expanduser()
    name = layer or p.stem
    return write_layers({name: gdf}, p, metadata={name: metadata} if metadata else None)


def write_layers(
    layers: dict[str, gpd.GeoDataFrame | pd.DataFrame],
    path: PathLike,
    *,
    metadata: dict[str, dict[str, str]] | None = None,
    only: bool = False,
) -> Path:
    """Write several layers into one GeoPackage in a single atomic step.

    Existing layers of the file that are not named are kept, unless ``only``.
    Shapefile and GeoJSON hold one layer only.

    Parameters
    ----------
    layers : dict
        Layer name → GeoDataFrame (or DataFrame for an attribute table).
    path : str or path-like
        Output file.
    metadata : dict, optional
        Layer name → metadata dict (GeoPackage only).
    only : bool
        The file holds only these layers afterwards: an analysis' own output,
        where a layer an earlier run wrote (e.g. a red line's land classes,
        from a run with the land survey) must not be left behind.
    """
    p = Path(path).expanduser()
    driver = _WRITE_DRIVERS.get(p.suffix.lower())
    if driver is None:
        raise LayerReadError(
            f"{p}: cannot write '{p.suffix}'. Use .gpkg (recommended), .shp or .geojson."
        )
    if driver != "GPKG":
        if len(layers) != 1:
            raise LayerReadError(f"{p}: {driver} holds one layer; write several into a .gpkg.")
        (gdf,) = layers.values()
        if not isinstance(gdf, gpd.GeoDataFrame):
            raise LayerReadError(f"{p}: a table without geometry can only go into a .gpkg.")
        if driver == "ESRI Shapefile":
            return _write_shapefile(gdf, p)
    # Start from the existing GeoPackage only to keep layers not written now: copying
    # a file whose every layer is replaced (a step run again) costs a copy and GDAL
    # dropping each old table, more than half the writing time again.
    keep = not only and driver == "GPKG" and p.exists() and bool(set(_layer_names(p)) - set(layers))
    with _atomic_target(p, seed_from_existing=keep) as tmp:
        for name, gdf in layers.items():
            extra = {"layer_metadata": metadata[name]} if metadata and name in metadata else {}
            pyogrio.write_dataframe(
                _as_row_writer_types(gdf), tmp, layer=name, driver=driver, use_arrow=True, **extra
            )
    return p


# What an object column holds when Arrow writes it as the row writer did: text,
# nothing, or date-times (which pyogrio passes to GDAL as date-times either way).
_ARROW_SAFE_OBJECTS = ("string", "empty", "datetime", "datetime64")


def _as_row_writer_types(df: pd.DataFrame) -> pd.DataFrame:
    """The frame with the field types pyogrio's row-by-row writer gave it, for Arrow.

    That writer makes a text field of every object column (``str`` of each
    value, missing values NULL).  Arrow would instead make a boolean field of
    an object column of True/False/NaN (e.g. ``overdue`` after a join), a date
    field of ``datetime.date`` values and a number field of numbers: such
    columns are turned into text here so the files read back as before.
    """
    mixed = [
        col
        for col in df.columns
        if df[col].dtype == object
        and pd.api.types.infer_dtype(df[col]) not in _ARROW_SAFE_OBJECTS
        and not (isinstance(df, gpd.GeoDataFrame) and col == df.geometry.name)
    ]
    if not mixed:
        return df
    return df.assign(**{col: df[col].astype("string") for col in mixed})


def _layer_names(path: Path) -> list[str]:
    return [str(name) for name, _ in pyogrio.list_layers(path)]


def _write_shapefile(gdf: gpd.GeoDataFrame, p: Path) -> Path:
    # Row by row, not Arrow: on the Arrow path GDAL writes date-times into a
    # shapefile's text fields as 2024-01-01T08:30:00 instead of 2024/01/01 08:30:00.
    p.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=p.parent, prefix=f".{p.stem}.") as tmpdir:
        tmp = Path(tmpdir) / p.name
        pyogrio.write_dataframe(gdf, tmp, driver="ESRI Shapefile", encoding="UTF-8")
        for ext in _SHP_SIDECARS:
            part = tmp.with_suffix(ext)
            if part.exists():
                os.replace(part, p.with_suffix(ext))
    return p


def write_boundary_txt(parcels: gpd.GeoDataFrame, path: PathLike) -> Path:
    """Write parcels as a 界址点坐标 TXT atomically (GB18030, CRLF).

    A layer read from such a TXT keeps its header, coordinate decimals and area
    unit (``attrs["boundary_txt"]``), so it is written back as it was read; see
    :func:`landuse.io.boundary_txt.format_boundary_txt`.
    """
    p = Path(path).expanduser()
    txt = parcels.attrs.get("boundary_txt", {})
    data = format_boundary_txt(
        parcels,
        header=txt.get("header"),
        sections=txt.get("sections"),
        decimals=txt.get("decimals") or 3,
        area_unit=txt.get("area_unit", "公顷"),
    )
    with _atomic_target(p) as tmp:
        tmp.write_bytes(data)
    return p


def write_raster(
    array: NDArray[Any],
    path: PathLike,
    *,
    crs: str,
    transform: Affine,
    nodata: float | None = None,
    tags: dict[str, str] | None = None,
) -> Path:
    """Write one band as a tiled, deflate-compressed GeoTIFF atomically.

    Parameters
    ----------
    array : ndarray
        The band, rows × columns.
    path : str or path-like
        Output ``.tif`` file.
    crs : str
        Its CRS (e.g. ``"EPSG:4545"``).
    transform : Affine
        Pixel to CRS coordinates.
    nodata : float, optional
        The no-data value.
    tags : dict, optional
        Dataset tags (e.g. a note that the data are synthetic).
    """
    p = Path(path).expanduser()
    height, width = array.shape
    with _atomic_target(p) as tmp:
        with rasterio.open(
            tmp,
            "w",
            driver="GTiff",
            width=width,
            height=height,
            count=1,
            dtype=array.dtype,
            crs=crs,
            transform=transform,
            compress="deflate",
            tiled=True,
            nodata=nodata,
        ) as dst:
            dst.write(array, 1)
            dst.update_tags(**(tags or {}))
    return p


def refuse_existing(path: PathLike) -> None:
    """Raise FileExistsError when ``path`` exists (writers that must not overwrite)."""
    p = Path(path).expanduser()
    if p.exists():
        raise FileExistsError(p)


def write_text(text: str, path: PathLike, *, overwrite: bool = True) -> Path:
    """Write a UTF-8 text file (e.g. an HTML map) atomically.

    With ``overwrite=False`` an existing file is left alone and
    FileExistsError is raised.
    """
    p = Path(path).expanduser()
    if not overwrite:
        refuse_existing(p)
    with _atomic_target(p) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return p


def write_bytes(data: bytes, path: PathLike) -> Path:
    """Write a binary file (workbook, Word document, PDF, PNG) atomically."""
    p = Path(path).expanduser()
    with _atomic_target(p) as tmp:
        tmp.write_bytes(data)
    return p


def write_table(df: pd.DataFrame, path: PathLike) -> Path:
    """Write a table atomically as CSV in UTF-8 with BOM (opens cleanly in Chinese Excel).

    Codes made of digits (13-digit 地块编号, 18-digit 统一社会信用代码 without
    letters, codes with a leading zero) get a leading tab so Excel and WPS keep
    them as text instead of 4.51302E+12.

    Parameters
    ----------
    df : DataFrame
        The table; a geometry column, if any, is dropped.
    path : str or path-like
        Output ``.csv`` file.
    """
    p = Path(path).expanduser()
    if isinstance(df, gpd.GeoDataFrame):
        df = pd.DataFrame(df.drop(columns=df.geometry.name))
    with _atomic_target(p) as tmp:
        write_csv(df, tmp, codes_as_text=True)
    return p


@contextlib.contextmanager
def table_rows(path: PathLike) -> Iterator[CsvRows]:
    r"""A table written as :func:`write_table` writes it, a frame of rows at a time.

    The file appears, whole, when the block ends without an error.

    Examples
    --------
    >>> import pandas as pd, tempfile
    >>> path = Path(tempfile.mkdtemp()) / "t.csv"
    >>> with table_rows(path) as rows:
    ...     rows.write(pd.DataFrame({"地块编号": ["4513020000001"], "亩": [1.5]}))
    ...     rows.write(pd.DataFrame({"地块编号": ["A-2"], "亩": [2.0]}))
    >>> path.read_text(encoding="utf-8-sig").splitlines()
    ['地块编号,亩', '\t4513020000001,1.5', 'A-2,2.0']
    """
    p = Path(path).expanduser()
    with _atomic_target(p) as tmp, open(tmp, "wb") as f:
        yield CsvRows(f, codes_as_text=True)

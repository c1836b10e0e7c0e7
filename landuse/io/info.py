"""Describing a layer for ``landuse info``: fields, encodings, CRS and counts."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pyogrio
import pyogrio._io
import pyogrio.raw
from pyogrio.errors import DataLayerError, DataSourceError

from landuse.core.errors import LanduseWarning, LayerNotFoundError, LayerReadError
from landuse.io.boundary_txt import parse_boundary_txt
from landuse.io.encoding import (
    TextEncoding,
    _check_encoding_name,
    _undecodable_text,
    shapefile_text_encoding,
)
from landuse.io.paths import PathLike, _existing, _gdal_path


def list_layers(path: PathLike, *, counts: bool = False) -> pd.DataFrame:
    """List the layers in a file with their geometry types.

    Parameters
    ----------
    path : str or path-like
        Any file or folder GDAL reads (``.shp``, ``.zip``, ``.gpkg``, ``.gdb``, ...).
    counts : bool, default False
        Also give each layer's ``features`` count and declared ``crs``.

    Returns
    -------
    DataFrame
        Columns ``name`` and ``geometry_type`` (None for attribute-only tables),
        plus ``features`` and ``crs`` when asked.
    """
    p = _existing(path)
    if p.suffix.lower() == ".txt":  # a 界址点坐标 TXT is one polygon layer
        info = layer_info(p)
        layers = pd.DataFrame({"name": [info["layer"]], "geometry_type": ["Polygon"]})
        return layers.assign(features=info["features"], crs=info["crs"]) if counts else layers
    try:
        layers = pd.DataFrame(pyogrio.list_layers(_gdal_path(p)), columns=["name", "geometry_type"])
        if counts:
            infos = [pyogrio.read_info(_gdal_path(p), layer=n) for n in layers["name"]]
            layers["features"] = [i["features"] for i in infos]
            layers["crs"] = [i["crs"] for i in infos]
    except DataSourceError as exc:
        raise LayerReadError(f"{p}: not a readable GIS file ({exc}).") from exc
    return layers


def _choose_layer(p: Path, layer: str | None) -> str:
    layers = list_layers(p)
    names = layers["name"].tolist()
    if layer is not None:
        if layer not in names:
            raise LayerNotFoundError(
                f"{p}: no layer named '{layer}'. Layers in this file: {', '.join(names)}."
            )
        return layer
    spatial = layers.loc[layers["geometry_type"].notna(), "name"].tolist()
    if len(spatial) == 1:
        return spatial[0]
    if not spatial:
        raise LayerReadError(
            f"{p}: has no spatial layer (no geometry column); it is a table. "
            "Read it with read_table() or give a file with geometry."
        )
    raise LayerReadError(
        f"{p}: holds several layers ({', '.join(spatial)}); name one with layer=... "
        "(--layer on the command line, 'layer' in landuse.toml)."
    )


def layer_info(
    path: PathLike, layer: str | None = None, *, encoding: str | None = None
) -> dict[str, Any]:
    """Summarise one layer from its header, without reading its features.

    Field names come out decoded: a GBK shapefile without ``.cpg`` is
    detected as :func:`read_layer` does.

    Parameters
    ----------
    path : str or path-like
        Any file or folder :func:`read_layer` takes.
    layer : str, optional
        Layer name inside a multi-layer file.
    encoding : str, optional
        Attribute encoding, when detection is not enough.

    Returns
    -------
    dict
        ``path``, ``layer``, ``driver``, ``geometry_type`` (None for a table),
        ``features``, ``crs`` (as declared, None when the file has none),
        ``bounds`` (None when unknown), ``fields`` (name → dtype) and ``text``
        (a :class:`TextEncoding`).

    Raises
    ------
    LayerReadError
        The file or layer cannot be read.
    EncodingError
        The text encoding cannot be determined, or the given one is wrong.
    """
    p = _existing(path)
    _check_encoding_name(p, encoding)
    if p.suffix.lower() == ".txt":
        return _boundary_txt_info(p, encoding)
    name = _choose_layer(p, layer)
    gdal_path = _gdal_path(p)

    def read(enc: str | None) -> dict[str, Any]:
        try:
            return pyogrio.read_info(
                gdal_path,
                layer=name,
                encoding=enc,
                force_feature_count=True,
                force_total_bounds=True,
            )
        except (DataSourceError, DataLayerError) as exc:
            raise LayerReadError(f"{p}: cannot read layer '{name}' ({exc}).") from exc
        except UnicodeError as exc:
            raise _undecodable_text(p, name, enc, exc) from exc

    info = read(encoding)
    if encoding is not None:
        text = TextEncoding(encoding, f"{encoding} (given)", f"{encoding} (given)")
    elif info["driver"] == "ESRI Shapefile":
        text = shapefile_text_encoding(p, name)
        if text.encoding is not None:
            info = read(text.encoding)
    else:
        declared = f"{info['encoding']} ({info['driver']})"
        text = TextEncoding(None, declared, declared)
    bounds = info.get("total_bounds")
    return {
        "path": str(p),
        "layer": name,
        "driver": info["driver"],
        "geometry_type": info["geometry_type"],
        "features": int(info["features"]),
        "crs": info["crs"],
        "bounds": tuple(float(v) for v in bounds) if bounds is not None else None,
        "fields": dict(zip(info["fields"], info["dtypes"], strict=True)),
        "text": text,
    }


def _boundary_txt_info(p: Path, encoding: str | None) -> dict[str, Any]:
    """:func:`layer_info` of a 界址点坐标 TXT (its header gives the CRS)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LanduseWarning)  # describe_layer reads it again
        gdf = parse_boundary_txt(p.read_bytes(), source=str(p), encoding=encoding)
    used = gdf.attrs["boundary_txt"]["encoding"]
    return {
        "path": str(p),
        "layer": p.stem,
        "driver": "界址点坐标 TXT",
        "geometry_type": "Polygon",
        "features": len(gdf),
        "crs": gdf.crs.to_string() if gdf.crs is not None else None,
        "bounds": tuple(float(v) for v in gdf.total_bounds),
        "fields": {c: str(gdf[c].dtype) for c in gdf.columns if c != gdf.geometry.name},
        "text": TextEncoding(None, f"{used} (detected)", f"{used} (detected)"),
    }

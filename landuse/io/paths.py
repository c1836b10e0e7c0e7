"""Paths: where bureaus' layers live (folders, zips, FileGDBs) and which layer to read."""

from __future__ import annotations

import functools
import hashlib
import os
import zipfile
from pathlib import Path

from landuse.core.errors import LayerNotFoundError, LayerReadError

PathLike = str | os.PathLike[str]


_SHP_SIDECARS = (".shp", ".shx", ".dbf", ".prj", ".cpg")


def _existing(path: PathLike) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise LayerNotFoundError(
            f"{p}: file not found. Check the path (relative paths are from "
            f"{Path.cwd()}) or the 'path' entry in landuse.toml."
        )
    if p.is_file() and p.stat().st_size == 0:
        raise LayerReadError(f"{p}: the file is empty (0 bytes). Export the layer again.")
    return p


def _zip_folder(p: Path) -> str:
    """Folder inside a zip that holds the FileGDB or the shapefiles ("" = root)."""
    try:
        with zipfile.ZipFile(p) as zf:
            names = zf.namelist()
    except zipfile.BadZipFile as exc:
        raise LayerReadError(f"{p}: not a valid zip archive ({exc}).") from exc
    gdbs = sorted({n[: n.lower().index(".gdb/") + 4] for n in names if ".gdb/" in n.lower()})
    folders = gdbs or sorted({str(Path(n).parent) for n in names if n.lower().endswith(".shp")})
    if len(folders) > 1:
        raise LayerReadError(
            f"{p}: holds layers in several folders ({', '.join(folders)}); unzip it and "
            "name the folder or file to read."
        )
    return "" if not folders or folders[0] == "." else folders[0]


def _gdal_path(p: Path) -> str:
    # GDAL reads zipped shapefiles and FileGDBs through /vsizip/, also from a subfolder,
    # which is how most deliveries are packed.
    if p.suffix.lower() != ".zip":
        return str(p)
    folder = _zip_folder(p)
    return f"/vsizip/{p}/{folder}" if folder else f"/vsizip/{p}"


# Files GIS layers are read from when scanning a delivery folder (.gdb folders too).
_SOURCE_SUFFIXES = (".shp", ".gpkg", ".zip", ".geojson", ".kml")


def find_layer_sources(path: PathLike) -> tuple[list[Path], list[Path]]:
    """Find what layers can be read from in a delivery folder, recursively.

    Parameters
    ----------
    path : str or path-like
        A folder, or a single ``.zip``, ``.gdb``, ``.gpkg``, ``.shp`` ...

    Returns
    -------
    sources : list of Path
        Shapefiles, GeoPackages, zip files, GeoJSON and KML files, and FileGDB
        folders (not entered), sorted.
    others : list of Path
        The other files (documents, rasters, tables), sorted; the parts of a
        shapefile (``.dbf``, ``.prj`` ...) and hidden files are left out.
    """
    p = _existing(path)
    if not p.is_dir() or p.suffix.lower() == ".gdb":
        return [p], []
    sources: list[Path] = []
    others: list[Path] = []
    for folder, dirs, files in os.walk(p):
        base = Path(folder)
        sources += [base / d for d in dirs if d.lower().endswith(".gdb")]
        dirs[:] = [d for d in dirs if not d.startswith(".") and not d.lower().endswith(".gdb")]
        shapefiles = {f.lower()[:-4] for f in files if f.lower().endswith(".shp")}
        for f in files:
            lower = f.lower()
            stem = lower.rsplit(".", 1)[0]
            if f.startswith(".") or lower.endswith(("-wal", "-shm", "-journal")):
                continue
            if lower.endswith(_SOURCE_SUFFIXES):
                sources.append(base / f)
            elif stem not in shapefiles and stem.removesuffix(".shp") not in shapefiles:
                others.append(base / f)
    return sorted(sources), sorted(others)


def file_sha256(path: PathLike) -> str:
    """SHA-256 of a file, or of every file in a folder (FileGDB) in name order."""
    p = Path(path)
    digest = hashlib.sha256()
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    for f in files:
        with open(f, "rb") as handle:
            for block in iter(functools.partial(handle.read, 1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()

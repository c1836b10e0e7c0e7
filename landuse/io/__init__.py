"""Reading and writing layers and tables: the only package that touches paths and connections.

Reads what bureaus actually hand over: Shapefiles (also zipped) with GBK
attributes and no ``.cpg``, GeoPackages, FileGDB folders, GeoJSON and KML;
layers without a ``.prj`` whose eastings carry a Gauss-Kruger zone prefix; PostGIS tables.
Writes GeoPackage (default), Shapefile (UTF-8 with a ``.cpg``), GeoJSON and PostGIS,
always atomically: a crash leaves the previous file in place.
"""

from __future__ import annotations

from landuse.io.encoding import TextEncoding, detect_shapefile_encoding, shapefile_text_encoding
from landuse.io.info import layer_info, list_layers
from landuse.io.paths import file_sha256, find_layer_sources
from landuse.io.project import (
    LayerIntake,
    ProjectData,
    can_split,
    layer_intake,
    layer_parts,
    load_layer,
    load_project_data,
    load_table,
    table_report,
)
from landuse.io.read import (
    Raster,
    describe_layer,
    read_layer,
    read_raster,
    read_result_layers,
    read_table,
)
from landuse.io.write import (
    refuse_existing,
    table_rows,
    write_boundary_txt,
    write_bytes,
    write_layer,
    write_layers,
    write_raster,
    write_table,
    write_text,
)

__all__ = [
    "LayerIntake",
    "ProjectData",
    "Raster",
    "TextEncoding",
    "can_split",
    "describe_layer",
    "detect_shapefile_encoding",
    "file_sha256",
    "find_layer_sources",
    "layer_info",
    "layer_intake",
    "layer_parts",
    "list_layers",
    "load_layer",
    "load_project_data",
    "load_table",
    "read_layer",
    "read_raster",
    "read_result_layers",
    "read_table",
    "refuse_existing",
    "shapefile_text_encoding",
    "table_report",
    "table_rows",
    "write_boundary_txt",
    "write_bytes",
    "write_layer",
    "write_layers",
    "write_raster",
    "write_table",
    "write_text",
]

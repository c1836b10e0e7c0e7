"""PostGIS layer sources and outputs: the only module that opens database connections.

A bureau keeps its control lines, survey layers and results in a shared
spatial database ("一张图" platforms run on PostGIS).  A project layer may name
a table (``[layers.udb] table = "sanqu.czkfbj"``); the connection comes from
``[project] database`` or the ``LANDUSE_DATABASE_URL`` environment variable.
Reads bring the table into a GeoDataFrame exactly as a file read would (the
same intake checks follow in :mod:`landuse.io`); writes put result layers into
tables in one transaction.  Passwords never leave the connection: every
message, output and workbook cover shows :func:`redact` of the URL.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from landuse.core.errors import ConfigError, DatabaseError, LayerNotFoundError, LayerReadError

__all__ = [
    "DATABASE_ENV",
    "first_line",
    "is_database_url",
    "read_plain_table",
    "read_table_layer",
    "redact",
    "session",
    "split_query",
    "split_schema",
    "split_table",
    "table_sha256",
    "write_tables",
]

#: Environment variable holding the connection URL when the project names none.
DATABASE_ENV = "LANDUSE_DATABASE_URL"

_IDENT = re.compile(r"^[A-Za-z_\u4e00-\u9fff][\w\u4e00-\u9fff]*$")


def is_database_url(value: object) -> bool:
    """True for ``postgresql://`` (or ``postgres://``) URLs."""
    return str(value).startswith(("postgresql://", "postgres://"))


def redact(url: str) -> str:
    """The URL with its password replaced by ``***`` (for messages and outputs).

    Examples
    --------
    >>> redact("postgresql://gis:s3cret@10.0.0.5:5432/yizhangtu?sslmode=require")
    'postgresql://gis:***@10.0.0.5:5432/yizhangtu?sslmode=require'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def database_url(configured: str | None) -> str:
    """The connection URL: ``[project] database``, else ``$LANDUSE_DATABASE_URL``."""
    url = configured or os.environ.get(DATABASE_ENV)
    if not url:
        raise ConfigError(
            "A layer names a database table but no database is given: set [project] database = "
            f'"postgresql://user@host/db" in landuse.toml or the {DATABASE_ENV} environment '
            "variable (keep the password there or in ~/.pgpass, not in the project file)."
        )
    if not is_database_url(url):
        raise ConfigError(f"{redact(url)}: not a postgresql:// URL.")
    return url


def split_query(url: str, key: str, default: str) -> tuple[str, str]:
    """``postgresql://…?key=v`` → (the URL without ``key``, ``v``; ``default`` when absent).

    Examples
    --------
    >>> split_query("postgresql://gis@db/yzt?table=tz.idle_ledger&sslmode=require", "table", "")
    ('postgresql://gis@db/yzt?sslmode=require', 'tz.idle_ledger')
    """
    parts = urlsplit(url)
    query = [q for q in parts.query.split("&") if q]
    prefix = f"{key}="
    value = next((q.split("=", 1)[1] for q in query if q.startswith(prefix)), default)
    rest = "&".join(q for q in query if not q.startswith(prefix))
    return urlunsplit(parts._replace(query=rest)), value


def split_schema(url: str, default: str = "landuse") -> tuple[str, str]:
    """``postgresql://…?schema=s`` → (the URL without ``schema``, ``s``).

    Examples
    --------
    >>> split_schema("postgresql://gis@db/yzt?schema=out&sslmode=require")
    ('postgresql://gis@db/yzt?sslmode=require', 'out')
    """
    return split_query(url, "schema", default)


def _connect(url: str):  # -> psycopg.Connection (psycopg is imported only when used)
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - psycopg is a dependency
        raise ConfigError("PostGIS needs psycopg: pip install 'psycopg[binary]'.") from exc
    try:
        return psycopg.connect(url, connect_timeout=10)
    except psycopg.OperationalError as exc:
        # The server's message may quote the URL: keep only its first line, redacted.
        reason = str(exc).strip().splitlines()[0].replace(url, redact(url))
        raise LayerReadError(f"{redact(url)}: cannot connect to the database ({reason}).") from None


@contextlib.contextmanager
def session(url: str) -> Iterator[Any]:
    """A connection whose database errors become one-line landuse errors (URL redacted).

    Yields a ``psycopg.Connection`` (not in autocommit: committed when the block
    ends, rolled back when it raises).  Errors the caller translates itself
    inside the block pass through unchanged.
    """
    import psycopg

    with _connect(url) as con:
        try:
            yield con
        except psycopg.Error as exc:
            raise DatabaseError(f"{redact(url)}: {first_line(exc)}") from None


def first_line(exc: Exception) -> str:
    """The first line of a server error (its name when empty): the reason a message quotes."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def split_table(table: str) -> tuple[str, str]:
    """``schema.name`` (``public`` when no schema is given), checked to be plain identifiers."""
    schema, _, name = table.rpartition(".")
    schema = schema or "public"
    for part in (schema, name):
        if not _IDENT.match(part):
            raise ConfigError(
                f"'{table}': table names are schema.name with letters, digits and _ only."
            )
    return schema, name


def read_table_layer(
    url: str,
    table: str,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    bbox_crs: pyproj.CRS | None = None,
) -> gpd.GeoDataFrame:
    """Read a PostGIS table as a GeoDataFrame.

    Parameters
    ----------
    url : str
        ``postgresql://`` connection URL.
    table : str
        ``schema.name`` (``public`` when no schema is given).
    bbox : tuple of float, optional
        Only features whose envelope meets this box (``minx, miny, maxx, maxy``),
        in ``bbox_crs`` (default: the table's SRID); uses the spatial index.
    bbox_crs : pyproj.CRS, optional
        CRS of ``bbox``.

    Returns
    -------
    GeoDataFrame
        The table's columns (geometry from its geometry column), in its SRID's
        CRS (none when the SRID is 0); rows in primary-key (else physical) order.

    Raises
    ------
    LayerNotFoundError
        No such table, or it has no geometry column.
    """
    from psycopg import sql

    schema, name = split_table(table)
    where = f"{redact(url)} table {schema}.{name}"
    with session(url) as con:
        row = con.execute(
            "SELECT f_geometry_column, srid FROM geometry_columns "
            "WHERE f_table_schema = %s AND f_table_name = %s",
            (schema, name),
        ).fetchone()
        if row is None:
            raise LayerNotFoundError(
                f"{where}: no such table with a geometry column (check the name, the schema "
                "and that the table is registered in geometry_columns)."
            )
        geom, srid = row
        keys = [
            r[0]
            for r in con.execute(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
                "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
                "WHERE i.indrelid = %s::regclass AND i.indisprimary",
                (f'"{schema}"."{name}"',),
            )
        ]
        query = sql.SQL("SELECT *, ST_AsBinary({g}) AS __wkb FROM {t}").format(
            g=sql.Identifier(geom), t=sql.Identifier(schema, name)
        )
        params: tuple[object, ...] = ()
        if bbox is not None:
            box = bbox
            if bbox_crs is not None and srid:
                to_table = pyproj.Transformer.from_crs(bbox_crs, srid, always_xy=True)
                box = to_table.transform_bounds(*bbox, densify_pts=21)
            query += sql.SQL(" WHERE {g} && ST_MakeEnvelope(%s, %s, %s, %s, %s)").format(
                g=sql.Identifier(geom)
            )
            params = (*box, srid)
        order = keys or ["ctid"]
        query += sql.SQL(" ORDER BY {}").format(
            sql.SQL(", ").join(sql.SQL(k) if k == "ctid" else sql.Identifier(k) for k in order)
        )
        cur = con.execute(query, params)
        columns = [d.name for d in cur.description or []]
        frame = pd.DataFrame(cur.fetchall(), columns=columns)
    wkb = frame.pop("__wkb").to_numpy(dtype=object)
    frame = frame.drop(columns=[geom])
    geometry = shapely.from_wkb([bytes(w) if w is not None else None for w in wkb])
    return gpd.GeoDataFrame(
        frame, geometry=np.asarray(geometry), crs=pyproj.CRS.from_epsg(srid) if srid else None
    )


def read_plain_table(url: str, table: str) -> pd.DataFrame:
    """Read an attribute table (e.g. the enterprise table) as text cells, like a workbook."""
    from psycopg import sql

    schema, name = split_table(table)
    with session(url) as con:
        if con.execute("SELECT to_regclass(%s)", (f'"{schema}"."{name}"',)).fetchone() == (None,):
            raise LayerNotFoundError(f"{redact(url)} table {schema}.{name}: no such table.")
        cur = con.execute(
            sql.SQL("SELECT * FROM {} ORDER BY ctid").format(sql.Identifier(schema, name))
        )
        columns = [d.name for d in cur.description or []]
        frame = pd.DataFrame(cur.fetchall(), columns=columns, dtype=object)
    return frame.astype("string").astype(object).where(frame.notna(), "")


def table_sha256(frame: pd.DataFrame) -> str:
    """A content hash of what was read from a table: attributes (and geometry), in order.

    Shown on the workbook cover in place of a file's SHA-256, so a figure can be
    traced to the table's content at the time it was read.
    """
    digest = hashlib.sha256()
    geo = isinstance(frame, gpd.GeoDataFrame)
    attrs = pd.DataFrame(frame.drop(columns=frame.geometry.name) if geo else frame).astype(str)
    digest.update(pd.util.hash_pandas_object(attrs, index=False).to_numpy().tobytes())
    if geo:
        for wkb in shapely.to_wkb(np.asarray(frame.geometry.array, dtype=object)):
            digest.update(wkb or b"")
    return digest.hexdigest()


_PG_TYPES = {"b": "boolean", "i": "bigint", "u": "bigint", "f": "double precision"}


def _pg_type(series: pd.Series) -> str:
    if pd.api.types.is_datetime64_any_dtype(series):
        return "timestamp"
    return _PG_TYPES.get(series.dtype.kind, "text")


def write_tables(
    url: str, layers: Mapping[str, pd.DataFrame], *, schema: str = "public"
) -> list[str]:
    """Write result layers as tables in one transaction; a failure leaves none half-written.

    Each layer replaces a table of the same name.  Geometry goes into a
    ``geom`` column with the layer's EPSG code as SRID.

    Parameters
    ----------
    url : str
        ``postgresql://`` connection URL.
    layers : mapping
        Table name → GeoDataFrame (or DataFrame without geometry).
    schema : str
        Schema to write into (created if missing).

    Returns
    -------
    list of str
        The ``schema.table`` names written.
    """
    from psycopg import sql

    split_table(f"{schema}.x")
    written = []
    with session(url) as con, con.transaction():
        con.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        for name, frame in layers.items():
            split_table(f"{schema}.{name}")
            target = sql.Identifier(schema, name)
            geo = isinstance(frame, gpd.GeoDataFrame)
            attrs = pd.DataFrame(frame.drop(columns=frame.geometry.name)) if geo else frame
            columns: list[sql.Composable] = [
                sql.SQL("{} {}").format(sql.Identifier(str(c)), sql.SQL(_pg_type(attrs[c])))
                for c in attrs.columns
            ]
            names = [sql.Identifier(str(c)) for c in attrs.columns]
            srid = 0
            if geo:
                srid = frame.crs.to_epsg() or 0 if frame.crs is not None else 0
                columns.append(sql.SQL("geom geometry(Geometry, {})").format(sql.Literal(srid)))
                names.append(sql.Identifier("geom"))
            con.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(target))
            con.execute(sql.SQL("CREATE TABLE {} ({})").format(target, sql.SQL(", ").join(columns)))
            rows = _rows(attrs, frame if geo else None, srid)
            copy = sql.SQL("COPY {} ({}) FROM STDIN").format(target, sql.SQL(", ").join(names))
            with con.cursor().copy(copy) as out:
                for values in rows:
                    out.write_row(values)
            if geo:
                con.execute(sql.SQL("CREATE INDEX ON {} USING gist (geom)").format(target))
            written.append(f"{schema}.{name}")
    return written


def _rows(
    attrs: pd.DataFrame, geo: gpd.GeoDataFrame | None, srid: int
) -> Sequence[tuple[object, ...]]:
    """Rows for COPY: missing values as NULL, geometry as hex EWKB with the SRID."""
    values = attrs.astype(object).where(attrs.notna(), None)
    columns = [values[c].tolist() for c in values.columns]
    if geo is not None:
        geoms = np.asarray(geo.geometry.array, dtype=object)
        if srid:
            geoms = shapely.set_srid(geoms, srid)
        columns.append(shapely.to_wkb(geoms, hex=True, include_srid=bool(srid)).tolist())
    return list(zip(*columns, strict=True)) if columns else []

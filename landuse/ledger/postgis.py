"""The ledger in a shared PostGIS database, for several staff recording at once.

``postgresql://user@host/db?table=schema.name`` names it (default
``public.idle_ledger``); the password stays in ``~/.pgpass`` or
``PGPASSWORD``, and every message shows the URL through
:func:`landuse.io.postgis.redact`.  The rows, their hash chain and what an
import accepts are the GeoPackage ledger's (:mod:`landuse.ledger.core`); the
database adds what a file cannot:

- **Append-only by the database.**  :func:`init_database`, run once by the
  table's owner (``landuse ledger init-db``), creates the table and its head
  table with BEFORE UPDATE / DELETE / TRUNCATE triggers that raise, and a
  writer role that may only SELECT and INSERT.  Staff log in as members of
  that role (``GRANT idle_ledger_writer TO zhangsan``), so neither an UPDATE
  nor a DELETE gets past the grants, and the owner's own is stopped by the
  triggers.  The head is append-only too: each import adds a head row
  (row count, last hash), the newest one counts.
- **All or nothing.**  One transaction per import; a failure, a lost
  connection or a killed process rolls it back on the server.
- **Writers queue.**  An import starts with a transaction-level advisory lock
  on the table (``pg_advisory_xact_lock``; an insert-only role may take it,
  unlike ``LOCK TABLE … SHARE ROW EXCLUSIVE``, which needs UPDATE rights), so
  the second writer waits, then reads the first one's last hash and chains on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from landuse.core.errors import ConfigError, LayerNotFoundError, LedgerError
from landuse.io import postgis
from landuse.ledger.core import BUSY_TIMEOUT_S, HASHED_COLUMNS, TABLE, Session, busy_error

__all__ = ["PostgisStore", "init_database", "setup_sql", "writer_role"]

#: Column types other than text; values come back as the Python types SQLite gives,
#: so a row hashes the same in both storages.
_NOT_TEXT = {
    "fid": "bigint PRIMARY KEY CHECK (fid > 0)",
    "area_mu": "double precision",
    "amount_wan": "double precision",
    "corrects": "bigint",
}
_TYPES = {c: _NOT_TEXT.get(c, "text") for c in (*HASHED_COLUMNS, "row_hash")}
#: The append-only trigger function's body (compared by verify).
_GUARD_BODY = "BEGIN RAISE EXCEPTION '% is append-only: %', TG_TABLE_NAME, TG_ARGV[0]; END"
#: Trigger suffix → (pg_trigger.tgtype: BEFORE + event, FOR EACH STATEMENT; what to do instead).
_GUARDS = {
    "no_update": (2 | 16, "add a correction row instead"),
    "no_delete": (2 | 8, "add a 撤销 row instead"),
    "no_truncate": (2 | 32, "add a 撤销 row instead"),
}


def _quoted(schema: str, name: str) -> str:
    # split_table allows letters, digits, _ and CJK only: double quotes are safe.
    return f'"{schema}"."{name}"'


def writer_role(table: str) -> str:
    """Default name of the insert-only role for a ledger table: ``<name>_writer``."""
    return f"{postgis.split_table(table)[1]}_writer"


class _Names:
    """The SQL names of one ledger: table, head table, guard function, lock key."""

    def __init__(self, table: str) -> None:
        self.schema, self.name = postgis.split_table(table)
        self.table = _quoted(self.schema, self.name)
        self.head = _quoted(self.schema, f"{self.name}_head")
        self.function = _quoted(self.schema, f"{self.name}_append_only")
        self.plain = f"{self.schema}.{self.name}"
        # One 64-bit advisory-lock key per table, the same in every process.
        digest = hashlib.sha256(f"landuse ledger {self.plain}".encode()).digest()
        self.lock_key = int.from_bytes(digest[:8], "big", signed=True)

    def triggers(self) -> dict[str, tuple[str, int, str]]:
        """Trigger name → (quoted table, tgtype, argument): three on each table."""
        guards = {
            f"{self.name}_{suffix}": (self.table, tgtype, argument)
            for suffix, (tgtype, argument) in _GUARDS.items()
        }
        for suffix, (tgtype, _) in _GUARDS.items():
            guards[f"{self.name}_head_{suffix}"] = (self.head, tgtype, "each import adds a row")
        return guards


def _target(url: str) -> tuple[str, _Names]:
    """``postgresql://…?table=s.t`` → (connection URL, names); ConfigError if not a URL."""
    if not postgis.is_database_url(url):
        raise ConfigError(
            f"{url}: a database ledger is named by postgresql://user@host/db?table=schema.name."
        )
    connect, table = postgis.split_query(url, "table", TABLE)
    return connect, _Names(table)


def setup_sql(url: str, *, writer: str | None = None) -> str:
    """The SQL that sets up a ledger table: what ``landuse ledger init-db --sql`` prints.

    Creates (if missing) the schema, the ledger and head tables and the
    append-only triggers, re-creates missing or altered triggers, creates the
    writer role (NOLOGIN: staff logins are made members of it) and leaves it
    SELECT and INSERT only; PUBLIC gets nothing.  Safe to run again.

    Parameters
    ----------
    url : str
        ``postgresql://…?table=schema.name`` (only the table is used).
    writer : str, optional
        The insert-only role (default ``<table>_writer``).

    Returns
    -------
    str
        One script; run it as the table's owner (or a superuser) in one transaction.
    """
    _, names = _target(url)
    role = writer or f"{names.name}_writer"
    try:
        plain = postgis.split_table(role) == ("public", role)
    except ConfigError:
        plain = False
    if not plain:  # quoted into the script: a plain identifier, like the table's
        raise ConfigError(f"--writer {role}: a role name is letters, digits and _ only.")
    columns = ",\n    ".join(f"{c} {t}" for c, t in _TYPES.items())
    statements = [
        f'CREATE SCHEMA IF NOT EXISTS "{names.schema}"',
        f"CREATE TABLE IF NOT EXISTS {names.table} (\n    {columns}\n)",
        f'CREATE INDEX IF NOT EXISTS "{names.name}_parcel" ON {names.table} (parcel_id)',
        f"CREATE TABLE IF NOT EXISTS {names.head} (\n    row_count bigint PRIMARY KEY,\n"
        "    last_hash text NOT NULL,\n    upgraded_rows bigint NOT NULL DEFAULT 0,\n"
        "    upgraded_at text,\n    updated_at text NOT NULL\n)",
        f"INSERT INTO {names.head} (row_count, last_hash, updated_at) "
        """SELECT 0, '', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') """
        f"WHERE NOT EXISTS (SELECT 1 FROM {names.head})",
        f"CREATE OR REPLACE FUNCTION {names.function}() RETURNS trigger "
        f"LANGUAGE plpgsql AS $$ {_GUARD_BODY} $$",
    ]
    events = {2 | 16: "UPDATE", 2 | 8: "DELETE", 2 | 32: "TRUNCATE"}
    for trigger, (table, tgtype, argument) in names.triggers().items():
        statements += [
            f'DROP TRIGGER IF EXISTS "{trigger}" ON {table}',
            f'CREATE TRIGGER "{trigger}" BEFORE {events[tgtype]} ON {table} '
            f"FOR EACH STATEMENT EXECUTE FUNCTION {names.function}('{argument}')",
        ]
    both = f"{names.table}, {names.head}"
    statements += [
        f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') "
        f'THEN CREATE ROLE "{role}" NOLOGIN; END IF; END $$',
        f'REVOKE ALL ON {both} FROM PUBLIC, "{role}"',
        f'GRANT USAGE ON SCHEMA "{names.schema}" TO "{role}"',
        f'GRANT SELECT, INSERT ON {both} TO "{role}"',
    ]
    return ";\n".join(statements) + ";\n"


def init_database(url: str, *, writer: str | None = None) -> str:
    """Set up (or repair) a ledger table in one transaction: runs :func:`setup_sql`.

    Parameters
    ----------
    url : str
        ``postgresql://owner@host/db?table=schema.name``: connect as the
        role that will own the table (or a superuser).
    writer : str, optional
        The insert-only role (default ``<table>_writer``).

    Returns
    -------
    str
        The writer role.

    Raises
    ------
    DatabaseError
        The server refused (e.g. the role may not create the schema or roles).
    """
    connect, names = _target(url)
    script = setup_sql(url, writer=writer)
    with postgis.session(connect) as con, con.transaction():
        con.execute(script)  # no parameters: sent as one multi-statement query
    return writer or f"{names.name}_writer"


class PostgisStore:
    """A ledger table in PostGIS (see the module docstring).

    Parameters
    ----------
    url : str
        ``postgresql://user@host/db?table=schema.name``.

    Raises
    ------
    LayerNotFoundError
        No such table: its owner sets it up with ``landuse ledger init-db``.
    """

    integrity_label = "PostgreSQL 表结构 table structure"
    path: Path | None = None

    def __init__(self, url: str) -> None:
        self.url, self.names = _target(url)
        self.location = postgis.redact(url)
        with self._session() as con:
            found = con.execute(
                "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = to_regclass(%s)",
                (self.names.table,),
            ).fetchone()
        if found is None:
            raise LayerNotFoundError(
                f"{self.location}: 数据库中没有台账表 no ledger table {self.names.plain}; the "
                "database owner sets it up once with `landuse ledger init-db --ledger "
                f"{self.location}` (see the README, Shared database)."
            )
        parts = urlsplit(url)
        as_owner = urlunsplit(
            parts._replace(netloc=f"{found[0]}@{parts.netloc.rpartition('@')[2]}")
        )
        self.guard_fix = (
            f"the table's owner restores them: `landuse ledger init-db --ledger {as_owner}`"
        )

    @contextmanager
    def _session(self) -> Iterator[Any]:
        """A connection whose refusals become ledger errors naming the table and the fix."""
        import psycopg

        with postgis.session(self.url) as con:
            try:
                yield con
            except psycopg.errors.LockNotAvailable as exc:
                raise busy_error(self.location, postgis.first_line(exc)) from None
            except psycopg.errors.InsufficientPrivilege as exc:
                reason = postgis.first_line(exc)
                raise LedgerError(
                    f"{self.location}: 无权写入台账 the database refuses ({reason}); "
                    f"staff write {self.names.plain} as members of its insert-only role: ask the "
                    f"database owner to run GRANT {self.names.name}_writer TO your login."
                ) from None

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One transaction that first takes the ledger's advisory lock (writers queue)."""
        with self._session() as con, con.transaction():
            con.execute(f"SET LOCAL lock_timeout = '{BUSY_TIMEOUT_S}s'")
            con.execute("SELECT pg_advisory_xact_lock(%s::bigint)", (self.names.lock_key,))
            yield _PgSession(con, self.names)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """One REPEATABLE READ, READ ONLY transaction: one snapshot for every query."""
        import psycopg

        with self._session() as con:
            con.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            con.read_only = True
            with con.transaction():
                yield _PgSession(con, self.names)


class _PgSession(Session):
    """The ledger's SQL on PostgreSQL."""

    placeholder = "%s"
    contains = "strpos({column}, {value}) > 0"

    def __init__(self, con: Any, names: _Names) -> None:
        super().__init__(con, names.table, names.head)
        self.names = names

    def columns(self) -> set[str]:
        return {
            r[0]
            for r in self.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass "
                "AND attnum > 0 AND NOT attisdropped",
                (self.table,),
            )
        }

    def has_head_table(self) -> bool:
        return self.execute("SELECT to_regclass(%s)", (self.head_table,)).fetchone() != (None,)

    def advance_head(self, added: int, last_hash: str, now: str) -> None:
        # A new head row (the head is append-only too); the newest is the head.
        self.execute(
            f"INSERT INTO {self.head_table} "
            "(row_count, last_hash, upgraded_rows, upgraded_at, updated_at) "
            "SELECT row_count + %s, %s, upgraded_rows, upgraded_at, %s "
            f"FROM {self.head_table} ORDER BY row_count DESC LIMIT 1",
            (added, last_hash, now),
        )

    def prepare(self, now: str) -> int:
        # Created by this version with its chain; guards are the owner's (init-db).
        return 0

    def integrity(self) -> tuple[str, ...]:
        """The ledger table's columns and its primary key on ``fid``."""
        problems = [f"列缺失 column {c} missing" for c in _TYPES if c not in self.columns()]
        key = self.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
            "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = %s::regclass AND i.indisprimary",
            (self.table,),
        ).fetchall()
        if key != [("fid",)]:
            problems.append("主键不是 fid primary key is not fid")
        return tuple(problems) or ("ok",)

    def bad_guards(self) -> tuple[str, ...]:
        """Triggers missing, disabled or altered; UPDATE/DELETE/TRUNCATE granted to a role."""
        found = {
            name: (on, tgtype, enabled, function_ok)
            for name, on, tgtype, enabled, function_ok in self.execute(
                "SELECT t.tgname, CASE WHEN t.tgrelid = %s::regclass THEN %s ELSE %s END, "
                "t.tgtype, t.tgenabled, t.tgfoid = to_regprocedure(%s) "
                "AND regexp_replace(p.prosrc, '\\s+', ' ', 'g') = %s "
                "FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
                "WHERE t.tgrelid IN (%s::regclass, %s::regclass) AND NOT t.tgisinternal",
                (
                    self.table,
                    self.table,
                    self.head_table,
                    f"{self.names.function}()",
                    f" {_GUARD_BODY} ",
                    self.table,
                    self.head_table,
                ),
            )
        }
        bad = []
        for name, expected in self.names.triggers().items():
            on, tgtype, enabled, function_ok = found.get(name, (None, None, "D", False))
            # tgenabled 'O' fires in normal sessions, 'A' always; 'D' is disabled, 'R' replica only.
            if (on, tgtype) != expected[:2] or enabled not in "OA" or not function_ok:
                bad.append(name)
        grants = self.execute(
            "SELECT DISTINCT c.relname, a.privilege_type, "
            "COALESCE(r.rolname, 'PUBLIC') FROM pg_class c "
            "CROSS JOIN LATERAL aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee "
            "WHERE c.oid IN (%s::regclass, %s::regclass) AND a.grantee <> c.relowner "
            "AND a.privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE') ORDER BY 1, 2, 3",
            (self.table, self.head_table),
        )
        bad += [f"{table}: {privilege} 授予 granted to {role}" for table, privilege, role in grants]
        return tuple(bad)

"""The ledger in a GeoPackage: table ``idle_ledger`` in an SQLite file any GIS opens.

SQLite triggers refuse UPDATE and DELETE.  A write is one ``BEGIN IMMEDIATE``
transaction: it takes the file's write lock first, so concurrent imports
queue (up to :data:`~landuse.ledger.core.BUSY_TIMEOUT_S` seconds) and a
killed import leaves the file as it was.  The head record is one row updated
in the same transaction.  Ledgers written by older landuse versions (no
``row_hash``, no ``doc_no``) are upgraded in the first write.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pandas as pd
import pyogrio

from landuse.core.errors import LayerNotFoundError, LayerReadError
from landuse.ledger.core import (
    BUSY_TIMEOUT_S,
    HASHED_COLUMNS,
    HEAD_TABLE,
    TABLE,
    Session,
    _now,
    _row_hash,
    busy_error,
)

__all__ = ["GpkgStore"]

_COLUMNS = {
    "parcel_id": "str",
    "event": "str",
    "method": "str",
    "event_date": "str",
    "area_mu": "float64",
    "amount_wan": "float64",
    "note": "str",
    "corrects": "Int64",
    "batch": "str",
    "recorded_at": "str",
    "doc_no": "str",
    "row_hash": "str",
}

#: Append-only triggers: name → the SQL SQLite keeps for it in sqlite_master.
_TRIGGERS: dict[str, str] = {
    f"{TABLE}_no_update": f"CREATE TRIGGER {TABLE}_no_update BEFORE UPDATE ON {TABLE}\n"
    f"BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: add a correction row instead'); END",
    f"{TABLE}_no_delete": f"CREATE TRIGGER {TABLE}_no_delete BEFORE DELETE ON {TABLE}\n"
    f"BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: add a 撤销 row instead'); END",
}
_HEAD_DDL = f"""CREATE TABLE IF NOT EXISTS {HEAD_TABLE} (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    row_count INTEGER NOT NULL,
    last_hash TEXT NOT NULL,
    upgraded_rows INTEGER NOT NULL,
    upgraded_at TEXT,
    updated_at TEXT NOT NULL
)"""


class GpkgStore:
    """A ledger GeoPackage (see the module docstring).

    Parameters
    ----------
    path : Path
        The GeoPackage.
    create : bool
        Create the file (or the table in it) when missing; False raises instead.

    Raises
    ------
    LayerNotFoundError
        No ledger there and ``create`` is False.
    LayerReadError
        The file is not an SQLite database.
    """

    integrity_label = "SQLite 完整性 integrity_check"
    guard_fix = "the next import or `landuse ledger verify --upgrade` restores them"

    def __init__(self, path: Path, *, create: bool) -> None:
        self.path: Path | None = path
        self.file = path
        self.location = str(path)
        if not self._has_table():
            if not create:
                raise LayerNotFoundError(f"{path}: no idle-land ledger here.")
            self._create()

    def _connect(self) -> sqlite3.Connection:
        # Autocommit mode: transactions are opened explicitly with BEGIN.
        return sqlite3.connect(self.file, timeout=BUSY_TIMEOUT_S, isolation_level=None)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One ``BEGIN IMMEDIATE`` transaction: committed at the end, rolled back on errors."""
        with closing(self._connect()) as con:
            try:
                con.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:  # still locked after the timeout
                raise busy_error(self.location, str(exc)) from None
            try:
                yield _GpkgSession(con, TABLE, HEAD_TABLE)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    @contextmanager
    def read(self) -> Iterator[Session]:
        """One read transaction (a snapshot from its first read), rolled back at the end."""
        try:
            with closing(self._connect()) as con:
                con.execute("BEGIN")
                try:
                    yield _GpkgSession(con, TABLE, HEAD_TABLE)
                finally:
                    con.execute("ROLLBACK")
        except sqlite3.DatabaseError as exc:
            raise LayerReadError(
                f"{self.file}: SQLite cannot read the ledger ({exc}); restore it from a backup."
            ) from exc

    def _has_table(self) -> bool:
        if not self.file.exists():
            return False
        try:
            with closing(self._connect()) as con:
                row = con.execute(
                    "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (TABLE,)
                ).fetchone()
        except sqlite3.DatabaseError as exc:
            raise LayerReadError(
                f"{self.file}: not a readable GeoPackage ({exc}); name the ledger file "
                "with --ledger or restore it from a backup."
            ) from exc
        return row is not None

    def _create(self) -> None:
        empty = pd.DataFrame({c: pd.Series(dtype=t) for c, t in _COLUMNS.items()})
        self.file.parent.mkdir(parents=True, exist_ok=True)
        pyogrio.write_dataframe(empty, self.file, layer=TABLE, driver="GPKG")
        with self.write() as session:
            session.execute(_HEAD_DDL)
            session.execute(
                f"INSERT OR IGNORE INTO {HEAD_TABLE} VALUES (1, 0, '', 0, NULL, ?)", (_now(),)
            )
            session.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_parcel ON {TABLE}(parcel_id)")
            session.prepare(_now())


class _GpkgSession(Session):
    """The ledger's SQL on SQLite."""

    def columns(self) -> set[str]:
        return {r[1] for r in self.execute(f"PRAGMA table_info({self.table})")}

    def has_head_table(self) -> bool:
        found = self.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (HEAD_TABLE,)
        ).fetchone()
        return found is not None

    def advance_head(self, added: int, last_hash: str, now: str) -> None:
        self.execute(
            f"UPDATE {self.head_table} SET row_count = row_count + ?, last_hash = ?, "
            "updated_at = ? WHERE id = 1",
            (added, last_hash, now),
        )

    def integrity(self) -> tuple[str, ...]:
        return tuple(r[0] for r in self.execute("PRAGMA integrity_check"))

    def bad_guards(self) -> tuple[str, ...]:
        """Append-only triggers that are missing or differ from what landuse creates."""
        stored = dict(
            self.execute(
                "SELECT name, sql FROM sqlite_master WHERE type='trigger' AND tbl_name=?",
                (TABLE,),
            )
        )
        return tuple(
            name
            for name, sql in _TRIGGERS.items()
            if " ".join(str(stored.get(name)).split()) != " ".join(sql.split())
        )

    def prepare(self, now: str) -> int:
        """Bring an older ledger's columns and chain up, restore triggers.

        Returns the number of rows hashed by the upgrade (0 when already chained).
        """
        hashed = 0
        if "doc_no" not in self.columns():
            # NULL in every existing row: their serialization, hence their hash, is unchanged.
            self.execute(f"ALTER TABLE {TABLE} ADD COLUMN doc_no TEXT")
        if not self.has_chain():
            # Hashing existing rows updates them: lift the update guard for this
            # transaction only (it is re-created below before the commit).
            self.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_update")
            self.execute(f"ALTER TABLE {TABLE} ADD COLUMN row_hash TEXT")
            last = ""
            links = []
            for values in self.execute(
                f"SELECT {', '.join(HASHED_COLUMNS)} FROM {TABLE} ORDER BY fid"
            ):
                last = _row_hash(last, values)
                links.append((last, values[0]))
            self.con.executemany(f"UPDATE {TABLE} SET row_hash = ? WHERE fid = ?", links)
            self.execute(_HEAD_DDL)
            self.execute(
                f"INSERT INTO {HEAD_TABLE} VALUES (1, ?, ?, ?, ?, ?)",
                (len(links), last, len(links), now, now),
            )
            hashed = len(links)
        for name in self.bad_guards():
            self.execute(f"DROP TRIGGER IF EXISTS {name}")
            self.execute(_TRIGGERS[name])
        return hashed

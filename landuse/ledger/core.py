"""The ledger's one core: entries, the hash chain, verification, what an import accepts.

Everything a ledger *means* lives here, whatever stores it: which rows an
import accepts (:func:`read_ledger_file`), the chain link of a row
(:func:`_row_hash`), what :meth:`Ledger.append` refuses (content imported
before, unknown parcel ids, corrections of missing entries, a head that does
not match) and what :meth:`Ledger.verify` checks.  A storage
(:mod:`landuse.ledger.gpkg`, :mod:`landuse.ledger.postgis`) only opens
transactions and runs the SQL of a :class:`Session`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, cast

import pandas as pd

from landuse.core.dates import parse_dates
from landuse.core.errors import LedgerError, SchemaError
from landuse.core.numbers import parse_amounts
from landuse.core.tables import row_numbers
from landuse.core.validate import standardize_fields
from landuse.io import read_table
from landuse.io.postgis import is_database_url

if TYPE_CHECKING:
    from landuse.core.config import Project

__all__ = [
    "EVENTS",
    "HASHED_COLUMNS",
    "HEAD_TABLE",
    "IMPORT_ALIASES",
    "METHODS",
    "TABLE",
    "BrokenRow",
    "Ledger",
    "Session",
    "Store",
    "VerifyReport",
    "named_ledger",
    "read_ledger_file",
]

TABLE = "idle_ledger"
#: Row count and last ``row_hash`` of the ledger.
HEAD_TABLE = f"{TABLE}_head"
#: Columns of a row, in the order its canonical serialization lists them.
HASHED_COLUMNS: tuple[str, ...] = (
    "fid",
    "parcel_id",
    "event",
    "method",
    "event_date",
    "area_mu",
    "amount_wan",
    "note",
    "corrects",
    "batch",
    "recorded_at",
    "doc_no",
)
#: Columns of the first chained format; later ones are left out of a row's
#: serialization while they are NULL at its end.
_BASE_COLUMNS = 11

#: Event → meaning.  处置完成 ends a parcel's idle status; 撤销 withdraws a row.
#: The procedure's deadlines are in :func:`landuse.analysis.idle.procedure_status`.
EVENTS: dict[str, str] = {
    "发现疑似闲置": "suspected idle land found (Art. 5: investigate within 30 days)",
    "认定闲置": "identified as idle land",
    "调查通知": "investigation notice served",
    "认定书": "idle-land determination issued",
    "公示": "public notice",
    "听证告知": "holder told of the right to a hearing (Art. 15)",
    "处置决定": "disposal decision",
    "决定书送达": "decision served (Art. 17: 30 days to pay or hand back)",
    "缴纳闲置费": "idle-land fee paid (amount in 金额)",
    "交回土地": "land and certificate handed back",
    "注销登记": "registration cancelled (Art. 17-18)",
    "处置完成": "disposal completed",
    "撤销": "withdraws the corrected row",
}

#: Disposal methods (处置方式) accepted in the ledger.
METHODS: tuple[str, ...] = (
    "无偿收回",
    "协议有偿收回",
    "收回",
    "征缴闲置费",
    "督促开工",
    "动工开发",
    "延长动工期限",
    "调整用途或规划条件",
    "置换",
    "临时使用",
    "司法拍卖",
    "依法回购",
    "租赁转产",
    "其他",
)
_NEEDS_METHOD = {"处置决定", "处置完成"}

#: Import-file headers (Chinese or pinyin) → ledger columns.
IMPORT_ALIASES: dict[str, tuple[str, ...]] = {
    "parcel_id": ("地块编号", "DKBH", "宗地代码"),
    "event": ("事项", "环节", "SX"),
    "method": ("处置方式", "CZFS"),
    "event_date": ("日期", "事项日期", "RQ"),
    "area_mu": ("面积（亩）", "面积(亩)", "面积", "MJ"),
    "amount_wan": ("金额（万元）", "金额(万元)", "金额", "JE"),
    "note": ("备注", "BZ"),
    "corrects": ("更正编号", "更正记录", "GZBH"),
    "doc_no": ("文号", "文书编号", "文书文号", "WH"),
}

#: Shown with an unknown-id error; the count of all of them follows.
_SHOW_IDS = 50
#: Seconds a write waits for another import to finish before giving up.
BUSY_TIMEOUT_S = 60


def read_ledger_file(path: str | Path, *, sheet: str | int | None = None) -> pd.DataFrame:
    """Read and check an import file (CSV or Excel) of ledger rows.

    Columns (Chinese headers as in the template): 地块编号, 事项, 处置方式, 日期,
    面积（亩）, 金额（万元）, 备注, 更正编号, 文号.  Every problem in the file is
    reported in one error with its row number as Excel shows it.

    Returns
    -------
    DataFrame
        Canonical columns ready for :meth:`Ledger.append`.
    """
    raw = read_table(path, sheet=sheet)
    checked = _checked(raw, source=str(path))
    checked.attrs = raw.attrs  # where the rows came from and the rows left out
    return checked


def _checked(raw: pd.DataFrame, *, source: str) -> pd.DataFrame:
    df = standardize_fields(raw, IMPORT_ALIASES, layer_name="ledger import")
    df.index = row_numbers(df)  # rows as Excel shows them (read_table's index, else header = 1)
    missing = [c for c in ("parcel_id", "event", "event_date") if c not in df.columns]
    if missing:
        raise SchemaError(
            f"{source}: missing column(s) {', '.join(missing)}; the import needs "
            "地块编号, 事项 and 日期 (see the README for the template)."
        )
    for col in ("method", "note", "area_mu", "amount_wan", "corrects", "doc_no"):
        if col not in df.columns:
            df[col] = None
    text = {
        c: df[c].astype("string").str.strip().fillna("")
        for c in ("parcel_id", "event", "method", "note", "doc_no")
    }
    problems: list[str] = []

    def flag(mask: pd.Series, what: str) -> None:
        if mask.any():
            rows = ", ".join(map(str, df.index[mask.to_numpy()][:20]))
            problems.append(f"{what} (rows {rows}{' ...' if mask.sum() > 20 else ''})")

    flag(text["parcel_id"] == "", "地块编号 is empty")
    flag(~text["event"].isin(list(EVENTS)), f"事项 must be one of {', '.join(EVENTS)}")
    flag(
        text["event"].isin(list(_NEEDS_METHOD)) & ~text["method"].isin(list(METHODS)),
        f"处置方式 must be one of {', '.join(METHODS)} for 处置决定/处置完成",
    )
    corrects = pd.to_numeric(
        df["corrects"].astype("string").str.strip().replace("", None), errors="coerce"
    )
    flag(text["event"].eq("撤销") & corrects.isna(), "撤销 needs 更正编号 (the entry it withdraws)")
    try:
        dates = parse_dates(df["event_date"], column="日期", source=source)
        flag(dates.isna(), "日期 is empty")
        area = parse_amounts(df["area_mu"], column="面积（亩）", source=source)
        amount = parse_amounts(df["amount_wan"], column="金额（万元）", source=source)
    except SchemaError as exc:
        problems.append(str(exc).split(": ", 1)[-1].rstrip("."))
    if problems:
        raise SchemaError(f"{source}: nothing imported; " + "; ".join(problems) + ".")
    return pd.DataFrame(
        {
            "parcel_id": text["parcel_id"],
            "event": text["event"],
            "method": text["method"].where(text["method"] != "", None),
            "event_date": dates.dt.strftime("%Y-%m-%d"),
            "area_mu": area,
            "amount_wan": amount,
            "note": text["note"].where(text["note"] != "", None),
            "corrects": corrects.astype("Int64"),
            "doc_no": text["doc_no"].where(text["doc_no"] != "", None),
        }
    ).reset_index(drop=True)


def _row_hash(previous: str, values: Sequence[object]) -> str:
    """Chain link of one row: see :mod:`landuse.ledger` for the serialization."""
    values = list(values)
    while len(values) > _BASE_COLUMNS and values[-1] is None:
        values.pop()  # a later column still NULL: serialized as before it existed
    canonical = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((previous + canonical).encode("utf-8")).hexdigest()


def _unknown_ids(parcel_ids: pd.Series, known: Iterable[object], *, source: str) -> None:
    """Raise when ledger parcel ids are not among the project's parcels, listing them."""
    ids = pd.Series(list(known), dtype=object).astype(str).str.strip()
    # Object dtype: isin on arrow-backed strings is a slow per-element path.
    mask = ~parcel_ids.astype(object).isin(ids.astype(object))
    if not mask.any():
        return
    unknown = pd.unique(parcel_ids[mask])
    shown = ", ".join(unknown[:_SHOW_IDS])
    more = f" … (first {_SHOW_IDS} of {len(unknown)})" if len(unknown) > _SHOW_IDS else ""
    raise SchemaError(
        f"{source}: {len(unknown)} 个地块编号不在项目地块中 parcel id(s) not among the "
        f"project's parcels ({mask.sum()} rows): {shown}{more}; nothing imported. Correct "
        "地块编号 in the file, or check the project's parcels layer."
    )


@dataclass(frozen=True)
class BrokenRow:
    """A ledger row whose hash does not match.

    Attributes
    ----------
    entry_id : int
        The row (``fid``).
    problem : {"changed", "removed_before", "unhashed"}
        ``changed``: its values differ from when it was recorded;
        ``removed_before``: the entries just before it (``missing``) are gone;
        ``unhashed``: it has no hash, i.e. it was added outside landuse.
    missing : tuple of int
        First and last missing entry id for ``removed_before``, else empty.
    """

    entry_id: int
    problem: Literal["changed", "removed_before", "unhashed"]
    missing: tuple[int, ...] = ()

    def describe(self) -> str:
        """One phrase for people, Chinese and English."""
        if self.problem == "removed_before":
            lo, hi = self.missing
            gone = f"{lo}" if lo == hi else f"{lo}–{hi}"
            return f"记录 {gone} 被删除 removed (before entry {self.entry_id})"
        if self.problem == "unhashed":
            return f"记录 {self.entry_id} 无哈希，系工具外添加 added outside landuse"
        return f"记录 {self.entry_id} 被改动 changed after it was recorded"


@dataclass(frozen=True)
class VerifyReport:
    """What :meth:`Ledger.verify` found.

    Attributes
    ----------
    location : str
        The ledger: GeoPackage path, or database URL (password hidden).
    rows : int
        Rows in the ledger table.
    integrity : tuple of str
        The storage's own check (SQLite ``PRAGMA integrity_check``, the
        PostgreSQL table's columns and key); ``("ok",)`` when sound.
    integrity_label : str
        What that check is, for people.
    missing_triggers : tuple of str
        Append-only guards that are gone, disabled or no longer what landuse
        created (in PostgreSQL also UPDATE/DELETE/TRUNCATE granted to a role).
    guard_fix : str
        How to restore the guards.
    chained : bool
        False for a ledger written by an older landuse (no ``row_hash``).
    broken : tuple of BrokenRow
        Rows whose chain link does not match, in entry order.
    head_rows, head_hash : int or None, str or None
        Row count and last hash the head record holds (None: no head record).
    last_hash : str
        ``row_hash`` of the last row (``""`` when empty or unhashed).
    upgraded_rows : int
        Rows hashed when an older ledger was upgraded (``upgraded_at``): the
        chain vouches for them only from then on.
    upgraded_at : str or None
        When that upgrade happened (UTC).
    """

    location: str
    rows: int
    integrity: tuple[str, ...]
    integrity_label: str
    missing_triggers: tuple[str, ...]
    guard_fix: str
    chained: bool
    broken: tuple[BrokenRow, ...]
    head_rows: int | None
    head_hash: str | None
    last_hash: str
    upgraded_rows: int = 0
    upgraded_at: str | None = None

    @property
    def head_ok(self) -> bool:
        """The head record matches the table's row count and last hash."""
        return self.head_rows == self.rows and self.head_hash == self.last_hash

    @property
    def ok(self) -> bool:
        """Every check passed."""
        return all(passed for passed, _ in self.checks())

    def checks(self) -> list[tuple[bool, str]]:
        """Each check as (passed, one line in Chinese and English)."""
        out = [
            (
                self.integrity == ("ok",),
                f"{self.integrity_label}: " + "; ".join(self.integrity[:5]),
            ),
            (
                not self.missing_triggers,
                "只增触发器 append-only triggers: "
                + (
                    "完好 in place"
                    if not self.missing_triggers
                    else f"缺失或被改 missing or altered: {', '.join(self.missing_triggers)} "
                    f"({self.guard_fix})"
                ),
            ),
        ]
        if not self.chained:
            out.append(
                (
                    False,
                    "哈希链 hash chain: 无 none — written by an older landuse; "
                    "the next import or `landuse ledger verify --upgrade` adds it",
                )
            )
            return out
        if self.broken:
            shown = "; ".join(b.describe() for b in self.broken[:20])
            more = f"; … ({len(self.broken)} in all)" if len(self.broken) > 20 else ""
            chain = f"{len(self.broken)} 处断链 broken: {shown}{more}"
        else:
            chain = f"{self.rows} 条记录全部吻合 all {self.rows} rows match"
        out.append((not self.broken, f"哈希链 hash chain: {chain}"))
        if self.head_rows is None:
            head = "链尾记录缺失 head record missing (removed outside landuse)"
        elif self.head_ok:
            head = f"{self.rows} 条，末条哈希 last hash {self.last_hash or '—'} 吻合 matches"
        else:
            found = []
            if self.head_rows != self.rows:
                found.append(
                    f"记载 {self.head_rows} 条、实有 {self.rows} 条 head records "
                    f"{self.head_rows} rows, table has {self.rows}"
                )
            if self.head_hash != self.last_hash:
                found.append(
                    f"末条哈希不符 last row's hash {self.last_hash[:12] or '—'}… is not the "
                    f"recorded {(self.head_hash or '')[:12] or '—'}…: the last rows were removed "
                    "or replaced"
                )
            head = "; ".join(found) + " (outside landuse)"
        out.append((self.head_ok, f"链尾 head: {head}"))
        return out


class Session:
    """One connection inside one transaction, with the ledger's SQL.

    The SQL both storages share is here, written once; a storage's subclass
    sets the parameter placeholder and supplies what differs (catalog queries,
    how the head record advances, upgrades, guards).

    Parameters
    ----------
    con : DB-API connection
        ``sqlite3.Connection`` or ``psycopg.Connection``, inside a transaction.
    table, head_table : str
        The ledger and head tables as SQL (quoted where needed).
    """

    #: DB-API parameter placeholder.
    placeholder: ClassVar[str] = "?"
    #: SQL true when ``{value}`` occurs in ``{column}``.
    contains: ClassVar[str] = "instr({column}, {value}) > 0"

    def __init__(self, con: Any, table: str, head_table: str) -> None:
        self.con = con
        self.table = table
        self.head_table = head_table

    def execute(self, sql: str, params: Sequence[object] = ()) -> Any:
        """Run one statement; the cursor (iterable over rows)."""
        cursor = self.con.cursor()
        cursor.execute(sql, params)
        return cursor

    def _marks(self, n: int) -> str:
        return ", ".join([self.placeholder] * n)

    # --- storage-specific -------------------------------------------------------------------

    def columns(self) -> set[str]:
        """Columns the ledger table has."""
        raise NotImplementedError

    def has_head_table(self) -> bool:
        """The head table exists."""
        raise NotImplementedError

    def advance_head(self, added: int, last_hash: str, now: str) -> None:
        """Record ``added`` more rows ending with ``last_hash``."""
        raise NotImplementedError

    def prepare(self, now: str) -> int:
        """Inside a write: bring the storage up to this version; rows hashed by an upgrade."""
        raise NotImplementedError

    def integrity(self) -> tuple[str, ...]:
        """The storage's own soundness check: ``("ok",)`` or the problems."""
        raise NotImplementedError

    def bad_guards(self) -> tuple[str, ...]:
        """Append-only guards that are missing, disabled or altered."""
        raise NotImplementedError

    # --- shared SQL -------------------------------------------------------------------------

    def has_chain(self) -> bool:
        """The table has ``row_hash`` (False: written by a landuse before the chain)."""
        return "row_hash" in self.columns()

    def select_list(self) -> str:
        """The hashed columns and ``row_hash``; NULL for later ones the table lacks yet."""
        have = self.columns()
        return ", ".join(c if c in have else f"NULL AS {c}" for c in (*HASHED_COLUMNS, "row_hash"))

    def count(self) -> int:
        """Rows in the ledger table."""
        return int(self.execute(f"SELECT COUNT(*) FROM {self.table}").fetchone()[0])

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """Every row as (hashed values..., row_hash), in entry order."""
        yield from self.execute(f"SELECT {self.select_list()} FROM {self.table} ORDER BY fid")

    def frame(self) -> pd.DataFrame:
        """Every row as a DataFrame, in entry order."""
        cursor = self.execute(f"SELECT {self.select_list()} FROM {self.table} ORDER BY fid")
        names = [d[0] for d in cursor.description]
        return pd.DataFrame.from_records(cursor.fetchall(), columns=names, coerce_float=True)

    def tail(self) -> tuple[int, int, str | None]:
        """Row count, last fid (0 when empty) and the last row's ``row_hash``."""
        count, last_fid = self.execute(f"SELECT COUNT(*), MAX(fid) FROM {self.table}").fetchone()
        last = self.execute(
            f"SELECT row_hash FROM {self.table} ORDER BY fid DESC LIMIT 1"
        ).fetchone() or ("",)
        return int(count), int(last_fid or 0), last[0]

    def head(self) -> tuple[int, str, int, str | None] | None:
        """The head record (row count, last hash, rows hashed by an upgrade, when), or None."""
        if not self.has_head_table():
            return None
        row = self.execute(
            f"SELECT row_count, last_hash, upgraded_rows, upgraded_at FROM {self.head_table} "
            "ORDER BY row_count DESC LIMIT 1"
        ).fetchone()
        return None if row is None else (int(row[0]), row[1], int(row[2]), row[3])

    def earlier_batch(self, digests: Sequence[str]) -> tuple[str, str, int, int] | None:
        """The first batch recorded with one of these content digests: batch, when, fids."""
        match = " OR ".join(
            [self.contains.format(column="batch", value=self.placeholder)] * len(digests)
        )
        return self.execute(
            f"SELECT batch, MIN(recorded_at), MIN(fid), MAX(fid) FROM {self.table} "
            f"WHERE {match} GROUP BY batch ORDER BY MIN(fid) LIMIT 1",
            [f" sha256:{d} " for d in digests],
        ).fetchone()

    def existing(self, fids: Sequence[int]) -> set[int]:
        """Which of ``fids`` are entries of the ledger."""
        found = self.execute(
            f"SELECT fid FROM {self.table} WHERE fid IN ({self._marks(len(fids))})", list(fids)
        )
        return {int(row[0]) for row in found}

    def insert(self, records: Sequence[tuple[object, ...]]) -> None:
        """Insert rows of (hashed values..., row_hash)."""
        names = (*HASHED_COLUMNS, "row_hash")
        self.con.cursor().executemany(
            f"INSERT INTO {self.table} ({', '.join(names)}) VALUES ({self._marks(len(names))})",
            records,
        )


class Store(Protocol):
    """Where a ledger is kept: opens the transactions its :class:`Session` runs in.

    Attributes
    ----------
    location : str
        For messages: the file, or the URL without its password.
    path : Path or None
        The GeoPackage (None for a database).
    integrity_label : str
        What :meth:`Session.integrity` checks, for people.
    guard_fix : str
        How to restore missing append-only guards.
    """

    location: str
    path: Path | None
    integrity_label: str
    guard_fix: str

    def write(self) -> AbstractContextManager[Session]:
        """One write transaction, taken only when no other write holds the ledger."""
        ...

    def read(self) -> AbstractContextManager[Session]:
        """One read-only transaction: a concurrent import is seen wholly or not at all."""
        ...


def busy_error(location: str, reason: str) -> LedgerError:
    """The error for a write that waited too long for another import."""
    return LedgerError(
        f"{location}: 台账正被另一导入占用 another import has held the ledger for over "
        f"{BUSY_TIMEOUT_S} s ({reason}); nothing imported. Run the import again when it finishes."
    )


class Ledger:
    """An idle-land ledger, in a GeoPackage or a PostGIS table.

    Parameters
    ----------
    target : str or Path
        The GeoPackage, created with an empty ledger table when missing; or
        ``postgresql://user@host/db?table=schema.name`` (default table
        ``public.idle_ledger``), which ``landuse ledger init-db`` set up.
    create : bool, default True
        False to require an existing GeoPackage ledger.  A database ledger is
        never created here: its owner sets it up once, with its guards and
        grants (:func:`landuse.ledger.postgis.init_database`).

    Attributes
    ----------
    location : str
        The file, or the URL without its password: what messages name.
    path : Path or None
        The GeoPackage (None for a database ledger).

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> led = Ledger(tempfile.mkdtemp() + "/ledger.gpkg")
    >>> led.append(pd.DataFrame({"parcel_id": ["A1"], "event": ["认定闲置"],
    ...                          "event_date": ["2024-03-02"], "area_mu": [15.0]}),
    ...            source="doc", parcel_ids=["A1", "A2"])
    1
    >>> led.entries()["event"].tolist()
    ['认定闲置']
    >>> led.verify().ok
    True
    """

    def __init__(self, target: str | Path, *, create: bool = True) -> None:
        # The storages build on this module: imported here, when a ledger is opened.
        if is_database_url(target):
            from landuse.ledger.postgis import PostgisStore

            self.store: Store = PostgisStore(str(target))
        else:
            from landuse.ledger.gpkg import GpkgStore

            self.store = GpkgStore(Path(target), create=create)
        self.location = self.store.location
        self.path = self.store.path

    def upgrade(self) -> int:
        """Bring the ledger up to this version: hash chain and append-only triggers.

        A GeoPackage ledger written by an older landuse gets ``row_hash`` (its
        rows hashed as they are now, which the head records) and the head
        table; missing or altered append-only triggers are re-created.
        :meth:`append` does the same in its own transaction.  A database
        ledger has its chain from the start (its guards are restored by
        ``landuse ledger init-db``, run by the table's owner).

        Returns
        -------
        int
            Rows hashed (0 when the ledger already had its chain).
        """
        with self.store.write() as session:
            return session.prepare(_now())

    def append(
        self,
        rows: pd.DataFrame,
        *,
        source: str,
        parcel_ids: Iterable[object] | None,
        content_sha256: str | None = None,
        on_row: Callable[[int], None] | None = None,
    ) -> int:
        """Append rows in one transaction; all or nothing.

        Concurrent writers queue: the transaction starts by taking the
        ledger's write lock, so each import chains onto the one before it.

        Parameters
        ----------
        rows : DataFrame
            Canonical columns (``parcel_id``, ``event``, ``event_date`` and
            optionally ``method``, ``area_mu``, ``amount_wan``, ``note``,
            ``corrects``, ``doc_no``), e.g. from :func:`read_ledger_file`.
        source : str
            What the rows came from (file name); recorded with the content
            hash in the ``batch`` column.
        parcel_ids : iterable or None
            The project's parcel ids; every row's ``parcel_id`` must be one of
            them.  None imports without that check, which the batch records
            (``地块编号未核对``).
        content_sha256 : str, optional
            SHA-256 (hex) of the import file's raw bytes: what identifies the
            content.  Default: SHA-256 of the checked rows as CSV.
        on_row : callable, optional
            Called with the number of rows written so far (progress display),
            inside the transaction.

        Returns
        -------
        int
            Number of rows appended.

        Raises
        ------
        SchemaError
            A row is invalid, a parcel id is unknown, or a correction names an
            entry that does not exist.
        LedgerError
            The content was imported before (the earlier batch is named), the
            ledger's last rows do not match its head record, another import
            held the ledger too long, or the database refuses the write.
        """
        checked = _checked(rows, source=source)
        if parcel_ids is not None:
            _unknown_ids(checked["parcel_id"], parcel_ids, source=source)
        as_csv = hashlib.sha256(checked.to_csv(index=False).encode("utf-8")).hexdigest()
        digest = content_sha256 or as_csv
        now = _now()
        batch = f"{source} sha256:{digest} {now}" + (
            " 地块编号未核对" if parcel_ids is None else ""
        )
        plain = checked.astype(object).where(checked.notna(), None)
        # Python str/float/int/None, as both databases give them back: the hash is reproducible.
        values = list(plain.itertuples(index=False, name=None))
        with self.store.write() as session:
            session.prepare(now)
            last_fid, last_hash = self._tail(session)
            # Batches of older versions recorded 12 hex digits of the rows as CSV.
            _refuse_duplicate(session, source, (digest, as_csv[:12]))
            _check_corrections(session, values, source)
            records = []
            for fid, row in enumerate(values, start=last_fid + 1):
                *fields, doc_no = row
                linked = (fid, *fields, batch, now, doc_no)
                last_hash = _row_hash(last_hash, linked)
                records.append((*linked, last_hash))
            step = max(1, len(records) // 100)
            for start in range(0, len(records), step):
                session.insert(records[start : start + step])
                if on_row:
                    on_row(min(start + step, len(records)))
            if records:
                session.advance_head(len(records), last_hash, now)
        return len(records)

    def _tail(self, session: Session) -> tuple[int, str]:
        """Last fid and row_hash, after checking them against the head record.

        Chaining onto a ledger whose last rows were removed would hide the
        removal, so a mismatch refuses the write.
        """
        head = (session.head() or (None, None))[:2]
        count, last_fid, last_hash = session.tail()
        if head != (count, last_hash):
            recorded = "no head record" if head[0] is None else f"{head[0]} rows recorded"
            raise LedgerError(
                f"{self.location}: 台账链尾与记录不符 the ledger does not match its head record "
                f"({recorded}, {count} present): rows at the end were removed, added or "
                "changed outside landuse; nothing imported. Run `landuse ledger verify "
                f"--ledger {self.location}` and restore the ledger from a backup."
            )
        return last_fid, str(last_hash)

    def verify(self) -> VerifyReport:
        """Check the ledger: storage integrity, append-only guards, hash chain, head record.

        Reads only; one read transaction, so a concurrent import is seen
        either wholly or not at all.

        Returns
        -------
        VerifyReport
            ``report.ok`` is True when every check passed; ``report.checks()``
            describes each.

        Raises
        ------
        LayerReadError
            The storage cannot be read at all.
        """
        with self.store.read() as session:
            return self._verify(session)

    def _verify(self, session: Session) -> VerifyReport:
        store = self.store
        common: dict[str, Any] = {
            "location": self.location,
            "rows": session.count(),
            "integrity": session.integrity(),
            "integrity_label": store.integrity_label,
            "missing_triggers": session.bad_guards(),
            "guard_fix": store.guard_fix,
        }
        if not session.has_chain():
            return VerifyReport(
                **common, chained=False, broken=(), head_rows=None, head_hash=None, last_hash=""
            )
        broken: list[BrokenRow] = []
        previous, previous_fid, stored = "", 0, ""
        for *values, stored in session.rows():
            fid = values[0]
            if stored is None:
                broken.append(BrokenRow(fid, "unhashed"))
                stored = ""
                previous_fid = fid
                continue  # the next row is checked against the last hashed one
            if _row_hash(previous, values) != stored:
                if fid > previous_fid + 1:
                    broken.append(BrokenRow(fid, "removed_before", (previous_fid + 1, fid - 1)))
                else:
                    broken.append(BrokenRow(fid, "changed"))
            previous, previous_fid = stored, fid
        head = session.head()
        return VerifyReport(
            **common,
            chained=True,
            broken=tuple(broken),
            head_rows=None if head is None else head[0],
            head_hash=None if head is None else head[1],
            last_hash=stored,
            upgraded_rows=0 if head is None else head[2],
            upgraded_at=None if head is None else head[3],
        )

    def entries(self, *, effective: bool = False) -> pd.DataFrame:
        """All rows in order of entry (``entry_id``).

        Parameters
        ----------
        effective : bool, default False
            Leave out rows that a later row corrects or withdraws, and the
            撤销 rows themselves: the ledger as it now stands.
        """
        with self.store.read() as session:
            df = session.frame()
        df = df.rename(columns={"fid": "entry_id"})
        df["corrects"] = df["corrects"].astype("Int64")
        if effective:
            superseded = set(df["corrects"].dropna().astype(int))
            df = df[~df["entry_id"].isin(superseded) & (df["event"] != "撤销")]
        return df.reset_index(drop=True)

    def history(self, parcel_id: str) -> pd.DataFrame:
        """Every row about one parcel, corrections included, in order of entry."""
        df = self.entries()
        return df[df["parcel_id"] == str(parcel_id)].reset_index(drop=True)


def named_ledger(project: Project, *, create: bool = False) -> Ledger | None:
    """The ledger ``[idle] ledger`` names: a file beside landuse.toml or a ``postgresql://`` URL.

    None when the project names none.
    """
    name = project.options.idle.ledger
    if name is None:
        return None
    return Ledger(name if is_database_url(name) else project.path(name), create=create)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _refuse_duplicate(session: Session, source: str, digests: Sequence[str]) -> None:
    """Raise when a batch with one of these content digests is in the ledger."""
    earlier = session.earlier_batch(digests)
    if earlier is None:
        return
    batch, recorded_at, first, last = earlier
    raise LedgerError(
        f"{source}: 内容已导入过 already imported — same content (SHA-256) as batch "
        f"'{batch.split(' sha256:')[0]}' recorded {recorded_at} (entries {first}–{last}); "
        "nothing imported. Import a file with only the new rows."
    )


def _check_corrections(session: Session, values: Sequence[tuple[object, ...]], source: str) -> None:
    """Raise when a row corrects an entry that is not in the ledger."""
    position = HASHED_COLUMNS.index("corrects") - 1  # values lack the fid
    targets = {int(cast(int, r[position])) for r in values if r[position] is not None}
    if not targets:
        return
    unknown = sorted(targets - session.existing(sorted(targets)))
    if unknown:
        raise SchemaError(
            f"{source}: 更正编号 {', '.join(map(str, unknown))} do not exist "
            "in the ledger; nothing imported."
        )

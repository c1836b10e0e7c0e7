"""Idle-land disposal ledger (闲置土地处置台账): append-only, transactional, hash-chained.

The ledger is an attribute table ``idle_ledger`` in a GeoPackage (an SQLite
file any GIS opens).  Each row is one event of one parcel: identified as idle
(认定闲置), a step of the procedure of Order No. 53 (发现疑似闲置, 调查通知, 认定书,
公示, 听证告知, 处置决定, 决定书送达, 缴纳闲置费, 交回土地, 注销登记) or the disposal
completed (处置完成) with its method, and the document number (文号, ``doc_no``)
of the notice or decision the row records.  Rows are never changed or deleted —
SQLite triggers refuse it — so a mistake is fixed by a new row that
``corrects`` the old one (撤销 withdraws it); the full history stays.

Imports are all-or-nothing: every row is checked first (all problems reported
together, parcel ids against the project's parcels), then inserted in one
``BEGIN IMMEDIATE`` transaction, so a killed import leaves the ledger exactly
as it was and concurrent writers queue instead of corrupting the file.  Content
already in the ledger (same SHA-256, recorded in ``batch``) is refused.

Triggers can be dropped by anyone who can write the file, so every row also
carries ``row_hash``, chained to the row before it::

    row_hash = sha256(previous row_hash + canonical row).hexdigest()

where the previous ``row_hash`` is ``""`` for the first row and the canonical
row is the JSON array ``[fid, parcel_id, event, method, event_date, area_mu,
amount_wan, note, corrects, batch, recorded_at, doc_no]`` written by
``json.dumps(values, ensure_ascii=False, separators=(",", ":"))`` and encoded
as UTF-8 (NULL is ``null``, areas and amounts are floats such as ``15.0``, fid
and corrects integers).  Columns added after the first eleven (``doc_no``)
are left out of the array while they are NULL at its end, so rows hashed
before those columns existed keep their hash and a ledger only gains the
column (``ALTER TABLE``) when it is upgraded.  The table ``idle_ledger_head`` holds the row count
and last hash, updated in the same transaction, so removing the last rows
shows too.  :meth:`Ledger.verify` checks all of it.  Limit: SHA-256 has no
key, so someone who rewrites rows *and* recomputes every later hash and the
head goes unnoticed; keep the head hash that ``verify`` prints outside the
file (e.g. in the minutes) to catch that.

A ledger written by an older landuse (no ``row_hash``) is upgraded on its
first write: the rows as they are then are hashed and the head records how
many, so the chain vouches for them only from that day.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, cast

import pandas as pd
import pyogrio

from landuse.core.dates import parse_dates
from landuse.core.errors import LayerNotFoundError, LayerReadError, LedgerError, SchemaError
from landuse.core.numbers import parse_amounts
from landuse.core.tables import row_numbers
from landuse.core.validate import standardize_fields
from landuse.io import read_table

__all__ = [
    "EVENTS",
    "HASHED_COLUMNS",
    "HEAD_TABLE",
    "IMPORT_ALIASES",
    "METHODS",
    "TABLE",
    "BrokenRow",
    "Ledger",
    "VerifyReport",
    "read_ledger_file",
]

TABLE = "idle_ledger"
#: One-row table: row count and last ``row_hash`` of the ledger.
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
#: Shown with an unknown-id error; the count of all of them follows.
_SHOW_IDS = 50


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
    """Chain link of one row: see the module docstring for the serialization."""
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
    path : Path
        The ledger GeoPackage.
    rows : int
        Rows in the ledger table.
    integrity : tuple of str
        ``PRAGMA integrity_check`` result; ``("ok",)`` when the file is sound.
    missing_triggers : tuple of str
        Append-only triggers that are gone or no longer what landuse created.
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

    path: Path
    rows: int
    integrity: tuple[str, ...]
    missing_triggers: tuple[str, ...]
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
                "SQLite 完整性 integrity_check: " + "; ".join(self.integrity[:5]),
            ),
            (
                not self.missing_triggers,
                "只增触发器 append-only triggers: "
                + (
                    "完好 in place"
                    if not self.missing_triggers
                    else f"缺失或被改 missing or altered: {', '.join(self.missing_triggers)} "
                    "(the next import or `landuse ledger verify --upgrade` restores them)"
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


class Ledger:
    """An idle-land ledger stored in a GeoPackage.

    Parameters
    ----------
    path : str or Path
        The GeoPackage; created with an empty ledger table when missing.
    create : bool, default True
        False to require an existing ledger.

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

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not self._has_table():
            if not create:
                raise LayerNotFoundError(f"{self.path}: no idle-land ledger here.")
            self._create()

    def _connect(self) -> sqlite3.Connection:
        # Autocommit mode: transactions are opened explicitly with BEGIN IMMEDIATE.
        return sqlite3.connect(self.path, timeout=60, isolation_level=None)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed at the end, rolled back on any exception."""
        with closing(self._connect()) as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    def _has_table(self) -> bool:
        if not self.path.exists():
            return False
        try:
            with closing(self._connect()) as con:
                row = con.execute(
                    "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (TABLE,)
                ).fetchone()
        except sqlite3.DatabaseError as exc:
            raise LayerReadError(
                f"{self.path}: not a readable GeoPackage ({exc}); name the ledger file "
                "with --ledger or restore it from a backup."
            ) from exc
        return row is not None

    def _create(self) -> None:
        empty = pd.DataFrame({c: pd.Series(dtype=t) for c, t in _COLUMNS.items()})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        pyogrio.write_dataframe(empty, self.path, layer=TABLE, driver="GPKG")
        with self._transaction() as con:
            con.execute(_HEAD_DDL)
            con.execute(
                f"INSERT OR IGNORE INTO {HEAD_TABLE} VALUES (1, 0, '', 0, NULL, ?)", (_now(),)
            )
            con.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_parcel ON {TABLE}(parcel_id)")
            _restore_triggers(con)

    def upgrade(self) -> int:
        """Bring the ledger up to this version: hash chain and append-only triggers.

        A ledger written by an older landuse gets ``row_hash`` (its rows hashed
        as they are now, which the head records) and the head table; missing
        or altered append-only triggers are re-created.  :meth:`append` does
        the same in its own transaction.

        Returns
        -------
        int
            Rows hashed (0 when the ledger already had its chain).
        """
        with self._transaction() as con:
            return _prepare(con, _now())

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
            Called with the number of rows written so far (progress display).

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
            The content was imported before (the earlier batch is named), or
            the ledger's last rows do not match its head record.
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
        # Python str/float/int/None, as SQLite gives them back: the hash is reproducible.
        values = list(plain.itertuples(index=False, name=None))
        sql = (
            f"INSERT INTO {TABLE} ({', '.join(HASHED_COLUMNS)}, row_hash) "
            f"VALUES ({', '.join('?' * (len(HASHED_COLUMNS) + 1))})"
        )
        with self._transaction() as con:
            _prepare(con, now)
            last_fid, last_hash = self._tail(con)
            # Batches of older versions recorded 12 hex digits of the rows as CSV.
            _refuse_duplicate(con, source, (digest, as_csv[:12]))
            _check_corrections(con, values, source)
            records = []
            for fid, row in enumerate(values, start=last_fid + 1):
                *fields, doc_no = row
                linked = (fid, *fields, batch, now, doc_no)
                last_hash = _row_hash(last_hash, linked)
                records.append((*linked, last_hash))
            step = max(1, len(records) // 100)
            for start in range(0, len(records), step):
                con.executemany(sql, records[start : start + step])
                if on_row:
                    on_row(min(start + step, len(records)))
            con.execute(
                f"UPDATE {HEAD_TABLE} SET row_count = row_count + ?, last_hash = ?, "
                "updated_at = ? WHERE id = 1",
                (len(records), last_hash, now),
            )
        return len(records)

    def _tail(self, con: sqlite3.Connection) -> tuple[int, str]:
        """Last fid and row_hash, after checking them against the head record.

        Chaining onto a ledger whose last rows were removed would hide the
        removal, so a mismatch refuses the write.
        """
        head = (_head(con) or (None, None))[:2]
        count, last_fid = con.execute(f"SELECT COUNT(*), MAX(fid) FROM {TABLE}").fetchone()
        last = con.execute(
            f"SELECT row_hash FROM {TABLE} ORDER BY fid DESC LIMIT 1"
        ).fetchone() or ("",)
        if head != (count, last[0]):
            recorded = "no head record" if head[0] is None else f"{head[0]} rows recorded"
            raise LedgerError(
                f"{self.path}: 台账链尾与记录不符 the ledger does not match its head record "
                f"({recorded}, {count} present): rows at the end were removed, added or "
                "changed outside landuse; nothing imported. Run `landuse ledger verify "
                f"--ledger {self.path}` and restore the ledger from a backup."
            )
        return int(last_fid or 0), str(last[0])

    def verify(self) -> VerifyReport:
        """Check the ledger: SQLite integrity, triggers, hash chain, head record.

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
            SQLite cannot read the file at all.
        """
        try:
            with closing(self._connect()) as con:
                con.execute("BEGIN")
                try:
                    return self._verify(con)
                finally:
                    con.execute("ROLLBACK")
        except sqlite3.DatabaseError as exc:
            raise LayerReadError(
                f"{self.path}: SQLite cannot read the ledger ({exc}); restore it from a backup."
            ) from exc

    def _verify(self, con: sqlite3.Connection) -> VerifyReport:
        integrity = tuple(r[0] for r in con.execute("PRAGMA integrity_check"))
        missing = tuple(_bad_triggers(con))
        rows = con.execute(f"SELECT COUNT(*) FROM {TABLE}").fetchone()[0]
        common = {"path": self.path, "rows": rows, "integrity": integrity}
        if not _has_chain(con):
            return VerifyReport(
                **common,
                missing_triggers=missing,
                chained=False,
                broken=(),
                head_rows=None,
                head_hash=None,
                last_hash="",
            )
        broken: list[BrokenRow] = []
        previous, previous_fid, stored = "", 0, ""
        cursor = con.execute(f"SELECT {_hashed_columns(con)}, row_hash FROM {TABLE} ORDER BY fid")
        for *values, stored in cursor:
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
        head = _head(con)
        return VerifyReport(
            **common,
            missing_triggers=missing,
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
        with closing(self._connect()) as con:
            df = pd.read_sql_query(f"SELECT * FROM {TABLE} ORDER BY fid", con)
        df = df.rename(columns={"fid": "entry_id"})
        if "doc_no" not in df.columns:  # a ledger not yet upgraded to the 文号 column
            df["doc_no"] = None
        df["corrects"] = df["corrects"].astype("Int64")
        if effective:
            superseded = set(df["corrects"].dropna().astype(int))
            df = df[~df["entry_id"].isin(superseded) & (df["event"] != "撤销")]
        return df.reset_index(drop=True)

    def history(self, parcel_id: str) -> pd.DataFrame:
        """Every row about one parcel, corrections included, in order of entry."""
        df = self.entries()
        return df[df["parcel_id"] == str(parcel_id)].reset_index(drop=True)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _columns_of(con: sqlite3.Connection) -> set[str]:
    return {r[1] for r in con.execute(f"PRAGMA table_info({TABLE})")}


def _has_chain(con: sqlite3.Connection) -> bool:
    return "row_hash" in _columns_of(con)


def _hashed_columns(con: sqlite3.Connection) -> str:
    """SELECT list of the hashed columns; NULL for later ones the table lacks yet."""
    have = _columns_of(con)
    return ", ".join(c if c in have else f"NULL AS {c}" for c in HASHED_COLUMNS)


def _head(con: sqlite3.Connection) -> tuple[int, str, int, str | None] | None:
    """The head record, or None when its table is gone."""
    exists = con.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (HEAD_TABLE,)
    ).fetchone()
    if exists is None:
        return None
    return con.execute(
        f"SELECT row_count, last_hash, upgraded_rows, upgraded_at FROM {HEAD_TABLE}"
    ).fetchone()


def _bad_triggers(con: sqlite3.Connection) -> list[str]:
    """Append-only triggers that are missing or differ from what landuse creates."""
    stored = dict(
        con.execute(
            "SELECT name, sql FROM sqlite_master WHERE type='trigger' AND tbl_name=?", (TABLE,)
        )
    )
    return [
        name
        for name, sql in _TRIGGERS.items()
        if " ".join(str(stored.get(name)).split()) != " ".join(sql.split())
    ]


def _restore_triggers(con: sqlite3.Connection) -> None:
    for name in _bad_triggers(con):
        con.execute(f"DROP TRIGGER IF EXISTS {name}")
        con.execute(_TRIGGERS[name])


def _prepare(con: sqlite3.Connection, now: str) -> int:
    """Inside a write transaction: bring an older ledger's columns and chain up, restore triggers.

    Returns the number of rows hashed by the upgrade (0 when already chained).
    """
    hashed = 0
    if "doc_no" not in _columns_of(con):
        # NULL in every existing row: their serialization, hence their hash, is unchanged.
        con.execute(f"ALTER TABLE {TABLE} ADD COLUMN doc_no TEXT")
    if not _has_chain(con):
        # Hashing existing rows updates them: lift the update guard for this
        # transaction only (it is re-created below before the commit).
        con.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_update")
        con.execute(f"ALTER TABLE {TABLE} ADD COLUMN row_hash TEXT")
        last = ""
        links = []
        for values in con.execute(f"SELECT {', '.join(HASHED_COLUMNS)} FROM {TABLE} ORDER BY fid"):
            last = _row_hash(last, values)
            links.append((last, values[0]))
        con.executemany(f"UPDATE {TABLE} SET row_hash = ? WHERE fid = ?", links)
        con.execute(_HEAD_DDL)
        con.execute(
            f"INSERT INTO {HEAD_TABLE} VALUES (1, ?, ?, ?, ?, ?)",
            (len(links), last, len(links), now, now),
        )
        hashed = len(links)
    _restore_triggers(con)
    return hashed


def _refuse_duplicate(con: sqlite3.Connection, source: str, digests: Sequence[str]) -> None:
    """Raise when a batch with one of these content digests is in the ledger."""
    match = " OR ".join(["instr(batch, ?) > 0"] * len(digests))
    earlier = con.execute(
        f"SELECT batch, MIN(recorded_at), MIN(fid), MAX(fid) FROM {TABLE} WHERE {match} "
        "GROUP BY batch ORDER BY MIN(fid) LIMIT 1",
        [f" sha256:{d} " for d in digests],
    ).fetchone()
    if earlier is None:
        return
    batch, recorded_at, first, last = earlier
    raise LedgerError(
        f"{source}: 内容已导入过 already imported — same content (SHA-256) as batch "
        f"'{batch.split(' sha256:')[0]}' recorded {recorded_at} (entries {first}–{last}); "
        "nothing imported. Import a file with only the new rows."
    )


def _check_corrections(
    con: sqlite3.Connection, values: Sequence[tuple[object, ...]], source: str
) -> None:
    """Raise when a row corrects an entry that is not in the ledger."""
    position = HASHED_COLUMNS.index("corrects") - 1  # values lack the fid
    targets = {int(cast(int, r[position])) for r in values if r[position] is not None}
    if not targets:
        return
    known = {
        row[0]
        for row in con.execute(
            f"SELECT fid FROM {TABLE} WHERE fid IN ({','.join('?' * len(targets))})",
            sorted(targets),
        )
    }
    unknown = sorted(targets - known)
    if unknown:
        raise SchemaError(
            f"{source}: 更正编号 {', '.join(map(str, unknown))} do not exist "
            "in the ledger; nothing imported."
        )

"""Idle-land disposal ledger (闲置土地处置台账): append-only, transactional.

The ledger is an attribute table ``idle_ledger`` in a GeoPackage (an SQLite
file any GIS opens).  Each row is one event of one parcel: identified as idle
(认定闲置), a procedural step (调查通知, 认定书, 公示, 处置决定) or the disposal
completed (处置完成) with its method.  Rows are never changed or deleted —
SQLite triggers refuse it — so a mistake is fixed by a new row that
``corrects`` the old one (撤销 withdraws it); the full history stays.

Imports are all-or-nothing: every row is checked first (all problems reported
together), then inserted in one ``BEGIN IMMEDIATE`` transaction, so a killed
import leaves the ledger exactly as it was and concurrent writers queue
instead of corrupting the file.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyogrio

from landuse.dates import parse_dates
from landuse.errors import LayerNotFoundError, SchemaError
from landuse.io import read_table
from landuse.numbers import parse_amounts
from landuse.tables import row_numbers
from landuse.validate import standardize_fields

__all__ = [
    "EVENTS",
    "IMPORT_ALIASES",
    "METHODS",
    "TABLE",
    "Ledger",
    "read_ledger_file",
]

TABLE = "idle_ledger"

#: Event → meaning.  处置完成 ends a parcel's idle status; 撤销 withdraws a row.
EVENTS: dict[str, str] = {
    "认定闲置": "identified as idle land",
    "调查通知": "investigation notice served",
    "认定书": "idle-land determination issued",
    "公示": "public notice",
    "处置决定": "disposal decision",
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
}

_GUARDS = f"""
CREATE TRIGGER IF NOT EXISTS {TABLE}_no_update BEFORE UPDATE ON {TABLE}
BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: add a correction row instead'); END;
CREATE TRIGGER IF NOT EXISTS {TABLE}_no_delete BEFORE DELETE ON {TABLE}
BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: add a 撤销 row instead'); END;
CREATE INDEX IF NOT EXISTS {TABLE}_parcel ON {TABLE}(parcel_id);
"""


def read_ledger_file(path: str | Path, *, sheet: str | int | None = None) -> pd.DataFrame:
    """Read and check an import file (CSV or Excel) of ledger rows.

    Columns (Chinese headers as in the template): 地块编号, 事项, 处置方式, 日期,
    面积（亩）, 金额（万元）, 备注, 更正编号.  Every problem in the file is
    reported in one error with its row number as Excel shows it.

    Returns
    -------
    DataFrame
        Canonical columns ready for :meth:`Ledger.append`.
    """
    raw = read_table(path, sheet=sheet)
    return _checked(raw, source=str(path))


def _checked(raw: pd.DataFrame, *, source: str) -> pd.DataFrame:
    df = standardize_fields(raw, IMPORT_ALIASES, layer_name="ledger import")
    df.index = row_numbers(df)  # rows as Excel shows them (read_table's index, else header = 1)
    missing = [c for c in ("parcel_id", "event", "event_date") if c not in df.columns]
    if missing:
        raise SchemaError(
            f"{source}: missing column(s) {', '.join(missing)}; the import needs "
            "地块编号, 事项 and 日期 (see the README for the template)."
        )
    for col in ("method", "note", "area_mu", "amount_wan", "corrects"):
        if col not in df.columns:
            df[col] = None
    text = {
        c: df[c].astype("string").str.strip().fillna("")
        for c in ("parcel_id", "event", "method", "note")
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
        dates = area = amount = None
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
        }
    ).reset_index(drop=True)


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
    ...                          "event_date": ["2024-03-02"], "area_mu": [15.0]}), source="doc")
    1
    >>> led.entries()["event"].tolist()
    ['认定闲置']
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

    def _has_table(self) -> bool:
        if not self.path.exists():
            return False
        with closing(self._connect()) as con:
            row = con.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (TABLE,)
            ).fetchone()
        return row is not None

    def _create(self) -> None:
        empty = pd.DataFrame({c: pd.Series(dtype=t) for c, t in _COLUMNS.items()})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        pyogrio.write_dataframe(empty, self.path, layer=TABLE, driver="GPKG")
        with closing(self._connect()) as con:
            con.executescript(_GUARDS)

    def append(
        self,
        rows: pd.DataFrame,
        *,
        source: str,
        on_row: Callable[[int], None] | None = None,
    ) -> int:
        """Append rows in one transaction; all or nothing.

        Parameters
        ----------
        rows : DataFrame
            Canonical columns (``parcel_id``, ``event``, ``event_date`` and
            optionally ``method``, ``area_mu``, ``amount_wan``, ``note``,
            ``corrects``), e.g. from :func:`read_ledger_file`.
        source : str
            What the rows came from (file name); recorded with a content hash
            in the ``batch`` column.
        on_row : callable, optional
            Called with the number of rows written so far (progress display).

        Returns
        -------
        int
            Number of rows appended.

        Raises
        ------
        SchemaError
            A row is invalid, or a correction names an entry that does not exist.
        """
        checked = _checked(rows, source=source)
        digest = hashlib.sha256(checked.to_csv(index=False).encode("utf-8")).hexdigest()[:12]
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        batch = f"{source} sha256:{digest} {now}"
        plain = checked.astype(object).where(checked.notna(), None)
        records = [(*row, batch, now) for row in plain.itertuples(index=False, name=None)]
        sql = (
            f"INSERT INTO {TABLE} (parcel_id, event, method, event_date, area_mu, amount_wan, "
            "note, corrects, batch, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        with closing(self._connect()) as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                targets = {int(r[7]) for r in records if r[7] is not None}  # corrects
                if targets:
                    known = {
                        row[0]
                        for row in con.execute(
                            f"SELECT fid FROM {TABLE} WHERE fid IN "
                            f"({','.join('?' * len(targets))})",
                            sorted(targets),
                        )
                    }
                    unknown = sorted(targets - known)
                    if unknown:
                        raise SchemaError(
                            f"{source}: 更正编号 {', '.join(map(str, unknown))} do not exist "
                            "in the ledger; nothing imported."
                        )
                step = max(1, len(records) // 100)
                for start in range(0, len(records), step):
                    con.executemany(sql, records[start : start + step])
                    if on_row:
                        on_row(min(start + step, len(records)))
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return len(records)

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
        df["corrects"] = df["corrects"].astype("Int64")
        if effective:
            superseded = set(df["corrects"].dropna().astype(int))
            df = df[~df["entry_id"].isin(superseded) & (df["event"] != "撤销")]
        return df.reset_index(drop=True)

    def history(self, parcel_id: str) -> pd.DataFrame:
        """Every row about one parcel, corrections included, in order of entry."""
        df = self.entries()
        return df[df["parcel_id"] == str(parcel_id)].reset_index(drop=True)

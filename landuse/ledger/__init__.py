"""Idle-land disposal ledger (闲置土地处置台账): append-only, transactional, hash-chained.

The ledger is the table ``idle_ledger``, kept either in a GeoPackage (an SQLite
file any GIS opens; :mod:`landuse.ledger.gpkg`) or in a shared PostGIS database
where several staff record at once (``postgresql://user@host/db?table=…``;
:mod:`landuse.ledger.postgis`).  Both behave the same — same rows, same hashes,
same checks, same messages — because what a ledger means lives in one core
(:mod:`landuse.ledger.core`) and a storage only runs its SQL.

Each row is one event of one parcel: identified as idle (认定闲置), a step of the
procedure of Order No. 53 (发现疑似闲置, 调查通知, 认定书, 公示, 听证告知, 处置决定,
决定书送达, 缴纳闲置费, 交回土地, 注销登记) or the disposal completed (处置完成)
with its method, and the document number (文号, ``doc_no``) of the notice or
decision the row records.  Rows are never changed or deleted — triggers refuse
it, and in the database the writer role has no UPDATE or DELETE right either —
so a mistake is fixed by a new row that ``corrects`` the old one (撤销
withdraws it); the full history stays.

Imports are all-or-nothing: every row is checked first (all problems reported
together, parcel ids against the project's parcels), then inserted in one
transaction that starts by taking the ledger's write lock, so a killed import
leaves the ledger exactly as it was and concurrent writers queue, each
chaining onto the one before.  Content already in the ledger (same SHA-256,
recorded in ``batch``) is refused.

Triggers can be dropped by whoever owns the file or the table, so every row
also carries ``row_hash``, chained to the row before it::

    row_hash = sha256(previous row_hash + canonical row).hexdigest()

where the previous ``row_hash`` is ``""`` for the first row and the canonical
row is the JSON array ``[fid, parcel_id, event, method, event_date, area_mu,
amount_wan, note, corrects, batch, recorded_at, doc_no]`` written by
``json.dumps(values, ensure_ascii=False, separators=(",", ":"))`` and encoded
as UTF-8 (NULL is ``null``, areas and amounts are floats such as ``15.0``, fid
and corrects integers).  Columns added after the first eleven (``doc_no``)
are left out of the array while they are NULL at its end, so rows hashed
before those columns existed keep their hash and a ledger only gains the
column (``ALTER TABLE``) when it is upgraded.  The head table
``idle_ledger_head`` holds the row count and last hash, advanced in the same
transaction, so removing the last rows shows too.  :meth:`Ledger.verify`
checks all of it.  Limit: SHA-256 has no key, so someone who rewrites rows
*and* recomputes every later hash and the head goes unnoticed; keep the head
hash that ``verify`` prints outside the ledger (e.g. in the minutes) to catch
that.

A GeoPackage ledger written by an older landuse (no ``row_hash``) is upgraded
on its first write: the rows as they are then are hashed and the head records
how many, so the chain vouches for them only from that day.
"""

from landuse.ledger.core import (
    EVENTS,
    HASHED_COLUMNS,
    HEAD_TABLE,
    IMPORT_ALIASES,
    METHODS,
    TABLE,
    BrokenRow,
    Ledger,
    VerifyReport,
    named_ledger,
    read_ledger_file,
)

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
    "named_ledger",
    "read_ledger_file",
]

"""The idle-land ledger in PostGIS, against a real server (tests/pg_server).

The GeoPackage ledger's behaviour is tested in test_ledger.py; here: the
database's own guards (triggers, the insert-only role), transactions killed on
the client, writers queueing, and the same rows, hashes and messages as the
GeoPackage ledger.
"""

import csv
import filecmp
import hashlib
import json
import subprocess
import sys
import textwrap
import time

import pandas as pd
import psycopg
import pytest
from click.testing import CliRunner

from landuse.cli import main
from landuse.core.config import layers_dir
from landuse.core.errors import LayerNotFoundError, LedgerError
from landuse.ledger import BrokenRow, Ledger, core
from landuse.ledger.postgis import init_database

from . import pg_server
from .test_ledger import add, rows

CLERK_PASSWORD = "clerk-pw-9"
SAMPLE_CSV = layers_dir() / "xingbin_sample_ledger.csv"


@pytest.fixture
def pg_ledger(postgis_url, request):
    """A fresh ledger table ``ledger.<test>`` set up by its owner, and a clerk's login.

    Returns (owner URL, clerk URL) with ``?table=``, and the two plain connection URLs.
    """
    name = "t_" + hashlib.sha256(request.node.name.encode()).hexdigest()[:10]
    owner = f"{postgis_url}?table=ledger.{name}"
    assert init_database(owner) == f"{name}_writer"
    with psycopg.connect(postgis_url, autocommit=True) as con:
        con.execute(
            f"CREATE ROLE {name}_clerk LOGIN PASSWORD '{CLERK_PASSWORD}' IN ROLE {name}_writer"
        )
    clerk_url = postgis_url.replace(
        f"postgres:{pg_server.PASSWORD}", f"{name}_clerk:{CLERK_PASSWORD}"
    )
    return owner, f"{clerk_url}?table=ledger.{name}", postgis_url, clerk_url


def _no_password(text):
    assert pg_server.PASSWORD not in text and CLERK_PASSWORD not in text


# --- the database's guards --------------------------------------------------------------------


def test_writer_may_only_insert_and_the_owner_is_stopped_by_the_triggers(pg_ledger):
    owner, clerk, owner_dsn, clerk_dsn = pg_ledger
    table = owner.rsplit("=", 1)[1]
    led = Ledger(clerk)
    assert add(led, rows(2), "a.csv") == 2
    head = f"{table}_head"
    with psycopg.connect(clerk_dsn, autocommit=True) as con:
        # The grants: no UPDATE, DELETE or TRUNCATE on either table.
        for sql in (
            f"UPDATE {table} SET area_mu = 1",
            f"DELETE FROM {table}",
            f"TRUNCATE {table}",
            f"UPDATE {head} SET row_count = 0",
            f"DELETE FROM {head}",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                con.execute(sql)
        privileges = con.execute(
            "SELECT has_table_privilege(%s, 'INSERT'), has_table_privilege(%s, 'SELECT'), "
            "has_table_privilege(%s, 'UPDATE'), has_table_privilege(%s, 'DELETE')",
            [table] * 4,
        ).fetchone()
        assert privileges == (True, True, False, False)
    # The owner (here a superuser) has every right; the triggers still refuse.
    name = table.split(".")[1]
    with psycopg.connect(owner_dsn, autocommit=True) as con:
        for sql, message in (
            (f"UPDATE {table} SET area_mu = 1", f"{name} is append-only: add a correction row"),
            (f"DELETE FROM {table} WHERE fid = 2", f"{name} is append-only: add a 撤销 row"),
            (f"TRUNCATE {table}", f"{name} is append-only: add a 撤销 row"),
            (f"DELETE FROM {head}", f"{name}_head is append-only: each import adds a row"),
        ):
            with pytest.raises(psycopg.errors.RaiseException, match=message):
                con.execute(sql)
    report = led.verify()
    assert report.ok and report.rows == 2 and report.head_rows == 2
    # A role not in the writer role may read nothing and write nothing: one line, the fix.
    with psycopg.connect(owner_dsn, autocommit=True) as con:
        con.execute(f"CREATE ROLE {name}_visitor LOGIN PASSWORD '{CLERK_PASSWORD}'")
    visitor = clerk.replace(f"{name}_clerk:", f"{name}_visitor:")
    with pytest.raises(LedgerError) as err:
        add(Ledger(visitor), rows(1, parcel="V"), "v.csv")
    msg = str(err.value)
    assert "无权写入台账" in msg and f"GRANT {name}_writer TO your login" in msg
    assert "\n" not in msg and f"{name}_visitor:***@" in msg
    _no_password(msg)


def test_init_db_prints_its_sql_and_names_the_writer_role(pg_ledger, postgis_url):
    owner, clerk, *_ = pg_ledger
    runner = CliRunner()
    result = runner.invoke(main, ["ledger", "init-db", "--ledger", owner, "--sql"])
    assert result.exit_code == 0, result.output
    name = owner.rsplit(".", 1)[1]
    sql = result.output
    assert (
        f'GRANT SELECT, INSERT ON "ledger"."{name}", "ledger"."{name}_head" TO "{name}_writer"'
        in sql
    )
    assert sql.count("FOR EACH STATEMENT EXECUTE FUNCTION") == 6  # 3 events x 2 tables
    _no_password(sql)
    # Running it again repairs and changes nothing else (the rows stay).
    add(Ledger(clerk), rows(1), "a.csv")
    result = runner.invoke(main, ["ledger", "init-db", "--ledger", owner])
    assert result.exit_code == 0, result.output
    assert f"角色 {name}_writer 仅可查询和追加" in result.output
    _no_password(result.output)
    assert len(Ledger(clerk).entries()) == 1 and Ledger(clerk).verify().ok
    # A GeoPackage path is not for init-db; a table that was not set up is named with the fix.
    result = runner.invoke(main, ["ledger", "init-db", "--ledger", "台账.gpkg"])
    assert result.exit_code == 2 and "first `landuse ledger import`" in result.output
    with pytest.raises(LayerNotFoundError) as err:
        Ledger(f"{postgis_url}?table=ledger.nothing_here")
    msg = str(err.value)
    assert "no ledger table ledger.nothing_here" in msg and "landuse ledger init-db --ledger" in msg
    _no_password(msg)


def _tamper(owner_dsn, table, trigger, sql):
    """As a superuser: disable an append-only trigger and change the ledger behind it."""
    with psycopg.connect(owner_dsn, autocommit=True) as con:
        con.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        con.execute(sql)


@pytest.mark.parametrize(
    ("trigger", "sql", "broken", "n_rows"),
    [
        # The same cases, with the same findings, as the GeoPackage ledger (test_ledger.py).
        ("no_update", "UPDATE {t} SET area_mu = 1.5 WHERE fid = 2", (BrokenRow(2, "changed"),), 5),
        (
            "no_delete",
            "DELETE FROM {t} WHERE fid = 3",
            (BrokenRow(4, "removed_before", (3, 3)),),
            4,
        ),
        ("no_delete", "DELETE FROM {t} WHERE fid = 5", (), 4),
    ],
    ids=["modified", "middle-deleted", "last-deleted"],
)
def test_superuser_tampering_is_detected(pg_ledger, trigger, sql, broken, n_rows):
    owner, clerk, owner_dsn, _ = pg_ledger
    table = owner.rsplit("=", 1)[1]
    name = table.split(".")[1]
    led = Ledger(clerk)
    add(led, rows(3), "a.csv")
    add(led, rows(2, start=3), "b.csv")
    _tamper(owner_dsn, table, f"{name}_{trigger}", sql.format(t=table))
    report = led.verify()
    assert report.missing_triggers == (f"{name}_{trigger}",)  # disabled
    assert report.broken == broken and report.rows == n_rows
    assert report.head_rows == 5 and report.head_ok == (n_rows == 5) and not report.ok
    result = CliRunner().invoke(main, ["ledger", "verify", "--ledger", clerk])
    assert result.exit_code == 2
    out = result.output
    assert (
        f"✗ 只增触发器 append-only triggers: 缺失或被改 missing or altered: {name}_{trigger}" in out
    )
    assert "--ledger postgresql://postgres@127.0.0.1:" in out  # the owner's fix, no password
    assert ("✗ 哈希链" in out) == bool(broken) and ("✗ 链尾" in out) == (n_rows != 5)
    _no_password(out)
    # Re-enabled, the triggers pass, and the chain still shows what happened meanwhile.
    with psycopg.connect(owner_dsn, autocommit=True) as con:
        con.execute(f"ALTER TABLE {table} ENABLE TRIGGER {name}_{trigger}")
    report = led.verify()
    assert not report.missing_triggers and report.broken == broken
    if n_rows != 5:  # writing on after the last rows vanished would hide it
        with pytest.raises(LedgerError, match="head record"):
            add(led, rows(1, parcel="N"), "c.csv")
        assert len(led.entries()) == n_rows


def test_update_granted_to_a_role_is_reported(pg_ledger):
    owner, clerk, owner_dsn, _ = pg_ledger
    table = owner.rsplit("=", 1)[1]
    name = table.split(".")[1]
    with psycopg.connect(owner_dsn, autocommit=True) as con:
        con.execute(f"GRANT UPDATE, TRUNCATE ON {table} TO {name}_writer")
    report = Ledger(clerk).verify()
    assert report.missing_triggers == (
        f"{name}: TRUNCATE 授予 granted to {name}_writer",
        f"{name}: UPDATE 授予 granted to {name}_writer",
    )
    init_database(owner)  # the repair takes the grants back
    assert Ledger(clerk).verify().ok


# --- transactions, queueing -------------------------------------------------------------------

IMPORT = textwrap.dedent(
    """
    import pathlib, sys, time
    import pandas as pd
    from landuse.ledger import Ledger

    url, tag, n, marker, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
    rows = pd.DataFrame({"parcel_id": [f"{tag}{i}" for i in range(n)], "event": "认定闲置",
                         "event_date": "2024-03-02", "area_mu": 1.0})

    def hold(done):
        # Half the rows are in the open transaction: tell the test, then wait for `go`.
        if marker and done >= n // 2 and not pathlib.Path(marker).exists():
            pathlib.Path(marker).touch()
            while not pathlib.Path(go).exists():
                time.sleep(0.05)

    Ledger(url).append(rows, source=f"{tag}.csv", parcel_ids=None, on_row=hold)
    """
)


def _start(url, tag, n, marker="", go=""):
    args = [sys.executable, "-c", IMPORT, url, tag, str(n), str(marker), str(go)]
    return subprocess.Popen(args, stderr=subprocess.PIPE, text=True)


def _wait_for(what, timeout=60):
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _one(dsn, sql, params=()):
    with psycopg.connect(dsn, autocommit=True) as con:
        return con.execute(sql, params).fetchone()[0]


def test_killed_import_leaves_no_partial_rows(pg_ledger, tmp_path):
    owner, clerk, owner_dsn, _ = pg_ledger
    clerk_role = owner.rsplit(".", 1)[1] + "_clerk"
    led = Ledger(clerk)
    add(led, rows(3), "before")
    marker = tmp_path / "half-written"
    proc = _start(clerk, "K", 500, marker, tmp_path / "never")
    _wait_for(lambda: marker.exists() or proc.poll() is not None)
    assert proc.poll() is None, proc.stderr.read()
    # 250 rows sit in the clerk's open transaction, invisible to everyone else.
    in_transaction = "SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND state = %s"
    assert _one(owner_dsn, in_transaction, (clerk_role, "idle in transaction")) == 1
    assert len(led.entries()) == 3
    proc.kill()  # SIGKILL: no chance to roll back on the client
    assert proc.wait() == -9
    proc.stderr.close()
    # The server notices the lost connection and rolls the transaction back.
    _wait_for(lambda: _one(owner_dsn, in_transaction, (clerk_role, "idle in transaction")) == 0)
    after = led.entries()
    assert after["parcel_id"].tolist() == ["P0", "P1", "P2"]
    assert led.verify().ok
    add(led, rows(2, start=3), "after")  # the lock was released; fids go on from 4
    assert led.entries()["entry_id"].tolist() == [1, 2, 3, 4, 5]
    assert led.verify().ok


def test_second_writer_waits_then_chains_on_the_first(pg_ledger, tmp_path):
    _, clerk, owner_dsn, _ = pg_ledger
    marker, go = tmp_path / "a-holds", tmp_path / "go"
    first = _start(clerk, "甲", 40, marker, go)
    _wait_for(lambda: marker.exists() or first.poll() is not None)
    assert first.poll() is None, first.stderr.read()
    second = _start(clerk, "乙", 30)
    waiting = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    _wait_for(lambda: _one(owner_dsn, waiting) == 1 or second.poll() is not None)
    assert second.poll() is None  # queued behind the first writer's lock
    go.touch()
    for proc in (first, second):
        assert proc.wait(120) == 0, proc.stderr.read()
        proc.stderr.close()
    df = Ledger(clerk).entries()
    # 40 rows of the first import (entries 1-40), then the 30 of the second (41-70).
    assert df["entry_id"].tolist() == list(range(1, 71))
    assert df["parcel_id"].str[0].tolist() == ["甲"] * 40 + ["乙"] * 30
    report = Ledger(clerk).verify()  # entry 41's link is built on entry 40's hash
    assert report.ok and report.head_rows == 70


WRITER = textwrap.dedent(
    """
    import sys
    import pandas as pd
    from landuse.ledger import Ledger

    url, tag = sys.argv[1], sys.argv[2]
    for batch in range(6):
        rows = pd.DataFrame({"parcel_id": [f"{tag}{batch}-{i}" for i in range(5)],
                             "event": "认定闲置", "event_date": "2024-03-02"})
        Ledger(url).append(rows, source=f"{tag}{batch}", parcel_ids=None)
    """
)


def test_concurrent_writers_land_serialised(pg_ledger):
    _, clerk, *_ = pg_ledger
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, clerk, tag], stderr=subprocess.PIPE)
        for tag in ("甲", "乙")
    ]
    for proc in procs:
        assert proc.wait(120) == 0, proc.stderr.read()
        proc.stderr.close()
    df = Ledger(clerk).entries()
    assert len(df) == 2 * 6 * 5 and df["entry_id"].tolist() == list(range(1, 61))
    # Each import is one transaction: its rows are consecutive entries.
    spans = df.groupby("batch")["entry_id"].agg(["min", "max", "count"])
    assert len(spans) == 12 and ((spans["max"] - spans["min"] + 1) == spans["count"]).all()
    report = Ledger(clerk).verify()
    assert report.ok and report.head_rows == 60


# --- the same ledger in both storages ---------------------------------------------------------


def _project(tmp_path, name, ledger):
    """The sample's project file with ``[idle] ledger`` naming ``ledger``."""
    text = (layers_dir() / "xingbin_sample.toml").read_text(encoding="utf-8")
    text = text.replace('"xingbin_sample', f'"{layers_dir()}/xingbin_sample')
    text = text.replace(
        f'ledger_import = "{layers_dir()}/xingbin_sample_ledger.csv"', f'ledger = "{ledger}"'
    )
    assert f'ledger = "{ledger}"' in text
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_sample_ledger_is_the_same_in_a_geopackage_and_in_postgis(pg_ledger, tmp_path, monkeypatch):
    _, clerk, *_ = pg_ledger
    monkeypatch.setattr(core, "_now", lambda: "2025-01-02T03:04:05Z")  # one batch time for both
    gpkg = str(tmp_path / "台账.gpkg")
    runner = CliRunner()
    projects = {t: _project(tmp_path, n, t) for n, t in (("file", gpkg), ("db", clerk))}
    out = {}
    for target in (gpkg, clerk):
        project = str(projects[target])
        out[target] = [
            runner.invoke(main, ["ledger", "import", str(SAMPLE_CSV), "--project", project]),
            runner.invoke(main, ["ledger", "verify", "--project", project]),
            runner.invoke(main, ["ledger", "history", "4513020000039", "--ledger", target]),
            runner.invoke(
                main, ["rates", "--project", project, "--out", str(tmp_path / f"rates{len(out)}")]
            ),
        ]
        for result in out[target]:
            assert result.exit_code == 0, result.output
    with SAMPLE_CSV.open(encoding="utf-8-sig", newline="") as f:
        n_rows = sum(1 for _ in csv.reader(f)) - 1  # every line but the header
    assert n_rows == 2097
    a, b = Ledger(gpkg).entries(), Ledger(clerk).entries()
    pd.testing.assert_frame_equal(a, b)  # same rows, same types, same hashes
    assert len(a) == n_rows
    # The first row's link by hand: the CSV's first line, the batch as documented, no 文号.
    digest = hashlib.sha256(SAMPLE_CSV.read_bytes()).hexdigest()
    at = "2025-01-02T03:04:05Z"
    first = [1, "4513020000039", "发现疑似闲置", None, "2013-12-05", None, None, "示例数据", None]
    first += [f"xingbin_sample_ledger.csv sha256:{digest} {at}", at]
    text = json.dumps(first, ensure_ascii=False, separators=(",", ":"))
    assert b["row_hash"].iloc[0] == hashlib.sha256(text.encode("utf-8")).hexdigest()
    imported, verified, history, _ = out[gpkg]
    imported_db, verified_db, history_db, _ = out[clerk]
    assert imported.output.replace(gpkg, "L") == imported_db.output.replace(
        clerk.replace(CLERK_PASSWORD, "***"), "L"
    )
    assert f"已导入 Imported {n_rows} 条记录" in imported.output
    # verify: the location and the storage's own check differ, the ledger's checks do not.
    lines, lines_db = verified.output.splitlines(), verified_db.output.splitlines()
    assert lines[1].startswith("  ✓ SQLite 完整性") and lines_db[1].startswith(
        "  ✓ PostgreSQL 表结构"
    )
    assert lines[2:] == lines_db[2:] and len(lines) == 5
    assert f"all {n_rows} rows match" in lines[3] and b["row_hash"].iloc[-1] in lines[4]
    assert history.output == history_db.output
    for name in ("disposal_rates.csv", "supply_rate.csv", "unsupplied_batches.csv"):
        assert filecmp.cmp(tmp_path / "rates0" / name, tmp_path / "rates1" / name, shallow=False)
    for result in out[clerk]:
        _no_password(result.output)

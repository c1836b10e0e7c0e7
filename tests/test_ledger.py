import hashlib
import json
import multiprocessing as mp
import sqlite3
import subprocess
import sys
import textwrap

import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner

from landuse.cli import main
from landuse.core.errors import LayerNotFoundError, LedgerError, SchemaError
from landuse.io import list_layers
from landuse.ledger import HEAD_TABLE, TABLE, BrokenRow, Ledger, read_ledger_file
from landuse.sample import get_path


def rows(n, parcel="P", event="认定闲置", start=0):
    return pd.DataFrame(
        {
            "parcel_id": [f"{parcel}{i}" for i in range(start, start + n)],
            "event": event,
            "event_date": "2024-03-02",
            "area_mu": 15.0,
        }
    )


def add(led, df, source):
    """Append with the rows' own ids as the project's parcels."""
    return led.append(df, source=source, parcel_ids=df["parcel_id"])


def test_import_file_with_chinese_headers(tmp_path):
    csv = tmp_path / "台账.csv"
    csv.write_text(
        "地块编号,事项,处置方式,日期,面积（亩）,金额（万元）,备注\n"
        "A1,认定闲置,,2024年3月2日,15,,\n"
        "A1,处置决定,征缴闲置费,2024/5/1,,20,\n"
        "A1,处置完成,征缴闲置费,2024.8.1,15,20,已缴清\n",
        encoding="utf-8-sig",
    )
    led = Ledger(tmp_path / "ledger.gpkg")
    assert led.append(read_ledger_file(csv), source=csv.name, parcel_ids=["A1", "A2"]) == 3
    hist = led.history("A1")
    assert hist["event"].tolist() == ["认定闲置", "处置决定", "处置完成"]
    assert hist["event_date"].tolist() == ["2024-03-02", "2024-05-01", "2024-08-01"]
    assert hist["amount_wan"].tolist()[1:] == [20.0, 20.0]
    assert hist["batch"].str.startswith("台账.csv sha256:").all()
    # It is a GeoPackage table any GIS can open.
    assert TABLE in list_layers(led.path)["name"].tolist()


def test_bad_file_imports_nothing_and_lists_rows(tmp_path):
    led = Ledger(tmp_path / "l.gpkg")
    bad = pd.DataFrame(
        {
            "地块编号": ["A1", "", "A3", "A4"],
            "事项": ["认定闲置", "认定闲置", "处置完成", "检查"],
            "处置方式": ["", "", "拍卖了", ""],
            "日期": ["2024-03-02", "2024-03-02", "2024-03-02", "2024-03-02"],
        }
    )
    with pytest.raises(SchemaError) as err:
        led.append(bad, source="bad.xlsx", parcel_ids=None)
    msg = str(err.value)
    assert "nothing imported" in msg
    assert "地块编号 is empty (rows 3)" in msg  # spreadsheet row numbers: header is row 1
    assert "处置方式 must be one of" in msg and "(rows 4)" in msg
    assert "事项 must be one of" in msg and "(rows 5)" in msg
    assert led.entries().empty


def test_append_only_and_corrections(tmp_path):
    led = Ledger(tmp_path / "l.gpkg")
    add(led, rows(2), "a")
    with (
        sqlite3.connect(led.path) as con,
        pytest.raises(sqlite3.DatabaseError, match="append-only"),
    ):
        con.execute(f"UPDATE {TABLE} SET area_mu = 1")
    with (
        sqlite3.connect(led.path) as con,
        pytest.raises(sqlite3.DatabaseError, match="append-only"),
    ):
        con.execute(f"DELETE FROM {TABLE}")
    # Correct entry 1 (wrong area) and withdraw entry 2.
    fix = pd.DataFrame(
        {
            "parcel_id": ["P0", "P1"],
            "event": ["认定闲置", "撤销"],
            "event_date": ["2024-03-02", "2024-04-01"],
            "area_mu": [12.5, None],
            "corrects": [1, 2],
            "note": ["面积更正", "误录"],
        }
    )
    add(led, fix, "fix")
    full = led.entries()
    assert full["entry_id"].tolist() == [1, 2, 3, 4]  # nothing lost
    effective = led.entries(effective=True)
    assert effective["entry_id"].tolist() == [3]
    assert effective["area_mu"].tolist() == [12.5]
    assert led.history("P1")["event"].tolist() == ["认定闲置", "撤销"]
    with pytest.raises(SchemaError, match="更正编号 99 do not exist"):
        add(led, fix.assign(corrects=[99, 2]), "fix2")
    assert len(led.entries()) == 4
    with pytest.raises(LayerNotFoundError):
        Ledger(tmp_path / "none.gpkg", create=False)


KILLED_IMPORT = textwrap.dedent(
    """
    import os, signal, sys
    import pandas as pd
    from landuse.ledger import Ledger

    led = Ledger(sys.argv[1])
    rows = pd.DataFrame({"parcel_id": [f"K{i}" for i in range(500)], "event": "认定闲置",
                         "event_date": "2024-03-02", "area_mu": 1.0})

    def die(done):
        if done >= 250:  # half the rows are in the open transaction
            os.kill(os.getpid(), signal.SIGKILL)

    led.append(rows, source="big.csv", parcel_ids=None, on_row=die)
    """
)


def test_killed_import_leaves_ledger_as_it_was(tmp_path):
    path = tmp_path / "l.gpkg"
    led = Ledger(path)
    add(led, rows(3), "before")
    done = subprocess.run([sys.executable, "-c", KILLED_IMPORT, str(path)], check=False)
    assert done.returncode == -9  # really killed mid-import
    after = Ledger(path).entries()
    assert after["parcel_id"].tolist() == ["P0", "P1", "P2"]
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    add(led, rows(2, start=3), "after")  # still writable
    assert len(Ledger(path).entries()) == 5
    assert led.verify().ok


def _writer(path, tag):
    led = Ledger(path)
    for batch in range(25):
        add(led, rows(8, parcel=f"{tag}{batch}-"), f"{tag}{batch}")


def test_concurrent_writers_do_not_corrupt(tmp_path):
    path = tmp_path / "l.gpkg"
    Ledger(path)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, tag)) for tag in ("甲", "乙")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    df = Ledger(path).entries()
    assert len(df) == 2 * 25 * 8 and df["entry_id"].is_unique
    # Each import is one transaction: its rows are consecutive entries.
    spans = df.groupby("batch")["entry_id"].agg(["min", "max", "count"])
    assert ((spans["max"] - spans["min"] + 1) == spans["count"]).all()
    report = Ledger(path).verify()  # the chain holds across interleaved writers
    assert report.ok and report.head_rows == 400


# --- duplicate imports, parcel ids ------------------------------------------------------------


def _file_sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_file_twice_is_refused_naming_the_earlier_batch(tmp_path):
    csv = tmp_path / "台账.csv"
    csv.write_text("地块编号,事项,日期,面积（亩）\nA1,认定闲置,2024-03-02,15\n", encoding="utf-8")
    led = Ledger(tmp_path / "l.gpkg")
    led.append(
        read_ledger_file(csv), source=csv.name, parcel_ids=["A1"], content_sha256=_file_sha(csv)
    )
    recorded = led.entries()["recorded_at"].iloc[0]
    # The same bytes under another name are still the same content.
    again = tmp_path / "台账-副本.csv"
    again.write_bytes(csv.read_bytes())
    with pytest.raises(LedgerError) as err:
        led.append(
            read_ledger_file(again),
            source=again.name,
            parcel_ids=["A1"],
            content_sha256=_file_sha(again),
        )
    msg = str(err.value)
    assert "\n" not in msg and "already imported" in msg and "nothing imported" in msg
    assert f"batch '台账.csv' recorded {recorded} (entries 1–1)" in msg
    assert len(led.entries()) == 1
    # Different bytes are different content: the raw file identifies it.
    csv.write_text("地块编号,事项,日期,面积（亩）\nA1,公示,2024-04-01,\n", encoding="utf-8")
    led.append(
        read_ledger_file(csv), source=csv.name, parcel_ids=["A1"], content_sha256=_file_sha(csv)
    )
    assert len(led.entries()) == 2


def test_unknown_parcel_ids_are_listed_and_nothing_imported(tmp_path):
    led = Ledger(tmp_path / "l.gpkg")
    add(led, rows(1, parcel="A"), "first")
    project = [f"A{i}" for i in range(10)]
    bad = pd.concat([rows(5, parcel="A"), rows(60, parcel="Z"), rows(2, parcel="Z")])
    with pytest.raises(SchemaError) as err:
        led.append(bad, source="new.csv", parcel_ids=project)
    msg = str(err.value)
    # 60 distinct unknown ids (Z0..Z59) on 62 rows; the first 50 are shown, with the count.
    assert msg.startswith("new.csv: 60 个地块编号不在项目地块中")
    assert "(62 rows): Z0, Z1, Z2" in msg and "Z49 … (first 50 of 60)" in msg
    assert "Z50" not in msg and "A3" not in msg and "nothing imported" in msg
    assert len(led.entries()) == 1
    # Without the check the batch says so.
    led.append(rows(1, parcel="Z"), source="unchecked.csv", parcel_ids=None)
    assert led.entries()["batch"].iloc[-1].endswith(" 地块编号未核对")


# --- hash chain and verify ----------------------------------------------------------------------


def _tamper(path, *sql):
    """Drop the append-only triggers, as anyone with sqlite3 can, and run ``sql``."""
    with sqlite3.connect(path) as con:
        con.execute(f"DROP TRIGGER {TABLE}_no_update")
        con.execute(f"DROP TRIGGER {TABLE}_no_delete")
        for statement in sql:
            con.execute(statement)
    con.close()


def test_row_hash_follows_the_documented_serialization(tmp_path):
    led = Ledger(tmp_path / "l.gpkg")
    df = pd.DataFrame(
        {
            "parcel_id": ["A1", "A1"],
            "event": ["认定闲置", "处置决定"],
            "method": [None, "征缴闲置费"],
            "event_date": ["2024-03-02", "2024-05-01"],
            "area_mu": [15.0, None],
            "amount_wan": [None, 20.5],
        }
    )
    add(led, df, "a.csv")
    with sqlite3.connect(led.path) as con:
        batch, at = con.execute(f"SELECT batch, recorded_at FROM {TABLE} WHERE fid = 1").fetchone()
        stored = [r[0] for r in con.execute(f"SELECT row_hash FROM {TABLE} ORDER BY fid")]
        head = con.execute(f"SELECT row_count, last_hash FROM {HEAD_TABLE}").fetchone()
    con.close()
    # [fid, parcel_id, event, method, event_date, area_mu, amount_wan, note, corrects, batch,
    #  recorded_at] as compact JSON, UTF-8; each hash = sha256(previous hash + that text).
    tail = json.dumps([batch, at], ensure_ascii=False)[1:-1].replace(", ", ",")
    first = f'[1,"A1","认定闲置",null,"2024-03-02",15.0,null,null,null,{tail}]'
    second = f'[2,"A1","处置决定","征缴闲置费","2024-05-01",null,20.5,null,null,{tail}]'
    h1 = hashlib.sha256(first.encode("utf-8")).hexdigest()
    h2 = hashlib.sha256((h1 + second).encode("utf-8")).hexdigest()
    assert stored == [h1, h2]
    assert head == (2, h2)


def _five_rows(tmp_path):
    led = Ledger(tmp_path / "l.gpkg")
    add(led, rows(3), "a.csv")
    add(led, rows(2, start=3), "b.csv")
    return led


def test_clean_ledger_verifies(tmp_path):
    led = _five_rows(tmp_path)
    report = led.verify()
    assert report.ok and report.rows == 5 and report.head_rows == 5
    assert report.integrity == ("ok",) and not report.missing_triggers and not report.broken
    result = CliRunner().invoke(main, ["ledger", "verify", "--ledger", str(led.path)])
    assert result.exit_code == 0, result.output
    assert result.output.count("✓") == 4 and "✗" not in result.output
    assert report.last_hash in result.output  # to keep outside the file


@pytest.mark.parametrize(
    ("sql", "broken", "n_rows"),
    [
        # (a) one row modified: only its own link fails.
        (f"UPDATE {TABLE} SET area_mu = 1.5 WHERE fid = 2", (BrokenRow(2, "changed"),), 5),
        # (b) a middle row deleted: the next row's link fails and the gap is named.
        (f"DELETE FROM {TABLE} WHERE fid = 3", (BrokenRow(4, "removed_before", (3, 3)),), 4),
        # (b) the last row deleted: the chain is whole, only the head record shows it.
        (f"DELETE FROM {TABLE} WHERE fid = 5", (), 4),
    ],
    ids=["modified", "middle-deleted", "last-deleted"],
)
def test_tampering_is_detected(tmp_path, sql, broken, n_rows):
    led = _five_rows(tmp_path)
    _tamper(led.path, sql)
    report = led.verify()
    assert not report.ok
    assert report.missing_triggers == (f"{TABLE}_no_update", f"{TABLE}_no_delete")
    assert report.broken == broken and report.rows == n_rows
    assert report.head_rows == 5 and report.head_ok == (n_rows == 5)
    result = CliRunner().invoke(main, ["ledger", "verify", "--ledger", str(led.path)])
    assert result.exit_code == 2
    out = result.output
    assert "✗ 只增触发器" in out and out.strip().splitlines()[-1].startswith("错误 Error:")
    if broken:
        assert "✗ 哈希链" in out and broken[0].describe() in out
    else:
        assert "✓ 哈希链" in out
    assert ("✗ 链尾" in out) == (n_rows != 5)
    # Writing on after the last rows vanished would hide it: refused, nothing written.
    if n_rows != 5:
        with pytest.raises(LedgerError, match="head record"):
            add(led, rows(1, parcel="N"), "c.csv")
        assert len(led.entries()) == n_rows
    else:  # a changed row stays flagged after later imports (which restore the triggers)
        add(led, rows(1, parcel="N"), "c.csv")
        report = led.verify()
        assert report.broken == broken and not report.missing_triggers and report.head_ok


def test_rows_added_outside_landuse_and_a_dropped_head_are_reported(tmp_path):
    led = _five_rows(tmp_path)
    # Inserting needs no dropped trigger: a GIS or sqlite3 can add a row.
    with sqlite3.connect(led.path) as con:
        con.execute(f"INSERT INTO {TABLE} (parcel_id, event, event_date) VALUES ('Q', '公示', 'x')")
    con.close()
    report = led.verify()
    assert report.broken == (BrokenRow(6, "unhashed"),) and not report.head_ok
    with pytest.raises(LedgerError, match="5 rows recorded, 6 present"):
        add(led, rows(1, parcel="N"), "c.csv")
    with sqlite3.connect(led.path) as con:
        con.execute(f"DROP TABLE {HEAD_TABLE}")
    con.close()
    report = led.verify()
    assert report.head_rows is None and not report.ok
    result = CliRunner().invoke(main, ["ledger", "verify", "--ledger", str(led.path)])
    assert (
        result.exit_code == 2 and "✗ 链尾 head: 链尾记录缺失 head record missing" in result.output
    )


def test_dropped_triggers_alone_are_reported_and_restored_by_the_next_import(tmp_path):
    led = _five_rows(tmp_path)
    _tamper(led.path)
    report = led.verify()
    assert not report.ok and not report.broken and report.head_ok
    add(led, rows(1, parcel="N"), "c.csv")
    assert led.verify().ok
    with (
        sqlite3.connect(led.path) as con,
        pytest.raises(sqlite3.DatabaseError, match="append-only"),
    ):
        con.execute(f"DELETE FROM {TABLE}")


OLD_GUARDS = f"""
CREATE TRIGGER IF NOT EXISTS {TABLE}_no_update BEFORE UPDATE ON {TABLE}
BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: add a correction row instead'); END;
CREATE TRIGGER IF NOT EXISTS {TABLE}_no_delete BEFORE DELETE ON {TABLE}
BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: add a 撤销 row instead'); END;
"""


def _old_ledger(path, batch):
    """A ledger as the previous landuse wrote it: no row_hash, no head table."""
    columns = {
        "parcel_id": ["A1", "A2"],
        "event": "认定闲置",
        "method": None,
        "event_date": "2024-03-02",
        "area_mu": [15.0, 7.5],
        "amount_wan": float("nan"),
        "note": None,
        "corrects": pd.array([None, None], dtype="Int64"),
        "batch": batch,
        "recorded_at": "2024-03-05T01:00:00Z",
    }
    pyogrio.write_dataframe(pd.DataFrame(columns), path, layer=TABLE, driver="GPKG")
    with sqlite3.connect(path) as con:
        con.executescript(OLD_GUARDS)
    con.close()


def test_ledger_of_the_previous_version_is_upgraded_on_first_write(tmp_path):
    csv = tmp_path / "old.csv"
    csv.write_text("地块编号,事项,日期,面积（亩）\nA1,认定闲置,2024-03-02,15\n", encoding="utf-8")
    # The previous version's batch digest: 12 hex digits of the checked rows as CSV.
    legacy = hashlib.sha256(read_ledger_file(csv).to_csv(index=False).encode()).hexdigest()[:12]
    path = tmp_path / "old.gpkg"
    _old_ledger(path, f"old.csv sha256:{legacy} 2024-03-05T01:00:00Z")
    led = Ledger(path, create=False)
    report = led.verify()
    assert not report.chained and not report.ok
    result = CliRunner().invoke(main, ["ledger", "verify", "--ledger", str(path)])
    assert result.exit_code == 2 and "--upgrade" in result.output
    # Re-importing what the old version imported is refused too.
    with pytest.raises(LedgerError, match=r"batch 'old\.csv'"):
        led.append(
            read_ledger_file(csv),
            source="old.csv",
            parcel_ids=["A1"],
            content_sha256=_file_sha(csv),
        )
    assert not led.verify().chained  # the refused import changed nothing
    add(led, rows(1, parcel="N"), "new.csv")
    report = led.verify()
    assert report.ok and report.rows == 3 and report.upgraded_rows == 2
    # The two old rows were hashed as they were, starting the chain.
    with sqlite3.connect(path) as con:
        first = con.execute(
            f"SELECT batch, recorded_at, row_hash FROM {TABLE} WHERE fid = 1"
        ).fetchone()
    con.close()
    text = json.dumps(
        [1, "A1", "认定闲置", None, "2024-03-02", 15.0, None, None, None, *first[:2]],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    assert first[2] == hashlib.sha256(text.encode("utf-8")).hexdigest()
    result = CliRunner().invoke(main, ["ledger", "verify", "--ledger", str(path)])
    assert result.exit_code == 0 and "注 Note: 记录 1–2" in result.output


def test_cli_verify_upgrade_adds_the_chain(tmp_path):
    path = tmp_path / "old.gpkg"
    _old_ledger(path, "x.csv sha256:000000000000 2024-03-05T01:00:00Z")
    result = CliRunner().invoke(main, ["ledger", "verify", "--upgrade", "--ledger", str(path)])
    assert result.exit_code == 0, result.output
    assert "已升级 Upgraded: 2 条" in result.output and "✗" not in result.output


def test_verify_names_a_file_that_is_not_a_ledger(tmp_path):
    junk = tmp_path / "junk.gpkg"
    junk.write_bytes(b"not sqlite at all" * 100)
    result = CliRunner().invoke(main, ["ledger", "verify", "--ledger", str(junk)])
    assert result.exit_code == 2 and "junk.gpkg: not a readable GeoPackage" in result.output
    assert "Traceback" not in result.output


# --- CLI import ------------------------------------------------------------------------------


def test_cli_import_checks_ids_against_the_project_and_refuses_duplicates(tmp_path):
    runner = CliRunner()
    project = str(get_path("project"))
    ledger = str(tmp_path / "台账.gpkg")
    csv = tmp_path / "in.csv"
    csv.write_text(
        "地块编号,事项,日期\n4513020000039,公示,2025-01-02\n4513029999998,公示,2025-01-02\n"
        "4513029999999,公示,2025-01-02\n",
        encoding="utf-8",
    )
    result = runner.invoke(main, ["ledger", "import", str(csv), "--ledger", ledger])
    assert (
        result.exit_code == 2 and "--project" in result.output and "--no-id-check" in result.output
    )
    result = runner.invoke(
        main, ["ledger", "import", str(csv), "--project", project, "--ledger", ledger]
    )
    assert result.exit_code == 2
    assert "2 个地块编号不在项目地块中" in result.output
    assert "4513029999998, 4513029999999" in result.output
    assert Ledger(ledger).entries().empty
    csv.write_text("地块编号,事项,日期\n4513020000039,公示,2025-01-02\n", encoding="utf-8")
    args = ["ledger", "import", str(csv), "--project", project, "--ledger", ledger]
    assert runner.invoke(main, args).exit_code == 0
    result = runner.invoke(main, args)
    assert result.exit_code == 2 and "already imported" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert len(Ledger(ledger).entries()) == 1


def test_document_numbers_join_the_chain_only_when_given(tmp_path):
    csv = tmp_path / "台账.csv"
    csv.write_text(
        "地块编号,事项,处置方式,日期,面积（亩）,金额（万元）,文号\n"
        "A1,认定书,,2024-03-02,15,,兴自然资闲认〔2024〕1号\n"
        "A1,决定书送达,,2024-05-03,,,\n",
        encoding="utf-8-sig",
    )
    led = Ledger(tmp_path / "l.gpkg")
    led.append(read_ledger_file(csv), source=csv.name, parcel_ids=["A1"])
    hist = led.history("A1")
    assert hist["doc_no"].iloc[0] == "兴自然资闲认〔2024〕1号" and pd.isna(hist["doc_no"].iloc[1])
    with sqlite3.connect(led.path) as con:
        batch, at = con.execute(f"SELECT batch, recorded_at FROM {TABLE} WHERE fid = 1").fetchone()
        stored = [r[0] for r in con.execute(f"SELECT row_hash FROM {TABLE} ORDER BY fid")]
    con.close()
    # With a 文号 the array has twelve elements; without, the eleven of the first format.
    tail = json.dumps([batch, at], ensure_ascii=False)[1:-1].replace(", ", ",")
    first = (
        f'[1,"A1","认定书",null,"2024-03-02",15.0,null,null,null,{tail},"兴自然资闲认〔2024〕1号"]'
    )
    second = f'[2,"A1","决定书送达",null,"2024-05-03",null,null,null,null,{tail}]'
    h1 = hashlib.sha256(first.encode("utf-8")).hexdigest()
    assert stored == [h1, hashlib.sha256((h1 + second).encode("utf-8")).hexdigest()]
    assert led.verify().ok


def test_chained_ledger_without_the_document_column_is_upgraded(tmp_path):
    # A ledger as the version before 文号 wrote it: chained, no doc_no column.
    led = _five_rows(tmp_path)
    with sqlite3.connect(led.path) as con:
        con.execute(f"ALTER TABLE {TABLE} DROP COLUMN doc_no")
    con.close()
    assert led.verify().ok and led.entries()["doc_no"].isna().all()
    before = led.verify().last_hash
    df = rows(1, parcel="N").assign(event="处置决定", method="征缴闲置费", doc_no="闲决〔2025〕1号")
    add(led, df, "c.csv")
    report = led.verify()
    # The old rows' hashes still hold; the new row chains onto the old last hash.
    assert report.ok and report.rows == 6 and report.upgraded_rows == 0
    docs = led.entries()["doc_no"]
    assert docs.iloc[:5].isna().all() and docs.iloc[5] == "闲决〔2025〕1号"
    with sqlite3.connect(led.path) as con:
        assert con.execute(f"SELECT row_hash FROM {TABLE} WHERE fid = 5").fetchone()[0] == before
    con.close()
    # Changing a 文号 afterwards breaks that row's link.
    _tamper(led.path, f"UPDATE {TABLE} SET doc_no = 'x' WHERE fid = 6")
    assert led.verify().broken == (BrokenRow(6, "changed"),)

import multiprocessing as mp
import sqlite3
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from landuse.errors import LayerNotFoundError, SchemaError
from landuse.io import list_layers
from landuse.ledger import TABLE, Ledger, read_ledger_file


def rows(n, parcel="P", event="认定闲置", start=0):
    return pd.DataFrame(
        {
            "parcel_id": [f"{parcel}{i}" for i in range(start, start + n)],
            "event": event,
            "event_date": "2024-03-02",
            "area_mu": 15.0,
        }
    )


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
    assert led.append(read_ledger_file(csv), source=csv.name) == 3
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
        led.append(bad, source="bad.xlsx")
    msg = str(err.value)
    assert "nothing imported" in msg
    assert "地块编号 is empty (rows 3)" in msg  # spreadsheet row numbers: header is row 1
    assert "处置方式 must be one of" in msg and "(rows 4)" in msg
    assert "事项 must be one of" in msg and "(rows 5)" in msg
    assert led.entries().empty


def test_append_only_and_corrections(tmp_path):
    led = Ledger(tmp_path / "l.gpkg")
    led.append(rows(2), source="a")
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
    led.append(fix, source="fix")
    full = led.entries()
    assert full["entry_id"].tolist() == [1, 2, 3, 4]  # nothing lost
    effective = led.entries(effective=True)
    assert effective["entry_id"].tolist() == [3]
    assert effective["area_mu"].tolist() == [12.5]
    assert led.history("P1")["event"].tolist() == ["认定闲置", "撤销"]
    with pytest.raises(SchemaError, match="更正编号 99 do not exist"):
        led.append(fix.assign(corrects=[99, 2]), source="fix2")
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

    led.append(rows, source="big.csv", on_row=die)
    """
)


def test_killed_import_leaves_ledger_as_it_was(tmp_path):
    path = tmp_path / "l.gpkg"
    led = Ledger(path)
    led.append(rows(3), source="before")
    done = subprocess.run([sys.executable, "-c", KILLED_IMPORT, str(path)], check=False)
    assert done.returncode == -9  # really killed mid-import
    after = Ledger(path).entries()
    assert after["parcel_id"].tolist() == ["P0", "P1", "P2"]
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    led.append(rows(2, start=3), source="after")  # still writable
    assert len(Ledger(path).entries()) == 5


def _writer(path, tag):
    led = Ledger(path)
    for batch in range(25):
        led.append(rows(8, parcel=f"{tag}{batch}-"), source=f"{tag}{batch}")


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

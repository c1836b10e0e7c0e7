"""The walkthroughs in notebooks/ must run from top to bottom and show the right figures.

Cells run with errors allowed, so every failing cell is listed (not just the first);
then figures the notebooks print are checked against the shipped sample files read
without landuse (pyogrio metadata, the ledger CSV, a raw sqlite3 query).
"""

import ast
import csv
import re
import sqlite3
from pathlib import Path

import nbformat
import pyogrio
import pyproj
import pytest
from nbclient import NotebookClient

from landuse.sample import get_path

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_three_walkthroughs():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03"]


def _texts(book) -> list[str]:
    """Printed text and plain-text results of every code cell, in order."""
    return [
        o["text"] if o.output_type == "stream" else o.get("data", {}).get("text/plain", "")
        for c in book.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type in ("stream", "execute_result")
    ]


def _value_counts(texts: list[str], column: str) -> dict[str, int]:
    """A printed ``Series.value_counts()`` of ``column`` as {value: count}."""
    text = next(t for t in texts if t.startswith(f"{column}\n"))
    lines = text.splitlines()[1:-1]  # between the column name and "Name: count ..."
    return {line.rsplit(maxsplit=1)[0]: int(line.rsplit(maxsplit=1)[1]) for line in lines}


def _check_conflicts_and_buildable(texts: list[str]) -> None:
    path = get_path("sample")
    info = {name: pyogrio.read_info(path, layer=name) for name, _ in pyogrio.list_layers(path)}
    # The CRS line and layer counts, from the GeoPackage's own metadata.
    assert pyproj.CRS(info["parcels"]["crs"]).name + "\n" in texts
    counts = ast.literal_eval(next(t for t in texts if t.startswith("{'district'")))
    spatial = {name for name, i in info.items() if i["geometry_type"] is not None}
    # The red line is a 界址点坐标 TXT beside the GeoPackage: one parcel per line ending in @.
    assert counts.pop("redline") == get_path("redline").read_bytes().decode("gbk").count(",@")
    assert counts == {name: info[name]["features"] for name in spatial}
    # Every parcel gets one verdict: the statuses add up to the parcels in the file.
    assert sum(_value_counts(texts, "status").values()) == info["parcels"]["features"]


def _check_idle_land_and_rates(texts: list[str]) -> None:
    # 2025 figures by hand from the ledger CSV: stock at the start = identified before
    # 2025 and not disposed before 2025; rate = disposed / (stock at start + identified
    # in 2025); net reduction = (start − end) / start with end = start + new − disposed.
    with open(get_path("ledger"), encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    identified = {r["地块编号"]: r for r in rows if r["事项"] == "认定闲置"}
    disposed = {r["地块编号"]: r for r in rows if r["事项"] == "处置完成"}
    start = sum(
        float(r["面积（亩）"])
        for pid, r in identified.items()
        if r["日期"] < "2025-01-01"
        and not (pid in disposed and disposed[pid]["日期"] < "2025-01-01")
    )
    new = sum(float(r["面积（亩）"]) for r in identified.values() if r["日期"][:4] == "2025")
    done = sum(float(r["面积（亩）"]) for r in disposed.values() if r["日期"][:4] == "2025")
    line = next(t for t in texts if t.startswith("2025年处置闲置土地"))
    got = re.match(r"2025年处置闲置土地 ([\d,.]+) 亩，处置率 ([\d.]+)%，净减少率 (-?[\d.]+)%", line)
    assert got is not None, line
    assert got[1] == f"{done:,.1f}"
    assert float(got[2]) == pytest.approx(100 * done / (start + new), abs=0.005)
    assert float(got[3]) == pytest.approx(100 * (done - new) / start, abs=0.005)


def _check_per_mu_ranking_and_map(texts: list[str]) -> None:
    with sqlite3.connect(f"file:{get_path('sample')}?mode=ro", uri=True) as con:
        (firms,) = con.execute(
            "SELECT COUNT(*) FROM enterprises WHERE ND = (SELECT MAX(ND) FROM enterprises)"
        ).fetchone()
    grades = _value_counts(texts, "grade")
    assert sum(grades.values()) == firms  # every firm of the year is listed
    # Default bands (DOMAIN.md): A top 25 %, B to 70 %, C to 95 %, D the rest, counted up
    # (ceil) within the above- and below-size groups: each cumulative count lies in
    # [share · scored, share · scored + 2).
    scored = firms - grades.get("未参评", 0) - grades.get("T", 0)  # T: listed, not ranked
    cumulative = 0
    for grade, share in (("A", 0.25), ("B", 0.70), ("C", 0.95), ("D", 1.0)):
        cumulative += grades[grade]
        assert share * scored <= cumulative < share * scored + 2, grade


CHECKS = {
    "01_conflicts_and_buildable": _check_conflicts_and_buildable,
    "02_idle_land_and_rates": _check_idle_land_and_rates,
    "03_per_mu_ranking_and_map": _check_per_mu_ranking_and_map,
}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, tmp_path):
    book = nbformat.read(path, as_version=4)
    NotebookClient(
        book,
        timeout=600,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    errors = [
        f"cell {i}: {o.ename}: {o.evalue}"
        for i, c in enumerate(book.cells)
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]
    assert errors == []
    assert all(c.execution_count for c in book.cells if c.cell_type == "code")
    CHECKS[path.stem](_texts(book))

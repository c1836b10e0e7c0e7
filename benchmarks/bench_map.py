"""Benchmark: meeting-map HTML size, build time and load time in headless Chromium.

Run by hand (needs Debian's chromium):

    python benchmarks/bench_map.py --sizes 2000 100000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from landuse.analysis.conflicts import check_conflicts
from landuse.core.config import FIELD_ALIASES
from landuse.core.crs import with_areas
from landuse.core.validate import clean_geometries, standardize_fields
from landuse.outputs.maps import build_map, parcel_map_status, render_html
from landuse.sample import generate_sample

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def layers(n: int) -> dict:
    s = generate_sample(n)
    out = {}
    for name in ("parcels", "udb", "farmland", "eco_redline", "parks"):
        gdf = standardize_fields(getattr(s, name), FIELD_ALIASES[name], layer_name=name)
        out[name] = clean_geometries(gdf, layer_name=name)[0]
    check = check_conflicts(
        out["parcels"], udb=out["udb"], farmland=out["farmland"], eco_redline=out["eco_redline"]
    )
    parcels = with_areas(check.parcels)
    parcels["map_status"] = parcel_map_status(parcels)
    out["parcels"], out["conflicts"] = parcels, check.pieces
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 100_000])
    args = ap.parse_args()
    print(f"{'parcels':>9} {'build s':>8} {'HTML MB':>8} {'load s':>7}")
    with sync_playwright() as p, tempfile.TemporaryDirectory() as tmp:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        for n in args.sizes:
            data = layers(n)
            t0 = time.perf_counter()
            text = render_html(build_map(data, title="bench", synthetic=True), offline=True)
            build = time.perf_counter() - t0
            path = Path(tmp) / f"map_{n}.html"
            path.write_text(text, encoding="utf-8")
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            t0 = time.perf_counter()
            page.goto(path.as_uri(), timeout=600_000)
            page.wait_for_function("window.LU_READY === true", timeout=600_000)
            load = time.perf_counter() - t0
            page.close()
            print(f"{n:>9,} {build:8.1f} {path.stat().st_size / 1e6:8.1f} {load:7.1f}", flush=True)
        browser.close()


if __name__ == "__main__":
    main()

"""Benchmark: the meeting map (`landuse map`) at 2,000 and 100,000 parcels, in headless Chromium.

For each size: the synthetic sample written as a project, the analyses the map
shows (conflicts, buildable land, 亩均税收, control indicators), then the map
built and opened in Debian's chromium.  Printed: build time (map layers →
HTML), HTML size, time from navigation until the map is ready and drawn (the
page's clock), a pan frame (``panBy`` 200 px without animation until the next
painted frame, at the opening view, where every feature is in view; median and
worst of 7, after 7 to warm up), the JS heap after garbage collection, DOM
nodes, a click-to-popup time and the network requests the page made (must be
0).  Run by hand:

    python benchmarks/bench_map.py --sizes 2000 100000
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

from landuse.core.config import load_project
from landuse.io import load_project_data
from landuse.outputs.maps import build_map, render_html
from landuse.pipeline import map_analyses, map_layers
from landuse.sample import generate_sample, write_sample

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

FRAME = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
PAN = """async () => {
  const frame = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const times = [];
  for (let k = 0; k < 7; k++) {
    const t0 = performance.now();
    LU.map.panBy([k % 2 ? -200 : 200, 0], {animate: false});
    await frame();
    times.push(performance.now() - t0);
  }
  return times;
}"""
# A click at the first parcel's centre (its bounding box), timed until the popup is drawn.
POPUP = """async () => {
  const layer = LU.layers.parcels.layer, b = layer.bounds(0);
  LU.map.setView(b.getCenter(), 17, {animate: false});
  const p = LU.map.latLngToContainerPoint(b.getCenter());
  const r = LU.map.getContainer().getBoundingClientRect();
  return [r.left + p.x, r.top + p.y];
}"""


def map_html(n: int, tmp: Path) -> tuple[str, float]:
    """The map of an n-parcel sample project and the seconds its build took."""
    _, _ = write_sample(generate_sample(n), tmp / f"sample_{n}" / "xingbin.gpkg")
    data = load_project_data(load_project(tmp / f"sample_{n}" / "xingbin.toml"))
    results = map_analyses(data)
    t0 = time.perf_counter()
    layers = map_layers(data, results)
    text = render_html(build_map(layers, title="bench", synthetic=True), offline=True)
    return text, time.perf_counter() - t0


def measure(browser: Browser, path: Path) -> dict[str, float]:
    """Open a map page and measure it (times in the page's own clock, from navigation)."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    cdp = page.context.new_cdp_session(page)
    page.goto(path.as_uri(), timeout=600_000)
    page.wait_for_function("window.LU_READY === true", timeout=600_000)
    page.evaluate(FRAME)
    ready = page.evaluate("performance.now()") / 1000  # ready and drawn
    page.evaluate(PAN)  # once to warm up
    pans = page.evaluate(PAN)
    cdp.send("HeapProfiler.collectGarbage")
    heap = cdp.send("Runtime.getHeapUsage")["usedSize"] / 2**20
    cdp.send("Performance.enable")
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    x, y = page.evaluate(POPUP)
    page.evaluate(FRAME)
    t0 = time.perf_counter()
    page.mouse.click(x, y)
    page.locator(".leaflet-popup-content").wait_for()
    page.evaluate(FRAME)
    popup = (time.perf_counter() - t0) * 1000
    page.close()
    others = [u for u in requests if u != path.as_uri()]
    for url in others[:5]:
        print("  request:", url[:120])
    return {
        "ready": ready,
        "pan": statistics.median(pans),
        "pan_max": max(pans),
        "heap": heap,
        "nodes": metrics["Nodes"],
        "popup": popup,
        "requests": len(others),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 100_000])
    args = ap.parse_args()
    print(
        f"{'parcels':>9} {'build s':>8} {'HTML MB':>8} {'ready s':>8} {'pan ms':>7} "
        f"{'pan max':>8} {'heap MB':>8} {'DOM':>6} {'popup ms':>9} {'requests':>9}"
    )
    with sync_playwright() as p, tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        for n in args.sizes:
            text, build = map_html(n, tmp)
            path = tmp / f"map_{n}.html"
            path.write_text(text, encoding="utf-8")
            r = measure(browser, path)
            print(
                f"{n:>9,} {build:8.1f} {path.stat().st_size / 1e6:8.1f} {r['ready']:8.2f} "
                f"{r['pan']:7.0f} {r['pan_max']:8.0f} {r['heap']:8.0f} {r['nodes']:6.0f} "
                f"{r['popup']:9.0f} {r['requests']:9.0f}",
                flush=True,
            )
        browser.close()


if __name__ == "__main__":
    main()

"""Run page with many keys (a robot's joints, frames and diagnostics): time to the first chart and to every
chart on screen, in Debian's chromium, plus how many plots the page built and its JavaScript heap.

Usage: python bench/dashboard_keys.py [--keys 5000] [--steps 200] [--repeat 3] [--screenshot PATH]

A real store (``rltrack.init``/``log``) and a real server (uvicorn on a loopback port) in a temporary
folder; each load is a fresh page in one browser (plotly.js cached after the first).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import rltrack
from rltrack.server import ServerSettings
from rltrack.server.serve import BackgroundServer


def make_run(root: Path, keys: int, steps: int) -> str:
    names = [f"{group}/{i:04d}/value" for group in ("diag", "joint", "tf") for i in range(keys // 3 + 1)][:keys]
    run = rltrack.init(project="bench", name=f"{keys}-keys", dir=root, system_metrics=False)
    for step in range(steps):
        run.log(dict.fromkeys(names, float(step)), step=step)
    run.finish()
    return run.id


def measure(url: str, repeat: int, screenshot: str | None) -> list[tuple[float, float, int, float]]:
    """Return (first chart s, all visible s, plots built, JS heap MB) per load."""
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        ctx = browser.new_context(viewport={"width": 1440, "height": 1000})
        for i in range(repeat + 1):
            page = ctx.new_page()
            start = time.perf_counter()
            page.goto(url)
            page.wait_for_selector(".js-plotly-plot", timeout=600_000)
            first = time.perf_counter() - start
            page.wait_for_selector("body[data-visible-drawn-ms]", timeout=600_000)
            visible = time.perf_counter() - start
            plots = page.locator(".js-plotly-plot").count()
            heap = page.evaluate("() => performance.memory ? performance.memory.usedJSHeapSize / 1e6 : -1")
            if i == 0 and screenshot:
                page.screenshot(path=screenshot)
            if i > 0 or repeat == 0:
                out.append((first, visible, plots, heap))
            page.close()
        browser.close()
    return out


def plotly_alone(base: str, repeat: int) -> float:
    """Median seconds to load and run plotly.js alone on a blank page of the server: the floor of any chart."""
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        ctx = browser.new_context()
        for i in range(repeat + 1):
            page = ctx.new_page()
            page.goto(f"{base}/favicon.ico")  # same origin, so the cached bundle is used
            start = time.perf_counter()
            page.evaluate("() => new Promise(r => { const s = document.createElement('script');"
                          " s.src = '/static/plotly.min.js'; s.onload = r; document.head.append(s); })")
            if i > 0:
                times.append(time.perf_counter() - start)
            page.close()
        browser.close()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=5000)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--screenshot", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rltrack-bench-keys-") as tmp:
        root = Path(tmp) / "store"
        t = time.perf_counter()
        run_id = make_run(root, args.keys, args.steps)
        print(f"logged {args.keys:,} keys x {args.steps} steps in {time.perf_counter() - t:.1f} s", flush=True)
        # The same page over a run of 12 keys (one screen of panels): what the page costs without many keys.
        small_id = make_run(root, 12, args.steps)
        with BackgroundServer(ServerSettings(root=root)) as server:
            loads = measure(f"{server.url}/runs/{run_id}", args.repeat, args.screenshot)
            small = measure(f"{server.url}/runs/{small_id}", args.repeat, None)
            floor = plotly_alone(server.url, args.repeat)
    print(f"run page, median of {len(loads)} loads (plotly cached)   {args.keys:,} keys   12 keys")
    for i, (label, goal) in enumerate([("first chart", "<= 1000 ms"), ("all visible", "<= 3000 ms")]):
        many_ms = statistics.median(x[i] for x in loads) * 1000
        few_ms = statistics.median(x[i] for x in small) * 1000
        print(f"  {label:<12} {many_ms:22.0f} ms {few_ms:7.0f} ms   (goal {goal})")
    print(f"  plots built  {loads[-1][2]:25d} {small[-1][2]:10d}")
    print(f"  JS heap      {loads[-1][3]:22.0f} MB {small[-1][3]:7.0f} MB")
    print(f"  plotly.js alone on a blank page: {floor * 1000:.0f} ms (part of every first chart)")


if __name__ == "__main__":
    main()

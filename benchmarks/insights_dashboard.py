"""Benchmark: first render of /insights/dashboard on a big result database, in headless Chromium.

Usage: .venv/bin/python benchmarks/insights_dashboard.py DB.sqlite [--rounds 3]

DB.sqlite is a result database (``cordvault dev gen-package`` then ``cordvault analyze``; the
2 M-message / 3 M-event packages of docs/benchmarks.md). For each round a fresh browser page
opens the dashboard (the real app under uvicorn on 127.0.0.1), the file is handed to its file
input, and we wait for the lifetime overview. Reported per round:

- wall time from choosing the file to the rendered overview, and the page's own split
  (``document.body.dataset.timings``: worker open, meta queries, range queries, local-time
  fold, DOM);
- CPU seconds spent by all Chromium processes in that interval (the honest number on a loaded
  machine), and the browser's memory at the end (PSS summed over its processes; RSS too);
- then the same queries on the page's main thread (``openDatabase`` + ``queryInterface``) to
  show what the Web Worker buys: the longest freeze of the page (the biggest gap between
  10 ms timer ticks) in each mode.
The load average is printed: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.web.pages.conftest import CHROMIUM, _Server, page_settings  # noqa: E402

MAIN_THREAD = """
async () => {
  const { openDatabase, queryInterface } = await import('/static/js/insights/sqlite.js');
  const q = await import('/static/js/insights/queries.js');
  const bytes = new Uint8Array(await document.getElementById('file').files[0].arrayBuffer());
  const started = performance.now();
  const db = queryInterface(await openDatabase(bytes));
  const meta = await q.loadMeta(db);
  const data = await q.loadRange(db, meta, q.rangeOf('lifetime', meta.bounds));
  q.foldHours(data.hours);
  db.close();
  return Math.round(performance.now() - started);
}
"""
HEARTBEAT = """
() => {
  // The longest gap between 10 ms timer ticks: how long the page could not respond.
  window.__gap = 0;
  let last = performance.now();
  clearInterval(window.__beat);
  window.__beat = setInterval(() => {
    const now = performance.now();
    window.__gap = Math.max(window.__gap, now - last);
    last = now;
  }, 10);
}
"""


def _browser_processes() -> list[psutil.Process]:
    """Every Chromium process (browser, renderers, GPU, utility) started under this one."""
    out = []
    for p in psutil.Process(os.getpid()).children(recursive=True):
        try:
            if "chrom" in p.name():
                out.append(p)
        except psutil.NoSuchProcess:
            continue
    return out


def _cpu(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            continue
    return total


def _memory(procs: list[psutil.Process]) -> tuple[int, int]:
    """(PSS, RSS) summed over the processes: PSS shares shared pages out, RSS counts them twice."""
    pss = rss = 0
    for p in procs:
        try:
            info = p.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        pss += getattr(info, "pss", info.rss)
        rss += info.rss
    return pss, rss


def _round(page: Page, base: str, db: Path) -> dict[str, object]:
    page.goto(f"{base}/insights/dashboard")
    page.evaluate(HEARTBEAT)
    procs = _browser_processes()
    cpu0 = _cpu(procs)
    t0 = time.monotonic()
    page.set_input_files("#file", db)
    page.wait_for_selector("#dashboard[data-shown^='lifetime:']", timeout=300_000)
    page.wait_for_selector("#time-body .uplot", timeout=60_000)
    wall = time.monotonic() - t0
    cpu = _cpu(procs) - cpu0  # the same processes: a renderer that ended is not counted
    mem = _memory(_browser_processes())
    worker_gap = page.evaluate("window.__gap")
    page.evaluate(HEARTBEAT)
    main_ms = page.evaluate(MAIN_THREAD)
    page.wait_for_timeout(100)
    main_gap = page.evaluate("window.__gap")
    return {
        "wall_s": round(wall, 2),
        "page_ms": int(page.evaluate("document.body.dataset.renderMs")),
        "timings": json.loads(page.evaluate("document.body.dataset.timings")),
        "cpu_s": round(cpu, 2),
        "pss_mb": round(mem[0] / 1e6),
        "rss_mb": round(mem[1] / 1e6),
        "longest_freeze_worker_ms": round(worker_gap),
        "main_thread_queries_ms": main_ms,
        "longest_freeze_main_thread_ms": round(main_gap),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("db", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"database {args.db} ({args.db.stat().st_size / 1e6:.1f} MB)")
    print(f"load average before: {os.getloadavg()}")
    data = Path(tempfile.mkdtemp()) / "data"
    data.mkdir(mode=0o700)
    rounds = []
    with _Server(page_settings(data)) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        for _ in range(args.rounds):
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            r = _round(page, base, args.db)
            print(json.dumps(r))
            rounds.append(r)
            page.close()
        browser.close()
    for key in (
        "wall_s",
        "page_ms",
        "cpu_s",
        "pss_mb",
        "longest_freeze_worker_ms",
        "main_thread_queries_ms",
        "longest_freeze_main_thread_ms",
    ):
        values = [float(str(r[key])) for r in rounds]
        print(f"{key}: median {statistics.median(values)}, best {min(values)}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()

"""Benchmark: from "processed" to a rendered insights dashboard, in headless chromium (the
whole /insights flow; ``insights_dashboard.py`` times the dashboard alone on a local file).

Usage: .venv/bin/python benchmarks/insights_flow.py [--messages 2000000]
       [--events 3000000] [--package PKG.zip] [--workdir DIR] [--runs 3]

1. The package: ``--package``, or a generated one (the generator's ``modern`` variant, seed 7,
   level 1, cached in ``--workdir``; ``benchmarks/insights_analyze.py`` makes the same).
2. A real server (uvicorn + ``app_from_env`` in its own process, in-process job queue) gets
   the zip through ``POST /process/upload`` and analyses it (not timed: the page starts
   when the status says processed). A second run with the same ``--workdir`` reuses that job.
3. For each run, a fresh chromium context opens ``/insights`` with the package's key
   remembered and asks for the result, like a returning visitor whose job finished: one
   ``/status`` answer (processed), ``/blob``, the ciphertext download, WebCrypto AES-CBC,
   ``DecompressionStream`` gunzip, the save into IndexedDB, then the dashboard page: sql.js
   opens the database in its worker and the first render fills the headline. Wall time is
   from the click to the headline's message count being shown (Python clock); the page's own
   per-stage laps come from ``sessionStorage`` (``submit.js``) and ``body[data-render-ms]``
   (``dashboard.js``: open + first render). Then the dashboard is reloaded (the cached copy
   in IndexedDB: no download, no decryption) and timed the same way.
4. Browser memory: every 100 ms, the RSS of every chromium process of this run (descendants of
   this script), summed; PSS (shared pages counted once) from ``/proc/PID/smaps_rollup`` every
   500 ms and at each new RSS peak. Peaks per run.

Prints a Markdown table for docs/benchmarks.md ("Insights dashboard (issue 11)").
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
UPN_ALPHABET = string.ascii_letters + string.digits + "-._"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    data = workdir / "data"
    data.mkdir(mode=0o700, exist_ok=True)
    port = free_port()
    env = {**os.environ, "DATA_DIR": str(data), "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "cordvault.web.app:app_from_env"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, env=env, cwd=workdir)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def package_for(args: argparse.Namespace) -> Path:
    if args.package is not None:
        return Path(args.package)
    path = args.workdir / f"pkg-modern-{args.messages}-{args.events}-l1.zip"
    if not path.exists():
        from cordvault.insights.generator import GenOptions, generate_package

        started = time.perf_counter()
        options = GenOptions(
            variant="modern", seed=7, messages=args.messages, events=args.events,
            compress_level=1,
        )  # fmt: skip
        generate_package(path, options)
        print(f"generated {path} in {time.perf_counter() - started:.0f} s", flush=True)
    return path


def submit(base: str, package: Path) -> tuple[str, str, float]:
    """Upload and wait until processed: (upn, package id, server seconds)."""
    upn = "".join(secrets.choice(UPN_ALPHABET) for _ in range(600))
    started = time.monotonic()
    with package.open("rb") as body, httpx.Client(timeout=600) as client:
        r = client.post(
            f"{base}/process/upload",
            content=body,
            headers={"authorization": f"Bearer {upn}", "content-type": "application/zip"},
        )
        r.raise_for_status()
        package_id: str = r.json()["packageId"]
        while True:
            s = client.get(
                f"{base}/process/{package_id}/status", headers={"authorization": f"Bearer {upn}"}
            ).json()
            if s["isErrored"]:
                raise SystemExit(f"the job failed: {s['errorMessageCode']}")
            if s["isDataAvailable"]:
                return upn, package_id, time.monotonic() - started
            time.sleep(1)


def blob_size(base: str, upn: str, package_id: str) -> int:
    """Bytes of the encrypted result the page downloads."""
    auth = {"authorization": f"Bearer {upn}"}
    url = httpx.get(f"{base}/process/{package_id}/blob", headers=auth).json()["url"]
    with httpx.stream("GET", url) as r:
        return int(r.headers["content-length"])


@dataclass
class Peaks:
    rss: int = 0
    pss: int = 0
    cpu: float = 0.0  # CPU seconds (user + system) the chromium processes used meanwhile


class BrowserMemory:
    """Peak summed RSS / PSS of this script's chromium processes, sampled in a thread."""

    def __init__(self) -> None:
        self.peaks = Peaks()
        self._cpu_start: dict[int, float] = {}
        self._cpu_last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> BrowserMemory:
        self._cpu_start = self._cpu(self._processes())
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peaks.cpu = self.cpu_used()

    def cpu_used(self) -> float:
        """CPU seconds the chromium processes used since ``__enter__`` (ended ones included)."""
        self._cpu_last.update(self._cpu(self._processes()))
        return sum(used - self._cpu_start.get(pid, 0.0) for pid, used in self._cpu_last.items())

    @staticmethod
    def _cpu(procs: list[psutil.Process]) -> dict[int, float]:
        out = {}
        for p in procs:
            try:
                t = p.cpu_times()
                out[p.pid] = t.user + t.system
            except psutil.Error:
                continue
        return out

    @staticmethod
    def _processes() -> list[psutil.Process]:
        me = psutil.Process()
        out = []
        for p in me.children(recursive=True):
            try:
                if "chrom" in p.name():
                    out.append(p)
            except psutil.Error:
                continue
        return out

    @staticmethod
    def _pss(p: psutil.Process) -> int:
        try:
            with open(f"/proc/{p.pid}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Pss:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            return 0
        return 0

    def _run(self) -> None:
        tick = 0
        while not self._stop.is_set():
            procs = self._processes()
            self._cpu_last.update(self._cpu(procs))
            rss = 0
            for p in procs:
                try:
                    rss += p.memory_info().rss
                except psutil.Error:
                    continue
            new_peak = rss > self.peaks.rss
            self.peaks.rss = max(self.peaks.rss, rss)
            if new_peak or tick % 5 == 0:
                self.peaks.pss = max(self.peaks.pss, sum(self._pss(p) for p in procs))
            tick += 1
            time.sleep(0.1)


KEEP_KEY = """async ([id, key]) => (await import('/static/js/insights/keys.js'))
    .keepKey({packageId: id, upn: key, label: 'benchmark'}, true)"""


def one_run(browser: Any, base: str, upn: str, package_id: str) -> dict[str, Any]:
    context = browser.new_context()
    context.set_default_timeout(300_000)
    page = context.new_page()
    with BrowserMemory() as memory:
        page.goto(f"{base}/insights")
        page.evaluate(KEEP_KEY, [package_id, upn])
        page.reload()
        button = page.locator(f"li[data-package='{package_id}']").get_by_role(
            "button", name="Check its analysis"
        )
        started = time.perf_counter()
        cpu_before = memory.cpu_used()
        button.click()
        page.wait_for_url(f"{base}/insights/dashboard#{package_id}")
        headline = page.locator("#headline dd[data-key=messages]")
        headline.wait_for(state="visible")
        page.wait_for_function("() => document.body.dataset.renderMs !== undefined")
        wall = time.perf_counter() - started
        cpu_flow = memory.cpu_used() - cpu_before
        laps = json.loads(
            page.evaluate("() => sessionStorage.getItem('cordvault-insights-timings')") or "{}"
        )
        render_ms = int(page.evaluate("() => document.body.dataset.renderMs"))
        messages = headline.inner_text()
        # The cached copy: reload the dashboard (IndexedDB, no download, no decryption).
        started = time.perf_counter()
        cpu_before = memory.cpu_used()
        page.reload()
        headline.wait_for(state="visible")
        page.wait_for_function("() => document.body.dataset.renderMs !== undefined")
        cached = time.perf_counter() - started
        cpu_cached = memory.cpu_used() - cpu_before
        cached_render_ms = int(page.evaluate("() => document.body.dataset.renderMs"))
    context.close()
    return {
        "wall": wall,
        "laps": laps,
        "render_ms": render_ms,
        "cached": cached,
        "cached_render_ms": cached_render_ms,
        "messages": messages,
        "rss": memory.peaks.rss,
        "pss": memory.peaks.pss,
        "cpu": memory.peaks.cpu,
        "cpu_flow": cpu_flow,
        "cpu_cached": cpu_cached,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--messages", type=int, default=2_000_000)
    parser.add_argument("--events", type=int, default=3_000_000)
    parser.add_argument("--package", type=Path, default=None)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    args.workdir = args.workdir or Path(tempfile.mkdtemp(prefix="cv-dash-bench-"))
    args.workdir.mkdir(parents=True, exist_ok=True)
    package = package_for(args)
    server, base = start_server(args.workdir)
    try:
        saved = args.workdir / "job.json"
        if saved.exists():  # the same workdir: the job is processed already
            upn, package_id = json.loads(saved.read_text())
            server_seconds = 0.0
        else:
            upn, package_id, server_seconds = submit(base, package)
            saved.write_text(json.dumps([upn, package_id]))
        blob_bytes = blob_size(base, upn, package_id)
        print(f"processed in {server_seconds:.0f} s (upload + analysis)", flush=True)
        runs = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
            for n in range(args.runs):
                run = one_run(browser, base, upn, package_id)
                print(f"run {n + 1}: {json.dumps(run)}", flush=True)
                runs.append(run)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    load = os.getloadavg()

    def med(values: list[float]) -> float:
        return statistics.median(values)

    def row(name: str, values: list[float], unit: str = "s", scale: float = 1.0) -> str:
        shown = " / ".join(f"{v * scale:.2f}" for v in values)
        return f"| {name} | {shown} {unit} (median {med(values) * scale:.2f} {unit}) |"

    laps = ["link", "download", "decrypt", "inflate", "save"]
    print()
    print(f"| measure ({args.runs} runs, load average {load[0]:.1f}) | value |")
    print("|---|---|")
    print(f"| package | {package.stat().st_size / 1e6:.0f} MB zip; blob on the server "
          f"{blob_bytes / 1e6:.1f} MB; headline messages {runs[0]['messages']} |")  # fmt: skip
    print(row("**processed -> rendered dashboard, wall**", [r["wall"] for r in runs]))
    for lap in laps:
        print(row(f"  page lap: {lap}", [r["laps"].get(lap, 0) / 1000 for r in runs]))
    print(row("  dashboard: sql.js open + first render", [r["render_ms"] / 1000 for r in runs]))
    print(row("cached result (dashboard reload), wall", [r["cached"] for r in runs]))
    print(row("  its open + first render", [r["cached_render_ms"] / 1000 for r in runs]))
    mb = 1 / 1e6
    print(row("chromium CPU, processed -> rendered", [r["cpu_flow"] for r in runs], "s"))
    print(row("chromium CPU, cached reload", [r["cpu_cached"] for r in runs], "s"))
    print(row("**browser peak RSS, all chromium processes**", [r["rss"] for r in runs], "MB", mb))
    print(row("browser peak PSS (shared pages once)", [r["pss"] for r in runs], "MB", mb))


if __name__ == "__main__":
    main()

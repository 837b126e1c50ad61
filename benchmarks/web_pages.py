"""Benchmark: the drive pages in a real browser (Playwright + Debian's chromium).

Usage: .venv/bin/python benchmarks/web_pages.py [--upload-mib 1024] [--entries 10000]
       [--workdir DIR] [--json]

In ONE run, against one ``cordvault serve``-like server (uvicorn in its own process, the real
app from ``app_from_env``, local backend, SQLite, 8 MiB chunks):
1. **First page load**: a fresh browser context signs in, then loads ``/drive`` with an empty
   cache: bytes transferred (response bodies as sent, i.e. compressed, plus headers, of every
   request of the page) and the time from navigation start until the listing is rendered
   (``#count`` filled: the page is interactive).
2. **A 10,000-entry folder**: ``--entries`` files are created directly in the database (rows
   only: listing cost does not depend on content), then the page is loaded and scrolled to the
   end (every page of the listing loaded: the list's ``data-loaded``, since rows are
   virtualised), then filtered, while a ``PerformanceObserver`` records long tasks; the
   longest is reported (target < 200 ms), as are the time to render the first page and to
   reach the end, and how many rows are in the DOM at the end.
3. **Upload throughput**: a ``--upload-mib`` random file is uploaded by ``cordvault drive put``
   (CLI, 4 chunks in flight) and by the browser's upload button (resumable chunks, 4 in
   flight, the SHA-256 computed while they upload and given at completion), one after the
   other, each into a fresh name; MB/s of both and the ratio (target >= 80 %).

``--parts load,big,upload`` picks which of the three run (default: all).

Prints a Markdown table for docs/benchmarks.md ("Web UI").
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
MB = 1_000_000
PASSWORD = "benchmark password"  # noqa: S105 - a throwaway server's account


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(workdir: Path) -> tuple[subprocess.Popen[bytes], str, dict[str, str]]:
    data = workdir / "data"
    data.mkdir(mode=0o700)
    port = free_port()
    env = {
        **os.environ,
        "DATA_DIR": str(data),
        "STORAGE_BACKEND": "local",
        "PYTHONPATH": str(ROOT / "src"),
        "DRIVE_CLIENT_CONFIG": str(workdir / "client.json"),
    }
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "cordvault.web.app:app_from_env"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, env=env, cwd=workdir)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/login").status_code < 500:
                return proc, base, env
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def seed_entries(env: dict[str, str], count: int) -> None:
    """Insert ``count`` file rows into /big (rows only; run in a child with the server's env)."""
    code = f"""
import os, uuid
from cordvault.core.settings import load_settings
from cordvault.runtime import build_services
from cordvault.drive.models import DriveFile, Folder, utcnow
from cordvault.drive import repository as repo
with build_services(load_settings()) as s, s.sessions.begin() as db:
    owner = repo.user_by_name(db, "admin")
    now = utcnow()
    folder = Folder(id=uuid.uuid4().hex, parent_id="root", name="big", owner_id=owner.id,
                    created_at=now, updated_at=now)
    db.add(folder)
    db.flush()
    db.add_all(DriveFile(id=uuid.uuid4().hex, folder_id=folder.id, owner_id=owner.id,
        name=f"file-{{i:05d}}.txt", size=i, sha256="0" * 64, mime_type="text/plain",
        public=False, content_id=uuid.uuid4().hex, content_version=1, wrapped_key=b"x",
        chunk_size=8 << 20, created_at=now, updated_at=now) for i in range({count}))
"""
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def sign_in(page: Any, base: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("User name").fill("admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/drive**")


def first_load(browser: Any, base: str) -> dict[str, float]:
    ctx = browser.new_context()
    page = ctx.new_page()
    sign_in(page, base)
    page.close()
    page = ctx.new_page()
    urls: list[str] = []
    page.on("requestfinished", lambda r: urls.append(r.url))
    page.goto(f"{base}/drive")
    page.wait_for_function("() => document.getElementById('count').textContent !== ''")
    ready_ms = page.evaluate("() => performance.now()")
    page.wait_for_load_state("networkidle")
    cookies = {c["name"]: c["value"] for c in ctx.cookies()}
    ctx.close()
    # Bytes on the wire: each URL the page fetched, again, as the browser asked (gzip), raw.
    sent = 0
    with httpx.Client(cookies=cookies, headers={"accept-encoding": "gzip"}) as client:
        for url in urls:
            with client.stream("GET", url) as r:
                sent += sum(len(piece) for piece in r.iter_raw())
                sent += sum(len(k) + len(v) + 4 for k, v in r.headers.raw)
    return {"bytes": sent, "requests": len(urls), "interactive_ms": ready_ms}


LONG_TASKS = """
(() => { window.__long = [];
  new PerformanceObserver((l) => {
    for (const e of l.getEntries()) window.__long.push(e.duration); })
    .observe({ type: "longtask", buffered: true }); })();
"""


def big_folder(browser: Any, base: str, count: int) -> dict[str, float]:
    ctx = browser.new_context(viewport={"width": 1100, "height": 800})
    page = ctx.new_page()
    sign_in(page, base)
    page.add_init_script(LONG_TASKS)
    page.goto(f"{base}/drive?path=/big")
    page.wait_for_function("() => document.querySelectorAll('#entries li').length > 0")
    first_ms = page.evaluate("() => performance.now()")
    t0 = time.monotonic()
    # Rows are virtualised: the list says how many entries are loaded (data-loaded).
    while page.evaluate("() => Number(document.getElementById('entries').dataset.loaded)") < count:
        page.mouse.wheel(0, 4000)
        page.wait_for_timeout(30)
    end_s = time.monotonic() - t0
    page.keyboard.press("End")
    page.locator("#filter").fill("file-0999")
    page.wait_for_timeout(300)
    longest = page.evaluate("() => Math.max(0, ...window.__long)")
    rows = page.evaluate("() => document.querySelectorAll('#entries li').length")
    ctx.close()
    return {
        "first_page_ms": first_ms,
        "scroll_to_end_s": end_s,
        "longest_task_ms": longest,
        "rows_in_dom": rows,
    }


def upload(
    browser: Any, base: str, env: dict[str, str], size_mib: int, work: Path
) -> dict[str, float]:
    src = work / f"upload-{uuid.uuid4().hex[:6]}.bin"
    with src.open("wb") as f:
        for _ in range(size_mib):
            f.write(os.urandom(1 << 20))
    cli = [sys.executable, "-c", "from cordvault.cli.app import main; main()", "drive"]
    subprocess.run(
        [*cli, "login", base, "--name", "admin", "--password-stdin"],
        input=PASSWORD.encode(),
        env=env,
        check=True,
        capture_output=True,
    )
    os.sync()
    t0 = time.monotonic()
    subprocess.run([*cli, "put", str(src), "/cli.bin"], env=env, check=True, capture_output=True)
    cli_s = time.monotonic() - t0
    ctx = browser.new_context()
    page = ctx.new_page()
    sign_in(page, base)
    os.sync()
    t0 = time.monotonic()
    page.locator("#pick-files").set_input_files(src)
    page.locator(".upload[data-state=done]").wait_for(timeout=1_800_000)
    browser_s = time.monotonic() - t0
    ctx.close()
    src.unlink()
    size = size_mib * (1 << 20)
    return {
        "cli_mbps": size / cli_s / MB,
        "browser_mbps": size / browser_s / MB,
        "ratio": cli_s / browser_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upload-mib", type=int, default=1024)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--parts", default="load,big,upload", help="comma-separated subset of load,big,upload"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cv-web-bench-", dir=args.workdir))
    proc, base, env = start_server(work)
    try:
        httpx.post(f"{base}/api/auth/register", json={"name": "admin", "password": PASSWORD})
        seed_entries(env, args.entries)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium")
            parts = set(args.parts.split(","))
            results: dict[str, dict[str, float]] = {}
            if "load" in parts:
                results["first_load"] = first_load(browser, base)
            if "big" in parts:
                results["big_folder"] = big_folder(browser, base, args.entries)
            if "upload" in parts:
                results["upload"] = upload(browser, base, env, args.upload_mib, work)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print("| measure | value | target |\n|---|---|---|")
    if fl := results.get("first_load"):
        print(
            f"| first /drive load, transferred | {fl['bytes'] / 1024:.1f} KiB in "
            f"{fl['requests']:.0f} requests | < 200 KB |"
        )
        print(f"| first /drive load, to interactive | {fl['interactive_ms']:.0f} ms | < 1 s |")
    if bf := results.get("big_folder"):
        n = args.entries
        print(f"| {n} entries: first page rendered | {bf['first_page_ms']:.0f} ms | |")
        print(f"| {n} entries: scrolled to the end | {bf['scroll_to_end_s']:.1f} s | |")
        print(
            f"| {n} entries: longest task (load, scroll, filter) | "
            f"{bf['longest_task_ms']:.0f} ms | < 200 ms |"
        )
        print(f"| {n} entries: rows in the DOM at the end | {bf['rows_in_dom']:.0f} | |")
    if up := results.get("upload"):
        mib = args.upload_mib
        print(f"| upload {mib} MiB: `cordvault drive put` | {up['cli_mbps']:.0f} MB/s | |")
        print(
            f"| upload {mib} MiB: browser | {up['browser_mbps']:.0f} MB/s | "
            f"{up['ratio'] * 100:.0f} % of the CLI (>= 80 %) |"
        )


if __name__ == "__main__":
    main()

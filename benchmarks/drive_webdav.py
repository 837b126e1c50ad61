"""Benchmark: WebDAV (rclone) vs. the REST streaming API on the same server, and PROPFIND of a
10,000-entry folder.

Usage: .venv/bin/python benchmarks/drive_webdav.py [--size-mib 1024] [--repeat 2]
       [--entries 10000] [--workdir DIR] [--propfind-only]

One real server (``tests/support/serve_app.py``, uvicorn, local backend with fsync, SQLite,
default 8 MiB chunks) on 127.0.0.1. Per round, back to back on the same ``--size-mib`` file
(random bytes), each after ``os.sync()``:

- REST upload: ``curl -T FILE /api/drive/upload?path=/rest-N.bin`` (bearer token);
- REST download: ``curl -o /dev/null /api/drive/files/<id>/content``;
- WebDAV upload: ``rclone copyto FILE cv:dav-N.bin`` (webdav remote, app password);
- WebDAV download: ``rclone cat cv:dav-N.bin > /dev/null``.

The server's RSS (process tree) is sampled every 20 ms during each transfer. Then
``--entries`` files are added to one folder (rows pointing at one stored content, written
straight into the server's database: the listing is what is measured, not the uploads) and
``PROPFIND Depth: 1`` of that folder is timed with curl (3 runs, the body is counted to check
every entry is there; the server's CPU time per request is printed too, a figure
other processes' load moves less than wall time). ``--propfind-only`` skips the transfer
rounds (one small REST upload gives the listed rows their content). Prints Markdown rows for
docs/benchmarks.md ("WebDAV").
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
MB = 1_000_000
PASSWORD = "benchmark password"  # noqa: S105 - a throwaway local account


@contextmanager
def rss_peak(pid: int) -> Iterator[list[int]]:
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        proc = psutil.Process(pid)
        while not stop.wait(0.02):
            try:
                total = proc.memory_info().rss + sum(
                    c.memory_info().rss for c in proc.children(recursive=True)
                )
            except psutil.Error:
                continue
            peak[0] = max(peak[0], total)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()


def timed(pid: int, cmd: list[str], **kw: object) -> tuple[float, int]:
    os.sync()
    with rss_peak(pid) as peak:
        start = time.perf_counter()
        subprocess.run(cmd, check=True, **kw)  # type: ignore[call-overload]
        took = time.perf_counter() - start
    return took, peak[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--propfind-only", action="store_true")
    args = parser.parse_args()
    if args.propfind_only:
        args.size_mib, args.repeat = 1, 0
    work = Path(tempfile.mkdtemp(prefix="cv-webdav-", dir=args.workdir))
    data_dir = work / "data"
    data_dir.mkdir(mode=0o700)
    src = work / "payload.bin"
    with src.open("wb") as fh:
        for _ in range(args.size_mib):
            fh.write(os.urandom(1 << 20))
    size = src.stat().st_size
    port = 18000 + os.getpid() % 1000
    env = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}",
    }
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "support" / "serve_app.py"), str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{base}/health")
                break
            except httpx.TransportError:
                time.sleep(0.2)
        http = httpx.Client(base_url=base, timeout=600)
        token = http.post("/api/auth/register", json={"name": "bench", "password": PASSWORD})
        bearer = {"authorization": f"Bearer {token.json()['token']}"}
        secret = http.post("/api/auth/app-passwords", json={"name": "bench"}, headers=bearer)
        app_password = secret.json()["password"]
        obscured = subprocess.run(
            ["rclone", "obscure", app_password], capture_output=True, text=True, check=True
        ).stdout.strip()
        rclone_env = {
            **os.environ,
            "RCLONE_CONFIG": "/dev/null",
            "RCLONE_CONFIG_CV_TYPE": "webdav",
            "RCLONE_CONFIG_CV_URL": f"{base}/dav/",
            "RCLONE_CONFIG_CV_VENDOR": "other",
            "RCLONE_CONFIG_CV_USER": "bench",
            "RCLONE_CONFIG_CV_PASS": obscured,
        }
        auth = f"authorization: {bearer['authorization']}"
        rows = []
        for n in range(args.repeat):
            up_rest, rss1 = timed(
                server.pid,
                [
                    "curl",
                    "-sf",
                    "-o",
                    "/dev/null",
                    "-H",
                    auth,
                    "-T",
                    str(src),
                    f"{base}/api/drive/upload?path=/rest-{n}.bin",
                ],
            )
            file_id = http.get(
                "/api/drive/resolve", params={"path": f"/rest-{n}.bin"}, headers=bearer
            ).json()["file"]["id"]
            down_rest, rss2 = timed(
                server.pid,
                [
                    "curl",
                    "-sf",
                    "-o",
                    "/dev/null",
                    "-H",
                    auth,
                    f"{base}/api/drive/files/{file_id}/content",
                ],
            )
            up_dav, rss3 = timed(
                server.pid, ["rclone", "copyto", str(src), f"cv:dav-{n}.bin"], env=rclone_env
            )
            with open(os.devnull, "wb") as sink:
                down_dav, rss4 = timed(
                    server.pid, ["rclone", "cat", f"cv:dav-{n}.bin"], env=rclone_env, stdout=sink
                )
            rate = [size / t / MB for t in (up_rest, up_dav, down_rest, down_dav)]
            rows.append(rate)
            print(
                f"| {n + 1} | {rate[0]:,.0f} MB/s | {rate[1]:,.0f} MB/s | {rate[1] / rate[0]:.0%} "
                f"| {rate[2]:,.0f} MB/s | {rate[3]:,.0f} MB/s | {rate[3] / rate[2]:.0%} "
                f"| {max(rss1, rss2) // MB} / {max(rss3, rss4) // MB} MB |",
                flush=True,
            )
        if args.propfind_only:
            subprocess.run(
                [
                    "curl",
                    "-sf",
                    "-o",
                    "/dev/null",
                    "-H",
                    auth,
                    "-T",
                    str(src),
                    f"{base}/api/drive/upload?path=/rest-0.bin",
                ],
                check=True,
            )
        else:
            print(
                f"median upload ratio {statistics.median(r[1] / r[0] for r in rows):.0%}, "
                f"download ratio {statistics.median(r[3] / r[2] for r in rows):.0%}"
            )
        # PROPFIND of a big folder: rows written straight into the server's database.
        http.post("/api/drive/mkdir", params={"path": "/big"}, headers=bearer)
        fill(data_dir, args.entries)
        body = b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>'
        times, cpus = [], []
        proc = psutil.Process(server.pid)
        for _ in range(3):
            cpu = sum(proc.cpu_times()[:2])
            start = time.perf_counter()
            r = http.request(
                "PROPFIND",
                "/dav/big/",
                content=body,
                headers={"depth": "1"},
                auth=("bench", app_password),
            )
            times.append(time.perf_counter() - start)
            cpus.append(sum(proc.cpu_times()[:2]) - cpu)
            assert r.status_code == 207, r.status_code
            assert r.content.count(b":response>") == 2 * (args.entries + 1)  # open + close
        print(
            f"PROPFIND Depth 1 of {args.entries:,} entries ({len(r.content) / MB:.1f} MB of "
            f"XML): {', '.join(f'{t:.2f}' for t in times)} s (median "
            f"{statistics.median(times):.2f} s); server CPU "
            f"{', '.join(f'{t:.2f}' for t in cpus)} s"
        )
    finally:
        server.terminate()
        server.wait(timeout=60)


def fill(data_dir: Path, entries: int) -> None:
    """``entries`` small files in /big, all pointing at /rest-0.bin's content."""
    from sqlalchemy import create_engine, select

    from cordvault.drive.models import DriveFile, Folder, utcnow

    engine = create_engine(f"sqlite:///{data_dir / 'cordvault.db'}")
    with engine.begin() as conn:
        folder_id = conn.execute(select(Folder.id).where(Folder.name == "big")).scalar_one()
        model = conn.execute(select(DriveFile).where(DriveFile.name == "rest-0.bin")).one()
        now = utcnow()
        rows = [
            {
                "id": uuid.uuid4().hex,
                "folder_id": folder_id,
                "owner_id": model.owner_id,
                "name": f"file {i:05d}.bin",
                "size": model.size,
                "sha256": model.sha256,
                "mime_type": "application/octet-stream",
                "public": False,
                "content_id": model.content_id,
                "content_version": 1,
                "wrapped_key": model.wrapped_key,
                "chunk_size": model.chunk_size,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(entries)
        ]
        conn.execute(DriveFile.__table__.insert(), rows)
    engine.dispose()


if __name__ == "__main__":
    main()

"""Benchmark: drive upload/download throughput over HTTP vs. this machine's HTTP limit.

Usage: .venv/bin/python benchmarks/drive_http.py [--size-mib 2048] [--mode api|direct]
       [--repeat 3] [--chunk-mib 8] [--malloc-arena-max 0] [--workdir DIR] [--json]

In ONE run, on 127.0.0.1, ``--repeat`` interleaved rounds of:
1. the HTTP limit: nginx (temp config, one process, ``sendfile``) serves a file of
   ``--size-mib`` fetched by ``curl -o /dev/null``, and receives the same bytes by ``curl -T``
   into a WebDAV ``PUT`` location (nginx really reads the body and writes it to disk, as
   cordvault does);
2. cordvault, run by uvicorn in its own process with the local backend and SQLite:
   ``--mode api`` (default) is the real app (``create_app`` with the drive routes): register
   the first user, one-request streaming upload ``PUT /api/drive/upload`` with curl, download
   ``GET /api/drive/files/<id>/content`` with curl; the app factory first calls
   ``streaming.tune_allocator()``, as a server entry point should (``--no-early-tune`` to
   compare). ``--mode direct`` serves the transfer layer alone (``ChunkWriter.awrite_stream``,
   ``ranged_response`` + ``ChunkReader``, local store, real crypto) from a minimal app in this
   script, with ``--prefetch``/``--parallel``.
Before each timed transfer ``os.sync()`` flushes dirty pages so no side pays for the previous
upload's disk writes. After the rounds: the last download's SHA-256 is checked against the
source, and a 1 KiB Range read at the end of the file is timed and compared.

The server's RSS (process tree) is sampled with psutil every 20 ms during each transfer.
Prints a Markdown table for docs/benchmarks.md ("Drive HTTP throughput"): per round both
servers' MB/s, the ratios (issue 15's targets: download >= 90 %, upload >= 60 % of nginx) and
the peak RSS (target < 200 MB). Every upload is kept until the end, nginx's too (see ``run``).
Needs ``nginx`` (``apt-get install nginx-light``) and ``curl``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from cordvault.cli.server import HTTP_PROTOCOL

MB = 1_000_000
MIB = 1024 * 1024
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


def make_source(path: Path, size: int) -> str:
    """A file of ``size`` incompressible bytes (a random 16 MiB block repeated); its SHA-256."""
    block = os.urandom(16 * MIB)
    digest = hashlib.sha256()
    with path.open("wb") as out:
        left = size
        while left:
            piece = block[: min(left, len(block))]
            out.write(piece)
            digest.update(piece)
            left -= len(piece)
    return digest.hexdigest()


class RssSampler:
    """Peak RSS of a process and its children, sampled in a thread."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> int:
        total = 0
        with contextlib.suppress(psutil.Error):
            for proc in [self.process, *self.process.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += proc.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(self.interval)

    def __enter__(self) -> RssSampler:
        self.start = self.peak = self._rss()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Transfer:
    seconds: float
    size: int

    @property
    def mb_s(self) -> float:
        return self.size / MB / self.seconds


def curl_download(url: str, headers: dict[str, str] | None = None) -> Transfer:
    """GET ``url`` to /dev/null with curl (the body's digest is checked by a separate,
    untimed download: hashing in the pipe would slow the measurement)."""
    cmd = ["curl", "-sS", "--fail", "-o", "/dev/null", "-w", "%{size_download} %{time_total}"]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    out = subprocess.run([*cmd, url], check=True, capture_output=True, text=True).stdout
    size, seconds = out.split()
    return Transfer(float(seconds), int(size))


def curl_upload(url: str, path: Path, headers: dict[str, str] | None = None) -> Transfer:
    cmd = ["curl", "-sS", "--fail", "-T", str(path), "-o", "/dev/null"]
    cmd += ["-w", "%{size_upload} %{time_total}"]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    out = subprocess.run([*cmd, url], check=True, capture_output=True, text=True).stdout
    size, seconds = out.split()
    return Transfer(float(seconds), int(size))


def sha256_of_url(url: str, headers: dict[str, str] | None = None) -> str:
    digest = hashlib.sha256()
    with httpx.stream("GET", url, headers=headers, timeout=600) as response:
        response.raise_for_status()
        for piece in response.iter_raw(4 * MIB):
            digest.update(piece)
    return digest.hexdigest()


# -- nginx ------------------------------------------------------------------------------------

NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
error_log {dir}/error.log warn;
pid {dir}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {dir}/www;
        client_max_body_size 0;
        location /upload/ {{
            dav_methods PUT;
            create_full_put_path on;
        }}
    }}
}}
"""


@contextlib.contextmanager
def nginx(workdir: Path, source: Path) -> Iterator[str]:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        raise SystemExit("nginx is missing: apt-get update && apt-get install -y nginx-light")
    conf_dir = workdir / "nginx"
    (conf_dir / "www" / "upload").mkdir(parents=True)
    (conf_dir / "body").mkdir()
    os.link(source, conf_dir / "www" / "source.bin")
    port = free_port()
    conf = conf_dir / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=conf_dir, port=port))
    proc = subprocess.Popen([binary, "-c", str(conf), "-p", str(conf_dir)])
    try:
        wait_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# -- cordvault --------------------------------------------------------------------------------


def direct_app() -> object:
    """The transfer layer behind a minimal app (``--mode direct``), configured by env vars."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from cordvault.crypto import new_file_key
    from cordvault.drive.streaming import ChunkReader, ChunkRef, ChunkWriter
    from cordvault.storage.local import LocalChunkStore
    from cordvault.web.ranges import ranged_response

    store = LocalChunkStore(Path(os.environ["BENCH_STORE"]), fsync=os.environ["BENCH_FSYNC"] == "1")
    chunk_size = int(os.environ["BENCH_CHUNK"])
    prefetch = int(os.environ["BENCH_PREFETCH"])
    parallel = int(os.environ["BENCH_PARALLEL"])
    files: dict[str, tuple[bytes, list[ChunkRef], int, str]] = {}

    async def upload(request: Request) -> Response:
        name = request.path_params["name"]
        key = new_file_key()
        writer = ChunkWriter(store, key, name, 1, chunk_size, parallel=parallel)
        result = await writer.awrite_stream(request.stream())
        files[name] = (key, result.chunks, result.size, result.sha256)
        return JSONResponse({"size": result.size, "sha256": result.sha256}, status_code=201)

    def download(request: Request) -> Response:
        name = request.path_params["name"]
        key, chunks, size, sha = files[name]

        def open_range(start: int, end: int) -> Iterator[bytes]:
            reader = ChunkReader(store, key, name, 1, chunks, prefetch=prefetch)
            try:
                yield from reader.iter_range(start, end)
            finally:
                reader.close()

        return ranged_response(
            request,
            size=size,
            etag=sha[:16],
            last_modified=None,
            media_type="application/octet-stream",
            filename=name,
            inline=False,
            open_range=open_range,
        )

    return Starlette(
        routes=[
            Route("/files/{name}", upload, methods=["PUT"]),
            Route("/files/{name}", download, methods=["GET", "HEAD"]),
        ]
    )


def api_app() -> object:
    """The real application (settings from the environment) with the drive routes installed,
    whether or not ``cordvault.web.drive`` is already listed in ``DOMAINS``."""
    from cordvault.core.settings import load_settings
    from cordvault.drive.streaming import tune_allocator
    from cordvault.web.app import DOMAINS, create_app

    # At start, before any thread exists, so that glibc's arena limit takes effect (see its
    # docstring): what a server entry point should do.
    if os.environ.get("BENCH_EARLY_TUNE") == "1":
        tune_allocator()
    domains = DOMAINS if "cordvault.web.drive" in DOMAINS else (*DOMAINS, "cordvault.web.drive")
    return create_app(load_settings(), domains=domains)


@dataclass
class Server:
    base: str
    pid: int
    mode: str
    headers: dict[str, str] | None = None

    def upload_url(self, name: str) -> str:
        if self.mode == "direct":
            return f"{self.base}/files/{name}"
        return f"{self.base}/api/drive/upload?path=/{name}"

    def download_url(self, name: str, uploaded: dict[str, object]) -> str:
        if self.mode == "direct":
            return f"{self.base}/files/{name}"
        file = uploaded["file"]
        assert isinstance(file, dict)
        return f"{self.base}/api/drive/files/{file['id']}/content"


@contextlib.contextmanager
def cordvault_server(workdir: Path, mode: str, args: argparse.Namespace) -> Iterator[Server]:
    port = free_port()
    data_dir = workdir / "cordvault"
    data_dir.mkdir()
    env = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "MESSAGE_ENCRYPTION_KEY": base64.b64encode(os.urandom(32)).decode(),
        "STORAGE_BACKEND": "local",
        "DRIVE_CHUNK_SIZE": str(args.chunk_mib * MIB),
        "BENCH_STORE": str(data_dir / "chunks"),
        "BENCH_CHUNK": str(args.chunk_mib * MIB),
        "BENCH_PREFETCH": str(args.prefetch),
        "BENCH_PARALLEL": str(args.parallel),
        "BENCH_FSYNC": "0" if args.no_fsync else "1",
        "BENCH_EARLY_TUNE": "0" if args.no_early_tune else "1",
        **({"MALLOC_ARENA_MAX": str(args.malloc_arena_max)} if args.malloc_arena_max else {}),
        "PYTHONPATH": f"{ROOT / 'benchmarks'}:{ROOT / 'src'}",
    }
    uvicorn = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port)]
    uvicorn += ["--no-access-log", "--log-level", "warning", "--http", args.http, "--factory"]
    factory = "drive_http:direct_app" if mode == "direct" else "drive_http:api_app"
    proc = subprocess.Popen([*uvicorn, factory], env=env, cwd=workdir)
    try:
        wait_port(port)
        base = f"http://127.0.0.1:{port}"
        headers = None if mode == "direct" else register(base)
        yield Server(base, proc.pid, mode, headers)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def register(base: str) -> dict[str, str]:
    """Register the first user on the drive API; its auth header."""
    credentials = {"name": "bench", "password": "correct horse battery staple 42"}
    response = httpx.post(f"{base}/api/auth/register", json=credentials, timeout=60)
    response.raise_for_status()
    return {"authorization": f"Bearer {response.json()['token']}"}


def prepare_upload(pages: str, size: int, scratch: Path) -> None:
    """Flush dirty pages, then set up the memory the next upload's page cache will come from.

    On a VM whose host takes idle guest memory back (free page reporting, DAMON reclaim: the
    machines this project is measured on), writing into a page the guest has not touched lately
    costs ~2.4 s of kernel CPU per GiB, into one freed in the last few seconds ~0.3-0.5 s
    (measured 2026-12-06, docs/benchmarks.md, issue 15). Which kind a server got decided its
    upload rate more than the server itself, and it depended on whatever was deleted just
    before. ``recycled`` (default) writes ``size`` + 256 MiB to a scratch file and deletes it
    right before the upload, so every upload writes into just-freed page cache, as on bare
    metal or on a long-running server whose page cache recycles; ``fresh`` waits 15 s so that
    few recently freed pages are left (the worst case; still not fully controlled).
    """
    os.sync()
    if pages == "fresh":
        time.sleep(15)
        return
    block = os.urandom(MIB)
    with scratch.open("wb") as f:
        for _ in range(size // MIB + 256):
            f.write(block)
    scratch.unlink()


def run(args: argparse.Namespace) -> dict[str, list[float]]:
    """Interleaved rounds (nginx down/up, cordvault up/down) so both see the same load."""
    size = args.size_mib * MIB
    workdir = Path(tempfile.mkdtemp(prefix="cv-bench-", dir=args.workdir))
    results: dict[str, list[float]] = {}

    def record(name: str, value: float) -> None:
        results.setdefault(name, []).append(value)
        print(f"  {name}: {value:,.1f}", file=sys.stderr)

    try:
        source = workdir / "source.bin"
        digest = make_source(source, size)
        with nginx(workdir, source) as web, cordvault_server(workdir, args.mode, args) as server:
            curl_download(f"{web}/source.bin")  # warm the page cache
            for round_ in range(args.repeat):
                print(f"round {round_ + 1}/{args.repeat}", file=sys.stderr)
                # Every timed transfer starts with no dirty pages being written back, so no
                # side pays for the previous upload's disk writes.
                os.sync()
                record("nginx_download_mb_s", curl_download(f"{web}/source.bin").mb_s)
                prepare_upload(args.pages, size, workdir / "scratch.bin")
                # Kept, like cordvault's uploads, so neither side writes into pages the other
                # just freed by deleting a file (see prepare_upload).
                record("nginx_upload_mb_s", curl_upload(f"{web}/upload/r{round_}.bin", source).mb_s)
                name = f"source-{round_}.bin"
                prepare_upload(args.pages, size, workdir / "scratch.bin")
                with RssSampler(server.pid) as rss:
                    up, body = curl_upload_json(server.upload_url(name), source, server.headers)
                record("cordvault_upload_mb_s", up.mb_s)
                record("upload_peak_rss_mb", rss.peak / MB)
                record("upload_start_rss_mb", rss.start / MB)
                url = server.download_url(name, body)
                os.sync()
                with RssSampler(server.pid) as rss:
                    down = curl_download(url, server.headers)
                assert down.size == size, f"downloaded {down.size} of {size} bytes"
                record("cordvault_download_mb_s", down.mb_s)
                record("download_peak_rss_mb", rss.peak / MB)
                record("download_start_rss_mb", rss.start / MB)
            assert sha256_of_url(url, server.headers) == digest, "downloaded bytes differ"
            started = time.perf_counter()
            tail = httpx.get(url, headers={**(server.headers or {}), "range": "bytes=-1024"})
            record("tail_range_ms", (time.perf_counter() - started) * 1000)
            assert tail.status_code == 206
            with source.open("rb") as f:
                f.seek(size - 1024)
                assert tail.content == f.read()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def curl_upload_json(
    url: str, path: Path, headers: dict[str, str] | None
) -> tuple[Transfer, dict[str, object]]:
    """``curl -T`` upload whose JSON answer is kept (the new file's id in API mode)."""
    with tempfile.NamedTemporaryFile() as answer:
        cmd = ["curl", "-sS", "--fail", "-T", str(path), "-o", answer.name]
        cmd += ["-w", "%{size_upload} %{time_total}"]
        for name, value in (headers or {}).items():
            cmd += ["-H", f"{name}: {value}"]
        out = subprocess.run([*cmd, url], check=True, capture_output=True, text=True).stdout
        body = json.loads(Path(answer.name).read_bytes() or b"{}")
    size, seconds = out.split()
    return Transfer(float(seconds), int(size)), body


def report(results: dict[str, list[float]], args: argparse.Namespace) -> str:
    """Markdown: one row per round (both servers measured back to back), then the medians."""

    def ratios(kind: str) -> list[float]:
        cv, ng = results[f"cordvault_{kind}_mb_s"], results[f"nginx_{kind}_mb_s"]
        return [c / n for c, n in zip(cv, ng, strict=True)]

    down, up = ratios("download"), ratios("upload")
    lines = [
        f"`benchmarks/drive_http.py --size-mib {args.size_mib} --mode {args.mode} "
        f"--repeat {args.repeat} --chunk-mib {args.chunk_mib} "
        f"--malloc-arena-max {args.malloc_arena_max}"
        f"{' --no-early-tune' if args.no_early_tune else ''}"
        f"{f' --http {args.http}' if args.http != HTTP_PROTOCOL else ''}"
        f" --pages {args.pages}` "
        f"(Python {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} cores shared with other work, loopback).",
        "",
        "| round | nginx down | cordvault down | ratio | nginx up | cordvault up | ratio "
        "| server peak RSS up / down |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i in range(len(down)):
        lines.append(
            f"| {i + 1} | {results['nginx_download_mb_s'][i]:,.0f} MB/s "
            f"| {results['cordvault_download_mb_s'][i]:,.0f} MB/s | {down[i]:.0%} "
            f"| {results['nginx_upload_mb_s'][i]:,.0f} MB/s "
            f"| {results['cordvault_upload_mb_s'][i]:,.0f} MB/s | {up[i]:.0%} "
            f"| {results['upload_peak_rss_mb'][i]:.0f} / "
            f"{results['download_peak_rss_mb'][i]:.0f} MB |"
        )
    peak = max(results["upload_peak_rss_mb"] + results["download_peak_rss_mb"])
    lines += [
        "",
        f"Median ratio: download {statistics.median(down):.0%} of nginx (target >= 90 %), "
        f"upload {statistics.median(up):.0%} (target >= 60 %). Server peak RSS {peak:.0f} MB "
        f"(target < 200 MB; idle {results['upload_start_rss_mb'][0]:.0f} MB). "
        f"1 KiB Range read at the end of the file: {results['tail_range_ms'][0]:.1f} ms.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=2048)
    parser.add_argument("--mode", choices=["api", "direct"], default="api")
    parser.add_argument("--chunk-mib", type=int, default=8)
    parser.add_argument("--prefetch", type=int, default=2)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument(
        "--no-fsync", action="store_true", help="direct mode: local store without fsync"
    )
    parser.add_argument("--workdir", default=None, help="Where the temp files go (default /tmp).")
    parser.add_argument("--repeat", type=int, default=3, help="Interleaved rounds.")
    parser.add_argument(
        "--no-early-tune",
        action="store_true",
        help="api mode: do not call streaming.tune_allocator() before the app starts.",
    )
    parser.add_argument(
        "--malloc-arena-max",
        type=int,
        default=0,
        help="MALLOC_ARENA_MAX env for the cordvault process (glibc; 0 = unset; the server "
        "already caps arenas itself on its first transfer, see streaming.tune_allocator).",
    )
    parser.add_argument(
        "--pages",
        choices=["recycled", "fresh"],
        default="recycled",
        help="memory the uploads' page cache comes from (see prepare_upload)",
    )
    parser.add_argument(
        "--http",
        default=HTTP_PROTOCOL,
        help="uvicorn's HTTP protocol for cordvault (default: what `cordvault serve` runs; "
        "`httptools` = uvicorn's own, without the send-queue mark of web/transport.py).",
    )
    parser.add_argument("--json", action="store_true", help="Also print the raw numbers.")
    args = parser.parse_args()
    results = run(args)
    if args.json:
        print(json.dumps(results, indent=2))
    print(report(results, args))


if __name__ == "__main__":
    main()

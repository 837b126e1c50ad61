"""Benchmark: drive upload/download throughput over HTTP vs. this machine's HTTP limit.

Usage: .venv/bin/python benchmarks/drive_http.py [--size-mib 2048] [--mode api|direct]
       [--chunk-mib 8] [--prefetch 2] [--parallel 4] [--workdir DIR]

In ONE run, on 127.0.0.1:
1. the HTTP limit: nginx (temp config, one worker, ``sendfile``) serves a file of ``--size-mib``
   fetched by ``curl -o /dev/null``, and receives the same bytes by ``curl -T`` into a WebDAV
   ``PUT`` location (nginx really reads and writes the body to disk, as cordvault does);
2. cordvault, run as ``uvicorn`` in its own process with the local backend and SQLite:
   ``--mode api`` (default) uses ``cordvault serve`` and the drive REST API (register the first
   user, one-request streaming upload with curl, download with curl); ``--mode direct`` serves
   the transfer layer (``ChunkWriter.awrite_stream`` / ``ranged_response`` + ``ChunkReader``,
   local store, real crypto) from a minimal app in this script - for when the API is absent.
   Upload and download use the same curl commands as for nginx; the downloaded bytes' SHA-256
   is checked against the source file.
3. A 1 KiB Range read at the end of the file (latency, correctness).

The server's peak RSS (its whole process tree) is sampled with psutil every 20 ms during the
transfers. Prints MB/s, ratios vs. nginx (targets: download >= 50 %, upload >= 30 %) and RSS
(target < 200 MB) as a Markdown table for docs/benchmarks.md ("Drive HTTP throughput").
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
        self.peak = self._rss()
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
    with httpx.stream("GET", url, headers=headers, timeout=None) as response:
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


@dataclass
class Server:
    base: str
    pid: int
    upload_url: str
    download_url: str = ""
    headers: dict[str, str] | None = None


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
        "PYTHONPATH": f"{ROOT / 'benchmarks'}:{ROOT / 'src'}",
    }
    uvicorn = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port)]
    uvicorn += ["--no-access-log", "--log-level", "warning", "--factory"]
    if mode == "direct":
        cmd = [*uvicorn, "drive_http:direct_app"]
    else:
        cmd = [*uvicorn, "cordvault.cli.server:app_from_env"]
    proc = subprocess.Popen(cmd, env=env, cwd=workdir)
    try:
        wait_port(port)
        base = f"http://127.0.0.1:{port}"
        if mode == "direct":
            url = f"{base}/files/source.bin"
            yield Server(base, proc.pid, url, download_url=url)
        else:
            yield api_server(base, proc.pid)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def api_server(base: str, pid: int) -> Server:
    """Register the first user on the drive API; the streaming-upload URL and auth header."""
    with httpx.Client(base_url=base, timeout=60) as client:
        credentials = {"username": "bench", "password": "correct horse battery staple 42"}
        client.post("/api/auth/register", json=credentials).raise_for_status()
        token = client.post("/api/auth/login", json=credentials).json()["token"]
        headers = {"authorization": f"Bearer {token}"}
        root = client.get("/api/drive/folders/root", headers=headers).json()
    url = f"{base}/api/drive/upload?folder_id={root['id']}&name=source.bin"
    return Server(base, pid, url, headers=headers)


def run(args: argparse.Namespace) -> dict[str, object]:
    size = args.size_mib * MIB
    workdir = Path(tempfile.mkdtemp(prefix="cv-bench-", dir=args.workdir))
    results: dict[str, object] = {"size_bytes": size}
    try:
        source = workdir / "source.bin"
        digest = make_source(source, size)
        with nginx(workdir, source) as base:
            curl_download(f"{base}/source.bin")  # warm the page cache
            dl = curl_download(f"{base}/source.bin")
            up = curl_upload(f"{base}/upload/source.bin", source)
            results["nginx_download_mb_s"] = dl.mb_s
            results["nginx_upload_mb_s"] = up.mb_s
        shutil.rmtree(workdir / "nginx")
        with cordvault_server(workdir, args.mode, args) as server:
            with RssSampler(server.pid) as rss_up:
                up = curl_upload(server.upload_url, source, server.headers)
            download_url = server.download_url or discover_download(server)
            with RssSampler(server.pid) as rss_down:
                dl = curl_download(download_url, server.headers)
            assert dl.size == size, f"downloaded {dl.size} of {size} bytes"
            check = sha256_of_url(download_url, server.headers)
            assert check == digest, "downloaded bytes differ from the source"
            started = time.perf_counter()
            tail = httpx.get(download_url, headers={**(server.headers or {}), "range": "bytes=-1024"})
            tail_ms = (time.perf_counter() - started) * 1000
            assert tail.status_code == 206
            with source.open("rb") as f:
                f.seek(size - 1024)
                assert tail.content == f.read()
        results.update(
            cordvault_upload_mb_s=up.mb_s,
            cordvault_download_mb_s=dl.mb_s,
            upload_peak_rss_mb=rss_up.peak / MB,
            download_peak_rss_mb=rss_down.peak / MB,
            tail_range_ms=tail_ms,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def discover_download(server: Server) -> str:
    """The content URL of the uploaded file (API mode)."""
    with httpx.Client(base_url=server.base, headers=server.headers, timeout=60) as client:
        root = client.get("/api/drive/folders/root").json()
        listing = client.get(f"/api/drive/folders/{root['id']}/children").json()
        items = listing.get("files", listing.get("items", []))
        file_id = next(item["id"] for item in items if item["name"] == "source.bin")
    return f"{server.base}/api/drive/files/{file_id}/content"


def report(results: dict[str, object], args: argparse.Namespace) -> str:
    r = {k: float(v) for k, v in results.items()}  # type: ignore[arg-type]
    down_ratio = r["cordvault_download_mb_s"] / r["nginx_download_mb_s"]
    up_ratio = r["cordvault_upload_mb_s"] / r["nginx_upload_mb_s"]
    peak = max(r["upload_peak_rss_mb"], r["download_peak_rss_mb"])
    lines = [
        f"`benchmarks/drive_http.py --size-mib {args.size_mib} --mode {args.mode} "
        f"--chunk-mib {args.chunk_mib} --prefetch {args.prefetch} --parallel {args.parallel}` "
        f"(Python {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} cores shared with other work; loopback).",
        "",
        "| measurement | result | target |",
        "|---|---|---|",
        f"| nginx download (curl, sendfile) | {r['nginx_download_mb_s']:,.0f} MB/s | |",
        f"| nginx upload (curl -T, WebDAV PUT to disk) | {r['nginx_upload_mb_s']:,.0f} MB/s | |",
        f"| cordvault download | {r['cordvault_download_mb_s']:,.0f} MB/s "
        f"({down_ratio:.0%} of nginx) | >= 50 % |",
        f"| cordvault upload | {r['cordvault_upload_mb_s']:,.0f} MB/s "
        f"({up_ratio:.0%} of nginx) | >= 30 % |",
        f"| server peak RSS (upload / download) | {r['upload_peak_rss_mb']:.0f} MB / "
        f"{r['download_peak_rss_mb']:.0f} MB | < 200 MB |",
        f"| 1 KiB Range read at the end of the file | {r['tail_range_ms']:.1f} ms | |",
    ]
    ok = down_ratio >= 0.5 and up_ratio >= 0.3 and peak < 200
    lines += ["", f"Targets {'met' if ok else 'NOT met'}."]
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
    parser.add_argument("--json", action="store_true", help="Also print the raw numbers.")
    args = parser.parse_args()
    results = run(args)
    if args.json:
        print(json.dumps(results, indent=2))
    print(report(results, args))


if __name__ == "__main__":
    main()

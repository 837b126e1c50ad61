"""Benchmark: how fast uvicorn can receive a request body at all, next to nginx.

Usage: .venv/bin/python benchmarks/http_receive.py [--size-mib 1024] [--repeat 2]
       [--variants h11/asyncio,httptools/asyncio,h11/uvloop,httptools/uvloop,...]

The ceiling of a drive upload over HTTP on this machine: a bare ASGI app (no Starlette, no
drive) that reads a ``curl -T`` body and throws it away, under uvicorn with each HTTP
implementation / event loop pair of ``--variants`` (a third part ``/N``: uvicorn's
flow-control mark, bytes of body buffered before it pauses reading, 64 KiB by default), and
nginx receiving the same file into a WebDAV ``PUT`` location (it writes it to disk;
``drive_http.py``'s reference). Rounds are interleaved so every variant sees the same
outside load. The sink tunes glibc's allocator as the cordvault app does (``BENCH_TUNE=0`` in
the environment: not). Prints per variant the MB/s of each round and the uvicorn process's
CPU seconds per GiB received.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from drive_discord import cpu_seconds
from drive_http import MB, MIB, ROOT, curl_upload_json, free_port, make_source, nginx, wait_port

GIB = 1024 * MIB


if os.environ.get("BENCH_TUNE") == "1":
    from cordvault.core.allocator import tune_allocator

    tune_allocator()  # as the cordvault app does at start (web/app.py)

if os.environ.get("BENCH_HIGH_WATER"):
    # Experiment: uvicorn pauses reading once 64 KiB of body wait for the app; a larger mark
    # means fewer, larger receive() messages (both protocol modules read it at call time).
    import uvicorn.protocols.http.h11_impl as _h11
    import uvicorn.protocols.http.httptools_impl as _httptools

    _h11.HIGH_WATER_LIMIT = _httptools.HIGH_WATER_LIMIT = int(os.environ["BENCH_HIGH_WATER"])


async def sink_app(scope: dict[str, object], receive: object, send: object) -> None:
    """Reads the whole body, answers its size."""
    assert scope["type"] == "http"
    total = 0
    more = True
    while more:
        message = await receive()  # type: ignore[operator]
        total += len(message.get("body", b""))
        more = message.get("more_body", False)
    body = str(total).encode()
    await send(  # type: ignore[operator]
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", b"%d" % len(body))],
        }
    )
    await send({"type": "http.response.body", "body": body})  # type: ignore[operator]


def start_uvicorn(http: str, loop: str, mark: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--no-access-log", "--log-level", "warning", "--http", http, "--loop", loop]
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'benchmarks'}:{ROOT / 'src'}"}
    if mark:
        env["BENCH_HIGH_WATER"] = mark
    env["BENCH_TUNE"] = os.environ.get("BENCH_TUNE", "1")
    proc = subprocess.Popen([*cmd, "http_receive:sink_app"], env=env)
    wait_port(port)
    return proc, f"http://127.0.0.1:{port}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--variants", default="h11/asyncio,httptools/asyncio,h11/uvloop,httptools/uvloop"
    )
    args = parser.parse_args()
    size = args.size_mib * MIB
    workdir = Path(tempfile.mkdtemp(prefix="cv-receive-"))
    results: dict[str, list[tuple[float, float]]] = {}
    try:
        source = workdir / "source.bin"
        make_source(source, size)
        with nginx(workdir, source) as web:
            for round_ in range(args.repeat):
                os.sync()
                up, _ = curl_upload_json(f"{web}/upload/r{round_}.bin", source, None)
                results.setdefault("nginx PUT", []).append((up.size / MB / up.seconds, 0.0))
                for variant in args.variants.split(","):
                    http, loop, *mark = variant.split("/")
                    proc, base = start_uvicorn(http, loop, "".join(mark))
                    try:
                        cpu0 = cpu_seconds(proc.pid)
                        up, _ = curl_upload_json(f"{base}/sink", source, None)
                        cpu = (cpu_seconds(proc.pid) - cpu0) / (size / GIB)
                        results.setdefault(variant, []).append((up.size / MB / up.seconds, cpu))
                    finally:
                        proc.send_signal(signal.SIGINT)
                        proc.wait(30)
                print(f"round {round_ + 1} done, load {os.getloadavg()[0]:.2f}", flush=True)
                time.sleep(1)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for name, values in results.items():
        rates = " / ".join(f"{mb_s:,.0f}" for mb_s, _ in values)
        cpus = " / ".join(f"{cpu:.2f}" for _, cpu in values)
        print(f"| {name} | {rates} MB/s | {cpus} s CPU/GiB |")


if __name__ == "__main__":
    main()

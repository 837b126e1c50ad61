"""Benchmark: fan-out of one drive event to many live sockets (``GET /api/ws``).

Usage: PYTHONPATH=src .venv/bin/python benchmarks/live_sockets.py [--sockets 1000]
       [--rounds 20] [--json]

A ``cordvault serve``-like server (``app_from_env`` under uvicorn in its own process, local
backend, SQLite, in-process event bus) and, in this process, ``--sockets`` WebSocket clients
(``websockets`` asyncio client, one event loop) signed in as one account with ``c2s:auth``.
Each round creates a folder through REST (``POST /api/drive/mkdir``); the event goes to every
socket. Per round: the time from sending the request to the first and the last socket holding
the ``s2c:folder-modify`` packet, and every socket's latency (p50/p95/p99 over all rounds).
The client process shares the 2 cores with the server: latencies include the clients' own
receive and JSON decoding (a real fleet of browsers would not share a CPU with the server).
Also reported: the server's resident memory before and after opening the sockets.

Prints a Markdown table for docs/benchmarks.md ("Live sockets").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "benchmark password"  # noqa: S105 - a throwaway server's account


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    data = workdir / "data"
    data.mkdir(mode=0o700)
    port = free_port()
    env = {
        **os.environ,
        "DATA_DIR": str(data),
        "STORAGE_BACKEND": "local",
        "PYTHONPATH": str(ROOT / "src"),
        "LIVE_IDLE_TIMEOUT_SECONDS": "600",
        "LIVE_HEARTBEAT_SECONDS": "600",
    }
    env.pop("BROKER_URL", None)
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "cordvault.web.app:app_from_env"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, env=env, cwd=workdir)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/api/drive/folders/root").status_code < 500:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def open_socket(base: str, token: str) -> ClientConnection:
    ws = await connect(base.replace("http", "ws", 1) + "/api/ws", max_queue=None)
    await ws.send(json.dumps({"id": "c2s:auth", "uuid": "1", "data": {"token": token}}))
    reply = json.loads(await ws.recv())
    if reply["id"] != "s2c:auth-ok":
        raise SystemExit(f"auth failed: {reply}")
    return ws


async def wait_for_folder(ws: ClientConnection, name: str) -> float:
    while True:
        packet = json.loads(await ws.recv())
        if packet["id"] == "s2c:folder-modify" and packet["data"]["handle"]["name"] == name:
            return time.perf_counter()


async def run(base: str, token: str, count: int, rounds: int, pid: int) -> dict[str, Any]:
    rss_before = rss_mib(pid)
    sockets: list[ClientConnection] = []
    started = time.perf_counter()
    for i in range(0, count, 50):  # 50 handshakes at a time
        batch = min(50, count - i)
        sockets += await asyncio.gather(*(open_socket(base, token) for _ in range(batch)))
    open_seconds = time.perf_counter() - started
    rss_after = rss_mib(pid)
    latencies: list[float] = []
    firsts: list[float] = []
    lasts: list[float] = []
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
        for _ in range(rounds):
            name = f"round-{uuid.uuid4().hex[:8]}"
            waiters = [asyncio.create_task(wait_for_folder(ws, name)) for ws in sockets]
            await asyncio.sleep(0.05)  # every waiter is reading
            sent = time.perf_counter()
            r = await http.post("/api/drive/mkdir", params={"path": f"/{name}"})
            r.raise_for_status()
            got = await asyncio.gather(*waiters)
            round_latencies = [(t - sent) * 1000 for t in got]
            latencies += round_latencies
            firsts.append(min(round_latencies))
            lasts.append(max(round_latencies))
            await asyncio.sleep(0.2)
    for ws in sockets:
        await ws.close()
    qs = statistics.quantiles(latencies, n=100)
    return {
        "sockets": count,
        "rounds": rounds,
        "open_seconds": round(open_seconds, 2),
        "server_rss_mib_before": round(rss_before, 1),
        "server_rss_mib_after": round(rss_after, 1),
        "first_ms_median": round(statistics.median(firsts), 1),
        "last_ms_median": round(statistics.median(lasts), 1),
        "last_ms_max": round(max(lasts), 1),
        "p50_ms": round(qs[49], 1),
        "p95_ms": round(qs[94], 1),
        "p99_ms": round(qs[98], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, base = start_server(Path(tmp))
        try:
            r = httpx.post(
                f"{base}/api/auth/register", json={"name": "admin", "password": PASSWORD}
            )
            r.raise_for_status()
            token = r.json()["token"]
            result = asyncio.run(run(base, token, args.sockets, args.rounds, proc.pid))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print("| measure | value |\n|---|---|")
    print(f"| sockets open (signed in) | {result['sockets']} in {result['open_seconds']} s |")
    print(
        f"| server RSS before / after opening them | {result['server_rss_mib_before']} MiB / "
        f"{result['server_rss_mib_after']} MiB |"
    )
    print(
        f"| one event, first socket served (median of {result['rounds']} rounds) | "
        f"{result['first_ms_median']} ms |"
    )
    print(
        f"| one event, last socket served (median / max) | {result['last_ms_median']} ms / "
        f"{result['last_ms_max']} ms |"
    )
    print(
        f"| per-socket latency p50 / p95 / p99 | {result['p50_ms']} / {result['p95_ms']} / "
        f"{result['p99_ms']} ms |"
    )


if __name__ == "__main__":
    main()

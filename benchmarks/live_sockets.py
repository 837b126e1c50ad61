"""Benchmark: fan-out of drive events to many live sockets (``GET /api/ws``).

Usage: PYTHONPATH=src .venv/bin/python benchmarks/live_sockets.py [--sockets 1000]
       [--rounds 20]                                    # one event per round (latency floor)
       [--rate 100 --seconds 20 [--producer rest|bus]]  # a steady stream of events
       [--processes 2 --redis]                          # two servers, sockets split between them
       [--client-procs 2] [--batch] [--json]

Servers: ``cordvault serve`` processes (the real uvicorn options), local chunk store, one
SQLite database in a shared ``DATA_DIR`` (``--postgres``: a fresh PostgreSQL database); the
in-process event bus, or Redis pub/sub with ``--redis`` (``BROKER_URL``; required for
``--processes 2``). Clients: ``--sockets`` WebSocket
clients (``websockets`` asyncio client, orjson decoding) spread over ``--client-procs``
processes (default 2: the machine has two cores and one Python process cannot decode 100,000
packets a second), signed in as one account with ``c2s:auth``; ``--batch`` asks the server for
coalesced frames (``/api/ws?batch=1``, ``docs/live-protocol.md``).

Events: each is a folder created; its name carries the producer's ``time.monotonic()`` (one
clock for all processes of the machine), so every client computes each packet's latency
itself. ``--producer rest``: ``POST /api/drive/mkdir`` from 8 concurrent HTTP clients, paced to
``--rate`` (round robin over the servers): end to end, including the request's own work in the
server. ``--producer bus`` (needs ``--redis``): the benchmark publishes the same
``folder-modify`` event on the deployment's Redis channel, as another API process or the CLI
does after a commit: it isolates the fan-out from the cost of making 100 changes a second.

Reported: per-packet latency p50/p95/p99/max, packets delivered vs expected (clients wait up
to ``DRAIN_SECONDS`` for late ones), each server's RSS before/after the sockets opened and at
the end, its CPU seconds while producing and until every packet arrived (and per 1,000
packets: the figure a busy shared machine distorts least), the clients' CPU, the load average.
Prints a Markdown table (or ``--json``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "benchmark password"  # noqa: S105 - a throwaway server's account
PREFIX = "ev-"
DRAIN_SECONDS = 120.0
"""After the last event, how long clients wait for packets still on their way."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(
    workdir: Path, redis_url: str | None, database_url: str, src: Path
) -> dict[str, str]:
    data = workdir / "data"
    data.mkdir(mode=0o700, exist_ok=True)
    env = {
        **os.environ,
        "DATA_DIR": str(data),
        "STORAGE_BACKEND": "local",
        "PYTHONPATH": str(src),
        "LIVE_IDLE_TIMEOUT_SECONDS": "600",
        "LIVE_HEARTBEAT_SECONDS": "600",
        "PREVIEW_WORKERS": "0",
    }
    env.pop("BROKER_URL", None)
    env["DATABASE_URL"] = database_url
    if redis_url:
        env["BROKER_URL"] = redis_url
    return env


def start_server(workdir: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [sys.executable, "-m", "cordvault", "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, cwd=workdir)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health").status_code < 500:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def database(admin_url: str | None, tmp: Path) -> Iterator[str]:
    """A fresh PostgreSQL database (dropped afterwards), or a SQLite file in ``tmp``."""
    if admin_url is None:
        yield f"sqlite:///{tmp / 'data' / 'cordvault.db'}"
        return
    from sqlalchemy import create_engine, text

    name = f"cv_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as c:
            c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


# -- clients -------------------------------------------------------------------------------


async def open_socket(url: str, token: str) -> ClientConnection:
    ws = await connect(url, max_queue=None)  # offers permessage-deflate, as browsers do
    await ws.send(json.dumps({"id": "c2s:auth", "uuid": "1", "data": {"token": token}}))
    reply = orjson.loads(await ws.recv())
    if reply["id"] != "s2c:auth-ok":
        raise SystemExit(f"auth failed: {reply}")
    return ws


def _latencies_of(frame: str | bytes, now: float, out: list[float]) -> int:
    """Latencies (ms) of the benchmark's folder events in one frame; how many packets."""
    packets = orjson.loads(frame)
    if isinstance(packets, dict):
        packets = [packets]
    for packet in packets:
        if packet["id"] == "s2c:folder-modify":
            name = packet["data"]["handle"]["name"]
            if name.startswith(PREFIX):
                out.append((now - float(name.split("-")[2])) * 1000)
    return len(packets)


async def _reader(
    ws: ClientConnection,
    out: list[float],
    frames: list[int],
    target: list[int],
    all_in: asyncio.Event,
) -> None:
    try:
        async for frame in ws:
            _latencies_of(frame, time.monotonic(), out)
            frames[0] += 1
            if target[0] and len(out) >= target[0]:
                all_in.set()
    except Exception:  # noqa: S110 - closed at the end (or dropped: counted as missing)
        pass


def client_process(urls: list[str], token: str, count: int, pipe: Connection) -> None:
    """Open ``count`` sockets (round robin over ``urls``), report ready, read until told to
    stop, send back the latencies."""

    async def main() -> None:
        sockets: list[ClientConnection] = []
        for i in range(0, count, 50):
            batch = min(50, count - i)
            sockets += await asyncio.gather(
                *(open_socket(urls[(i + j) % len(urls)], token) for j in range(batch))
            )
        out: list[float] = []
        frames = [0]
        target = [0]
        all_in = asyncio.Event()
        readers = [asyncio.create_task(_reader(ws, out, frames, target, all_in)) for ws in sockets]
        pipe.send("ready")
        cpu0 = time.process_time()
        loop = asyncio.get_running_loop()
        events = await loop.run_in_executor(None, pipe.recv)  # the number of events sent
        target[0] = events * count
        if len(out) < target[0]:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_in.wait(), DRAIN_SECONDS)
        cpu = time.process_time() - cpu0
        for ws in sockets:
            await ws.close()
        await asyncio.gather(*readers, return_exceptions=True)
        pipe.send({"latencies": out, "frames": frames[0], "cpu": cpu})

    asyncio.run(main())


# -- producers -----------------------------------------------------------------------------


async def produce_rest(bases: list[str], token: str, rate: float, seconds: float) -> int:
    """Create ``rate * seconds`` folders at ``rate`` a second; how many succeeded."""
    total = int(rate * seconds)
    start = time.monotonic() + 0.2
    next_index = 0
    behind = [0.0]
    ok = [0]

    async def worker(http: httpx.AsyncClient, base_i: int) -> None:
        nonlocal next_index
        while next_index < total:
            i = next_index
            next_index += 1
            due = start + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                behind[0] = max(behind[0], -delay)
            name = f"{PREFIX}{i}-{time.monotonic():.6f}"
            base = bases[i % len(bases)]
            r = await http.post(f"{base}/api/drive/mkdir", params={"path": f"/{name}"})
            if r.is_success:
                ok[0] += 1
            else:
                print(f"mkdir failed: {r.status_code} {r.text[:200]}", file=sys.stderr)
            _ = base_i

    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(headers=headers, timeout=60) as http:
        await asyncio.gather(*(worker(http, k) for k in range(8)))
    return ok[0]


def produce_bus(redis_url: str, database_url: str, rate: float, seconds: float) -> int:
    import hashlib

    from cordvault.core.bus import open_bus
    from cordvault.drive.events import EVERYONE, FOLDER_MODIFY, Event, encode_batch

    scope = hashlib.sha256(database_url.encode()).hexdigest()[:16]
    bus = open_bus(redis_url, scope)
    total = int(rate * seconds)
    start = time.monotonic() + 0.2
    for i in range(total):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        name = f"{PREFIX}{i}-{time.monotonic():.6f}"
        data = {
            "path": "/",
            "action": "add",
            "handle": {
                "kind": "folder",
                "id": uuid.uuid4().hex,
                "parent_id": "root",
                "name": name,
                "owner_id": 1,
                "created_at": "2026-12-04T00:00:00+00:00",
                "updated_at": "2026-12-04T00:00:00+00:00",
            },
        }
        bus.publish(encode_batch([Event(FOLDER_MODIFY, data, EVERYONE)]))
    bus.close()
    return total


# -- runs ----------------------------------------------------------------------------------


def ws_urls(bases: list[str], batch: bool) -> list[str]:
    suffix = "/api/ws?batch=1" if batch else "/api/ws"
    return [b.replace("http", "ws", 1) + suffix for b in bases]


def run_stream(
    args: argparse.Namespace,
    bases: list[str],
    pids: list[int],
    token: str,
    redis_url: str | None,
    database_url: str,
) -> dict[str, Any]:
    rss_before = [rss_mib(p) for p in pids]
    ctx = multiprocessing.get_context("spawn")
    pipes: list[Connection] = []
    procs = []
    per = [args.sockets // args.client_procs] * args.client_procs
    per[0] += args.sockets - sum(per)
    started = time.monotonic()
    for n in per:
        mine, theirs = ctx.Pipe()
        proc = ctx.Process(
            target=client_process,
            args=(ws_urls(bases, args.batch), token, n, theirs),
            daemon=True,
        )
        proc.start()
        pipes.append(mine)
        procs.append(proc)
    for pipe in pipes:
        if pipe.recv() != "ready":
            raise SystemExit("a client process failed")
    open_seconds = time.monotonic() - started
    rss_after = [rss_mib(p) for p in pids]
    time.sleep(1.0)
    cpu0 = [cpu_seconds(p) for p in pids]
    load0 = os.getloadavg()
    t0 = time.monotonic()
    if args.producer == "bus":
        assert redis_url is not None
        events = produce_bus(redis_url, database_url, args.rate, args.seconds)
    else:
        events = asyncio.run(produce_rest(bases, token, args.rate, args.seconds))
    produced_in = time.monotonic() - t0
    cpu_stream = [cpu_seconds(p) - c for p, c in zip(pids, cpu0, strict=True)]
    latencies: list[float] = []
    frames = 0
    client_cpu = 0.0
    for pipe in pipes:
        pipe.send(events)
    for pipe in pipes:
        got = pipe.recv()
        latencies += got["latencies"]
        frames += got["frames"]
        client_cpu += got["cpu"]
    drained_in = time.monotonic() - t0
    cpu1 = [cpu_seconds(p) for p in pids]
    load1 = os.getloadavg()
    rss_end = [rss_mib(p) for p in pids]
    for proc in procs:
        proc.join(timeout=30)
    qs = statistics.quantiles(latencies, n=1000) if len(latencies) > 1 else [0.0] * 999
    return {
        "mode": "stream",
        "servers": len(pids),
        "bus": "redis" if redis_url else "in-process",
        "producer": args.producer,
        "batch": args.batch,
        "sockets": args.sockets,
        "client_procs": args.client_procs,
        "rate": args.rate,
        "seconds": args.seconds,
        "events": events,
        "produced_in_s": round(produced_in, 2),
        "expected_packets": events * args.sockets,
        "delivered_packets": len(latencies),
        "frames": frames,
        "open_seconds": round(open_seconds, 1),
        "server_rss_mib_before": [round(x, 1) for x in rss_before],
        "server_rss_mib_open": [round(x, 1) for x in rss_after],
        "server_rss_mib_end": [round(x, 1) for x in rss_end],
        "drained_in_s": round(drained_in, 2),
        "server_cpu_s_while_producing": [round(c, 2) for c in cpu_stream],
        "server_cpu_s_total": [round(b - a, 2) for a, b in zip(cpu0, cpu1, strict=True)],
        "server_cpu_ms_per_1000_packets": round(
            1e6 * sum(b - a for a, b in zip(cpu0, cpu1, strict=True)) / max(1, len(latencies)), 2
        ),
        "client_cpu_s": round(client_cpu, 1),
        "load_before": [round(x, 2) for x in load0],
        "load_after": [round(x, 2) for x in load1],
        "p50_ms": round(qs[499], 1),
        "p95_ms": round(qs[949], 1),
        "p99_ms": round(qs[989], 1),
        "max_ms": round(max(latencies, default=0.0), 1),
    }


async def run_rounds(
    base: str, token: str, count: int, rounds: int, pid: int, batch: bool
) -> dict[str, Any]:
    rss_before = rss_mib(pid)
    sockets: list[ClientConnection] = []
    started = time.perf_counter()
    url = ws_urls([base], batch)[0]
    for i in range(0, count, 50):  # 50 handshakes at a time
        batch_n = min(50, count - i)
        sockets += await asyncio.gather(*(open_socket(url, token) for _ in range(batch_n)))
    open_seconds = time.perf_counter() - started
    rss_after = rss_mib(pid)
    latencies: list[float] = []
    firsts: list[float] = []
    lasts: list[float] = []

    async def wait_for(ws: ClientConnection, name: str) -> float:
        while True:
            frame = await ws.recv()
            now = time.monotonic()
            text = frame if isinstance(frame, str) else frame.decode()
            if f'"name":"{name}"' in text:
                return now

    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
        for _ in range(rounds):
            name = f"round-{uuid.uuid4().hex[:8]}"
            waiters = [asyncio.create_task(wait_for(ws, name)) for ws in sockets]
            await asyncio.sleep(0.05)  # every waiter is reading
            sent = time.monotonic()
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
        "mode": "rounds",
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
        "load": [round(x, 2) for x in os.getloadavg()],
    }


def print_table(result: dict[str, Any]) -> None:
    print("| measure | value |\n|---|---|")
    for key, value in result.items():
        print(f"| {key} | {value} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--rate", type=float, default=0.0, help="events/s (0: rounds mode)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--producer", choices=("rest", "bus"), default="rest")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--redis", nargs="?", const="redis://127.0.0.1:6379/0", default=None)
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument(
        "--server-src",
        type=Path,
        default=ROOT / "src",
        help="the servers' source tree (to compare with another checkout)",
    )
    parser.add_argument(
        "--postgres",
        nargs="?",
        const="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        default=None,
        help="a fresh database on this server (admin URL) instead of SQLite",
    )
    parser.add_argument("--batch", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if (args.processes > 1 or args.producer == "bus") and not args.redis:
        parser.error("--processes > 1 and --producer bus need --redis")
    with tempfile.TemporaryDirectory() as tmp, database(args.postgres, Path(tmp)) as db_url:
        env = server_env(Path(tmp), args.redis, db_url, args.server_src)
        servers = [start_server(Path(tmp), env)]  # the first creates the keys
        servers += [start_server(Path(tmp), env) for _ in range(args.processes - 1)]
        bases = [b for _, b in servers]
        pids = [p.pid for p, _ in servers]
        database_url = db_url
        try:
            r = httpx.post(
                f"{bases[0]}/api/auth/register", json={"name": "admin", "password": PASSWORD}
            )
            r.raise_for_status()
            token = r.json()["token"]
            time.sleep(1.0)  # every server's bus listener is subscribed
            if args.rate > 0:
                result = run_stream(args, bases, pids, token, args.redis, database_url)
            else:
                result = asyncio.run(
                    run_rounds(bases[0], token, args.sockets, args.rounds, pids[0], args.batch)
                )
        finally:
            for proc, _ in servers:
                proc.terminate()
            for proc, _ in servers:
                proc.wait(timeout=30)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)


if __name__ == "__main__":
    main()

"""Insights server benchmark: /status under concurrent polling, and POST -> PROCESSED time.

Starts ``cordvault serve`` (uvicorn, in-process queue) in a subprocess against SQLite or
PostgreSQL, then:

1. polls ``GET /process/<id>/status`` of a processed package with ``wrk`` (N connections,
   keep-alive, bearer header) and reports requests/s and latency percentiles;
2. the same for a queued package (the queue-position path: three COUNT queries);
3. POSTs a generated package of ``--messages`` messages served by a local HTTP server, polls
   its status every second like the client, and reports the POST -> PROCESSED time while
   ``wrk`` keeps polling a processed package's status (its p99 while a job runs).

Usage: ``.venv/bin/python benchmarks/insights_server.py --db sqlite --db postgres``.
Needs ``wrk`` (apt install wrk). Numbers go in docs/benchmarks.md, "Insights server".
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def new_upn() -> str:
    alphabet = string.ascii_letters + string.digits + "-._"
    return "".join(secrets.choice(alphabet) for _ in range(600))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OctetHandler(SimpleHTTPRequestHandler):
    def guess_type(self, path: str | os.PathLike[str]) -> str:
        return "application/octet-stream"

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve_dir(folder: Path) -> tuple[ThreadingHTTPServer, str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(OctetHandler, directory=str(folder)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


def make_package(folder: Path, name: str, messages: int, events: int) -> Path:
    from cordvault.insights.generator import GenOptions, generate_package

    path = folder / name
    if not path.exists():
        generate_package(
            path, GenOptions(variant="modern", seed=11, messages=messages, events=events)
        )
    return path


def pg_database() -> tuple[str, str]:
    from sqlalchemy import create_engine, text

    name = f"cv_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return name, f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def drop_pg(name: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def wrk(
    url: str, upn: str, seconds: int, connections: int, threads: int, rate: int = 0
) -> dict[str, float]:
    """Run wrk; ``rate`` > 0 paces each connection (wrk's Lua ``delay``) to about that total
    rate, like many clients polling every second, instead of saturating the server."""
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-H",
        f"Authorization: Bearer {upn}",
    ]
    script = None
    if rate:
        delay_ms = max(1, round(connections * 1000 / rate))
        script = Path(tempfile.mkstemp(suffix=".lua")[1])
        script.write_text(f"function delay()\n  return {delay_ms}\nend\n")
        cmd += ["-s", str(script)]
    try:
        out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    finally:
        if script is not None:
            script.unlink()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = {}
    for pct in ("50", "90", "99"):
        m = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out)
        assert m, out
        value, unit = float(m.group(1)), m.group(2)
        lat[pct] = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "rps": rps,
        "p50": lat["50"],
        "p90": lat["90"],
        "p99": lat["99"],
        "non2xx": float(errors.group(1)) if errors else 0.0,
    }


def wait_processed(client: httpx.Client, pid: str, upn: str, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        body = client.get(
            f"/process/{pid}/status", headers={"Authorization": f"Bearer {upn}"}
        ).json()
        if body["isDataAvailable"]:
            return time.monotonic() - start
        if body["isErrored"]:
            raise RuntimeError(f"job errored: {body['errorMessageCode']}")
        time.sleep(1.0)  # the client polls every second
    raise RuntimeError("timeout")


def run(db: str, args: argparse.Namespace, cache: Path) -> None:
    make_package(cache, "small.zip", 2000, 5000)
    big = make_package(cache, f"big-{args.messages}.zip", args.messages, args.messages)
    httpd, files = serve_dir(cache)
    data_dir = Path(tempfile.mkdtemp(prefix="cv-bench-"))
    pg_name = None
    if db == "postgres":
        pg_name, url = pg_database()
    else:
        url = f"sqlite:///{data_dir / 'cordvault.db'}"
    port = free_port()
    env = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": url,
        "DL_ZIP_WHITELISTED_DOMAINS": files + "/",
        "INPROCESS_WORKERS": "1",
    }
    env.pop("BROKER_URL", None)
    env.pop("REDIS_URL", None)
    server = subprocess.Popen(
        [PY, "-m", "cordvault", "serve", "--port", str(port), "--workers", str(args.workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        client = httpx.Client(base_url=base, timeout=30)
        for _ in range(100):
            try:
                client.get("/health")
                break
            except httpx.TransportError:
                time.sleep(0.2)
        done_upn = new_upn()
        pid = client.post(
            "/process", json={"package_link": f"{files}/small.zip?upn={done_upn}"}
        ).json()["packageId"]
        wait_processed(client, pid, done_upn, 300)

        idle = wrk(
            f"{base}/process/{pid}/status", done_upn, args.seconds, args.connections, args.threads
        )
        print(f"[{db}] status (processed), idle server: {fmt(idle)}", flush=True)

        # A big job, and a small one queued behind it. While the big one runs, wrk polls the
        # processed package's status, then the queued one's (position counts), back to back.
        big_upn, queued_upn = new_upn(), new_upn()
        t0 = time.monotonic()
        answer = client.post("/process", json={"package_link": f"{files}/{big.name}?upn={big_upn}"})
        post_ms = (time.monotonic() - t0) * 1000
        assert answer.status_code == 200, answer.text
        big_pid = answer.json()["packageId"]
        answer = client.post(
            "/process", json={"package_link": f"{files}/small.zip?upn={queued_upn}"}
        )
        assert answer.status_code == 200, answer.text
        queued_pid = answer.json()["packageId"]
        loads: dict[str, tuple[dict[str, float], float]] = {}

        def load() -> None:
            for name, target, upn in (
                ("processed", pid, done_upn),
                ("queued", queued_pid, queued_upn),
            ):
                result = wrk(
                    f"{base}/process/{target}/status",
                    upn,
                    args.seconds,
                    args.connections,
                    args.threads,
                )
                loads[name] = (result, time.monotonic() - t0)

        loader = threading.Thread(target=load)
        loader.start()
        elapsed = wait_processed(client, big_pid, big_upn, 1800)
        total = time.monotonic() - t0
        loader.join()
        for name, (result, ended) in loads.items():
            overlap = "during the job" if ended <= total else "partly after the job ended"
            print(
                f"[{db}] status ({name}), {args.messages}-message job running "
                f"({overlap}): {fmt(result)}",
                flush=True,
            )
        print(
            f"[{db}] POST answered in {post_ms:.1f} ms; POST -> PROCESSED "
            f"({args.messages} messages, {big.stat().st_size / 1e6:.1f} MB zip): "
            f"{total:.1f} s (client saw it after {elapsed:.1f} s of 1 s polling)",
            flush=True,
        )
        blob = client.get(
            f"/process/{big_pid}/blob", headers={"Authorization": f"Bearer {big_upn}"}
        ).json()
        size = len(httpx.get(blob["url"]).content)
        print(f"[{db}] encrypted blob: {size / 1e6:.2f} MB", flush=True)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        httpd.shutdown()
        shutil.rmtree(data_dir, ignore_errors=True)
        if pg_name:
            drop_pg(pg_name)


def fmt(r: dict[str, float]) -> str:
    return (
        f"{r['rps']:,.0f} req/s, p50 {r['p50']:.2f} ms, p90 {r['p90']:.2f} ms, "
        f"p99 {r['p99']:.2f} ms, non-2xx {r['non2xx']:.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", action="append", choices=["sqlite", "postgres"])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rate", type=int, default=2000, help="paced runs: total req/s")
    parser.add_argument("--paced-connections", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "cv-bench")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    if shutil.which("wrk") is None:
        sys.exit("wrk is required (apt install wrk)")
    for db in args.db or ["sqlite"]:
        run(db, args, args.cache)


if __name__ == "__main__":
    main()

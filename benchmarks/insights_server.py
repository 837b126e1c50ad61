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
import contextlib
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
from collections.abc import Iterator
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


@contextlib.contextmanager
def cordvault_serve(
    data_dir: Path, settings: dict[str, str], workers: int = 1
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``cordvault serve`` in a subprocess (``DATA_DIR`` = ``data_dir``, in-process queue, no
    broker or Redis, ``settings`` added to the environment, stderr in ``data_dir/server.log``),
    answering ``/health``; yields its base URL and process, and stops it on exit."""
    env = {**os.environ, "DATA_DIR": str(data_dir), "INPROCESS_WORKERS": "1", **settings}
    env.pop("BROKER_URL", None)
    env.pop("REDIS_URL", None)
    port = free_port()
    server = subprocess.Popen(
        [PY, "-m", "cordvault", "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(data_dir / "server.log").open("wb"),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=5) as client:
            for _ in range(150):
                try:
                    client.get("/health")
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
        yield base, server
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


class OctetHandler(SimpleHTTPRequestHandler):
    """Serves the package folder as octet-stream; ``/hang`` trickles a byte a second (a job
    stuck downloading keeps a queue slot busy, so a later job stays queued)."""

    def guess_type(self, path: str | os.PathLike[str]) -> str:
        return "application/octet-stream"

    def do_HEAD(self) -> None:
        if self.path.startswith("/hang"):
            self._hang(body=False)
        else:
            super().do_HEAD()

    def do_GET(self) -> None:
        if self.path.startswith("/hang"):
            self._hang(body=True)
        else:
            super().do_GET()

    def _hang(self, body: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", "1000000")
        self.end_headers()
        try:
            while body:
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(1.0)
        except OSError:
            pass

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
        # wrk waits `delay` after each answer; 0.85 leaves room for the answer's own latency
        # so the achieved rate lands near the target (the achieved rate is what is reported).
        delay_ms = max(1, round(connections * 1000 / rate * 0.85))
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
    settings = {"DATABASE_URL": url, "DL_ZIP_WHITELISTED_DOMAINS": files + "/"}
    try:
        with cordvault_serve(data_dir, settings, args.workers) as (base, _server):
            client = httpx.Client(base_url=base, timeout=30)
            done_upn = new_upn()
            pid = client.post(
                "/process", json={"package_link": f"{files}/small.zip?upn={done_upn}"}
            ).json()["packageId"]
            wait_processed(client, pid, done_upn, 300)

            url = f"{base}/process/{pid}/status"
            idle = wrk(url, done_upn, args.seconds, args.connections, args.threads)
            print(
                f"[{db}] status (processed), idle, saturating with {args.connections} connections: "
                f"{fmt(idle)}",
                flush=True,
            )
            paced = wrk(
                url, done_upn, args.seconds, args.paced_connections, args.threads, rate=args.rate
            )
            print(
                f"[{db}] status (processed), idle, paced at {args.rate} req/s over "
                f"{args.paced_connections} connections: {fmt(paced)}",
                flush=True,
            )

            # A queued job: every queue slot (one per API process) is held by a job stuck
            # downloading, so the next one waits and its status runs the position query.
            blockers = []
            for _ in range(args.workers):
                upn = new_upn()
                blocker = client.post("/process", json={"package_link": f"{files}/hang?upn={upn}"})
                if blocker.status_code != 200:
                    print((data_dir / "server.log").read_text()[-3000:])
                assert blocker.status_code == 200, blocker.text
                blockers.append((blocker.json()["packageId"], upn))
            time.sleep(3)
            queued_upn = new_upn()
            queued_pid = client.post(
                "/process", json={"package_link": f"{files}/small.zip?upn={queued_upn}"}
            ).json()["packageId"]
            auth = {"Authorization": f"Bearer {queued_upn}"}
            step = client.get(f"/process/{queued_pid}/status", headers=auth).json()[
                "processingStep"
            ]
            queued = wrk(
                f"{base}/process/{queued_pid}/status",
                queued_upn,
                args.seconds,
                args.paced_connections,
                args.threads,
                rate=args.rate,
            )
            print(
                f"[{db}] status (queued job, step {step}: position query), paced at {args.rate} "
                f"req/s: {fmt(queued)}",
                flush=True,
            )
            for blocker_pid, upn in blockers:  # DELETE aborts the stuck downloads
                client.delete(f"/process/{blocker_pid}", headers={"Authorization": f"Bearer {upn}"})
            wait_processed(client, queued_pid, queued_upn, 300)

            # The big job. While it runs, wrk polls a processed package's status at the paced rate.
            big_upn = new_upn()
            t0 = time.monotonic()
            answer = client.post(
                "/process", json={"package_link": f"{files}/{big.name}?upn={big_upn}"}
            )
            post_ms = (time.monotonic() - t0) * 1000
            assert answer.status_code == 200, answer.text
            big_pid = answer.json()["packageId"]
            loads: dict[str, dict[str, float]] = {}

            def load() -> None:
                loads["busy"] = wrk(
                    url,
                    done_upn,
                    args.job_seconds,
                    args.paced_connections,
                    args.threads,
                    rate=args.rate,
                )
                loads["ended"] = {"t": time.monotonic() - t0}

            loader = threading.Thread(target=load)
            loader.start()
            elapsed = wait_processed(client, big_pid, big_upn, 1800)
            total = time.monotonic() - t0
            loader.join()
            overlap = "during the job" if loads["ended"]["t"] <= total else "partly after the job"
            print(
                f"[{db}] status (processed), paced at {args.rate} req/s while a {args.messages}-"
                f"message job runs ({overlap}): {fmt(loads['busy'])}",
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
        httpd.shutdown()
        if not args.keep:
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
    parser.add_argument("--keep", action="store_true", help="keep the data dir (server.log)")
    parser.add_argument(
        "--job-seconds", type=int, default=3, help="wrk duration while the big job runs"
    )
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

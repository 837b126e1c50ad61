"""Benchmark: load on the scaled deployment (issue 13), bounded in time, loopback only.

Usage: .venv/bin/python benchmarks/load.py [--duration 300] [--pollers 1000] [--transfers 20]

Starts the deployment ``tests/runtime/test_deployment.py`` proves (its helpers, from
``tests/support/deployment.py``): two ``cordvault serve`` and two ``cordvault worker``
processes on a scratch PostgreSQL database, a Redis broker and moto's S3 server, one shared
``DATA_DIR`` (local chunk store). Then, for ``--duration`` seconds:

- ``--pollers`` Dumpus-like clients, each with its own UPN: one ``POST /process`` (alternately
  to each API process, 50 at a time, before the timed part), then
  ``GET /process/{id}/status`` about once a second: one ``wrk`` per API process (C, epoll:
  a Python client cannot send 1,000 requests/s on a shared 2-core machine), one connection
  per poller, each waiting 1 s after every answer (wrk's ``delay()``). The links point at a
  local package server that trickles one byte every 0.5 s, so the two workers each stay on
  one download and the other jobs stay queued: every poll computes its queue position over
  ~1,000 unfinished jobs, the status route's heaviest case.
- ``--transfers`` drive clients, each in a loop: upload a random file (64 KiB .. 2 MiB)
  through one API process, download it through the other and compare its SHA-256, delete it
  (the trash is off, so the chunks are collected and the disk stays bounded).

Reports requests and throughput per route, p50/p99 latency, errors (target: 0), the RSS and
CPU seconds of every server process over time, the load average, and whether every upload read
back intact. Prints Markdown for docs/benchmarks.md; the raw numbers go to ``--json``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_HOST = os.environ.get("CORDVAULT_TEST_PG_HOST", "127.0.0.1")
PG_ADMIN_URL = f"postgresql+psycopg://postgres@{PG_HOST}:5432/postgres"
REDIS = os.environ.get("CORDVAULT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PASSWORD = secrets.token_urlsafe(16)
STATUS = "GET /process/{package_id}/status"
SUBMIT = "POST /process"
UPLOAD = "PUT /api/drive/upload"
DOWNLOAD = "GET /api/drive/files/{file_id}/content"
DELETE = "DELETE /api/drive/files/{file_id}"
RAMP = 10.0


@dataclass
class Tally:
    """Latencies (seconds) and errors per route, from one client process."""

    seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, other: Tally) -> None:
        for route, values in other.seconds.items():
            self.seconds[route].extend(values)
        for kind, count in other.errors.items():
            self.errors[kind] += count


def _error(tally: Tally, route: str, what: str) -> None:
    tally.errors[f"{route}: {what}"] += 1


# -- pollers --------------------------------------------------------------------------------
_WRK_SCRIPT = """
local jobs = {%s}
local i = 0
request = function()
  i = i + 1
  local job = jobs[(i - 1) %% #jobs + 1]
  return wrk.format("GET", job[1], {["Authorization"] = "Bearer " .. job[2]})
end
delay = function() return 1000 end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT %%d %%d %%d %%d %%d %%d %%d %%d %%d %%d\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


async def _submit(jobs: list[tuple[str, str, str]], tally: Tally) -> list[tuple[str, str, str]]:
    """``POST /process`` for every poller (50 at a time); returns (base, status path, UPN)."""
    gate = asyncio.Semaphore(50)
    polled: list[tuple[str, str, str]] = []

    async def one(client: httpx.AsyncClient, base: str, link: str, upn: str) -> None:
        async with gate:
            started = time.perf_counter()
            try:
                r = await client.post(f"{base}/process", json={"package_link": link})
            except httpx.HTTPError as exc:
                _error(tally, SUBMIT, type(exc).__name__)
                return
            tally.seconds[SUBMIT].append(time.perf_counter() - started)
            if r.status_code != 200 or not r.json().get("isAccepted"):
                _error(tally, SUBMIT, str(r.status_code))
                return
            polled.append((base, f"/process/{r.json()['packageId']}/status", upn))

    async with httpx.AsyncClient(timeout=120) as client:
        await asyncio.gather(*(one(client, *job) for job in jobs))
    return polled


def start_wrk(base: str, jobs: list[tuple[str, str]], duration: float, work: Path) -> Any:
    """One ``wrk`` polling ``jobs`` (status path, UPN) on ``base``, a connection per job."""
    listed = ",".join(f'{{"{path}","{upn}"}}' for path, upn in jobs)
    script = work / f"poll-{len(list(work.glob('poll-*.lua')))}.lua"
    script.write_text(_WRK_SCRIPT % listed)
    return subprocess.Popen(
        [
            "wrk",
            "-t1",
            f"-c{len(jobs)}",
            f"-d{int(duration)}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            base,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wrk_result(proc: Any) -> dict[str, float]:
    """The numbers the script's ``done()`` printed (latencies in microseconds)."""
    out, _ = proc.communicate(timeout=600)
    line = next((ln for ln in out.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {out}")
    keys = ("requests", "duration_us", "connect", "read", "write", "status", "timeout")
    values = [float(v) for v in line.split()[1:]]
    return dict(zip((*keys, "p50_us", "p99_us", "max_us"), values, strict=True))


# -- drive transfers (in this process) ------------------------------------------------------
@dataclass
class Transfers:
    uploaded: int = 0
    verified: int = 0
    mismatched: int = 0
    bytes_up: int = 0
    bytes_down: int = 0


async def _transfer_loop(
    n: int, bases: list[str], token: str, end: float, tally: Tally, totals: Transfers
) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=120) as client:
        i = 0
        while time.monotonic() < end:
            up, down = bases[(n + i) % 2], bases[(n + i + 1) % 2]
            data = os.urandom(random.randint(64 * 1024, 2 * 1024 * 1024))
            digest = hashlib.sha256(data).hexdigest()
            i += 1
            started = time.perf_counter()
            try:
                r = await client.put(
                    f"{up}/api/drive/upload",
                    params={"path": f"/t{n}-{i}.bin"},
                    content=data,
                    headers=auth,
                )
            except httpx.HTTPError as exc:
                _error(tally, UPLOAD, type(exc).__name__)
                continue
            tally.seconds[UPLOAD].append(time.perf_counter() - started)
            if r.status_code != 201:
                _error(tally, UPLOAD, str(r.status_code))
                continue
            totals.uploaded += 1
            totals.bytes_up += len(data)
            file_id = r.json()["file"]["id"]
            started = time.perf_counter()
            try:
                r = await client.get(f"{down}/api/drive/files/{file_id}/content", headers=auth)
            except httpx.HTTPError as exc:
                _error(tally, DOWNLOAD, type(exc).__name__)
                continue
            tally.seconds[DOWNLOAD].append(time.perf_counter() - started)
            if r.status_code != 200:
                _error(tally, DOWNLOAD, str(r.status_code))
                continue
            totals.bytes_down += len(r.content)
            if hashlib.sha256(r.content).hexdigest() == digest:
                totals.verified += 1
            else:
                totals.mismatched += 1
            started = time.perf_counter()
            try:
                r = await client.delete(f"{up}/api/drive/files/{file_id}", headers=auth)
            except httpx.HTTPError as exc:
                _error(tally, DELETE, type(exc).__name__)
                continue
            tally.seconds[DELETE].append(time.perf_counter() - started)
            if r.status_code != 204:
                _error(tally, DELETE, str(r.status_code))


async def _transfers(
    count: int, bases: list[str], token: str, end: float
) -> tuple[Tally, Transfers]:
    tally, totals = Tally(), Transfers()
    await asyncio.gather(
        *(_transfer_loop(n, bases, token, end, tally, totals) for n in range(count))
    )
    return tally, totals


# -- server processes ----------------------------------------------------------------------
class Sampler:
    """RSS (process + children) of each named process every ``every`` seconds."""

    def __init__(self, procs: dict[str, int], every: float) -> None:
        self.procs = {name: psutil.Process(pid) for name, pid in procs.items()}
        self.every = every
        self.rows: list[tuple[float, dict[str, float], float]] = []  # t, MB per name, load1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._start = time.monotonic()

    def rss_mb(self) -> dict[str, float]:
        out = {}
        for name, proc in self.procs.items():
            try:
                family = [proc, *proc.children(recursive=True)]
                out[name] = sum(p.memory_info().rss for p in family) / 2**20
            except psutil.NoSuchProcess:
                out[name] = 0.0
        return out

    def cpu_seconds(self) -> dict[str, float]:
        out = {}
        for name, proc in self.procs.items():
            try:
                t = proc.cpu_times()
                out[name] = t.user + t.system + t.children_user + t.children_system
            except psutil.NoSuchProcess:
                out[name] = 0.0
        return out

    def _run(self) -> None:
        while not self._stop.is_set():
            self.rows.append((time.monotonic() - self._start, self.rss_mb(), os.getloadavg()[0]))
            self._stop.wait(self.every)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.rows.append((time.monotonic() - self._start, self.rss_mb(), os.getloadavg()[0]))


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _others() -> str:
    """What else used the CPU (the machine is shared): the busiest other commands."""
    mine = {os.getpid(), *(p.pid for p in psutil.Process().children(recursive=True))}
    out = subprocess.run(
        ["ps", "-eo", "pid,pcpu,comm", "--sort=-pcpu", "--no-headers"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    rows = []
    for line in out.splitlines():
        pid, pcpu, comm = line.split(None, 2)
        if int(pid) not in mine and float(pcpu) >= 5:
            rows.append(f"{comm} {pcpu}%")
    return ", ".join(rows[:12]) or "nothing above 5 %"


def run(args: argparse.Namespace) -> dict[str, Any]:
    # Imported here: the poller processes (spawned) need none of this.
    from tests.support.deployment import Deployment, deployment_env, moto_s3, scratch_postgres
    from tests.support.insights_server import new_upn, running_package_server

    work = Path(tempfile.mkdtemp(prefix="cv-load-"))
    data_dir = work / "data"
    data_dir.mkdir(mode=0o700)
    logdir = work / "logs"
    logdir.mkdir()
    broker = f"{REDIS.rsplit('/', 1)[0]}/{random.randint(1, 15)}"
    with (
        scratch_postgres(PG_ADMIN_URL, PG_HOST) as db_url,
        moto_s3("blobs") as s3,
        running_package_server() as packages,
    ):
        packages.trickle_delay = 0.5
        env = deployment_env(
            data_dir=data_dir,
            database_url=db_url,
            broker_url=broker,
            s3_endpoint=s3,
            whitelisted=packages.base + "/",
            ANALYZE_WORKERS="1",
            DOWNLOAD_TOTAL_TIMEOUT=str(args.duration + 3600),
            DOWNLOAD_READ_TIMEOUT="60",
            DRIVE_TRASH_RETENTION_DAYS="0",
            METRICS_TOKEN=secrets.token_hex(16),
        )
        deployment = Deployment(env, logdir)
        try:
            _api_a, a = deployment.serve("api-a")  # creates the keys; the second reads them
            _api_b, b = deployment.serve("api-b")
            deployment.worker("worker-1")
            deployment.worker("worker-2")
            bases = [a, b]
            r = httpx.post(f"{a}/api/auth/register", json={"name": "load", "password": PASSWORD})
            r.raise_for_status()
            token = r.json()["token"]
            names = ("api-a", "api-b", "worker-1", "worker-2")
            sampler = Sampler({n: p.pid for n, p in zip(names, deployment.procs, strict=True)}, 10)
            cpu_before = sampler.cpu_seconds()
            jobs = []
            for i in range(args.pollers):
                upn = new_upn()
                jobs.append((bases[i % 2], f"{packages.base}/slow?upn={upn}", upn))
            tally = Tally()
            polled = asyncio.run(_submit(jobs, tally))
            load_before = os.getloadavg()
            with sampler:
                started = time.monotonic()
                wrks = [
                    start_wrk(
                        base, [(p, u) for b_, p, u in polled if b_ == base], args.duration, work
                    )
                    for base in bases
                ]
                part, totals = asyncio.run(
                    _transfers(args.transfers, bases, token, time.monotonic() + args.duration)
                )
                tally.add(part)
                others = _others()
                polls = [wrk_result(w) for w in wrks]
                elapsed = time.monotonic() - started
            load_after = os.getloadavg()
            cpu_after = sampler.cpu_seconds()
            metrics = httpx.get(
                f"{a}/metrics", headers={"Authorization": f"Bearer {env['METRICS_TOKEN']}"}
            ).text
            queued = next(
                (
                    float(line.split()[-1])
                    for line in metrics.splitlines()
                    if line.startswith('cordvault_jobs{state="LOCKED"}')
                ),
                0.0,
            )
        finally:
            deployment.stop()
    routes = {}
    requests = sum(p["requests"] for p in polls)
    routes[STATUS + " (wrk)"] = {
        "requests": requests,
        "per_second": requests / (max(p["duration_us"] for p in polls) / 1e6),
        "p50_ms": max(p["p50_us"] for p in polls) / 1000,
        "p99_ms": max(p["p99_us"] for p in polls) / 1000,
        "max_ms": max(p["max_us"] for p in polls) / 1000,
    }
    for p in polls:
        for kind in ("connect", "read", "write", "status", "timeout"):
            if p[kind]:
                tally.errors[f"{STATUS}: {kind}"] += int(p[kind])
    for route, values in sorted(tally.seconds.items()):
        routes[route] = {
            "requests": len(values),
            "per_second": len(values) / elapsed,
            "p50_ms": _pct(values, 0.50) * 1000,
            "p99_ms": _pct(values, 0.99) * 1000,
            "mean_ms": statistics.fmean(values) * 1000,
        }
    return {
        "duration_s": elapsed,
        "pollers": args.pollers,
        "transfers": args.transfers,
        "routes": routes,
        "errors": dict(tally.errors),
        "uploads": totals.__dict__,
        "rss": [(t, mb, load) for t, mb, load in sampler.rows],
        "cpu_seconds": {n: cpu_after[n] - cpu_before[n] for n in cpu_after},
        "wrk": polls,
        "load_before": load_before,
        "load_after": load_after,
        "others": others,
        "queued_jobs_at_end": queued,
    }


def report(result: dict[str, Any]) -> str:
    lines = [
        f"{result['pollers']} pollers at 1/s + {result['transfers']} transfer loops, "
        f"{result['duration_s']:.0f} s; load average (1, 5, 15 min) before "
        f"{', '.join(f'{x:.1f}' for x in result['load_before'])}, after "
        f"{', '.join(f'{x:.1f}' for x in result['load_after'])}.",
        "",
        "| route | requests | per s | p50 | p99 |",
        "|---|---|---|---|---|",
    ]
    for route, r in result["routes"].items():
        lines.append(
            f"| `{route}` | {r['requests']} | {r['per_second']:.1f} | {r['p50_ms']:.0f} ms "
            f"| {r['p99_ms']:.0f} ms |"
        )
    up = result["uploads"]
    seconds = result["duration_s"]
    lines += [
        "",
        f"Errors: {sum(result['errors'].values())} {result['errors'] or ''}".rstrip(),
        f"Uploads: {up['uploaded']} ({up['bytes_up'] / seconds / 1e6:.1f} MB/s up, "
        f"{up['bytes_down'] / seconds / 1e6:.1f} MB/s down), read back intact (SHA-256): "
        f"{up['verified']}, mismatched: {up['mismatched']}.",
        f"Jobs still queued at the end: {result['queued_jobs_at_end']:.0f}.",
        "",
        "| t (s) | " + " | ".join(f"{n} RSS (MB)" for n in result["rss"][0][1]) + " | load 1 min |",
        "|---|" + "---|" * (len(result["rss"][0][1]) + 1),
    ]
    rows = result["rss"]
    step = max(1, len(rows) // 6)
    for t, mb, load in [*rows[::step][:-1], rows[-1]]:
        cells = " | ".join(f"{v:.0f}" for v in mb.values())
        lines.append(f"| {t:.0f} | {cells} | {load:.1f} |")
    lines += [
        "",
        "CPU seconds: " + ", ".join(f"{n} {v:.0f}" for n, v in result["cpu_seconds"].items()) + ".",
        f"Other busy processes at the end: {result['others']}.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=300.0)
    parser.add_argument("--pollers", type=int, default=1000)
    parser.add_argument("--transfers", type=int, default=20)
    parser.add_argument("--json", type=Path, help="write the raw numbers here")
    args = parser.parse_args()
    result = run(args)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    print(report(result))


if __name__ == "__main__":
    main()

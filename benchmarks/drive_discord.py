"""Benchmark: the drive over HTTP on the Discord emulator with Discord's default limits.

Usage: .venv/bin/python benchmarks/drive_discord.py [--size-mib 1024] [--runs 3]
       [--big-gib 10] [--concurrent 4] [--channels 4] [--webhooks 4] [--json]

The setup of issue 15 (where DDrive 4.x was measured on the same emulator): the emulator in
its own process with Discord's limits (5 message posts per 5 s per channel, 50 requests/s per
bot, 10 MiB per file), ``--channels`` channels and ``--webhooks`` webhooks as extra upload
lanes, 8 MiB chunks; cordvault is the real app under uvicorn (``drive_http:api_app``, SQLite,
``STORAGE_BACKEND=discord``). One run measures, each transfer with ``curl``:

1. upload of a ``--size-mib`` random file (``PUT /api/drive/upload``): MiB/s and the server's
   peak RSS (process tree, sampled every 20 ms);
2. ``--runs`` downloads, each by a *fresh* server process (cold URL cache, cold connection
   pool): MiB/s and the server's CPU seconds (user + system) per GiB;
3. ``--concurrent`` downloads of the same file at once (one fresh server) while ``/health`` is
   probed every 20 ms: aggregate MiB/s, each download's MiB/s, the probe's p50 / p99 / max;
4. a 1 KiB Range read at the end of the file: its latency and the CDN bytes the emulator
   GETs it made (one, for one 64 KiB segment);
5. with ``--big-gib``, an upload of that many GiB (the flat-memory check: its peak RSS must be
   no higher than the 1 GiB upload's).

Every download's SHA-256 is checked against the source (the timed downloads go to
/dev/null; one extra download is hashed). The emulator's 429 count is reported.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from drive_http import (
    HTTP_PROTOCOL,
    MIB,
    ROOT,
    RssSampler,
    curl_download,
    curl_upload_json,
    free_port,
    make_source,
    register,
    sha256_of_url,
    wait_port,
)

TOKEN = "benchmark-bot-token"  # noqa: S105 - a token only the local emulator knows
GIB = 1024 * MIB
CDN_GET = "GET /cdn/attachments"


def start_emulator(
    storage: Path, channels: list[str], hooks: list[tuple[str, str, str]]
) -> tuple[subprocess.Popen[str], str]:
    args = [sys.executable, "-m", "cordvault.discord.emulator", "--port", "0", "--token", TOKEN]
    args += ["--message-limit", "5/5", "--global-limit", "50", "--max-file-mib", "10"]
    for channel in channels:
        args += ["--channel", channel]
    for hook_id, token, channel in hooks:
        args += ["--webhook", f"{hook_id}:{token}:{channel}"]
    env = {**os.environ, "TMPDIR": str(storage), "PYTHONPATH": str(ROOT / "src")}
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    line = process.stdout.readline()
    return process, line.strip().split("DISCORD_API_BASE=", 1)[1]


def emulator_stats(api_base: str) -> dict[str, Any]:
    root = api_base.rsplit("/api/", 1)[0]
    body: dict[str, Any] = httpx.get(f"{root}/_emulator/stats").json()
    return body


def limited(stats: dict[str, Any]) -> int:
    return int(sum(stats["rate_limited"].values()) + stats["global_rate_limited"])


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children so far."""
    total = 0.0
    proc = psutil.Process(pid)
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            times = p.cpu_times()
            total += times.user + times.system
    return total


@contextlib.contextmanager
def server(
    env: dict[str, str], workdir: Path, http: str = HTTP_PROTOCOL
) -> Iterator[tuple[str, int]]:
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--no-access-log", "--log-level", "warning", "--http", http]
    cmd += ["--factory", "drive_http:api_app"]
    proc = subprocess.Popen(cmd, env=env, cwd=workdir)
    try:
        wait_port(port)
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


class HealthProbe:
    """GET /health every ``interval`` seconds in a thread; latencies in ms."""

    def __init__(self, base: str, interval: float = 0.02) -> None:
        self.base, self.interval = base, interval
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self._stop.is_set():
                started = time.perf_counter()
                client.get(f"{self.base}/health").raise_for_status()
                self.latencies.append((time.perf_counter() - started) * 1000)
                time.sleep(self.interval)

    def __enter__(self) -> HealthProbe:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(args: argparse.Namespace) -> dict[str, Any]:
    size = args.size_mib * MIB
    workdir = Path(tempfile.mkdtemp(prefix="cv-discord-http-", dir=args.workdir))
    out: dict[str, Any] = {}
    channels = [str(731000000000000000 + i) for i in range(args.channels)]
    hooks = [
        (str(732000000000000000 + i), f"hooktoken{i}", channels[i % len(channels)])
        for i in range(args.webhooks)
    ]
    try:
        (workdir / "emulator").mkdir()
        emulator, api_base = start_emulator(workdir / "emulator", channels, hooks)
        root = api_base.rsplit("/api/", 1)[0]
        data_dir = workdir / "cordvault"
        data_dir.mkdir()
        env = {
            **os.environ,
            "DATA_DIR": str(data_dir),
            "MESSAGE_ENCRYPTION_KEY": base64.b64encode(os.urandom(32)).decode(),
            "STORAGE_BACKEND": "discord",
            "DISCORD_API_BASE": api_base,
            "DISCORD_BOT_TOKEN": TOKEN,
            "DISCORD_CHANNEL_IDS": ",".join(channels),
            "DISCORD_WEBHOOK_URLS": ",".join(f"{root}/api/webhooks/{i}/{t}" for i, t, _ in hooks),
            "DRIVE_CHUNK_SIZE": str(8 * MIB),
            "BENCH_EARLY_TUNE": "1",
            "PYTHONPATH": f"{ROOT / 'benchmarks'}:{ROOT / 'src'}",
        }
        try:
            source = workdir / "source.bin"
            digest = make_source(source, size)
            with server(env, workdir, args.http) as (base, pid):
                headers = register(base)
                time.sleep(5.5)  # fresh rate-limit windows
                before = limited(emulator_stats(api_base))
                with RssSampler(pid) as rss:
                    up, body = curl_upload_json(
                        f"{base}/api/drive/upload?path=/source.bin", source, headers
                    )
                out["upload_mib_s"] = up.size / MIB / up.seconds
                out["upload_peak_rss_mib"] = rss.peak / MIB
                out["idle_rss_mib"] = rss.start / MIB
                file = body["file"]
                assert isinstance(file, dict)
                url = f"{base}/api/drive/files/{file['id']}/content"
                path = url.removeprefix(base)
            print(f"upload {out['upload_mib_s']:.0f} MiB/s, RSS {out['upload_peak_rss_mib']:.0f}",
                  file=sys.stderr)  # fmt: skip
            downloads, cpu = [], []
            for n in range(args.runs):
                with server(env, workdir, args.http) as (base, pid):
                    os.sync()
                    cpu0 = cpu_seconds(pid)
                    down = curl_download(base + path, headers)
                    cpu.append((cpu_seconds(pid) - cpu0) / (size / GIB))
                    assert down.size == size
                    downloads.append(down.size / MIB / down.seconds)
                    print(f"download {n + 1}: {downloads[-1]:.0f} MiB/s, {cpu[-1]:.2f} s CPU/GiB",
                          file=sys.stderr)  # fmt: skip
                    if n == 0:
                        assert sha256_of_url(base + path, headers) == digest, "bytes differ"
            out["download_mib_s"], out["download_cpu_s_per_gib"] = downloads, cpu
            with server(env, workdir, args.http) as (base, pid):
                httpx.get(f"{base}/health").raise_for_status()
                results: list[float] = [0.0] * args.concurrent

                def one(n: int) -> None:
                    down = curl_download(base + path, headers)
                    assert down.size == size
                    results[n] = down.size / MIB / down.seconds

                cpu0 = cpu_seconds(pid)
                started = time.perf_counter()
                with HealthProbe(base) as probe, RssSampler(pid) as rss:
                    threads = [threading.Thread(target=one, args=(n,)) for n in range(len(results))]
                    for thread in threads:
                        thread.start()
                    for thread in threads:
                        thread.join()
                wall = time.perf_counter() - started
                out["concurrent"] = {
                    "downloads": args.concurrent,
                    "aggregate_mib_s": args.concurrent * size / MIB / wall,
                    "each_mib_s": results,
                    "cpu_s_per_gib": (cpu_seconds(pid) - cpu0) / (args.concurrent * size / GIB),
                    "peak_rss_mib": rss.peak / MIB,
                    "health_p50_ms": probe.quantile(0.5),
                    "health_p99_ms": probe.quantile(0.99),
                    "health_max_ms": max(probe.latencies),
                    "health_probes": len(probe.latencies),
                }
                print(out["concurrent"], file=sys.stderr)
                cdn0 = emulator_stats(api_base)["requests"].get(CDN_GET, 0)
                started = time.perf_counter()
                tail = httpx.get(base + path, headers={**headers, "range": "bytes=-1024"})
                out["tail_range_ms"] = (time.perf_counter() - started) * 1000
                cdn1 = emulator_stats(api_base)["requests"].get(CDN_GET, 0)
                out["tail_range_cdn_gets"] = cdn1 - cdn0
                assert tail.status_code == 206
                with source.open("rb") as f:
                    f.seek(size - 1024)
                    assert tail.content == f.read()
            out["429s"] = limited(emulator_stats(api_base)) - before
            if args.big_gib:
                source.unlink()
                big = workdir / "big.bin"
                make_source(big, args.big_gib * GIB)
                with server(env, workdir, args.http) as (base, pid):
                    time.sleep(5.5)
                    with RssSampler(pid) as rss:
                        up, _ = curl_upload_json(
                            f"{base}/api/drive/upload?path=/big.bin", big, headers
                        )
                out["big_upload_mib_s"] = up.size / MIB / up.seconds
                out["big_upload_peak_rss_mib"] = rss.peak / MIB
                print(f"{args.big_gib} GiB upload {out['big_upload_mib_s']:.0f} MiB/s, "
                      f"RSS {out['big_upload_peak_rss_mib']:.0f}", file=sys.stderr)  # fmt: skip
        finally:
            emulator.terminate()
            emulator.wait(30)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return out


def report(out: dict[str, Any], args: argparse.Namespace) -> str:
    c = out["concurrent"]
    lines = [
        f"`benchmarks/drive_discord.py --size-mib {args.size_mib} --runs {args.runs} "
        f"--channels {args.channels} --webhooks {args.webhooks} --concurrent {args.concurrent}"
        f"{f' --big-gib {args.big_gib}' if args.big_gib else ''}"
        f"{f' --http {args.http}' if args.http != HTTP_PROTOCOL else ''}`",
        "",
        "| measure | value |",
        "|---|---|",
        f"| upload | {out['upload_mib_s']:.0f} MiB/s, peak RSS {out['upload_peak_rss_mib']:.0f} "
        f"MiB (idle {out['idle_rss_mib']:.0f}) |",
        "| download, fresh server each | "
        + " / ".join(f"{v:.0f}" for v in out["download_mib_s"])
        + f" MiB/s (median {statistics.median(out['download_mib_s']):.0f}) |",
        "| server CPU per GiB down | "
        + " / ".join(f"{v:.2f}" for v in out["download_cpu_s_per_gib"])
        + " s |",
        f"| {c['downloads']} concurrent downloads | {c['aggregate_mib_s']:.0f} MiB/s in all, each "
        + " / ".join(f"{v:.0f}" for v in c["each_mib_s"])
        + f", {c['cpu_s_per_gib']:.2f} s CPU/GiB, peak RSS {c['peak_rss_mib']:.0f} MiB |",
        f"| `/health` during them ({c['health_probes']} probes) | p50 {c['health_p50_ms']:.1f} ms, "
        f"p99 {c['health_p99_ms']:.1f} ms, max {c['health_max_ms']:.1f} ms |",
        f"| 1 KiB Range read at the end | {out['tail_range_ms']:.1f} ms"
        + f", {out['tail_range_cdn_gets']} CDN GET |",
        f"| 429s | {out['429s']} |",
    ]
    if "big_upload_mib_s" in out:
        lines.append(
            f"| {args.big_gib} GiB upload | {out['big_upload_mib_s']:.0f} MiB/s, peak RSS "
            f"{out['big_upload_peak_rss_mib']:.0f} MiB |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrent", type=int, default=4)
    parser.add_argument("--channels", type=int, default=4)
    parser.add_argument("--webhooks", type=int, default=4)
    parser.add_argument("--big-gib", type=int, default=0)
    parser.add_argument("--workdir", default=None)
    parser.add_argument(
        "--http", default=HTTP_PROTOCOL, help="uvicorn's HTTP protocol (see drive_http.py)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    out = run(args)
    if args.json:
        print(json.dumps(out, indent=2))
    print(report(out, args))


if __name__ == "__main__":
    main()

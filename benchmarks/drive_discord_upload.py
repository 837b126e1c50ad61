"""Benchmark: drive uploads to the Discord emulator over HTTP, and where their CPU goes.

Usage: .venv/bin/python benchmarks/drive_discord_upload.py [--size-mib 1024] [--runs 2]
       [--channels 4] [--webhooks 4] [--env NAME=VALUE ...] [--src DIR]

The upload half of ``drive_discord.py`` (same emulator with Discord's default limits, same
app under uvicorn, 8 MiB chunks, ``curl -T`` of a random file to ``PUT /api/drive/upload``),
repeated ``--runs`` times on one server, and for each run: MiB/s, the server's peak RSS
(sampled every 20 ms), the messages and chunks the emulator received, and the CPU seconds per
GiB of each process (server, emulator, curl): on a 2-core machine an upload is bounded by
their sum as much as by any rate limit. ``--env`` passes settings to the server (e.g.
``DISCORD_UPLOAD_BUFFER_BYTES=...``) to compare variants side by side; ``--src`` runs the
server from another checkout's ``src`` (e.g. the main branch, for a before/after).
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from drive_discord import TOKEN, cpu_seconds, emulator_stats, limited, server, start_emulator
from drive_http import MIB, ROOT, RssSampler, make_source, register

GIB = 1024 * MIB


class CurlCpu:
    """CPU seconds of the ``curl`` processes started while it runs (sampled until they end)."""

    def __init__(self) -> None:
        self.seconds: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            for child in me.children(recursive=True):
                try:
                    if child.name() == "curl":
                        t = child.cpu_times()
                        self.seconds[child.pid] = t.user + t.system
                except psutil.Error:
                    pass
            time.sleep(0.05)

    def __enter__(self) -> CurlCpu:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def upload(base: str, source: Path, headers: dict[str, str], name: str) -> float:
    cmd = ["curl", "-sS", "--fail", "-T", str(source), "-o", "/dev/null", "-w", "%{time_total}"]
    for key, value in headers.items():
        cmd += ["-H", f"{key}: {value}"]
    out = subprocess.run(
        [*cmd, f"{base}/api/drive/upload?path=/{name}"], check=True, capture_output=True, text=True
    )
    return float(out.stdout)


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    size = args.size_mib * MIB
    workdir = Path(tempfile.mkdtemp(prefix="cv-discord-up-", dir=args.workdir))
    channels = [str(731000000000000000 + i) for i in range(args.channels)]
    hooks = [
        (str(732000000000000000 + i), f"hooktoken{i}", channels[i % len(channels)])
        for i in range(args.webhooks)
    ]
    results: list[dict[str, Any]] = []
    try:
        (workdir / "emulator").mkdir()
        emulator, api_base = start_emulator(workdir / "emulator", channels, hooks)
        root = api_base.rsplit("/api/", 1)[0]
        (workdir / "cordvault").mkdir()
        env = {
            **os.environ,
            "DATA_DIR": str(workdir / "cordvault"),
            "MESSAGE_ENCRYPTION_KEY": base64.b64encode(os.urandom(32)).decode(),
            "STORAGE_BACKEND": "discord",
            "DISCORD_API_BASE": api_base,
            "DISCORD_BOT_TOKEN": TOKEN,
            "DISCORD_CHANNEL_IDS": ",".join(channels),
            "DISCORD_WEBHOOK_URLS": ",".join(f"{root}/api/webhooks/{i}/{t}" for i, t, _ in hooks),
            "DRIVE_CHUNK_SIZE": str(8 * MIB),
            "BENCH_EARLY_TUNE": "1",
            "PYTHONPATH": f"{ROOT / 'benchmarks'}:{args.src or ROOT / 'src'}",
        }
        env.update(dict(item.split("=", 1) for item in args.env))
        try:
            source = workdir / "source.bin"
            make_source(source, size)
            with server(env, workdir) as (base, pid):
                headers = register(base)
                for n in range(args.runs):
                    time.sleep(5.5)  # fresh rate-limit windows
                    stats0 = emulator_stats(api_base)
                    cpu0 = (cpu_seconds(pid), cpu_seconds(emulator.pid))
                    load = os.getloadavg()[0]
                    with RssSampler(pid) as rss, CurlCpu() as curl:
                        seconds = upload(base, source, headers, f"f{n}.bin")
                    stats1 = emulator_stats(api_base)
                    gib = size / GIB
                    posts = sum(
                        stats1["requests"].get(k, 0) - stats0["requests"].get(k, 0)
                        for k in stats1["requests"]
                        if k.startswith("POST")
                    )
                    result = {
                        "mib_s": size / MIB / seconds,
                        "peak_rss_mib": rss.peak / MIB,
                        "idle_rss_mib": rss.start / MIB,
                        "server_cpu_s_per_gib": (cpu_seconds(pid) - cpu0[0]) / gib,
                        "emulator_cpu_s_per_gib": (cpu_seconds(emulator.pid) - cpu0[1]) / gib,
                        "curl_cpu_s_per_gib": sum(curl.seconds.values()) / gib,
                        "posts": posts,
                        "429s": limited(stats1) - limited(stats0),
                        "load": load,
                    }
                    results.append(result)
                    print(
                        f"upload {n + 1}: {result['mib_s']:.0f} MiB/s, peak RSS "
                        f"{result['peak_rss_mib']:.0f} MiB (idle {result['idle_rss_mib']:.0f}), "
                        f"CPU/GiB server {result['server_cpu_s_per_gib']:.2f} s, emulator "
                        f"{result['emulator_cpu_s_per_gib']:.2f} s, curl "
                        f"{result['curl_cpu_s_per_gib']:.2f} s; {posts} posts, "
                        f"{result['429s']} 429s; load {load:.2f}",
                        flush=True,
                    )
        finally:
            emulator.terminate()
            emulator.wait(30)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--channels", type=int, default=4)
    parser.add_argument("--webhooks", type=int, default=4)
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--src", default=None, help="the server's source tree (another checkout)")
    run(parser.parse_args())


if __name__ == "__main__":
    main()

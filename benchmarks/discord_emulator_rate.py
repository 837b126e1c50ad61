"""Discord emulator throughput: raw multipart message posts/s and CDN download MB/s.

Starts ``python -m cordvault.discord.emulator`` in its own process (so client and server do not
share a GIL) with rate limits lifted, then drives it with plain httpx clients in threads::

    .venv/bin/python benchmarks/discord_emulator_rate.py --concurrency 8 --file-kib 1024

Prints one line per measurement; numbers go in docs/benchmarks.md under "Discord emulator".
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

TOKEN = "benchmark-bot-token"  # noqa: S105 - a token only the local emulator knows
CHANNELS = [str(100000000000000000 + i) for i in range(8)]


def start_emulator() -> tuple[subprocess.Popen[str], str]:
    args = [
        sys.executable,
        "-m",
        "cordvault.discord.emulator",
        "--port",
        "0",
        "--token",
        TOKEN,
        "--message-limit",
        "1000000/1",
        "--global-limit",
        "1000000",
        "--max-file-mib",
        "100",
    ]
    for channel in CHANNELS:
        args += ["--channel", channel]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    return process, line.strip().split("DISCORD_API_BASE=", 1)[1]


def post_rate(api_base: str, concurrency: int, payload: bytes, seconds: float) -> tuple[int, float]:
    """Posts of one ``payload`` attachment each, for ``seconds``; returns (count, elapsed)."""
    deadline = time.monotonic() + seconds
    count = 0
    lock = threading.Lock()

    def worker(index: int) -> None:
        nonlocal count
        channel = CHANNELS[index % len(CHANNELS)]
        with httpx.Client(headers={"Authorization": f"Bot {TOKEN}"}, timeout=60) as http:
            while time.monotonic() < deadline:
                response = http.post(
                    f"{api_base}/channels/{channel}/messages",
                    data={"payload_json": json.dumps({"content": ""})},
                    files=[("files[0]", ("bench.bin", payload, "application/octet-stream"))],
                )
                response.raise_for_status()
                with lock:
                    count += 1

    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(worker, range(concurrency)))
    return count, time.monotonic() - started


def cdn_rate(api_base: str, concurrency: int, size: int, seconds: float) -> tuple[int, float]:
    """Whole-attachment GETs for ``seconds``; returns (bytes read, elapsed)."""
    with httpx.Client(headers={"Authorization": f"Bot {TOKEN}"}, timeout=60) as http:
        urls = []
        for i in range(concurrency):
            response = http.post(
                f"{api_base}/channels/{CHANNELS[i % len(CHANNELS)]}/messages",
                data={"payload_json": "{}"},
                files=[("files[0]", ("cdn.bin", os.urandom(size), "application/octet-stream"))],
            )
            urls.append(response.json()["attachments"][0]["url"])
    deadline = time.monotonic() + seconds
    total = 0
    lock = threading.Lock()

    def worker(index: int) -> None:
        nonlocal total
        with httpx.Client(timeout=60) as cdn:
            while time.monotonic() < deadline:
                got = 0
                with cdn.stream("GET", urls[index]) as response:
                    for chunk in response.iter_bytes(1024 * 1024):
                        got += len(chunk)
                with lock:
                    total += got

    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(worker, range(concurrency)))
    return total, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--file-kib", type=int, default=1024, help="attachment size for posts")
    parser.add_argument("--cdn-mib", type=int, default=8, help="attachment size for CDN reads")
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    process, api_base = start_emulator()
    try:
        for size_kib in sorted({1, args.file_kib}):
            payload = os.urandom(size_kib * 1024)
            count, elapsed = post_rate(api_base, args.concurrency, payload, args.seconds)
            rate = count / elapsed
            print(
                f"multipart posts, {size_kib} KiB x1, concurrency {args.concurrency}: "
                f"{rate:.0f} posts/s ({rate * size_kib / 1024:.1f} MiB/s uploaded)"
            )
        total, elapsed = cdn_rate(
            api_base, args.concurrency, args.cdn_mib * 1024 * 1024, args.seconds
        )
        print(
            f"CDN GET, {args.cdn_mib} MiB attachments, concurrency {args.concurrency}: "
            f"{total / elapsed / 1e6:.0f} MB/s"
        )
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()

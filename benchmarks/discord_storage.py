"""Discord storage backend throughput against the emulator with Discord's real limits.

Starts ``python -m cordvault.discord.emulator`` in its own process with realistic limits
(5 message posts per 5 s per channel, 50 requests/s per bot, 10 MiB per file, 25 MiB per
request), then for 1, 4 and 8 channels measures:

- **store upload**: ``DiscordChunkStore.put`` of drive-sized chunks (the ciphertext of an
  8 MiB plaintext chunk) from ``3 x channels x DISCORD_UPLOADS_PER_CHANNEL`` threads, as the
  drive's parallel writers call it; the store packs 3 chunks per message;
- **raw upload**: the same bytes posted directly with ``DiscordClient.create_message`` (3
  attachments per message, the same number of posting threads per channel, same pacer) - the
  best any client can do under the limits;
- **drive upload**: one file through the drive's ``ChunkWriter`` (encryption included, 4
  chunks in flight, as an upload request does);
- **store download**: ``get`` of every chunk with 8 threads from a cold URL cache (URLs
  resolved by batch ``GET .../messages?around=``), and **raw download**: CDN GETs of the same
  attachments with the URLs already known, 8 threads.

Also prints API+CDN requests per MB and the 429s the emulator sent. Usage::

    .venv/bin/python benchmarks/discord_storage.py --mb 1024 --channels 1,4,8
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from cordvault.crypto import ciphertext_size
from cordvault.db import create_engine_for, make_sessionmaker, migrate
from cordvault.discord import DiscordClient
from cordvault.drive.streaming import ChunkWriter
from cordvault.storage.discord.backend import DiscordChunkStore, DiscordStoreOptions, random_name

TOKEN = "benchmark-bot-token"  # noqa: S105 - a token only the local emulator knows
CHANNELS = [str(730000000000000000 + i) for i in range(8)]
CHUNK = ciphertext_size(8 * 1024 * 1024)
MB = 1_000_000


def start_emulator(storage: Path) -> tuple[subprocess.Popen[str], str]:
    args = [sys.executable, "-m", "cordvault.discord.emulator", "--port", "0", "--token", TOKEN]
    args += ["--message-limit", "5/5", "--global-limit", "50", "--max-file-mib", "10"]
    for channel in CHANNELS:
        args += ["--channel", channel]
    env = {**os.environ, "TMPDIR": str(storage)}
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    line = process.stdout.readline()
    return process, line.strip().split("DISCORD_API_BASE=", 1)[1]


def emulator_stats(api_base: str) -> tuple[int, int]:
    """(requests, 429s) so far, API and CDN."""
    root = api_base.rsplit("/api/", 1)[0]
    body: dict[str, Any] = httpx.get(f"{root}/_emulator/stats").json()
    limited = sum(body["rate_limited"].values()) + body["global_rate_limited"]
    return sum(body["requests"].values()), limited


def chunk_bytes(base: bytes, n: int) -> bytes:
    """A distinct chunk without holding the whole data set in memory."""
    return n.to_bytes(8, "big") + base[8:]


class Phase:
    def __init__(self, api_base: str, name: str, total_bytes: int) -> None:
        self.api_base, self.name, self.total = api_base, name, total_bytes

    def __enter__(self) -> Phase:
        self.requests0, self.limited0 = emulator_stats(self.api_base)
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed = time.perf_counter() - self.t0
        requests, limited = emulator_stats(self.api_base)
        self.requests = requests - self.requests0
        self.limited = limited - self.limited0

    def row(self) -> dict[str, Any]:
        mb = self.total / MB
        return {
            "phase": self.name,
            "MB/s": round(mb / self.elapsed, 1),
            "seconds": round(self.elapsed, 1),
            "req/MB": round(self.requests / mb, 3),
            "429s": self.limited,
        }


def run(api_base: str, channels: int, total_mb: int, db_dir: Path) -> list[dict[str, Any]]:
    count = max(3, (total_mb * MB) // CHUNK)
    total = count * CHUNK
    base = os.urandom(CHUNK)
    chosen = CHANNELS[:channels]
    url = f"sqlite:///{db_dir / f'ledger-{channels}.db'}"
    migrate(url)
    engine = create_engine_for(url)
    options = DiscordStoreOptions(background_deletes=False)
    store = DiscordChunkStore(
        [DiscordClient(api_base, TOKEN)], chosen, make_sessionmaker(engine), options
    )
    writers = 3 * channels * options.uploads_per_channel
    rows = []
    try:
        time.sleep(5.5)  # every phase starts with fresh rate-limit windows
        with Phase(api_base, "store upload", total) as up, ThreadPoolExecutor(writers) as pool:
            locators = list(pool.map(lambda n: store.put(chunk_bytes(base, n)), range(count)))
        rows.append(up.row())
        store.urls._entries.clear()
        with Phase(api_base, "store download", total) as down, ThreadPoolExecutor(8) as pool:
            sizes = list(pool.map(lambda loc: len(store.get(loc)), locators))
        assert sum(sizes) == total
        rows.append(down.row())
        # One drive upload: ChunkWriter encrypts 8 MiB chunks and keeps 4 puts in flight.
        writer = ChunkWriter(store, os.urandom(32), "b" * 32, 1, 8 * 1024 * 1024, parallel=4)
        piece = os.urandom(1024 * 1024)
        plain = count * 8 * 1024 * 1024
        time.sleep(5.5)
        with Phase(api_base, "drive upload (1 file)", plain) as drive_up:
            writer.write_stream(piece for _ in range(count * 8))
        rows.append(drive_up.row())
    finally:
        store.close()
        engine.dispose()

    # The raw rate: 3 attachments per message, the same posting threads per channel.
    client = DiscordClient(api_base, TOKEN)
    messages = (count + 2) // 3
    urls: list[str] = []
    lock = threading.Lock()

    def post(n: int) -> None:
        files = [(random_name(), chunk_bytes(base, 3 * n + i)) for i in range(3)]
        message = client.create_message(chosen[n % channels], files)
        with lock:
            urls.extend(a.url for a in message.attachments)

    try:
        raw_total = messages * 3 * CHUNK
        time.sleep(5.5)
        with (
            Phase(api_base, "raw upload", raw_total) as raw_up,
            ThreadPoolExecutor(channels * options.uploads_per_channel) as pool,
        ):
            list(pool.map(post, range(messages)))
        rows.append(raw_up.row())
        with Phase(api_base, "raw download", raw_total) as raw_down, ThreadPoolExecutor(8) as pool:
            got = list(pool.map(lambda u: len(client.fetch_attachment(u)), urls))
        assert sum(got) == raw_total
        rows.append(raw_down.row())
    finally:
        client.close()
    for row in rows:
        row["channels"] = channels
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mb", type=int, default=1024, help="data per run (MB)")
    parser.add_argument("--channels", default="1,4,8")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cv-discord-bench-") as tmp:
        process, api_base = start_emulator(Path(tmp))
        try:
            for channels in (int(c) for c in args.channels.split(",")):
                for row in run(api_base, channels, args.mb, Path(tmp)):
                    print(row, flush=True)
        finally:
            process.terminate()
            process.wait(10)


if __name__ == "__main__":
    main()

"""Benchmark: peak memory of drive uploads to Discord, in process (issue 15).

Usage: .venv/bin/python benchmarks/drive_discord_memory.py [--gib 1,3] [--channels 4]
       [--webhooks 4] [--uploads 1] [--trace 0] [--budget-mib 0]

The emulator runs in its own process with Discord's default limits (as in
``drive_discord.py``); this process builds a :class:`DiscordChunkStore` on it (``--channels``
channels and ``--webhooks`` webhooks as lanes, 8 MiB chunks) and writes ``--uploads``
concurrent streams of each size in ``--gib`` through :meth:`ChunkWriter.awrite_stream` (as the
HTTP upload route does, fed 256 KiB pieces like a request body). It reports, per size: MiB/s,
this process's RSS before and at its peak (sampled every 20 ms), the largest number of chunk
bytes the packer held at once, and the process's CPU seconds. With ``--trace N`` it also takes a
tracemalloc snapshot every N seconds and prints what grew most between the first and last one
(finding what accumulates over a long upload); tracing slows the upload.

No HTTP server or client is involved, so its numbers isolate the writer, packer and lanes; the
server's figures come from ``drive_discord.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from drive_discord import TOKEN, start_emulator

from cordvault.core.allocator import tune_allocator

MIB = 1024 * 1024
PIECE = 256 * 1024


async def stream(total: int, seed: bytes) -> AsyncIterator[bytes]:
    """``total`` bytes in request-body-sized pieces (fresh objects, like a socket's reads)."""
    block = seed * (4 * MIB // len(seed))
    sent = 0
    while sent < total:
        n = min(PIECE, total - sent)
        start = sent % len(block)
        piece = block[start : start + n] if start + n <= len(block) else block[:n]
        sent += n
        yield piece
        if sent % (4 * MIB) == 0:
            await asyncio.sleep(0)


class Sampler:
    """Peak RSS of this process and the packer's held bytes, every 20 ms."""

    def __init__(self, store: object) -> None:
        self.proc = psutil.Process()
        self.store = store
        self.peak = 0
        self.held_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            held = getattr(getattr(self.store, "packer", None), "held_bytes", 0)
            self.held_peak = max(self.held_peak, held)
            time.sleep(0.02)

    def __enter__(self) -> Sampler:
        self.start = self.peak = self.proc.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def measure(store: Any, gib: float, args: argparse.Namespace) -> None:
    """Upload ``--uploads`` streams of ``gib`` GiB at once and print the figures."""
    from cordvault.drive.streaming import ChunkWriter

    total = int(gib * 1024) * MIB

    async def upload(n: int, total: int = total) -> None:
        writer = ChunkWriter(store, os.urandom(32), f"bench{n}", 1, 8 * MIB, parallel=4)
        await writer.awrite_stream(stream(total, os.urandom(4096)))

    async def all_uploads() -> None:
        await asyncio.gather(*(upload(n) for n in range(args.uploads)))

    snapshots: list[tuple[float, tracemalloc.Snapshot]] = []
    stop = threading.Event()

    biggest: list[tracemalloc.Snapshot] = []

    def snap() -> None:
        top = 0
        while not stop.wait(args.trace):
            snapshot = tracemalloc.take_snapshot()
            size = sum(stat.size for stat in snapshot.statistics("filename"))
            if size > top:
                top, biggest[:] = size, [snapshot]
            if not snapshots or time.monotonic() - snapshots[-1][0] >= 5:
                snapshots.append((time.monotonic(), snapshot))

    if args.trace:
        tracemalloc.start(8)
        snapper = threading.Thread(target=snap, daemon=True)
        snapper.start()
    cpu0 = sum(psutil.Process().cpu_times()[:2])
    with Sampler(store) as rss:
        started = time.monotonic()
        asyncio.run(all_uploads())
        seconds = time.monotonic() - started
    cpu = sum(psutil.Process().cpu_times()[:2]) - cpu0
    moved = total * args.uploads
    print(
        f"{gib:g} GiB x {args.uploads}: {moved / MIB / seconds:.0f} MiB/s, RSS "
        f"{rss.start / MIB:.0f} -> peak {rss.peak / MIB:.0f} MiB, packer held <= "
        f"{rss.held_peak / MIB:.0f} MiB, CPU {cpu:.0f} s, load "
        f"{os.getloadavg()[0]:.1f}",
        flush=True,
    )
    if args.trace:
        stop.set()
        snapper.join()
        if len(snapshots) >= 3:
            print("  grew between the first and the last snapshot:")
            diff = snapshots[-1][1].compare_to(snapshots[1][1], "traceback")
            for stat in diff[:8]:
                print(f"  {stat.size_diff / MIB:+.1f} MiB ({stat.count_diff:+d} blocks)")
                for line in stat.traceback.format()[-6:]:
                    print("     ", line)
            print("  alive in the largest snapshot:")
            for stat in biggest[0].statistics("traceback")[:10]:
                print(f"  {stat.size / MIB:.1f} MiB ({stat.count} blocks)")
                for line in stat.traceback.format()[-4:]:
                    print("     ", line)
            now, peak = tracemalloc.get_traced_memory()
            print(f"  traced now {now / MIB:.0f} MiB, peak {peak / MIB:.0f} MiB")
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--gib", default="1,3", help="comma-separated upload sizes in GiB")
    parser.add_argument("--channels", type=int, default=4)
    parser.add_argument("--webhooks", type=int, default=4)
    parser.add_argument("--uploads", type=int, default=1, help="concurrent uploads")
    parser.add_argument("--trace", type=float, default=0.0, help="snapshot interval (s)")
    parser.add_argument("--budget-mib", type=int, default=0, help="0: the store's default")
    args = parser.parse_args()
    tune_allocator()  # before any thread, as the server does

    from cordvault.db import create_engine_for, make_sessionmaker, migrate
    from cordvault.discord import Backoff, DiscordClient
    from cordvault.storage.discord.backend import DiscordChunkStore, DiscordStoreOptions
    from cordvault.storage.discord.webhooks import Webhook

    workdir = Path(tempfile.mkdtemp(prefix="cv-discord-mem-"))
    channels = [str(731000000000000000 + i) for i in range(args.channels)]
    hooks = [
        (str(732000000000000000 + i), f"hooktoken{i}", channels[i % len(channels)])
        for i in range(args.webhooks)
    ]
    (workdir / "emulator").mkdir()
    emulator, api_base = start_emulator(workdir / "emulator", channels, hooks)
    url = f"sqlite:///{workdir / 'ledger.db'}"
    migrate(url)
    engine = create_engine_for(url)
    options: dict[str, object] = {}
    if args.budget_mib:
        options["upload_buffer_bytes"] = args.budget_mib * MIB
    store = DiscordChunkStore(
        [DiscordClient(api_base, TOKEN, backoff=Backoff(base=0.5, cap=10.0))],
        channels,
        make_sessionmaker(engine),
        DiscordStoreOptions(**options),  # type: ignore[arg-type]
        webhooks=[Webhook(i, t) for i, t, _ in hooks],
        engine=engine,
    )
    print(f"load average {os.getloadavg()[0]:.1f}", flush=True)
    try:
        time.sleep(5.5)  # fresh rate-limit windows
        for gib in [float(g) for g in args.gib.split(",")]:
            measure(store, gib, args)
    finally:
        store.close()
        emulator.terminate()
        emulator.wait(timeout=30)
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

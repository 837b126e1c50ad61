"""Benchmark: the insights result blob codec and the HTML report, single thread.

Usage: .venv/bin/python benchmarks/insights_blob_report.py [--mib 64] [--rounds 3]

Blob: ``gzip_file`` of a synthetic insights-like SQLite (MB/s of SQLite bytes, ratio),
``encrypt_blob`` and ``decrypt_blob`` of a ``--mib`` payload (MB/s; decrypt reads the file
twice: MAC pass then decrypt pass), each with the peak Python heap (tracemalloc) to show memory
stays bounded by the block size, not the file size. Report: ``render_report`` on a database
with years of activity and thousands of channels (seconds, HTML size). Prints Markdown rows
for docs/benchmarks.md ("Insights blob and report"). Best of ``--rounds``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sqlite3
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from cordvault.insights.blob import decrypt_blob, encrypt_blob, gzip_file
from cordvault.insights.output.sqlite_schema import COLUMNS, INDEXES, TABLES
from cordvault.insights.report import render_report

UPN = "Bench-UPN_" + "x" * 600


def best_of(rounds: int, fn: Callable[[], object]) -> tuple[float, int]:
    """Best wall time over ``rounds`` untraced runs, then the peak heap of one traced run.

    tracemalloc slows Python code down, so it is kept out of the timed runs.
    """
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return best, peak


def _insert(conn: sqlite3.Connection, table: str, rows: list[tuple[object, ...]]) -> None:
    cols = COLUMNS[table]
    conn.executemany(
        f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows
    )


def build_db(path: Path, *, days: int = 5 * 365, channels: int = 3000, dms: int = 800) -> None:
    """A synthetic insights database shaped like a heavy user's (ids, names, counters)."""
    rng = random.Random(7)
    with sqlite3.connect(path) as conn:
        for ddl in TABLES.values():
            conn.execute(ddl)
        activity: list[tuple[object, ...]] = []
        for d in range(days):
            day = time.strftime("%Y-%m-%d", time.gmtime(1_500_000_000 + d * 86400))
            for _ in range(rng.randint(5, 60)):
                ch = rng.randrange(channels + dms)
                guild = str(10**17 + ch % 40) if ch < channels else None
                activity.append(
                    (
                        "message_sent",
                        day,
                        rng.randrange(24),
                        rng.randint(1, 80),
                        None,
                        str(10**18 + ch),
                        guild,
                        None,
                        None,
                    )
                )
        # duplicate primary keys from the random draw are dropped
        conn.executemany(f"INSERT OR IGNORE INTO activity VALUES ({', '.join('?' * 9)})", activity)
        _insert(
            conn,
            "guild_channels_data",
            [
                (str(10**18 + c), f"channel-{c}", str(10**17 + c % 40), rng.randint(0, 9000), 0)
                for c in range(channels)
            ],
        )
        _insert(
            conn,
            "dm_channels_data",
            [
                (str(10**18 + channels + i), str(10**16 + i), f"user{i}", None, None,
                 rng.randint(0, 5000), rng.randint(0, 600), 0.1)
                for i in range(dms)
            ],
        )  # fmt: skip
        _insert(
            conn,
            "guilds",
            [(str(10**17 + g), f"Server {g}", rng.randint(0, 90000)) for g in range(40)],
        )
        _insert(
            conn,
            "sessions",
            [
                (str(1_500_000_000 + i * 3600), str(1_500_000_000 + i * 3600 + 1800), 30,
                 rng.choice(["windows", "android", "ios", "linux"]))
                for i in range(20000)
            ],
        )  # fmt: skip
        _insert(
            conn,
            "voice_sessions",
            [
                (str(10**18 + rng.randrange(channels)), None, 45,
                 str(1_500_000_000 + i * 7200), str(1_500_000_000 + i * 7200 + 2700))
                for i in range(5000)
            ],
        )  # fmt: skip
        _insert(
            conn,
            "payments",
            [(f"p{i}", "2020-01-01", 999, "usd", "Nitro") for i in range(60)],
        )
        _insert(
            conn,
            "package_data",
            [("0" * 32, "cordvault-1", "1", "bench", None, None, 0)],
        )
        _insert(
            conn,
            "cordvault_meta",
            [("sections", json.dumps(["account", "activity", "messages", "servers"]))],
        )
        for index in INDEXES:
            conn.execute(index)
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"{platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        db = d / "insights.sqlite"
        build_db(db)
        size = db.stat().st_size
        t, peak = best_of(args.rounds, lambda: gzip_file(db, d / "db.gz"))
        gz_size = (d / "db.gz").stat().st_size
        print(f"| gzip_file (SQLite {size / 2**20:.1f} MiB -> {gz_size / 2**20:.1f} MiB) "
              f"| {size / t / 1e6:.0f} MB/s | {peak / 1024:.0f} KiB |")  # fmt: skip

        payload = d / "payload.bin"
        with payload.open("wb") as out:
            for _ in range(args.mib):
                out.write(os.urandom(2**20))
        n = args.mib * 2**20
        meta_box: list[object] = []

        def enc() -> None:
            meta_box[:] = [encrypt_blob(payload, d / "ct.bin", UPN)]

        t, peak = best_of(args.rounds, enc)
        print(f"| encrypt_blob ({args.mib} MiB) | {n / t / 1e6:.0f} MB/s | {peak / 1024:.0f} KiB |")
        meta = meta_box[0]
        assert not isinstance(meta, str)
        t, peak = best_of(
            args.rounds,
            lambda: decrypt_blob(d / "ct.bin", meta, UPN, d / "out.gz"),  # type: ignore[arg-type]
        )
        print(f"| decrypt_blob ({args.mib} MiB, MAC pass + decrypt pass) "
              f"| {n / t / 1e6:.0f} MB/s | {peak / 1024:.0f} KiB |")  # fmt: skip

        t, peak = best_of(args.rounds, lambda: render_report(db, d / "report.html"))
        html = (d / "report.html").stat().st_size
        print(f"| render_report (SQLite {size / 2**20:.1f} MiB) | {t:.2f} s, "
              f"HTML {html / 1024:.0f} KiB | {peak / 2**20:.1f} MiB |")  # fmt: skip


if __name__ == "__main__":
    main()

"""Benchmark: the disaster-recovery catalog writer's cost per tick, and recovery time.

Usage: .venv/bin/python benchmarks/catalog.py [--files 20000] [--database-url URL]

Fills a drive database (SQLite in a temp dir unless ``--database-url``) with ``--files``
files of 2 chunks each in 100 folders, rows inserted directly (no uploads: the catalog reads
rows, not content), then measures on a local chunk store: the first tick (a full snapshot),
five idle ticks (the median is reported; with the change counter an idle tick reads one
counter, without it the journal diff reads every table and finds nothing), a tick after 100 changed
rows (one journal record), and ``recover`` into an empty database. Prints a Markdown table
for docs/benchmarks.md ("Drive catalog").
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import insert, select, update

from cordvault.core.settings import Settings
from cordvault.db import create_engine_for, make_sessionmaker, migrate
from cordvault.drive.catalog import changes
from cordvault.drive.catalog.records import CatalogKeys
from cordvault.drive.catalog.recover import recover
from cordvault.drive.catalog.writer import CatalogWriter
from cordvault.drive.context import DriveContext
from cordvault.drive.models import Chunk, DriveFile, DriveUser, Folder, utcnow
from cordvault.storage.local import LocalChunkStore


def fill(url: str, files: int) -> None:
    engine = create_engine_for(url)
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            insert(DriveUser),
            [
                {
                    "name": "admin",
                    "password_hash": "x" * 90,
                    "is_admin": True,
                    "disabled": False,
                    "token_version": 0,
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
        folders = [uuid.uuid4().hex for _ in range(100)]
        conn.execute(
            insert(Folder),
            [
                {
                    "id": f,
                    "parent_id": "root",
                    "owner_id": 1,
                    "name": f"folder{n}",
                    "created_at": now,
                    "updated_at": now,
                }
                for n, f in enumerate(folders)
            ],
        )
        rows, chunks = [], []
        for n in range(files):
            fid = uuid.uuid4().hex
            rows.append(
                {
                    "id": fid,
                    "folder_id": folders[n % 100],
                    "owner_id": 1,
                    "name": f"file{n}.bin",
                    "size": 16 << 20,
                    "sha256": os.urandom(32).hex(),
                    "mime_type": "application/octet-stream",
                    "public": False,
                    "content_id": fid,
                    "content_version": 1,
                    "wrapped_key": os.urandom(73),
                    "chunk_size": 8 << 20,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            chunks += [
                {
                    "content_id": fid,
                    "idx": i,
                    "locator": os.urandom(16).hex(),
                    "plain_size": 8 << 20,
                    "plain_sha256": os.urandom(32).hex(),
                }
                for i in range(2)
            ]
        conn.execute(insert(DriveFile), rows)
        conn.execute(insert(Chunk), chunks)
    engine.dispose()


def trigger_cost(url: str, rounds: int = 3, small: int = 300, bulk: int = 5000) -> str:
    """What the change counter's triggers cost the drive's writes: ``small`` one-row update
    transactions and one ``bulk``-row update, with and without the ``drive_files`` triggers,
    alternated ``rounds`` times (medians, so load on a shared machine hurts both alike)."""
    engine = create_engine_for(url)
    ids = [r[0] for r in engine.connect().execute(select(DriveFile.id).limit(max(small, bulk)))]
    results: dict[bool, tuple[list[float], list[float]]] = {True: ([], []), False: ([], [])}
    for n in range(rounds):
        for triggered in (True, False):
            with engine.begin() as conn:
                if triggered:
                    changes.install_triggers(conn, ["drive_files"])
                else:
                    changes.drop_triggers(conn, ["drive_files"])
            start = time.perf_counter()
            for fid in ids[:small]:
                with engine.begin() as conn:
                    conn.execute(update(DriveFile).where(DriveFile.id == fid).values(size=n))
            results[triggered][0].append((time.perf_counter() - start) / small)
            start = time.perf_counter()
            with engine.begin() as conn:
                conn.execute(
                    update(DriveFile).where(DriveFile.id.in_(ids[:bulk])).values(size=n + 1)
                )
            results[triggered][1].append(time.perf_counter() - start)
    with engine.begin() as conn:
        changes.install_triggers(conn, ["drive_files"])
    engine.dispose()
    on, off = results[True], results[False]
    return (
        f"one-row update transaction: {statistics.median(on[0]) * 1e6:.0f} µs with the "
        f"trigger, {statistics.median(off[0]) * 1e6:.0f} µs without; one {bulk}-row update: "
        f"{statistics.median(on[1]) * 1e3:.1f} ms with, {statistics.median(off[1]) * 1e3:.1f} ms "
        "without"
    )


def timed(fn: object) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()  # type: ignore[operator]
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--database-url")
    parser.add_argument(
        "--trigger-cost", action="store_true", help="also time writes with/without the triggers"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cv-catalog-"))
    url = args.database_url or f"sqlite:///{work / 'drive.db'}"
    migrate(url)
    filled, _ = timed(lambda: fill(url, args.files))
    settings = Settings(
        data_dir=work,
        database_url=url,  # type: ignore[call-arg]
        message_encryption_key=base64.b64encode(os.urandom(32)).decode(),
    )
    engine = create_engine_for(url)
    store = LocalChunkStore(work / "chunks", fsync=False)
    ctx = DriveContext.open(settings, make_sessionmaker(engine), store=store)
    writer = CatalogWriter(ctx)
    first, _ = timed(writer.tick)
    idles = sorted(timed(writer.tick)[0] for _ in range(5))
    idle = idles[len(idles) // 2]  # the median of 5 idle ticks
    with engine.begin() as conn:
        conn.execute(
            update(DriveFile).where(DriveFile.name.like("file1__.bin")).values(public=True)
        )
    changed, report = timed(writer.tick)
    writer.release()
    size = sum(p.stat().st_size for p in (work / "chunks" / "objects").rglob("*") if p.is_file())
    target = f"sqlite:///{work / 'recovered.db'}"
    migrate(target)
    target_engine = create_engine_for(target)
    restore, result = timed(lambda: recover(target_engine, store, CatalogKeys(ctx.keyring)))
    print(
        f"| files | snapshot tick | idle tick | tick with {report.journal_rows} changed rows"  # type: ignore[attr-defined]
        " | catalog on store | recover |"
    )
    print("|---|---|---|---|---|---|")
    print(
        f"| {args.files} | {first:.2f} s | {idle:.2f} s | {changed:.2f} s "
        f"| {size / 1e6:.1f} MB | {restore:.2f} s ({sum(result.rows.values())} rows) |"
    )  # type: ignore[attr-defined]
    print(f"\nidle ticks: {', '.join(f'{t * 1000:.2f} ms' for t in idles)}")
    print(f"filling the database (bulk inserts, triggers included): {filled:.2f} s")
    if args.trigger_cost:
        print(f"change counter triggers: {trigger_cost(url)}")


if __name__ == "__main__":
    main()

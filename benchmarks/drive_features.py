"""Benchmark: name search on a 1 M-file tree, delete-and-restore of a 10,000-file folder, and
the quota check's cost per chunk, on SQLite and PostgreSQL (issue 16; docs/benchmarks.md).

Usage: .venv/bin/python benchmarks/drive_features.py [--files 1000000] [--queries 300]
       [--db sqlite|postgres|both] [--pg-url postgresql+psycopg://postgres@127.0.0.1/postgres]
       [--explain]

For each database: a fresh database migrated to head (``cordvault.db.migrate``), one user, a
tree of ``--files`` files in folders of 100 (names from a word list with accents and mixed
case, inserted in bulk through the same ORM tables, so the SQLite triggers and the PostgreSQL
trigram index are maintained as in production). Then:

1. **search**: ``--queries`` queries through :func:`cordvault.drive.search.search` (page of 50),
   a mix of substrings of real names (3-8 characters, various case/accents), rare names, and
   strings that match nothing; prints p50/p95/p99/max in ms, and with ``--explain`` the query
   plans of both databases (``EXPLAIN QUERY PLAN`` / ``EXPLAIN``).
2. **delete-and-restore**: a folder of 10,000 files (100 subfolders) is trashed
   (:func:`cordvault.drive.trash.trash_folder`) and restored (:func:`~.trash.restore`), timed.
3. **quota check per chunk**: :func:`cordvault.drive.quotas.reserve` for the user owning all
   ``--files`` files (the worst case: the sum covers all of them), in its own transaction, as
   a streamed upload pays it once per chunk; mean and p99 in ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, insert, text
from sqlalchemy.orm import Session, sessionmaker

from cordvault.core.settings import Settings
from cordvault.db import migrate
from cordvault.db.engine import create_engine_for
from cordvault.drive import quotas, search, trash
from cordvault.drive.auth import Actor
from cordvault.drive.context import DriveContext
from cordvault.drive.models import ROOT_ID, DriveFile, DriveUser, Folder, utcnow
from cordvault.drive.names import search_key

WORDS = [
    "rapport",
    "facture",
    "été",
    "Café",
    "crème",
    "Résumé",
    "photo",
    "vacances",
    "budget",
    "projet",
    "Straße",
    "naïve",
    "garçon",
    "Ärger",
    "über",
    "smörgåsbord",
    "piñata",
    "jalapeño",
    "Ñandú",
    "Øresund",
    "Zürich",
    "Ελλάδα",
    "Москва",
    "東京",
    "report",
    "invoice",
    "summary",
    "draft",
    "final",
    "backup",
    "scan",
    "receipt",
    "contract",
    "notes",
]
EXTS = ("txt", "pdf", "jpg", "png", "mp4", "docx", "xlsx", "zip")
MIMES = {
    "txt": "text/plain",
    "pdf": "application/pdf",
    "jpg": "image/jpeg",
    "png": "image/png",
    "mp4": "video/mp4",
    "docx": "application/octet-stream",
    "xlsx": "application/octet-stream",
    "zip": "application/zip",
}


def name_for(rng: random.Random, i: int) -> str:
    a, b = rng.choice(WORDS), rng.choice(WORDS)
    return f"{a} {b} {i:07d}.{rng.choice(EXTS)}"


def populate(sessions: sessionmaker[Session], files: int, owner_id: int) -> list[str]:
    """``files`` files in folders of 100 under /bench; returns the folder ids."""
    rng = random.Random(16)
    now = utcnow()
    folder_ids: list[str] = []
    with sessions() as db, db.begin():
        top = Folder(id=uuid.uuid4().hex, parent_id=ROOT_ID, owner_id=owner_id, name="bench")
        db.add(top)
        db.flush()
        top_id = top.id
    batch: list[dict[str, object]] = []
    folders: list[dict[str, object]] = []
    for i in range(files):
        if i % 100 == 0:
            fid = uuid.uuid4().hex
            name = f"Dossier {i // 100:06d}"
            folders.append(
                {
                    "id": fid,
                    "parent_id": top_id,
                    "owner_id": owner_id,
                    "name": name,
                    "name_key": search_key(name),
                    "public": False,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            folder_ids.append(fid)
        name = name_for(rng, i)
        ext = name.rsplit(".", 1)[1]
        batch.append(
            {
                "id": uuid.uuid4().hex,
                "folder_id": folder_ids[-1],
                "owner_id": owner_id,
                "name": name,
                "name_key": search_key(name),
                "size": rng.randint(1, 10**8),
                "sha256": "0" * 64,
                "mime_type": MIMES[ext],
                "public": False,
                "content_id": uuid.uuid4().hex,
                "content_version": 1,
                "wrapped_key": b"k",
                "chunk_size": 8 << 20,
                "created_at": now,
                "updated_at": now,
            }
        )
        if len(batch) >= 20_000:
            with sessions() as db, db.begin():
                if folders:
                    db.execute(insert(Folder), folders)
                db.execute(insert(DriveFile), batch)
            batch, folders = [], []
            print(f"  inserted {i + 1} files", flush=True)
    with sessions() as db, db.begin():
        if folders:
            db.execute(insert(Folder), folders)
        if batch:
            db.execute(insert(DriveFile), batch)
    return folder_ids


def queries(rng: random.Random, n: int) -> list[str]:
    out: list[str] = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.6:
            word = rng.choice(WORDS)
            start = rng.randint(0, max(0, len(word) - 3))
            piece = word[start : start + rng.randint(3, 8)]
            out.append(piece.upper() if rng.random() < 0.3 else piece)
        elif kind < 0.85:
            out.append(f"{rng.randint(0, 999999):07d}"[: rng.randint(4, 7)])  # rare: a number
        else:
            out.append(rng.choice(("zzqx", "nothing-here", "ξψω", "qwerty")))
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@contextmanager
def database(kind: str, pg_url: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="cv-bench-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    name = f"cv_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield pg_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def run(kind: str, url: str, args: argparse.Namespace) -> None:
    print(f"## {kind}: {args.files} files", flush=True)
    migrate(url)
    engine = create_engine_for(url)
    sessions = sessionmaker(engine, expire_on_commit=False)
    with tempfile.TemporaryDirectory(prefix="cv-bench-data-") as data_dir:
        settings = Settings(
            data_dir=Path(data_dir),
            database_url=url,
            storage_backend="local",
            drive_secret_key=None,
            message_encryption_key=None,
            drive_default_quota_bytes=1 << 62,
        )
        ctx = DriveContext.open(settings, sessions)
        with sessions() as db, db.begin():
            user = DriveUser(
                name="bench",
                password_hash="unused",  # noqa: S106 - nobody signs in
                is_admin=False,
                disabled=False,
                token_version=0,
            )
            db.add(user)
            db.flush()
            actor = Actor(id=user.id, name=user.name, is_admin=False)
        started = time.perf_counter()
        folder_ids = populate(sessions, args.files, actor.id)
        print(f"populate: {time.perf_counter() - started:.1f} s", flush=True)
        if kind == "postgres":
            with engine.begin() as c:
                c.execute(text("ANALYZE"))
        else:
            with engine.begin() as c:
                c.execute(text("ANALYZE"))

        rng = random.Random(7)
        timings: list[float] = []
        hits = 0
        for q in queries(rng, args.queries):
            with sessions() as db:
                t0 = time.perf_counter()
                page = search.search(db, actor, q, limit=50)
                timings.append((time.perf_counter() - t0) * 1000)
                hits += len(page.order)
        print(
            f"search ({args.queries} queries, {hits} hits): p50 {pct(timings, 50):.1f} ms, "
            f"p95 {pct(timings, 95):.1f} ms, p99 {pct(timings, 99):.1f} ms, "
            f"max {max(timings):.1f} ms",
            flush=True,
        )
        if args.explain:
            explain(engine, kind)

        # Delete-and-restore of a 10,000-file folder (100 subfolders of 100 files).
        with sessions() as db, db.begin():
            big = Folder(id=uuid.uuid4().hex, parent_id=ROOT_ID, owner_id=actor.id, name="big")
            db.add(big)
            db.flush()
            db.execute(
                text("UPDATE drive_folders SET parent_id = :big WHERE id IN :ids").bindparams(
                    __import__("sqlalchemy").bindparam("ids", expanding=True)
                ),
                {"big": big.id, "ids": folder_ids[:100]},
            )
            big_id = big.id
        with sessions() as db, db.begin():
            t0 = time.perf_counter()
            count = trash.trash_folder(ctx, db, actor, big_id)
        t_delete = time.perf_counter() - t0
        with sessions() as db:
            [entry] = [e for e in trash.list_trash(db, actor, 10, 0)[0] if e.item_id == big_id]
        with sessions() as db, db.begin():
            t0 = time.perf_counter()
            trash.restore(ctx, db, actor, entry.id)
        t_restore = time.perf_counter() - t0
        print(
            f"trash {count} files: {t_delete * 1000:.0f} ms; restore: {t_restore * 1000:.0f} ms",
            flush=True,
        )

        # Quota check as a streamed upload pays it per chunk.
        checks: list[float] = []
        for _ in range(args.quota_checks):
            t0 = time.perf_counter()
            with sessions() as db, db.begin():
                quotas.reserve(ctx, db, actor.id, 8 << 20)
            checks.append((time.perf_counter() - t0) * 1000)
        print(
            f"quota check ({args.files} files owned): mean {statistics.mean(checks):.1f} ms, "
            f"p99 {pct(checks, 99):.1f} ms per chunk",
            flush=True,
        )
        ctx.close()
    engine.dispose()


def explain(engine: object, kind: str) -> None:
    """The plans of both of search's per-table queries (drive/search.py ``_page``)."""
    from sqlalchemy.engine import Engine

    assert isinstance(engine, Engine)
    if kind == "sqlite":
        narrow = (
            "EXPLAIN QUERY PLAN SELECT name_key, id FROM drive_files WHERE id IN (SELECT "
            "s.item_id FROM drive_search AS s WHERE s.rowid IN (SELECT rowid FROM "
            "drive_search_fts WHERE drive_search_fts MATCH '\"0123\"')) AND trash_id IS NULL "
            "ORDER BY name_key, id LIMIT 51"
        )
        broad = (
            "EXPLAIN QUERY PLAN SELECT name_key, id FROM drive_files WHERE name_key LIKE "
            "'%facture%' ESCAPE '\\' AND trash_id IS NULL ORDER BY name_key, id LIMIT 51"
        )
    else:
        narrow = (
            "EXPLAIN ANALYZE SELECT name_key, id FROM drive_files WHERE name_key LIKE "
            "'%0123%' ESCAPE '\\' AND trash_id IS NULL ORDER BY name_key, id LIMIT 51"
        )
        broad = (
            "EXPLAIN ANALYZE SELECT name_key, id FROM drive_files WHERE name_key LIKE "
            "'%facture%' ESCAPE '\\' AND trash_id IS NULL ORDER BY name_key, id LIMIT 51"
        )
    with engine.connect() as c:
        for label, sql in (("narrow ('0123')", narrow), ("broad ('facture')", broad)):
            print(f"  plan, {label}:")
            for row in c.execute(text(sql)):
                print("   ", row[-1] if kind == "sqlite" else row[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--files", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--quota-checks", type=int, default=50)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    for kind in ("sqlite", "postgres") if args.db == "both" else (args.db,):
        with database(kind, args.pg_url) as url:
            run(kind, url, args)


if __name__ == "__main__":
    main()

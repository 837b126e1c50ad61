"""The catalog's change counter: an idle tick reads no catalog table (statements counted), a
change is still journalled within the journal interval, every catalog table of a migrated
database bumps the counter, and a table without its trigger falls back to full reads.
On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event
from tests.drive.catalog_support import KEYS
from tests.drive.support import DriveEnv

from cordvault.db import create_engine_for, migrate
from cordvault.drive.catalog import changes
from cordvault.drive.catalog import tables as tbl
from cordvault.drive.catalog.records import CatalogKeys, open_head
from cordvault.drive.catalog.writer import CatalogWriter, catalog_loop

CATALOG = {t.name for t in tbl.catalog_tables()}


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every SQL statement ``engine`` runs inside the block."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        seen.append(sql)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _tables_read(sql: list[str]) -> set[str]:
    words = {w for s in sql for w in re.findall(r"[a-z_]+", s.lower())}
    return words & CATALOG


def _engine(env: DriveEnv) -> Engine:
    bind = env.drive.sessions.kw["bind"]
    assert isinstance(bind, Engine)
    return bind


def test_every_catalog_table_of_a_migrated_database_bumps_the_counter(db_url: str) -> None:
    migrate(db_url)
    engine = create_engine_for(db_url)
    try:
        with engine.connect() as conn:
            assert changes.untriggered_tables(conn, CATALOG) == []
    finally:
        engine.dispose()


def test_an_idle_tick_reads_no_catalog_table_and_a_change_is_journalled(
    make_env: Callable[..., DriveEnv],
) -> None:
    env = make_env(**KEYS, drive_catalog_journal_seconds=3600)
    admin = env.register("admin")
    writer = CatalogWriter(env.drive)
    assert writer.tick().snapshot_rows  # fresh epoch: a full snapshot
    engine = _engine(env)
    with statements(engine) as sql:
        report = writer.tick()
    assert report.leader
    assert report.journal_rows == 0
    assert report.snapshot_rows is None
    assert _tables_read(sql) == set(), sql
    assert len(sql) <= 4, sql  # lease renewal + the counter: O(1), whatever the table sizes

    env.put(admin, "/after.txt", b"changed")
    with statements(engine) as sql:
        report = writer.tick()
    assert report.journal_rows >= 2  # the file and its chunk (at least)
    assert {"drive_files", "drive_chunks"} <= _tables_read(sql)
    with statements(engine) as sql:
        assert writer.tick().journal_rows == 0
    assert _tables_read(sql) == set()


def test_the_loop_journals_a_change_within_the_interval(
    make_env: Callable[..., DriveEnv],
) -> None:
    interval = 1.0
    env = make_env(**KEYS, drive_catalog_journal_seconds=interval)
    admin = env.register("admin")
    keys = CatalogKeys(env.drive.keyring)

    def kinds() -> list[str]:
        found = [o for o in env.drive.store.scan_named() if keys.is_head_name(o.name)]
        return [open_head(keys, o.name, env.drive.store.get(o.locator))[0].kind for o in found]

    async def run() -> float:
        async with catalog_loop(env.drive):
            for _ in range(200):
                if kinds() == ["snapshot"]:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(2.5 * interval)  # idle ticks
            assert kinds() == ["snapshot"]
            await asyncio.to_thread(env.put, admin, "/late.txt", b"late")
            changed = time.monotonic()
            for _ in range(200):
                if "journal" in kinds():
                    break
                await asyncio.sleep(0.05)
            return time.monotonic() - changed

    waited = asyncio.run(run())
    assert waited < interval + 1.5  # the next tick, plus the upload of the record


def test_a_table_without_its_trigger_is_read_at_every_tick(
    make_env: Callable[..., DriveEnv],
) -> None:
    env = make_env(**KEYS, drive_catalog_journal_seconds=3600)
    admin = env.register("admin")
    engine = _engine(env)
    with engine.begin() as conn:
        changes.drop_triggers(conn, ["drive_files"])
        assert changes.untriggered_tables(conn, CATALOG) == ["drive_files"]
    writer = CatalogWriter(env.drive)
    writer.tick()
    with statements(engine) as sql:
        writer.tick()
    assert "drive_files" in _tables_read(sql)  # no counter: the old full read
    env.put(admin, "/x.txt", b"x")
    assert writer.tick().journal_rows >= 1

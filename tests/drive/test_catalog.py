"""Disaster recovery: snapshots + journal on the store, then `cordvault drive recover`.

On SQLite and PostgreSQL with the local store (the CLI, end to end), and on the Discord
emulator; damaged snapshots are skipped; the writer's loop writes at start and at stop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import inspect
from tests.drive.catalog_support import (
    KEYS,
    add_more,
    build,
    change,
    check,
    lose_database,
    recover_cli,
    recover_env,
)
from tests.drive.support import DriveEnv

from cordvault.core.errors import CordvaultError
from cordvault.db import create_engine_for, migrate
from cordvault.drive.catalog import tables as tbl
from cordvault.drive.catalog.records import CatalogKeys, open_head
from cordvault.drive.catalog.recover import recover
from cordvault.drive.catalog.writer import CatalogWriter, catalog_loop
from cordvault.storage.local import LocalChunkStore


def test_recover_from_the_local_store_alone(
    make_env: Callable[..., DriveEnv],
    db_url: str,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = make_env(**KEYS)
    tree, who = build(env)
    writer = CatalogWriter(env.drive)
    first = writer.tick()
    assert first.snapshot_rows
    assert first.journal_rows == 0
    change(env, tree, who)
    assert writer.tick().journal_rows > 0
    add_more(env, tree, who)
    assert writer.tick().journal_rows > 0
    assert writer.tick().journal_rows == 0  # nothing changed: nothing written
    writer.release()
    env.client.__exit__(None, None, None)

    lose_database(db_url)
    store_path = data_dir / "chunks"
    recover_cli(monkeypatch, recover_env(db_url, data_dir), "--store-path", str(store_path))
    report = capsys.readouterr().out
    assert "snapshot 0" in report, report
    assert "2 journal record(s)" in report, report
    check(make_env(**KEYS), tree)


def test_recover_refuses_a_database_with_drive_data(
    make_env: Callable[..., DriveEnv], db_url: str, data_dir: Path
) -> None:
    env = make_env(**KEYS)
    build(env)
    writer = CatalogWriter(env.drive)
    writer.tick()
    with pytest.raises(CordvaultError) as caught:
        recover(env.drive.sessions.kw["bind"], env.drive.store, CatalogKeys(env.drive.keyring))
    assert caught.value.code == "CONFLICT"


def test_a_damaged_snapshot_is_skipped_and_the_journal_still_replayed(
    make_env: Callable[..., DriveEnv], db_url: str, data_dir: Path
) -> None:
    env = make_env(**KEYS, drive_catalog_snapshot_changes=1)
    tree, who = build(env)
    writer = CatalogWriter(env.drive)
    writer.tick()  # snapshot 0
    change(env, tree, who)
    report = writer.tick()  # journal 1 + snapshot 1 (threshold of 1 change)
    assert report.journal_rows
    assert report.snapshot_rows
    add_more(env, tree, who)
    assert writer.tick().snapshot_rows  # journal 2 + snapshot 2
    writer.release()
    keys = CatalogKeys(env.drive.keyring)
    store = LocalChunkStore(data_dir / "chunks")
    newest = max(
        (o for o in store.scan_named() if keys.is_head_name(o.name)),
        key=lambda o: (
            open_head(keys, o.name, store.get(o.locator))[0].kind == "snapshot",
            open_head(keys, o.name, store.get(o.locator))[0].seq,
        ),
    )
    path = store.root / "objects" / newest.name[:2] / newest.name[2:4] / newest.name
    data = bytearray(path.read_bytes())
    data[40] ^= 1  # tamper with the newest snapshot's head
    path.write_bytes(bytes(data))
    env.client.__exit__(None, None, None)

    lose_database(db_url)
    migrate(db_url)
    engine = create_engine_for(db_url)
    result = recover(engine, store, keys)
    engine.dispose()
    # Snapshot 2 is damaged: snapshot 1, then journal 2 on top of it.
    assert (result.snapshot_seq, result.journals_applied) == (1, 1), result
    assert any("skipped" in w for w in result.warnings), result.warnings
    check(make_env(**KEYS), tree)


def test_every_drive_table_is_in_the_catalog_or_marked_out(sqlite_url: str) -> None:
    migrate(sqlite_url)
    engine = create_engine_for(sqlite_url)
    with engine.connect() as conn:
        names = {
            n
            for n in inspect(conn).get_table_names()
            if n.startswith("drive_") and not n.startswith(tbl.DERIVED_PREFIXES)
        }
        assert tbl.unlisted_tables(conn) == []
    engine.dispose()
    included = {t.name for t in tbl.catalog_tables()}
    excluded = {
        "drive_catalog_lease",
        "drive_catalog_objects",
        "drive_catalog_changes",
        "drive_signin_throttle",
    }
    assert names == included | excluded
    assert {"drive_users", "drive_files", "drive_chunks", "drive_shares"} <= included


def test_retention_prunes_old_records(
    make_env: Callable[..., DriveEnv], sqlite_url: str, data_dir: Path
) -> None:
    env = make_env(**KEYS, drive_catalog_snapshot_changes=1, drive_catalog_keep_snapshots=2)
    admin = env.register("admin")
    writer = CatalogWriter(env.drive)
    writer.tick()
    pruned = 0
    for n in range(4):
        env.put(admin, f"/f{n}.txt", b"x" * n)
        pruned += writer.tick().pruned
    keys = CatalogKeys(env.drive.keyring)
    heads = [o for o in env.drive.store.scan_named() if keys.is_head_name(o.name)]
    kinds = [open_head(keys, o.name, env.drive.store.get(o.locator))[0].kind for o in heads]
    assert pruned > 0
    assert kinds.count("snapshot") == 2, kinds


def test_the_loop_writes_at_start_and_at_stop(
    make_env: Callable[..., DriveEnv], sqlite_url: str
) -> None:
    env = make_env(**KEYS, drive_catalog_journal_seconds=3600)
    admin = env.register("admin")
    keys = CatalogKeys(env.drive.keyring)

    def heads() -> list[str]:
        found = [o for o in env.drive.store.scan_named() if keys.is_head_name(o.name)]
        return [open_head(keys, o.name, env.drive.store.get(o.locator))[0].kind for o in found]

    async def run() -> None:
        async with catalog_loop(env.drive):
            for _ in range(100):
                if heads():
                    break
                await asyncio.sleep(0.05)
            assert heads() == ["snapshot"]
            await asyncio.to_thread(env.put, admin, "/late.txt", b"late")

    asyncio.run(run())
    assert sorted(heads()) == ["journal", "snapshot"]

"""`cordvault backup` / `cordvault restore` on SQLite (online backup API) and PostgreSQL
(pg_dump / pg_restore): a copy taken while a writer is busy restores to the same rows."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from cordvault.cli.app import main
from cordvault.db import create_engine_for, migrate


def _run(monkeypatch: pytest.MonkeyPatch, db_url: str, *args: str) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    with pytest.raises(SystemExit) as done:
        main(list(args))
    assert done.value.code == 0


def _names(db_url: str) -> list[str]:
    engine = create_engine_for(db_url)
    with engine.connect() as conn:
        names = list(conn.execute(text("SELECT name FROM drive_users ORDER BY name")).scalars())
    engine.dispose()
    return names


def _add(db_url: str, name: str) -> None:
    engine = create_engine_for(db_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO drive_users (name, password_hash, is_admin, disabled, "
                "token_version, created_at, updated_at) VALUES "
                "(:n, 'x', false, false, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"n": name},
        )
    engine.dispose()


def test_backup_and_restore(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    migrate(db_url)
    for n in range(20):
        _add(db_url, f"user{n:02d}")
    stop = threading.Event()

    def busy() -> None:  # a writer keeps going while the backup runs
        n = 0
        while not stop.is_set():
            _add(db_url, f"late{n:04d}")
            n += 1

    writer = threading.Thread(target=busy)
    writer.start()
    try:
        backup = tmp_path / "backup.db"
        _run(monkeypatch, db_url, "backup", str(backup))
    finally:
        stop.set()
        writer.join()
    assert stat.S_IMODE(os.stat(backup).st_mode) == 0o600
    _add(db_url, "after-the-backup")
    assert "after-the-backup" in _names(db_url)

    with pytest.raises(SystemExit) as refused:
        main(["restore", str(backup)])
    assert refused.value.code == 3  # --yes is required
    _run(monkeypatch, db_url, "restore", "--yes", str(backup))
    restored = _names(db_url)
    assert "after-the-backup" not in restored
    assert [n for n in restored if n.startswith("user")] == [f"user{n:02d}" for n in range(20)]
    late = [n for n in restored if n.startswith("late")]
    assert late == [f"late{n:04d}" for n in range(len(late))]  # a consistent prefix


def test_restore_of_a_missing_file_is_a_clear_error(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    with pytest.raises(SystemExit) as done:
        main(["restore", "--yes", str(tmp_path / "nope.db")])
    assert done.value.code == 5

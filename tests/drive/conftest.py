"""Fixtures of the drive tests: an app on SQLite and PostgreSQL with a counting local store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.drive.support import DriveEnv

from cordvault.core.settings import Settings
from cordvault.storage.counting import CountingChunkStore
from cordvault.storage.local import LocalChunkStore
from cordvault.web.app import create_app

CHUNK = 64 * 1024


def drive_settings(db_url: str, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": db_url,
        "drive_chunk_size": CHUNK,
        # The catalog writer stores records through the (counted) store: off unless a test
        # is about it (tests/drive/test_catalog*.py).
        "drive_catalog": False,
        "drive_gc_grace_seconds": 0,
        "drive_gc_interval_seconds": 3600,
        "drive_login_max_failures": 3,
        "drive_secret_key": None,
        "message_encryption_key": None,
        "storage_backend": "local",
        "storage_path": None,
    }
    values.update(overrides)
    return Settings(**values)


def open_env(settings: Settings) -> tuple[DriveEnv, TestClient]:
    app = create_app(settings, domains=("cordvault.web.drive",))
    drive = app.state.services.drive
    store = CountingChunkStore(LocalChunkStore(settings.data_dir / "chunks", fsync=False))
    drive.replace_store(store)
    client = TestClient(app)
    return DriveEnv(client=client, drive=drive, store=store, settings=settings), client


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Still argon2id, with small cost parameters: the tests hash many passwords on busy CPUs."""
    from argon2 import PasswordHasher

    from cordvault.drive import passwords

    monkeypatch.setattr(
        passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture
def make_env(db_url: str, data_dir: Path) -> Iterator[Callable[..., DriveEnv]]:
    """Start a drive app (several may share one DB and data dir: a 'restart')."""
    clients: list[TestClient] = []

    def make(**overrides: Any) -> DriveEnv:
        env, client = open_env(drive_settings(db_url, data_dir, **overrides))
        client.__enter__()
        clients.append(client)
        return env

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def env(make_env: Callable[..., DriveEnv]) -> DriveEnv:
    return make_env()

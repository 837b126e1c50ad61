"""Fixtures of the Discord store tests: one emulator and one migrated SQLite ledger per test
module (a module that needs another emulator defines its own ``emulator``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker
from tests.storage.discord_support import make_config

from cordvault.db import create_engine_for, make_sessionmaker, migrate
from cordvault.discord.emulator import EmulatorHandle, running_emulator


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    """The emulated Discord of :func:`~tests.storage.discord_support.make_config`."""
    with running_emulator(make_config()) as handle:
        yield handle


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    """Sessions on a migrated SQLite database (the store's ledger and the drive's tables)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('discord-db') / 'ledger.db'}"
    migrate(url)
    engine = create_engine_for(url)
    yield make_sessionmaker(engine)
    engine.dispose()

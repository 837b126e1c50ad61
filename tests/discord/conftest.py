"""Fixtures: a live Discord emulator on a free port and a client pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.discord.support import make_client, make_config

from cordvault.discord import DiscordClient
from cordvault.discord.emulator import EmulatorHandle, running_emulator


@pytest.fixture
def emulator() -> Iterator[EmulatorHandle]:
    with running_emulator(make_config()) as handle:
        yield handle


@pytest.fixture
def client(emulator: EmulatorHandle) -> Iterator[DiscordClient]:
    with make_client(emulator) as c:
        yield c

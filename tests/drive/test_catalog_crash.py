"""Disaster recovery after a ``kill -9`` in the middle of a snapshot (local store), and from
the Discord emulator through `cordvault drive recover --channel-ids`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
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
from tests.storage.discord_support import CHANNELS, TOKEN, make_config, make_store

from cordvault.discord.emulator import EmulatorHandle, running_emulator
from cordvault.drive.catalog.writer import CatalogWriter
from cordvault.storage.local import LocalChunkStore

ROOT = Path(__file__).resolve().parents[2]


def _environment(db_url: str, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        **recover_env(db_url, data_dir),
        "STORAGE_BACKEND": "local",
    }


def test_kill_9_mid_snapshot_loses_nothing_already_journaled(
    make_env: Callable[..., DriveEnv],
    db_url: str,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = make_env(**KEYS)
    tree, who = build(env)
    writer = CatalogWriter(env.drive)
    writer.tick()  # snapshot 0
    change(env, tree, who)
    add_more(env, tree, who)
    assert writer.tick().journal_rows  # journal 1
    writer.release()
    env.client.__exit__(None, None, None)
    store = LocalChunkStore(data_dir / "chunks")
    before = {o.name for o in store.scan_named()}

    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("catalog_killer.py"))],
        env=_environment(db_url, data_dir),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.startswith("MID"), line
        assert int(line.split()[1]) >= 1  # the new snapshot's parts are on the store
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert {o.name for o in store.scan_named()} - before  # a half-written snapshot is left

    lose_database(db_url)
    environment = _environment(db_url, data_dir)
    recover_cli(monkeypatch, environment, "--store-path", str(data_dir / "chunks"))
    out = capsys.readouterr().out
    assert "snapshot 0" in out, out
    assert "1 journal record(s)" in out, out
    check(make_env(**KEYS), tree)


@pytest.fixture
def emulator() -> Iterator[EmulatorHandle]:
    with running_emulator(make_config()) as handle:
        yield handle


def test_recover_from_discord_alone(
    make_env: Callable[..., DriveEnv],
    db_url: str,
    data_dir: Path,
    emulator: EmulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = make_env(**KEYS)
    env.drive.replace_store(make_store(emulator, env.drive.sessions))
    tree, who = build(env)
    writer = CatalogWriter(env.drive)
    writer.tick()
    change(env, tree, who)
    assert writer.tick().journal_rows
    add_more(env, tree, who)
    assert writer.tick().journal_rows
    writer.release()
    env.client.__exit__(None, None, None)

    lose_database(db_url)
    environment = {
        **recover_env(db_url, data_dir),
        "DRIVE_CHUNK_SIZE": str(64 * 1024),
        "DISCORD_API_BASE": emulator.api_base,
        "DISCORD_BOT_TOKEN": TOKEN,
        "DISCORD_MAX_FILE_BYTES": str(1024 * 1024),
    }
    recover_cli(monkeypatch, environment, "--channel-ids", ",".join(CHANNELS))
    out = capsys.readouterr().out
    assert "2 journal record(s)" in out, out
    recovered = make_env(**KEYS)
    recovered.drive.replace_store(make_store(emulator, recovered.drive.sessions))
    check(recovered, tree)

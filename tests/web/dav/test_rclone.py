"""Debian's rclone with a ``webdav`` remote against a real server: copy a tree up, check it
byte for byte, sync a changed tree down, check again, delete. On the local backend
(PostgreSQL, 300 files with one of 64 MiB) and once on the Discord emulator (SQLite, a smaller
tree: the emulator holds every attachment in memory)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from tests.storage.discord_support import CHANNELS, TOKEN, make_config
from tests.web.dav.support import Accounts, Served, need_tool, serve

from cordvault.discord.emulator import running_emulator

pytestmark = pytest.mark.slow


def _tree(root: Path, files: int, big: int) -> None:
    """Nested folders, empty files, Unicode names, one big file of ``big`` bytes."""
    names = ["plain", "Café déjà vu", "日本語", "emoji 🎉", "spaces and (parens)"]
    for i in range(files - 1):
        folder = root / names[i % len(names)] / f"level {i % 7}" / ("deep" if i % 3 else "")
        folder.mkdir(parents=True, exist_ok=True)
        size = 0 if i % 25 == 0 else (i * 7919) % 40_000
        (folder / f"file {i} {names[(i + 2) % len(names)]}.bin").write_bytes(os.urandom(size))
    with (root / "big.bin").open("wb") as fh:
        for _ in range(big // (1 << 20)):
            fh.write(os.urandom(1 << 20))
        fh.write(os.urandom(big % (1 << 20)))


def _rclone(server: Served, secret: str, *args: str) -> str:
    rclone = need_tool("rclone")
    obscured = subprocess.run(
        [rclone, "obscure", secret], capture_output=True, text=True, check=True
    ).stdout.strip()
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/tmp"),
        "RCLONE_CONFIG": "/dev/null",
        "RCLONE_CONFIG_CV_TYPE": "webdav",
        "RCLONE_CONFIG_CV_URL": server.dav,
        "RCLONE_CONFIG_CV_VENDOR": "other",
        "RCLONE_CONFIG_CV_USER": "alice",
        "RCLONE_CONFIG_CV_PASS": obscured,
    }
    run = subprocess.run(
        [rclone, "--transfers", "4", "--checkers", "8", "--retries", "1", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, f"rclone {' '.join(args)}:\n{run.stderr[-4000:]}"
    return run.stdout + run.stderr


def _round_trip(server: Served, tmp_path: Path, files: int, big: int) -> None:
    with httpx.Client(base_url=server.base) as client:
        accounts = Accounts(client)
        _id, secret = accounts.app_password(accounts.register("alice"), "rclone")
    up = tmp_path / "up"
    _tree(up, files, big)
    assert sum(1 for p in up.rglob("*") if p.is_file()) == files
    _rclone(server, secret, "copy", str(up), "cv:backup")
    _rclone(server, secret, "check", "--download", str(up), "cv:backup")
    # Change the tree on the server (rclone again: another device), then sync it down.
    down = tmp_path / "down"
    shutil.copytree(up, down)
    changed = tmp_path / "changed"
    changed.mkdir()
    (changed / "new file ünïcode.txt").write_bytes(b"new on the server")
    _rclone(server, secret, "copy", str(changed), "cv:backup/plain")
    victim = next(
        p for p in sorted(up.rglob("*.bin")) if p.stat().st_size > 0 and p != up / "big.bin"
    )
    _rclone(server, secret, "deletefile", f"cv:backup/{victim.relative_to(up).as_posix()}")
    _rclone(server, secret, "sync", "cv:backup", str(down))
    assert (down / "plain" / "new file ünïcode.txt").read_bytes() == b"new on the server"
    assert not (down / victim.relative_to(up)).exists()
    _rclone(server, secret, "check", "--download", str(down), "cv:backup")
    _rclone(server, secret, "purge", "cv:backup")
    listing = _rclone(server, secret, "lsf", "cv:")
    assert "backup" not in listing


def test_rclone_round_trip_on_the_local_backend(
    postgres_url: str, data_dir: Path, tmp_path: Path
) -> None:
    with serve(data_dir, tmp_path, DATABASE_URL=postgres_url) as server:
        _round_trip(server, tmp_path, files=300, big=64 * 1024 * 1024 + 12345)


def test_rclone_round_trip_on_the_discord_emulator(
    sqlite_url: str, data_dir: Path, tmp_path: Path
) -> None:
    with running_emulator(make_config()) as emulator:
        settings = {
            "DATABASE_URL": sqlite_url,
            "STORAGE_BACKEND": "discord",
            "DISCORD_API_BASE": emulator.api_base,
            "DISCORD_BOT_TOKEN": TOKEN,
            "DISCORD_CHANNEL_IDS": ",".join(CHANNELS),
            "MESSAGE_ENCRYPTION_KEY": "q9cD0mVx0Yc1m8sQ2l8b0f3pX1pTqk3dZ0Xh7q2aV1s=",
            "DRIVE_CHUNK_SIZE": str(1024 * 1024),
        }
        with serve(data_dir, tmp_path, **settings) as server:
            _round_trip(server, tmp_path, files=40, big=3 * 1024 * 1024 + 7)

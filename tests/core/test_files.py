"""core/files.py: atomic replacement and create-once secret files, with their modes."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from cordvault.core.files import (
    atomic_output,
    atomic_write,
    make_private_dirs,
    read_or_create_secret,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_atomic_write_replaces_whole_and_private(tmp_path: Path) -> None:
    target = tmp_path / "new" / "deeper" / "out.bin"
    old_umask = os.umask(0)
    try:
        atomic_write(target, b"one")
    finally:
        os.umask(old_umask)
    assert target.read_bytes() == b"one"
    assert _mode(target) == 0o600
    assert _mode(target.parent) == 0o700
    assert _mode(target.parent.parent) == 0o700
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.bin"]


def test_existing_directories_keep_their_mode(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    atomic_write(tmp_path / "x", b"x")
    assert _mode(tmp_path) == 0o755
    make_private_dirs(tmp_path)
    assert _mode(tmp_path) == 0o755


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def fail() -> None:
        with atomic_output(target) as out:
            out.write(b"partial")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail()
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_secret_is_created_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "k.key"
    calls: list[int] = []

    def make() -> bytes:
        calls.append(1)
        return b"secret-%d" % len(calls)

    assert read_or_create_secret(path, make) == b"secret-1"
    assert read_or_create_secret(path, make) == b"secret-1"
    assert calls == [1]
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700


def test_concurrent_creators_agree(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    results: list[bytes] = []
    barrier = threading.Barrier(8)

    def run(n: int) -> None:
        barrier.wait()
        results.append(read_or_create_secret(path, lambda: b"value-%d" % n))

    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1
    assert path.read_bytes() == results[0]


def test_an_empty_secret_file_is_reported_empty_after_the_wait(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    path.touch()
    assert read_or_create_secret(path, lambda: b"never", wait=0.05) == b""


def test_a_failed_secret_write_removes_the_file(tmp_path: Path) -> None:
    path = tmp_path / "k.key"

    def make() -> bytes:
        raise OSError("no entropy today")

    with pytest.raises(OSError, match="no entropy"):
        read_or_create_secret(path, make)
    assert not path.exists()

"""Local-directory chunk store: the conformance suite plus atomicity and full-disk behaviour."""

from __future__ import annotations

import errno
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from tests.storage.conformance import ChunkStoreConformance

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.settings import load_settings
from cordvault.storage import local as local_module
from cordvault.storage.base import ChunkNotFound, ChunkStore, StorageError, StorageFull
from cordvault.storage.counting import CountingChunkStore
from cordvault.storage.factory import open_chunk_store
from cordvault.storage.local import STALE_PART_SECONDS, LocalChunkStore

SRC = Path(__file__).resolve().parents[2] / "src"


class TestLocalConformance(ChunkStoreConformance):
    def make_store(self) -> ChunkStore:
        return LocalChunkStore(self.tmp_path / "chunks", max_chunk_size=1 << 20, max_batch=16)


class TestCountingWrapperConformance(ChunkStoreConformance):
    """The counting wrapper is a store too: it must not bend the contract."""

    def make_store(self) -> ChunkStore:
        return CountingChunkStore(LocalChunkStore(self.tmp_path / "c", max_chunk_size=1 << 20))


def _objects(root: Path) -> list[Path]:
    return [p for p in (root / "objects").rglob("*") if p.is_file()]


def _parts(root: Path) -> list[Path]:
    return list((root / "tmp").glob("*.part"))


def test_chunks_survive_reopening(tmp_path: Path) -> None:
    locator = LocalChunkStore(tmp_path).put(b"persisted")
    assert LocalChunkStore(tmp_path).get(locator) == b"persisted"
    assert _objects(tmp_path)[0].name == locator


def test_crash_mid_write_leaves_no_visible_chunk(tmp_path: Path) -> None:
    """A process killed (SIGKILL) half-way through writing a chunk: the chunk never appears,
    only a .part file, which a later store removes once it is stale."""
    script = textwrap.dedent(
        """
        import os, signal, sys
        from pathlib import Path
        from cordvault.storage import local
        real_write = os.write
        def dying_write(fd, data):
            real_write(fd, bytes(data[: len(data) // 2]))
            os.kill(os.getpid(), signal.SIGKILL)
        store = local.LocalChunkStore(Path(sys.argv[1]))
        local.os.write = dying_write
        store.put(b"z" * 100_000)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        env={**os.environ, "PYTHONPATH": str(SRC)},
        capture_output=True,
        check=False,
    )
    assert proc.returncode == -9, proc.stderr
    assert _objects(tmp_path) == []
    (part,) = _parts(tmp_path)
    assert part.stat().st_size == 50_000  # the crash really happened mid-write

    LocalChunkStore(tmp_path)  # a fresh part may belong to a live writer: kept
    assert _parts(tmp_path) == [part]
    old = time.time() - STALE_PART_SECONDS - 10
    os.utime(part, (old, old))
    LocalChunkStore(tmp_path)
    assert _parts(tmp_path) == []


def test_failed_write_cleans_up_and_is_a_storage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalChunkStore(tmp_path)
    kept = store.put(b"earlier chunk")

    def failing_write(fd: int, data: bytes) -> int:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(local_module.os, "write", failing_write)
    with pytest.raises(StorageError) as err:
        store.put(b"x" * 10)
    assert not isinstance(err.value, StorageFull)
    assert "Input/output error" in err.value.message
    monkeypatch.undo()
    assert _parts(tmp_path) == []
    assert [p.name for p in _objects(tmp_path)] == [kept]


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_injected_enospc_is_storage_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    store = LocalChunkStore(tmp_path)
    real_write = os.write

    def write_then_fill(fd: int, data: bytes) -> int:
        if len(data) > 1000:
            real_write(fd, bytes(memoryview(data)[:1000]))
            raise OSError(code, os.strerror(code))
        return real_write(fd, data)

    monkeypatch.setattr(local_module.os, "write", write_then_fill)
    with pytest.raises(StorageFull) as err:
        store.put(b"y" * 5000)
    assert err.value.code == ErrorCode.STORAGE_FULL
    assert err.value.http_status == 507
    assert "full" in err.value.message
    assert _parts(tmp_path) == []
    assert _objects(tmp_path) == []
    # put_many that fills up half-way leaves none of its chunks behind
    with pytest.raises(StorageFull):
        store.put_many([b"small", b"y" * 5000])
    assert _objects(tmp_path) == []


_TMPFS_SCRIPT = """
import json, os, sys
from pathlib import Path
from cordvault.storage.base import StorageFull
from cordvault.storage.local import LocalChunkStore
store = LocalChunkStore(Path(sys.argv[1]))
stored, error = [], None
try:
    for _ in range(100):
        stored.append(store.put(os.urandom(64 * 1024)))
except StorageFull as exc:
    error = {"code": exc.code, "message": exc.message}
readable = all(len(store.get(loc)) == 64 * 1024 for loc in stored)
parts = os.listdir(Path(sys.argv[1]) / "tmp")
store.delete(stored[0])
again = store.get(store.put(b"fits again")) == b"fits again"
print(json.dumps({"stored": len(stored), "error": error, "readable": readable,
                  "parts": parts, "again": again}))
"""


def test_full_tmpfs_is_storage_full(tmp_path: Path) -> None:
    """A real 512 KiB tmpfs in a private mount namespace, filled until the disk says no."""
    unshare = shutil.which("unshare")
    if unshare is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("needs root and unshare(1) to mount a private tmpfs")
    mount = tmp_path / "mnt"
    mount.mkdir()
    shell = 'mount -t tmpfs -o size=512k tmpfs "$1" && exec "$2" -c "$3" "$1"'
    proc = subprocess.run(
        [unshare, "--mount", "sh", "-c", shell, "sh", str(mount), sys.executable, _TMPFS_SCRIPT],
        env={**os.environ, "PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0 and "mount" in proc.stderr and "Traceback" not in proc.stderr:
        pytest.skip(f"cannot mount tmpfs here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert 0 < result["stored"] <= 8  # 512 KiB holds at most eight 64 KiB chunks
    assert result["error"]["code"] == "STORAGE_FULL"
    assert "full" in result["error"]["message"]
    assert result["readable"] is True  # what was stored before the disk filled is intact
    assert result["parts"] == []  # the failed write left nothing behind
    assert result["again"] is True  # freeing space makes the store usable again


def test_locators_cannot_escape_the_root(tmp_path: Path) -> None:
    store = LocalChunkStore(tmp_path / "store")
    secret = tmp_path / "secret"
    secret.write_bytes(b"not a chunk")
    for locator in ["../secret", "../../secret", str(secret), "A" * 32, "0" * 31]:
        with pytest.raises(ChunkNotFound):
            store.get(locator)
        store.delete(locator)
    assert secret.read_bytes() == b"not a chunk"


def test_unwritable_root_is_a_clear_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with pytest.raises(StorageError, match="could not create its directory"):
        LocalChunkStore(blocker / "chunks")


def test_factory_local_default_and_explicit_path(tmp_path: Path) -> None:
    store = open_chunk_store(load_settings(data_dir=tmp_path))
    assert isinstance(store, LocalChunkStore)
    assert store.root == tmp_path / "chunks"
    explicit = open_chunk_store(
        load_settings(data_dir=tmp_path, storage_path=tmp_path / "elsewhere")
    )
    assert isinstance(explicit, LocalChunkStore)
    assert explicit.root == tmp_path / "elsewhere"
    assert explicit.get(explicit.put(b"ok")) == b"ok"


def test_factory_rejects_unknown_backends(tmp_path: Path) -> None:
    with pytest.raises(CordvaultError) as err:
        open_chunk_store(load_settings(data_dir=tmp_path, storage_backend="s3"))
    assert err.value.code == ErrorCode.INVALID_SETTINGS
    assert "STORAGE_BACKEND" in err.value.message


def test_factory_discord_backend_is_loaded_lazily(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path, storage_backend="Discord", discord_bot_token=None, discord_channel_ids=""
    )
    with pytest.raises(CordvaultError) as err:
        open_chunk_store(settings)
    if importlib.util.find_spec("cordvault.storage.discord.backend") is None:
        assert err.value.code == ErrorCode.INVALID_SETTINGS
        assert "not available" in err.value.message
    else:  # the backend exists: without a token or channels it reports the missing settings
        assert err.value.code in (ErrorCode.MISSING_SETTINGS, ErrorCode.INVALID_SETTINGS)


def test_counting_store_counts_reads_and_writes(tmp_path: Path) -> None:
    store = CountingChunkStore(LocalChunkStore(tmp_path))
    a = store.put(b"0123456789")
    store.put_many([b"ab", b"cd"])
    assert store.get(a, 2, 5) == b"234"
    store.delete(a)
    with pytest.raises(ChunkNotFound):
        store.get(a)
    counters = store.reset()
    assert (counters.puts, counters.bytes_written) == (3, 14)
    assert (counters.gets, counters.bytes_read, counters.deletes) == (1, 3, 1)
    assert counters.get_ranges == [(a, 2, 5)]
    assert store.counters.gets == 0

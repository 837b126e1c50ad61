"""stream_zip_tree: archives open with zipfile and hold exactly the entries' bytes."""

from __future__ import annotations

import io
import os
import struct
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive.zipstream import ZipEntry, stream_zip_tree

WHEN = datetime(2024, 3, 4, 5, 6, 8, tzinfo=UTC)


class Opened:
    """Records which entries were opened and closed, and when."""

    def __init__(self) -> None:
        self.log: list[str] = []

    def entry(self, path: str, data: bytes, *, size: int | None = None) -> ZipEntry:
        def open_content() -> Iterator[bytes]:
            self.log.append(f"open {path}")
            try:
                for offset in range(0, len(data), 50_000):
                    yield data[offset : offset + 50_000]
            finally:
                self.log.append(f"close {path}")

        return ZipEntry(path, len(data) if size is None else size, WHEN, open_content)


def _archive(entries: list[ZipEntry], **options: object) -> bytes:
    return b"".join(stream_zip_tree(entries, **options))  # type: ignore[arg-type]


def test_tree_round_trips_through_zipfile() -> None:
    opened = Opened()
    files = {
        "photos/été 2024/plage 🏖.jpg": os.urandom(300_000),
        "photos/empty.txt": b"",
        "docs/日本語/メモ.md": "こんにちは".encode() * 1000,
        "top.bin": os.urandom(10),
    }
    entries = [opened.entry(path, data) for path, data in files.items()]
    entries.insert(0, ZipEntry("empty folder/", 0, WHEN, lambda: iter(())))
    archive = zipfile.ZipFile(io.BytesIO(_archive(entries)))
    assert archive.testzip() is None
    assert archive.namelist() == ["empty folder/", *files]
    for path, data in files.items():
        assert archive.read(path) == data
        info = archive.getinfo(path)
        assert info.date_time == (2024, 3, 4, 5, 6, 8)
        assert info.flag_bits & 0x800  # names are flagged UTF-8
    assert archive.getinfo("empty folder/").is_dir()
    # Each file is opened only when reached and closed before the next one opens.
    assert opened.log == [f"{verb} {path}" for path in files for verb in ("open", "close")]


def test_compression_level_is_honoured() -> None:
    data = b"abc" * 100_000
    stored = _archive([Opened().entry("a.txt", data)])
    packed = _archive([Opened().entry("a.txt", data)], level=6)
    assert len(packed) < len(data) // 10 < len(stored)
    assert zipfile.ZipFile(io.BytesIO(packed)).read("a.txt") == data


def test_forced_zip64_is_readable_and_marked() -> None:
    data = os.urandom(70_000)
    raw = _archive([Opened().entry("big/one.bin", data)], force_zip64=True)
    archive = zipfile.ZipFile(io.BytesIO(raw))
    assert archive.read("big/one.bin") == data
    assert b"PK\x06\x06" in raw  # Zip64 end of central directory record
    info = archive.getinfo("big/one.bin")
    # The Zip64 extra field (header id 0x0001) is present in the central directory entry.
    assert struct.unpack("<H", info.extra[:2])[0] == 1 or b"\x01\x00" in info.extra


def test_lazy_streaming_does_not_open_ahead() -> None:
    opened = Opened()
    entries = [opened.entry(f"f{i}.bin", os.urandom(2_000_000)) for i in range(3)]
    stream = stream_zip_tree(entries)
    received = 0
    while received < 1_000_000:  # into the first member's data
        received += len(next(stream))
    assert opened.log == ["open f0.bin"]


@pytest.mark.parametrize(
    "path", ["/etc/passwd", "../up.txt", "a/../../b", "a//b", "", "a\\b", "x\0"]
)
def test_unsafe_paths_are_refused(path: str) -> None:
    with pytest.raises(CordvaultError) as info:
        _archive([Opened().entry(path, b"x")])
    assert info.value.code == ErrorCode.INVALID_INPUT


def test_duplicate_paths_are_refused() -> None:
    with pytest.raises(CordvaultError) as info:
        _archive([Opened().entry("a.txt", b"x"), Opened().entry("a.txt", b"y")])
    assert info.value.code == ErrorCode.INVALID_INPUT


@pytest.mark.parametrize("declared", [9, 11])
def test_size_mismatch_is_an_integrity_error(declared: int) -> None:
    with pytest.raises(CordvaultError) as info:
        _archive([Opened().entry("a.txt", b"0123456789", size=declared)])
    assert info.value.code == ErrorCode.INTEGRITY_ERROR


def test_old_timestamps_are_clamped_to_the_dos_epoch() -> None:
    entry = ZipEntry("old.txt", 1, datetime(1970, 1, 1, tzinfo=UTC), lambda: iter([b"x"]))
    archive = zipfile.ZipFile(io.BytesIO(_archive([entry])))
    assert archive.getinfo("old.txt").date_time[0] == 1980
    assert archive.read("old.txt") == b"x"


def test_zip_of_encrypted_files_read_through_chunk_readers(tmp_path: Path) -> None:
    """The drive's use: members streamed by ChunkReaders straight into the archive."""
    from cordvault.crypto import new_file_key
    from cordvault.drive.streaming import ChunkReader, ChunkRef, ChunkWriter
    from cordvault.storage.local import LocalChunkStore

    store = LocalChunkStore(tmp_path / "chunks", fsync=False)
    files = {"a/x.bin": os.urandom(250_000), "a/b/y.txt": b"hello" * 10_000, "z.bin": b""}
    entries = []
    for path, data in files.items():
        key = new_file_key()
        chunks = ChunkWriter(store, key, path, 1, 100_000).write_stream([data]).chunks

        def open_content(
            key: bytes = key, path: str = path, chunks: list[ChunkRef] = chunks
        ) -> Iterator[bytes]:
            with ChunkReader(store, key, path, 1, chunks) as reader:
                yield from reader.iter_range(0, reader.size)

        entries.append(ZipEntry(path, len(data), WHEN, open_content))
    archive = zipfile.ZipFile(io.BytesIO(_archive(entries)))
    assert {name: archive.read(name) for name in archive.namelist()} == files

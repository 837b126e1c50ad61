"""Range reads through a real store: how much ciphertext a plaintext range really costs.

The file here is 2 GB (2_000_000_000 bytes) in 8 MiB chunks, i.e. 239 chunks. Only the last
chunk is actually written to the (local, counted) store; the other 238 locators are valid
names of chunks that do not exist, so a reader that touched any of them would fail with
ChunkNotFound. The claim under test: a 1 KiB read at the end fetches one segment of one chunk.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from cordvault.crypto import (
    SEGMENT_OVERHEAD,
    SEGMENT_SIZE,
    ChunkContext,
    decrypt_chunk,
    decrypt_range,
    encrypt_chunk,
    new_file_key,
)
from cordvault.storage.base import ChunkStore
from cordvault.storage.counting import CountingChunkStore
from cordvault.storage.local import LocalChunkStore

FILE_SIZE = 2_000_000_000
CHUNK = 8 * 1024 * 1024
N_CHUNKS = -(-FILE_SIZE // CHUNK)
LAST_SIZE = FILE_SIZE - (N_CHUNKS - 1) * CHUNK


@dataclass
class StoredFile:
    file_id: str
    key: bytes
    locators: list[str]
    last_plain: bytes


def read_range(store: ChunkStore, f: StoredFile, start: int, end: int) -> bytes:
    """Plaintext ``[start, end)`` of the file: one ranged decrypt per touched chunk."""
    out = []
    for index in range(start // CHUNK, (end - 1) // CHUNK + 1):
        base = index * CHUNK
        size = min(CHUNK, FILE_SIZE - base)
        ctx = ChunkContext(f.file_id, index, is_last=index == N_CHUNKS - 1)
        locator = f.locators[index]
        out.append(
            decrypt_range(
                f.key,
                ctx,
                size,
                max(start, base) - base,
                min(end, base + size) - base,
                lambda a, b, loc=locator: store.get(loc, a, b),
            )
        )
    return b"".join(out)


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, StoredFile]:
    root = tmp_path_factory.mktemp("chunks")
    store = LocalChunkStore(root, max_chunk_size=16 * 1024 * 1024, fsync=False)
    key = new_file_key()
    plain = os.urandom(LAST_SIZE)
    ctx = ChunkContext("big-file", N_CHUNKS - 1, is_last=True)
    last_locator = store.put(encrypt_chunk(key, ctx, plain))
    # Well-formed locators of chunks that were never stored: touching one raises ChunkNotFound.
    absent = [f"{i:032x}" for i in range(N_CHUNKS - 1)]
    return root, StoredFile("big-file", key, [*absent, last_locator], plain)


def test_one_kib_at_the_end_of_2_gb_reads_one_segment(big_file: tuple[Path, StoredFile]) -> None:
    root, f = big_file
    store = CountingChunkStore(LocalChunkStore(root, max_chunk_size=16 * 1024 * 1024))
    data = read_range(store, f, FILE_SIZE - 1024, FILE_SIZE)
    assert data == f.last_plain[-1024:]
    counters = store.counters
    assert counters.gets == 1
    assert counters.get_ranges[0][0] == f.locators[-1]
    assert counters.bytes_read <= SEGMENT_SIZE + SEGMENT_OVERHEAD
    # the last segment of this chunk is short: exactly its bytes were read, nothing more
    last_segment_plain = LAST_SIZE % SEGMENT_SIZE or SEGMENT_SIZE
    assert counters.bytes_read == last_segment_plain + SEGMENT_OVERHEAD


def test_range_straddling_a_segment_boundary_reads_two(big_file: tuple[Path, StoredFile]) -> None:
    root, f = big_file
    store = CountingChunkStore(LocalChunkStore(root, max_chunk_size=16 * 1024 * 1024))
    chunk_base = (N_CHUNKS - 1) * CHUNK
    start = chunk_base + SEGMENT_SIZE - 512
    assert (
        read_range(store, f, start, start + 1024)
        == f.last_plain[SEGMENT_SIZE - 512 : SEGMENT_SIZE + 512]
    )
    assert store.counters.gets == 1
    assert store.counters.bytes_read == 2 * (SEGMENT_SIZE + SEGMENT_OVERHEAD)


def test_whole_last_chunk_by_range_equals_full_decrypt(big_file: tuple[Path, StoredFile]) -> None:
    root, f = big_file
    store = CountingChunkStore(LocalChunkStore(root, max_chunk_size=16 * 1024 * 1024))
    ctx = ChunkContext(f.file_id, N_CHUNKS - 1, is_last=True)
    whole = decrypt_chunk(f.key, ctx, store.get(f.locators[-1]))
    store.reset()
    assert read_range(store, f, (N_CHUNKS - 1) * CHUNK, FILE_SIZE) == whole == f.last_plain
    assert store.counters.gets == 1


def test_reading_an_earlier_chunk_really_would_fail(big_file: tuple[Path, StoredFile]) -> None:
    """Guards the test above: the absent chunks are truly absent."""
    from cordvault.storage.base import ChunkNotFound

    root, f = big_file
    store = LocalChunkStore(root, max_chunk_size=16 * 1024 * 1024)
    with pytest.raises(ChunkNotFound):
        read_range(store, f, FILE_SIZE - CHUNK - 1024, FILE_SIZE - CHUNK)

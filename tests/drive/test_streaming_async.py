"""ChunkReader.aiter_range and downloads.ContentRange: the event-loop read path of downloads
(issue 15), over the real local chunk store and the real crypto."""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from tests.drive.conftest import CHUNK as DRIVE_CHUNK
from tests.drive.support import DriveEnv, random_bytes
from tests.drive.test_streaming import CHUNK, FILE_ID, _SlowStore, _TamperingStore, _write
from tests.support.rangeapp import parse_byteranges

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.crypto import SEGMENT_SIZE, new_file_key
from cordvault.drive import streaming
from cordvault.drive.downloads import ContentRange
from cordvault.drive.streaming import ChunkReader, ChunkRef, _SendBuffers
from cordvault.storage.base import ChunkStore
from cordvault.storage.counting import CountingChunkStore
from cordvault.storage.local import LocalChunkStore


@pytest.fixture
def store(tmp_path: Path) -> CountingChunkStore:
    return CountingChunkStore(LocalChunkStore(tmp_path / "chunks", fsync=False))


async def _collect(reader: ChunkReader, start: int, end: int) -> list[bytearray]:
    return [piece async for piece in reader.aiter_range(start, end)]


def _aread(
    store: ChunkStore, key: bytes, chunks: Sequence[ChunkRef], start: int, end: int
) -> list[bytearray]:
    with ChunkReader(store, key, FILE_ID, 1, chunks) as reader:
        return asyncio.run(_collect(reader, start, end))


def test_async_ranges_equal_the_plaintext_slice(store: CountingChunkStore) -> None:
    data = os.urandom(4 * CHUNK + 12345)
    key = new_file_key()
    chunks = _write(store, data, key).chunks
    rng = random.Random(3)
    cases = [(0, len(data)), (0, 0), (0, 1), (CHUNK - 1, CHUNK + 1), (len(data) - 1, len(data))]
    for _ in range(40):
        a, b = sorted((rng.randrange(len(data)), rng.randrange(len(data))))
        cases.append((a, b))
    for start, end in cases:
        pieces = _aread(store, key, chunks, start, end)
        assert all(pieces)
        assert b"".join(pieces) == data[start:end], (start, end)


def test_async_pieces_are_whole_chunks_up_to_the_send_size(
    store: CountingChunkStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(3 * CHUNK + 10)
    key = new_file_key()
    chunks = _write(store, data, key).chunks
    # One piece per chunk: no 1 MiB slicing, no thread hop per piece.
    assert [len(p) for p in _aread(store, key, chunks, 0, len(data))] == [
        c.plain_size for c in chunks
    ]
    # A chunk larger than SEND_PIECE_SIZE is cut at segment-aligned piece boundaries.
    monkeypatch.setattr(streaming, "SEND_PIECE_SIZE", 2 * SEGMENT_SIZE)
    pieces = _aread(store, key, chunks, 5, CHUNK + 7)
    assert b"".join(pieces) == data[5 : CHUNK + 7]
    assert [len(p) for p in pieces] == [2 * SEGMENT_SIZE - 5, CHUNK - 2 * SEGMENT_SIZE, 7]


def test_one_kib_at_the_end_still_reads_one_segment(store: CountingChunkStore) -> None:
    data = os.urandom(5 * CHUNK + 5000)
    key = new_file_key()
    chunks = _write(store, data, key).chunks
    store.reset()
    assert b"".join(_aread(store, key, chunks, len(data) - 1024, len(data))) == data[-1024:]
    assert store.counters.gets == 1
    assert store.counters.bytes_read <= SEGMENT_SIZE + 28


@pytest.mark.parametrize(("start", "end"), [(0, None), (CHUNK + 5, None), (2 * CHUNK + 9, -10)])
def test_async_tampered_chunk_raises_before_any_wrong_byte(
    store: CountingChunkStore, start: int, end: int | None
) -> None:
    data = os.urandom(4 * CHUNK)
    key = new_file_key()
    chunks = _write(store, data, key).chunks
    stop = len(data) + (end or 0)
    tampered = _TamperingStore(store, chunks[2].locator)
    received = bytearray()

    async def consume() -> None:
        with ChunkReader(tampered, key, FILE_ID, 1, chunks) as reader:
            async for piece in reader.aiter_range(start, stop):
                received.extend(piece)

    with pytest.raises(CordvaultError) as info:
        asyncio.run(consume())
    assert info.value.code == ErrorCode.INTEGRITY_ERROR
    assert bytes(received) == data[start : max(start, 2 * CHUNK)]


def test_async_missing_chunk_and_bad_range(store: CountingChunkStore) -> None:
    data = os.urandom(2 * CHUNK)
    key = new_file_key()
    chunks = _write(store, data, key).chunks
    with ChunkReader(store, key, FILE_ID, 1, chunks) as reader:
        for start, end in [(-1, 5), (5, 4), (0, len(data) + 1)]:
            with pytest.raises(CordvaultError) as info:
                reader.aiter_range(start, end)  # at once, not at the first piece
            assert info.value.code == ErrorCode.INVALID_INPUT
    store.delete(chunks[1].locator)
    with pytest.raises(CordvaultError) as info:
        _aread(store, key, chunks, CHUNK - 10, CHUNK + 10)
    assert info.value.code == ErrorCode.INTEGRITY_ERROR
    assert "missing" in info.value.message


@pytest.mark.parametrize("prefetch", [0, 1, 2, 4])
def test_async_prefetch_bounds_reads_for_a_slow_consumer(
    store: CountingChunkStore, prefetch: int
) -> None:
    data = os.urandom(12 * 20_000)
    key = new_file_key()
    chunks = _write(store, data, key, chunk_size=20_000).chunks
    slow = _SlowStore(store)

    async def consume() -> bytes:
        with ChunkReader(slow, key, FILE_ID, 1, chunks, prefetch=prefetch) as reader:
            pieces = reader.aiter_range(0, len(data))
            first = await anext(pieces)
            await asyncio.sleep(0.05)  # a slow consumer: no unbounded read-ahead
            assert slow.started <= 1 + max(prefetch, 1)
            return bytes(first) + b"".join([p async for p in pieces])

    assert asyncio.run(consume()) == data
    assert slow.max_active <= max(prefetch, 1)
    assert slow.started == len(chunks)


def test_async_close_early_stops_the_read_ahead(store: CountingChunkStore) -> None:
    data = os.urandom(10 * 20_000)
    key = new_file_key()
    chunks = _write(store, data, key, chunk_size=20_000).chunks
    store.reset()

    async def consume() -> None:
        reader = ChunkReader(store, key, FILE_ID, 1, chunks, prefetch=2)
        pieces = reader.aiter_range(0, len(data))
        assert await anext(pieces) == data[:20_000]
        await pieces.aclose()  # type: ignore[attr-defined]
        reader.close()

    asyncio.run(consume())
    time.sleep(0.1)  # reads already running finish
    assert store.counters.gets <= 3


def test_async_cancellation_stops_the_read_ahead(store: CountingChunkStore) -> None:
    data = os.urandom(40 * 20_000)
    key = new_file_key()
    chunks = _write(store, data, key, chunk_size=20_000).chunks
    slow = _SlowStore(store)

    async def consume() -> None:
        with ChunkReader(slow, key, FILE_ID, 1, chunks, prefetch=2) as reader:
            async for _piece in reader.aiter_range(0, len(data)):
                await asyncio.sleep(10)  # cancelled here, as when a client goes away

    async def main() -> None:
        task = asyncio.create_task(consume())
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    time.sleep(0.1)
    started = slow.started
    assert started <= 4
    time.sleep(0.2)
    assert slow.started == started


def _content_range(
    store: ChunkStore, key: bytes, chunks: Sequence[ChunkRef], start: int, end: int
) -> tuple[ContentRange, list[int]]:
    opened: list[int] = []

    def open_reader() -> ChunkReader:
        opened.append(1)
        return ChunkReader(store, key, FILE_ID, 1, chunks)

    return ContentRange(open_reader, start, end), opened


def test_content_range_reads_either_way_lazily(store: CountingChunkStore) -> None:
    data = os.urandom(3 * CHUNK + 99)
    key = new_file_key()
    chunks = _write(store, data, key).chunks
    sync, opened = _content_range(store, key, chunks, 10, len(data) - 3)
    assert opened == []  # nothing read before the first piece is asked for
    assert b"".join(sync) == data[10:-3]
    assert opened == [1]
    sync.close()

    async def read_async() -> bytes:
        stream, _ = _content_range(store, key, chunks, CHUNK - 1, 2 * CHUNK + 1)
        try:
            return b"".join([piece async for piece in stream])
        finally:
            await stream.aclose()

    assert asyncio.run(read_async()) == data[CHUNK - 1 : 2 * CHUNK + 1]


def test_content_range_refuses_mixing_and_reads_nothing_once_closed(
    store: CountingChunkStore,
) -> None:
    data = os.urandom(2 * CHUNK)
    key = new_file_key()
    chunks = _write(store, data, key).chunks
    stream, _ = _content_range(store, key, chunks, 0, len(data))
    assert next(stream) == data[:CHUNK]

    async def mix() -> None:
        await anext(stream)

    with pytest.raises(RuntimeError):
        asyncio.run(mix())
    stream.close()
    closed, opened = _content_range(store, key, chunks, 0, len(data))
    closed.close()
    assert list(closed) == []
    assert opened == []


def test_rest_downloads_are_read_on_the_event_loop(
    env: DriveEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A REST download (whole file, one range, several ranges) never uses the thread-hopping
    sync reader: every piece comes from ``aiter_range``, byte-exact."""
    h = env.register()
    size = 3 * DRIVE_CHUNK + 5000
    data = random_bytes(size, seed=15)
    f = env.put(h, "/a.bin", data)

    def refuse(*_args: object) -> None:
        raise AssertionError("the sync reader was used for a REST download")

    monkeypatch.setattr(ChunkReader, "iter_range", refuse)
    url = f"/api/drive/files/{f['id']}/content"
    full = env.client.get(url, headers=h)
    assert (full.status_code, full.content) == (200, data)
    part = env.client.get(url, headers={**h, "range": f"bytes={DRIVE_CHUNK - 9}-{size - 2}"})
    assert (part.status_code, part.content) == (206, data[DRIVE_CHUNK - 9 : size - 1])
    env.store.reset()
    tail = env.client.get(url, headers={**h, "range": "bytes=-1024"})
    assert tail.content == data[-1024:]
    assert env.store.counters.gets == 1
    multi = env.client.get(url, headers={**h, "range": "bytes=0-9,-5"})
    assert multi.status_code == 206
    parts = parse_byteranges(multi.content, multi.headers["content-type"])
    assert [p[4] for p in parts] == [data[:10], data[-5:]]


def test_send_buffers_are_reused_only_when_nobody_holds_them() -> None:
    buffers = _SendBuffers(keep=2)
    first = buffers.take(100)
    first_id = id(first)
    first[:] = b"x" * 100
    del first  # the consumer is done with it: it may be rewritten
    again = buffers.take(100)
    assert id(again) == first_id
    export = memoryview(again)  # as a transport holds unsent data
    del again
    other = buffers.take(100)
    assert id(other) != first_id  # still exported: a new buffer, the held bytes untouched
    assert export.tobytes() == b"x" * 100
    assert len(buffers.take(50)) == 50  # another size is never handed out in its place
    export.release()


def test_async_reads_reuse_sent_buffers_without_changing_held_pieces(
    store: CountingChunkStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pieces a consumer still holds keep their bytes while later pieces are decrypted, and
    buffers the consumer let go are decrypted into again instead of fresh ones.

    Counted at the pool (how many buffers it had to create), not with ``id()``: a freed buffer's
    address is often handed to the next fresh one, which made an ``id()`` count pass without
    any reuse (and fail when the allocator chose otherwise)."""
    created: list[int] = []

    class CountingBuffers(_SendBuffers):
        def take(self, size: int) -> bytearray:
            kept = {id(buf) for buf in self._kept}  # ids only: a reference would pin them
            buf = super().take(size)
            if id(buf) not in kept:
                created.append(size)
            return buf

    monkeypatch.setattr(streaming, "_SendBuffers", CountingBuffers)
    data = os.urandom(12 * CHUNK)
    key = new_file_key()
    chunks = _write(store, data, key).chunks

    async def consume() -> list[bytearray]:
        held: list[bytearray] = []
        with ChunkReader(store, key, FILE_ID, 1, chunks, prefetch=1) as reader:
            async for piece in reader.aiter_range(0, len(data)):
                if len(held) < 2:
                    held.append(piece)  # kept: must never be rewritten
                else:
                    held.append(bytearray(piece))  # copied: the buffer goes back
                del piece  # as a sender does once the bytes are on the wire
        return held

    held = asyncio.run(consume())
    assert b"".join(held) == data
    assert len(held) == len(chunks)  # one piece per chunk at this chunk size
    assert len(created) < len(chunks) - 2  # buffers were reused

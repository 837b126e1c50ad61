"""ChunkReader / ChunkWriter over the real local chunk store and the real crypto."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.crypto import SEGMENT_SIZE, ciphertext_size, new_file_key, segment_span
from cordvault.drive.streaming import ChunkReader, ChunkRef, ChunkWriter, WriteResult
from cordvault.storage.base import Capabilities, ChunkStore
from cordvault.storage.counting import CountingChunkStore
from cordvault.storage.local import LocalChunkStore

FILE_ID = "file-0001"
CHUNK = 3 * SEGMENT_SIZE + 1000  # several segments, a short last one


@pytest.fixture
def store(tmp_path: Path) -> CountingChunkStore:
    return CountingChunkStore(LocalChunkStore(tmp_path / "chunks", fsync=False))


def _pieces(data: bytes, seed: int = 1) -> Iterator[bytes]:
    """``data`` in pieces of uneven sizes, as a network stream delivers it."""
    rng = random.Random(seed)
    offset = 0
    while offset < len(data):
        step = rng.choice([1, 100, 4096, 65536, 300_000])
        yield data[offset : offset + step]
        offset += step


def _write(store: ChunkStore, data: bytes, key: bytes, chunk_size: int = CHUNK) -> WriteResult:
    writer = ChunkWriter(store, key, FILE_ID, 1, chunk_size, parallel=3)
    return writer.write_stream(_pieces(data))


def _read(store: ChunkStore, key: bytes, chunks: Sequence[ChunkRef], start: int, end: int) -> bytes:
    with ChunkReader(store, key, FILE_ID, 1, chunks) as reader:
        return b"".join(reader.iter_range(start, end))


# -- writer -----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 7])
def test_write_stream_round_trip(store: CountingChunkStore, size: int) -> None:
    data = os.urandom(size)
    key = new_file_key()
    result = _write(store, data, key)
    assert result.size == size
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    expected_chunks = max(1, -(-size // CHUNK))
    assert [c.index for c in result.chunks] == list(range(expected_chunks))
    assert [c.is_last for c in result.chunks] == [False] * (expected_chunks - 1) + [True]
    assert all(c.plain_size == CHUNK for c in result.chunks[:-1])
    assert sum(c.plain_size for c in result.chunks) == size
    assert store.counters.puts == expected_chunks
    assert store.counters.bytes_written == sum(ciphertext_size(c.plain_size) for c in result.chunks)
    assert _read(store, key, result.chunks, 0, size) == data


def test_empty_stream_stores_one_authenticated_empty_chunk(store: CountingChunkStore) -> None:
    key = new_file_key()
    result = ChunkWriter(store, key, FILE_ID, 1, CHUNK).write_stream(iter(()))
    assert result == WriteResult([replace(result.chunks[0])], 0, hashlib.sha256().hexdigest())
    assert result.chunks[0].plain_size == 0
    assert result.chunks[0].is_last
    assert _read(store, key, result.chunks, 0, 0) == b""


def test_async_write_stream(store: CountingChunkStore) -> None:
    data = os.urandom(2 * CHUNK + 5)
    key = new_file_key()

    async def body() -> AsyncIterator[bytes]:
        for piece in _pieces(data, seed=7):
            await asyncio.sleep(0)
            yield piece

    writer = ChunkWriter(store, key, FILE_ID, 1, CHUNK, parallel=2)
    result = asyncio.run(writer.awrite_stream(body()))
    assert (result.size, result.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert _read(store, key, result.chunks, 0, len(data)) == data


@pytest.mark.parametrize("use_async", [False, True])
def test_failed_stream_deletes_what_it_stored(
    store: CountingChunkStore, tmp_path: Path, use_async: bool
) -> None:
    def broken() -> Iterator[bytes]:
        yield os.urandom(3 * CHUNK + 10)
        # Fail once a put has run (on a busy machine none may have started yet, and then
        # there would be nothing to delete): the abort must delete what was stored.
        deadline = time.monotonic() + 10
        while store.counters.puts == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        raise OSError("client went away")

    async def abroken() -> AsyncIterator[bytes]:
        for piece in broken():
            yield piece

    writer = ChunkWriter(store, new_file_key(), FILE_ID, 1, CHUNK)

    def run() -> None:
        if use_async:
            asyncio.run(writer.awrite_stream(abroken()))
        else:
            writer.write_stream(broken())

    with pytest.raises(OSError, match="client went away"):
        run()
    # Puts not yet started are cancelled; every one that ran is deleted again.
    assert 1 <= store.counters.puts <= 3
    assert store.counters.deletes == store.counters.puts
    assert not [p for p in (tmp_path / "chunks" / "objects").rglob("*") if p.is_file()]


def test_chunk_size_must_fit_the_store(tmp_path: Path) -> None:
    small = LocalChunkStore(tmp_path / "small", max_chunk_size=ciphertext_size(1000), fsync=False)
    ChunkWriter(small, new_file_key(), FILE_ID, 1, 1000)
    with pytest.raises(CordvaultError) as info:
        ChunkWriter(small, new_file_key(), FILE_ID, 1, 1001)
    assert info.value.code == ErrorCode.INVALID_SETTINGS


def test_put_chunk_out_of_order_then_read(store: CountingChunkStore) -> None:
    """The resumable upload path: chunks arrive in any order, from several threads."""
    data = os.urandom(4 * CHUNK - 3)
    key = new_file_key()
    writer = ChunkWriter(store, key, FILE_ID, 1, CHUNK)
    pieces = [(i, data[i * CHUNK : (i + 1) * CHUNK]) for i in range(4)]
    random.Random(3).shuffle(pieces)
    refs: list[ChunkRef] = []
    threads = [
        threading.Thread(target=lambda i=i, p=p: refs.append(writer.put_chunk(i, i == 3, p)))
        for i, p in pieces
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    refs.sort(key=lambda r: r.index)
    assert _read(store, key, refs, 0, len(data)) == data
    with pytest.raises(CordvaultError) as info:
        writer.put_chunk(4, True, b"x" * (CHUNK + 1))
    assert info.value.code == ErrorCode.INVALID_INPUT


# -- reader -----------------------------------------------------------------------------------


def test_random_ranges_equal_the_plaintext_slice(store: CountingChunkStore) -> None:
    data = os.urandom(4 * CHUNK + 12345)
    key = new_file_key()
    chunks = _write(store, data, key).chunks
    reader = ChunkReader(store, key, FILE_ID, 1, chunks, prefetch=2)

    @settings(max_examples=150, deadline=None)
    @given(st.integers(0, len(data)), st.integers(0, len(data)))
    def check(a: int, b: int) -> None:
        start, end = sorted((a, b))
        pieces = list(reader.iter_range(start, end))
        assert all(pieces)
        assert b"".join(pieces) == data[start:end]

    try:
        check()
    finally:
        reader.close()


def test_range_after_the_first_chunk_reads_only_its_segments(store: CountingChunkStore) -> None:
    """The reference returned wrong bytes when the range started after the first chunk."""
    data = os.urandom(3 * CHUNK)
    key = new_file_key()
    chunks = _write(store, data, key).chunks
    store.reset()
    start, end = 2 * CHUNK + 70_000, 2 * CHUNK + 70_100
    assert _read(store, key, chunks, start, end) == data[start:end]
    cstart, cend = segment_span(70_000, 70_100, CHUNK)
    assert store.counters.get_ranges == [(chunks[2].locator, cstart, cend)]
    assert store.counters.bytes_read == cend - cstart <= SEGMENT_SIZE + 28


def test_one_kib_at_the_end_reads_at_most_one_segment(store: CountingChunkStore) -> None:
    data = os.urandom(5 * CHUNK + 5000)
    key = new_file_key()
    chunks = _write(store, data, key).chunks
    store.reset()
    assert _read(store, key, chunks, len(data) - 1024, len(data)) == data[-1024:]
    assert store.counters.gets == 1
    assert store.counters.bytes_read <= SEGMENT_SIZE + 28


def test_whole_chunks_are_read_in_one_get_each(store: CountingChunkStore) -> None:
    data = os.urandom(3 * CHUNK)
    key = new_file_key()
    chunks = _write(store, data, key).chunks
    store.reset()
    assert _read(store, key, chunks, 0, len(data)) == data
    # (prefetch threads may call the store in any order)
    assert sorted(store.counters.get_ranges) == sorted((c.locator, 0, None) for c in chunks)


class _SlowStore:
    """Delays gets randomly (completing out of order) and records concurrency."""

    def __init__(self, inner: ChunkStore) -> None:
        self.inner = inner
        self.rng = random.Random(5)
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0
        self.started = 0

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    def put(self, data: bytes) -> str:
        return self.inner.put(data)

    def put_many(self, chunks: Sequence[bytes]) -> list[str]:
        return self.inner.put_many(chunks)

    def get(self, locator: str, start: int = 0, end: int | None = None) -> bytes:
        with self.lock:
            self.active += 1
            self.started += 1
            self.max_active = max(self.max_active, self.active)
            delay = self.rng.choice([0.0, 0.002, 0.01])
        time.sleep(delay)
        try:
            return self.inner.get(locator, start, end)
        finally:
            with self.lock:
                self.active -= 1

    def delete(self, locator: str) -> None:
        self.inner.delete(locator)

    def close(self) -> None:
        self.inner.close()


@pytest.mark.parametrize("prefetch", [0, 1, 2, 4])
def test_prefetch_preserves_order_and_bounds_reads_in_flight(
    store: CountingChunkStore, prefetch: int
) -> None:
    data = os.urandom(12 * 20_000)
    key = new_file_key()
    chunks = _write(store, data, key, chunk_size=20_000).chunks
    slow = _SlowStore(store)
    with ChunkReader(slow, key, FILE_ID, 1, chunks, prefetch=prefetch) as reader:
        pieces = reader.iter_range(0, len(data))
        first = next(pieces)
        time.sleep(0.05)  # a slow consumer: the reader must not run ahead unboundedly
        assert slow.started <= 1 + prefetch
        rest = b"".join(pieces)
    assert first + rest == data
    assert slow.max_active <= max(prefetch, 1)
    assert slow.started == len(chunks)


class _TamperingStore(_SlowStore):
    def __init__(self, inner: ChunkStore, locator: str) -> None:
        super().__init__(inner)
        self.target = locator

    def get(self, locator: str, start: int = 0, end: int | None = None) -> bytes:
        data = self.inner.get(locator, start, end)
        if locator == self.target:
            flipped = bytearray(data)
            flipped[len(flipped) // 2] ^= 0x01
            return bytes(flipped)
        return data


@pytest.mark.parametrize(("start", "end"), [(0, None), (CHUNK + 5, None), (2 * CHUNK + 9, -10)])
def test_tampered_chunk_raises_before_any_wrong_byte(
    store: CountingChunkStore, start: int, end: int | None
) -> None:
    data = os.urandom(4 * CHUNK)
    key = new_file_key()
    chunks = _write(store, data, key).chunks
    stop = len(data) + (end or 0)
    tampered = _TamperingStore(store, chunks[2].locator)
    received = bytearray()

    def consume() -> None:
        with ChunkReader(tampered, key, FILE_ID, 1, chunks) as reader:
            for piece in reader.iter_range(start, stop):
                received.extend(piece)

    with pytest.raises(CordvaultError) as info:
        consume()
    assert info.value.code == ErrorCode.INTEGRITY_ERROR
    # Everything received is correct and stops where the tampered chunk begins.
    assert bytes(received) == data[start : max(start, 2 * CHUNK)]


def test_swapped_or_foreign_chunks_are_integrity_errors(store: CountingChunkStore) -> None:
    data = os.urandom(2 * CHUNK)
    key = new_file_key()
    chunks = _write(store, data, key).chunks
    swapped = [
        replace(chunks[0], locator=chunks[1].locator),
        replace(chunks[1], locator=chunks[0].locator),
    ]
    for refs, file_key, version in [
        (swapped, key, 1),
        (chunks, new_file_key(), 1),  # another file's key
        (chunks, key, 2),  # an older content version
    ]:
        with ChunkReader(store, file_key, FILE_ID, version, refs) as reader:
            with pytest.raises(CordvaultError) as info:
                b"".join(reader.iter_range(0, len(data)))
            assert info.value.code == ErrorCode.INTEGRITY_ERROR


def test_missing_chunk_is_an_integrity_error(store: CountingChunkStore) -> None:
    data = os.urandom(2 * CHUNK)
    key = new_file_key()
    chunks = _write(store, data, key).chunks
    store.delete(chunks[1].locator)
    with (
        ChunkReader(store, key, FILE_ID, 1, chunks) as reader,
        pytest.raises(CordvaultError) as info,
    ):
        b"".join(reader.iter_range(CHUNK - 10, CHUNK + 10))
    assert info.value.code == ErrorCode.INTEGRITY_ERROR
    assert "missing" in info.value.message


def test_inconsistent_chunk_list_and_bad_ranges(store: CountingChunkStore) -> None:
    data = os.urandom(2 * CHUNK)
    key = new_file_key()
    chunks = _write(store, data, key).chunks
    for refs in (chunks[:1], chunks[::-1], [replace(chunks[0], is_last=True), chunks[1]]):
        with pytest.raises(CordvaultError) as info:
            ChunkReader(store, key, FILE_ID, 1, refs)
        assert info.value.code == ErrorCode.INTEGRITY_ERROR
    with ChunkReader(store, key, FILE_ID, 1, chunks) as reader:
        for start, end in [(-1, 5), (5, 4), (0, len(data) + 1)]:
            with pytest.raises(CordvaultError) as info:
                reader.iter_range(start, end)
            assert info.value.code == ErrorCode.INVALID_INPUT


def test_closing_early_stops_the_read_ahead(store: CountingChunkStore) -> None:
    data = os.urandom(10 * 20_000)
    key = new_file_key()
    chunks = _write(store, data, key, chunk_size=20_000).chunks
    store.reset()
    reader = ChunkReader(store, key, FILE_ID, 1, chunks, prefetch=2)
    pieces = reader.iter_range(0, len(data))
    assert next(pieces) == data[:20_000]
    pieces.close()  # type: ignore[attr-defined]
    reader.close()
    assert store.counters.gets <= 3


def test_chunk_shorter_than_recorded_is_an_integrity_error(store: CountingChunkStore) -> None:
    data = os.urandom(CHUNK + 5000)
    key = new_file_key()
    chunks = _write(store, data, key).chunks
    # The metadata claims a longer last chunk than the store holds.
    lying = [chunks[0], replace(chunks[1], plain_size=chunks[1].plain_size + 3 * SEGMENT_SIZE)]
    with ChunkReader(store, key, FILE_ID, 1, lying) as reader:
        end = reader.size
        for start in (end - 10, CHUNK + 10, CHUNK):
            with pytest.raises(CordvaultError) as info:
                b"".join(reader.iter_range(start, end))
            assert info.value.code == ErrorCode.INTEGRITY_ERROR


class _SlowPutStore(_SlowStore):
    """Slow puts; records how many run at once."""

    def put(self, data: bytes) -> str:
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        time.sleep(0.01)
        try:
            return self.inner.put(data)
        finally:
            with self.lock:
                self.active -= 1


def test_writer_bounds_chunks_in_flight(store: CountingChunkStore) -> None:
    """A fast producer never gets more than ``parallel`` chunks ahead of the store."""
    slow = _SlowPutStore(store)
    chunk = 20_000
    consumed = 0
    ahead: list[int] = []

    def source() -> Iterator[bytes]:
        nonlocal consumed
        for _ in range(30):
            ahead.append(consumed // chunk - store.counters.puts)
            consumed += chunk
            yield os.urandom(chunk)

    writer = ChunkWriter(slow, new_file_key(), FILE_ID, 1, chunk, parallel=3)
    result = writer.write_stream(source())
    assert len(result.chunks) == 30
    assert 1 <= slow.max_active <= 3
    # chunks cut but not yet stored: at most `parallel` in flight + the one being cut
    assert max(ahead) <= 3 + 1


def test_tampered_header_of_a_whole_chunk_is_an_integrity_error(
    store: CountingChunkStore,
) -> None:
    data = os.urandom(CHUNK)
    key = new_file_key()
    chunks = _write(store, data, key).chunks

    class HeaderFlip(_TamperingStore):
        def get(self, locator: str, start: int = 0, end: int | None = None) -> bytes:
            raw = self.inner.get(locator, start, end)
            return (b"X" + raw[1:]) if start == 0 else raw

    with ChunkReader(HeaderFlip(store, chunks[0].locator), key, FILE_ID, 1, chunks) as reader:
        with pytest.raises(CordvaultError) as info:
            b"".join(reader.iter_range(0, CHUNK))
        assert info.value.code == ErrorCode.INTEGRITY_ERROR
        # A partial read authenticates its segments without needing the header.
        assert b"".join(reader.iter_range(10, 20)) == data[10:20]


def test_private_pools_bound_crypto_threads(
    store: CountingChunkStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two writers and a reader on one pool with one crypto thread: all AES work runs there,
    never two chunks at once, and everything round-trips."""
    import cordvault.drive.streaming as streaming

    seen: set[str] = set()
    active = 0
    peak = 0
    lock = threading.Lock()
    real_encrypt = streaming.encrypt_chunk

    def watched_encrypt(key: bytes, ctx: object, plaintext: bytes) -> bytes:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
            seen.add(threading.current_thread().name)
        try:
            time.sleep(0.002)
            return real_encrypt(key, ctx, plaintext)  # type: ignore[arg-type]
        finally:
            with lock:
                active -= 1

    monkeypatch.setattr(streaming, "encrypt_chunk", watched_encrypt)
    pools = streaming.TransferPools(crypto_threads=1, io_threads=4)
    try:
        datas = [os.urandom(5 * 20_000 + i) for i in range(2)]
        keys = [new_file_key(), new_file_key()]
        results: list[WriteResult] = []

        def upload(i: int) -> None:
            writer = ChunkWriter(store, keys[i], FILE_ID, 1, 20_000, parallel=4, pools=pools)
            results.append(writer.write_stream(_pieces(datas[i], seed=i)))

        threads = [threading.Thread(target=upload, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert peak == 1
        assert {name.split("_")[0] for name in seen} == {"chunk-crypto"}
        for result in results:
            i = 0 if result.size == len(datas[0]) else 1
            with ChunkReader(store, keys[i], FILE_ID, 1, result.chunks, pools=pools) as reader:
                assert b"".join(reader.iter_range(0, result.size)) == datas[i]
    finally:
        pools.shutdown()


_REAL_SHA256 = hashlib.sha256


class _WatchedHasher:
    """SHA-256 that records, per update, its thread and time span (and can dawdle)."""

    def __init__(self, spans: list[tuple[str, float, float]], dawdle: random.Random) -> None:
        self._inner = _REAL_SHA256()
        self._spans = spans
        self._dawdle = dawdle

    def update(self, data: bytes) -> None:
        started = time.monotonic()
        time.sleep(self._dawdle.choice([0, 0.001, 0.004]))
        self._inner.update(data)
        self._spans.append((threading.current_thread().name, started, time.monotonic()))

    def hexdigest(self) -> str:
        return self._inner.hexdigest()


@pytest.mark.parametrize("crypto_threads", [1, 3])
def test_hashing_overlaps_encryption_in_stream_order(
    store: CountingChunkStore, monkeypatch: pytest.MonkeyPatch, crypto_threads: int
) -> None:
    """A chunk's SHA-256 runs on the hashing pool while the crypto pool encrypts (with one
    crypto thread the two passes still overlap), and however the hashing threads are
    scheduled the file's hash sees the chunks in stream order."""
    import cordvault.drive.streaming as streaming

    hash_spans: list[tuple[str, float, float]] = []
    encrypt_spans: list[tuple[float, float]] = []
    real_encrypt = streaming.encrypt_chunk

    def slow_encrypt(key: bytes, ctx: object, plaintext: bytes) -> bytes:
        started = time.monotonic()
        time.sleep(0.003)
        try:
            return real_encrypt(key, ctx, plaintext)  # type: ignore[arg-type]
        finally:
            encrypt_spans.append((started, time.monotonic()))

    dawdle = random.Random(crypto_threads)
    monkeypatch.setattr(streaming, "encrypt_chunk", slow_encrypt)
    monkeypatch.setattr(streaming.hashlib, "sha256", lambda: _WatchedHasher(hash_spans, dawdle))
    pools = streaming.TransferPools(crypto_threads=crypto_threads, io_threads=8)
    try:
        data = os.urandom(40 * 5_000 + 123)
        key = new_file_key()
        writer = ChunkWriter(store, key, FILE_ID, 1, 5_000, parallel=8, pools=pools)
        result = writer.write_stream(_pieces(data))
    finally:
        pools.shutdown()
    assert result.sha256 == _REAL_SHA256(data).hexdigest()
    assert len(hash_spans) == 41
    assert {name.split("_")[0] for name, _, _ in hash_spans} == {"chunk-hash"}
    overlapping = sum(
        1
        for _, h_start, h_end in hash_spans
        if any(e_start < h_end and h_start < e_end for e_start, e_end in encrypt_spans)
    )
    assert overlapping >= 10
    with ChunkReader(store, key, FILE_ID, 1, result.chunks) as reader:
        assert b"".join(reader.iter_range(0, result.size)) == data


def test_allocator_tuning_applies_on_glibc() -> None:
    import platform

    from cordvault.drive.streaming import tune_allocator

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("glibc only")
    assert tune_allocator() is True
    assert tune_allocator() is True  # idempotent


def test_cancelled_async_upload_deletes_what_it_stored(store: CountingChunkStore) -> None:
    """A client that disconnects mid-upload cancels the request task: nothing stays stored."""
    chunk = 20_000
    fed = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        for i in range(50):
            yield os.urandom(chunk)
            if i == 5:
                fed.set()
            await asyncio.sleep(0.01)

    async def run() -> None:
        writer = ChunkWriter(store, new_file_key(), FILE_ID, 1, chunk, parallel=2)
        task = asyncio.create_task(writer.awrite_stream(body()))
        await fed.wait()
        for _ in range(500):  # until a chunk is really stored (slow under load)
            if store.counters.puts:
                break
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    assert store.counters.puts >= 1
    assert store.counters.deletes == store.counters.puts

"""The process-wide read-ahead budget of downloads (``DRIVE_DOWNLOAD_BUFFER_BYTES``, issue 15).

Over the real local chunk store and the real crypto: many concurrent reads whose consumers
stall hold at most their current chunk each plus the shared budget, reads never stop when the
budget is spent, and every charge is given back however a read ends.
"""

from __future__ import annotations

import asyncio
import os
import time
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.drive.test_streaming import FILE_ID, _write

from cordvault.crypto import new_file_key
from cordvault.drive.readahead import ReadAheadBudget
from cordvault.drive.streaming import ChunkReader, ChunkRef
from cordvault.storage.counting import CountingChunkStore
from cordvault.storage.local import LocalChunkStore

MiB = 1024 * 1024
CHUNK = MiB
FILE_CHUNKS = 12
READERS = 32


@pytest.fixture
def store(tmp_path: Path) -> CountingChunkStore:
    return CountingChunkStore(LocalChunkStore(tmp_path / "chunks", fsync=False))


def test_budget_charges_only_what_fits_and_remembers_its_peak() -> None:
    budget = ReadAheadBudget(10)
    assert budget.try_take(6)
    assert not budget.try_take(5)  # nothing charged when it does not fit
    assert budget.used == 6
    assert budget.try_take(4)
    budget.give_back(6)
    budget.give_back(4)
    assert (budget.used, budget.peak) == (0, 10)
    with pytest.raises(ValueError, match="limit"):
        ReadAheadBudget(-1)


def test_a_spent_budget_slows_reads_but_never_stops_them(store: CountingChunkStore) -> None:
    data = os.urandom(FILE_CHUNKS * CHUNK + 1234)
    key = new_file_key()
    chunks = _write(store, data, key, CHUNK).chunks
    budget = ReadAheadBudget(0)  # no read-ahead at all: only the chunk being waited for
    with ChunkReader(store, key, FILE_ID, 1, chunks, budget=budget) as reader:
        assert b"".join(reader.iter_range(0, len(data))) == data
        assert b"".join(asyncio.run(_collect(reader.aiter_range(5, len(data) - 5)))) == (data[5:-5])
    assert budget.peak == 0


def test_read_ahead_is_charged_then_given_back(store: CountingChunkStore) -> None:
    data = os.urandom(FILE_CHUNKS * CHUNK)
    key = new_file_key()
    chunks = _write(store, data, key, CHUNK).chunks
    budget = ReadAheadBudget(64 * MiB)
    with ChunkReader(store, key, FILE_ID, 1, chunks, budget=budget) as reader:
        assert b"".join(reader.iter_range(0, len(data))) == data
        # prefetch=2: two chunks ahead, plus the one being sent (it too was fetched ahead, and
        # stays charged until the consumer has all of it).
        assert budget.peak == 3 * CHUNK
        assert budget.used == 0
        # A read abandoned part-way (a client hanging up) gives its charges back too.
        pieces = reader.iter_range(0, len(data))
        next(pieces)
        assert budget.used > 0
        pieces.close()
        assert budget.used == 0


async def _collect(pieces: AsyncIterator[bytearray]) -> list[bytearray]:
    return [piece async for piece in pieces]


def _stalled_read_memory(
    store: CountingChunkStore, key: bytes, chunks: list[ChunkRef], data: bytes,
    budget: ReadAheadBudget | None,
) -> int:  # fmt: skip
    """Bytes allocated while READERS concurrent Range reads each hold their first piece and
    stop reading (their read-ahead has settled); then every read is finished and checked."""

    async def run() -> int:
        readers = [
            ChunkReader(store, key, FILE_ID, 1, chunks, budget=budget) for _ in range(READERS)
        ]
        ranges = [(n * 1000, len(data) - n * 1000) for n in range(READERS)]
        reads = [r.aiter_range(a, b) for r, (a, b) in zip(readers, ranges, strict=True)]
        tracemalloc.start()
        try:
            firsts = [await read.__anext__() for read in reads]
            held = _settle()
        finally:
            tracemalloc.stop()
        for (a, b), first, read in zip(ranges, firsts, reads, strict=True):
            rest = await _collect(read)
            assert bytes(first) + b"".join(rest) == data[a:b]
        return held

    return asyncio.run(run())


def _settle(timeout: float = 20.0) -> int:
    """Traced memory once the background reads stopped allocating (stable for 0.3 s)."""
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        now, _peak = tracemalloc.get_traced_memory()
        if now == last:
            return now
        last = now
        time.sleep(0.3)
    raise AssertionError("reads kept allocating")


def test_many_stalled_range_reads_stay_within_the_budget(store: CountingChunkStore) -> None:
    """32 concurrent Range reads whose clients stop: each keeps the chunk it is sending, and
    all their read-ahead together stays within the 4 MiB budget. Without the budget the same
    reads hold their full prefetch each (the control, so this test can fail)."""
    data = os.urandom(FILE_CHUNKS * CHUNK)
    key = new_file_key()
    chunks = _write(store, data, key, CHUNK).chunks
    budget = ReadAheadBudget(4 * MiB)
    bounded = _stalled_read_memory(store, key, chunks, data, budget)
    unbounded = _stalled_read_memory(store, key, chunks, data, None)
    current_chunks = READERS * CHUNK
    assert bounded <= current_chunks + budget.limit + 4 * MiB, f"{bounded / MiB:.1f} MiB"
    assert budget.peak <= budget.limit
    assert budget.used == 0  # every read finished and gave its charges back
    assert unbounded >= current_chunks + READERS * CHUNK, f"{unbounded / MiB:.1f} MiB"
    print(f"held while stalled: {bounded / MiB:.1f} MiB bounded, {unbounded / MiB:.1f} unbounded")

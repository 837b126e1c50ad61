"""The conformance suite every chunk-store backend must pass.

Use it by subclassing :class:`ChunkStoreConformance` in a backend's test module and
implementing :meth:`~ChunkStoreConformance.make_store`; pytest collects the inherited tests::

    class TestLocalConformance(ChunkStoreConformance):
        def make_store(self) -> ChunkStore:
            return LocalChunkStore(self.tmp_path / "chunks", max_chunk_size=1 << 20)

``self.tmp_path`` is a fresh directory per test. A backend whose ``max_chunk_size`` is large
should be built with a smaller limit for the test (the limit test stores a chunk of exactly
that size). The suite checks the contract written in :mod:`cordvault.storage.base`: round
trips, ranges and their edges, the 0-byte chunk, unknown locators, idempotent deletes,
``put_many`` order and limits, concurrent puts from threads, and the error classes.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.storage.base import ChunkNotFound, ChunkStore, StorageError

# A few sizes around typical boundaries (segment size, powers of two) plus odd ones.
SIZES = [1, 2, 17, 4096, 65_536 + 28, 100_003]


class ChunkStoreConformance:
    """Inherit from this in a ``Test*`` class and implement :meth:`make_store`."""

    tmp_path: Path

    def make_store(self) -> ChunkStore:
        """Return a new, empty store (``self.tmp_path`` is available)."""
        raise NotImplementedError

    def unknown_locator(self, store: ChunkStore) -> str:
        """A well-formed locator that names no chunk: by default, one stored then deleted."""
        locator = store.put(b"soon gone")
        store.delete(locator)
        return locator

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[ChunkStore]:
        self.tmp_path = tmp_path
        store = self.make_store()
        try:
            yield store
        finally:
            store.close()

    # -- basics -------------------------------------------------------------------------

    def test_is_a_chunk_store_with_sane_capabilities(self, store: ChunkStore) -> None:
        assert isinstance(store, ChunkStore)
        caps = store.capabilities
        assert caps.max_chunk_size > 0
        assert caps.max_batch >= 1
        if caps.batch_put:
            assert caps.max_batch > 1

    @pytest.mark.parametrize("size", SIZES)
    def test_put_get_round_trip(self, store: ChunkStore, size: int) -> None:
        data = os.urandom(size)
        locator = store.put(data)
        assert store.get(locator) == data
        assert store.get(locator, 0, None) == data
        assert store.get(locator, 0, size) == data

    def test_locators_are_short_json_safe_and_unique(self, store: ChunkStore) -> None:
        data = b"same bytes twice"
        a, b = store.put(data), store.put(data)
        assert a != b  # equal content is not deduplicated into one shared chunk
        for loc in (a, b):
            assert isinstance(loc, str)
            assert 0 < len(loc) <= 255
            assert json.loads(json.dumps(loc)) == loc
            assert "://" not in loc  # never a URL
        store.delete(a)
        assert store.get(b) == data

    def test_zero_byte_chunk(self, store: ChunkStore) -> None:
        locator = store.put(b"")
        assert store.get(locator) == b""
        assert store.get(locator, 0, 0) == b""
        with pytest.raises(ValueError):  # noqa: PT011 - messages are backend-specific
            store.get(locator, 0, 1)
        store.delete(locator)
        with pytest.raises(ChunkNotFound):
            store.get(locator)

    # -- ranges -------------------------------------------------------------------------

    def test_ranges(self, store: ChunkStore) -> None:
        data = os.urandom(70_001)
        n = len(data)
        locator = store.put(data)
        cases = [
            (0, 1),
            (0, 0),
            (1, 1),
            (n, n),
            (n - 1, n),
            (n - 1, None),
            (n, None),
            (12_345, 65_536),
            (65_535, 65_537),
            (1, n - 1),
            (5, None),
        ]
        for start, end in cases:
            assert store.get(locator, start, end) == data[start:end], (start, end)

    @pytest.mark.parametrize(
        ("start", "end"), [(-1, None), (-1, 5), (0, 101), (101, None), (101, 102), (50, 49)]
    )
    def test_ranges_outside_the_chunk_are_value_errors(
        self, store: ChunkStore, start: int, end: int | None
    ) -> None:
        locator = store.put(bytes(100))
        with pytest.raises(ValueError):  # noqa: PT011 - messages are backend-specific
            store.get(locator, start, end)

    # -- not found and delete -----------------------------------------------------------

    def test_unknown_locator_is_chunk_not_found(self, store: ChunkStore) -> None:
        locator = self.unknown_locator(store)
        with pytest.raises(ChunkNotFound) as err:
            store.get(locator)
        assert isinstance(err.value, StorageError)
        assert isinstance(err.value, CordvaultError)
        assert err.value.code == ErrorCode.NOT_FOUND
        with pytest.raises(ChunkNotFound):
            store.get(locator, 0, 1)

    @pytest.mark.parametrize("garbage", ["", "nope", "../../etc/passwd", "a" * 300, "{}"])
    def test_garbage_locator_is_chunk_not_found(self, store: ChunkStore, garbage: str) -> None:
        with pytest.raises(ChunkNotFound):
            store.get(garbage)
        store.delete(garbage)  # and deleting it is a no-op

    def test_delete_is_idempotent_and_targeted(self, store: ChunkStore) -> None:
        keep, drop = store.put(b"keep"), store.put(b"drop")
        store.delete(drop)
        store.delete(drop)
        with pytest.raises(ChunkNotFound):
            store.get(drop)
        assert store.get(keep) == b"keep"
        store.delete(self.unknown_locator(store))

    # -- put_many -----------------------------------------------------------------------

    def test_put_many_keeps_order(self, store: ChunkStore) -> None:
        count = min(store.capabilities.max_batch, 10)
        chunks = [bytes([i]) * (i * 1000 + 1) for i in range(count)]
        locators = store.put_many(chunks)
        assert len(locators) == count
        assert len(set(locators)) == count
        for locator, chunk in zip(locators, chunks, strict=True):
            assert store.get(locator) == chunk

    def test_put_many_full_batch_and_empty(self, store: ChunkStore) -> None:
        assert store.put_many([]) == []
        batch = store.capabilities.max_batch
        chunks = [f"chunk {i}".encode() for i in range(batch)]
        locators = store.put_many(chunks)
        assert [store.get(loc) for loc in locators] == chunks

    def test_put_many_over_the_batch_limit_is_refused(self, store: ChunkStore) -> None:
        with pytest.raises(ValueError):  # noqa: PT011 - messages are backend-specific
            store.put_many([b"x"] * (store.capabilities.max_batch + 1))

    # -- limits and concurrency ---------------------------------------------------------

    def test_max_chunk_size(self, store: ChunkStore) -> None:
        limit = store.capabilities.max_chunk_size
        data = os.urandom(limit)
        locator = store.put(data)
        assert store.get(locator, limit - 10) == data[-10:]
        with pytest.raises(ValueError):  # noqa: PT011 - messages are backend-specific
            store.put(data + b"!")
        with pytest.raises(ValueError):  # noqa: PT011 - messages are backend-specific
            store.put_many([b"ok", data + b"!"])

    def test_concurrent_puts_from_threads(self, store: ChunkStore) -> None:
        barrier = threading.Barrier(8)

        def worker(n: int) -> list[tuple[str, bytes]]:
            barrier.wait()
            out = []
            for i in range(6):
                data = f"thread {n} chunk {i} ".encode() * (n + 1)
                out.append((store.put(data), data))
            return out

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = [pair for part in pool.map(worker, range(8)) for pair in part]
        assert len({loc for loc, _ in results}) == 48
        for locator, data in results:
            assert store.get(locator) == data

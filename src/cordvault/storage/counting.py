"""A pass-through chunk store that counts calls and bytes, for tests and benchmarks.

It proves I/O claims end to end ("a 1 KiB Range read at the end of a file reads at most one
segment of ciphertext") by counting what really crosses the store interface. Errors of the
wrapped store pass through unchanged and are not counted as reads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from cordvault.storage.base import Capabilities, ChunkStore, NamedChunkStore, NamedObject


@dataclass
class StoreCounters:
    """Totals since the last :meth:`CountingChunkStore.reset`."""

    gets: int = 0
    bytes_read: int = 0
    puts: int = 0
    bytes_written: int = 0
    deletes: int = 0
    get_ranges: list[tuple[str, int, int | None]] = field(default_factory=list)
    """Every ``get`` as ``(locator, start, end)``, in call order."""


class CountingChunkStore:
    """Wraps any :class:`ChunkStore`, counting gets, bytes read, puts and deletes.

    ``put_many`` counts each chunk as one put. Thread-safe.
    """

    def __init__(self, inner: ChunkStore) -> None:
        self.inner = inner
        self._lock = threading.Lock()
        self.counters = StoreCounters()

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    def reset(self) -> StoreCounters:
        """Start counting afresh; returns the totals so far."""
        with self._lock:
            previous, self.counters = self.counters, StoreCounters()
        return previous

    def put(self, data: bytes) -> str:
        locator = self.inner.put(data)
        with self._lock:
            self.counters.puts += 1
            self.counters.bytes_written += len(data)
        return locator

    def put_many(self, chunks: Sequence[bytes]) -> list[str]:
        locators = self.inner.put_many(chunks)
        with self._lock:
            self.counters.puts += len(chunks)
            self.counters.bytes_written += sum(len(c) for c in chunks)
        return locators

    def get(self, locator: str, start: int = 0, end: int | None = None) -> bytes | bytearray:
        data = self.inner.get(locator, start, end)
        with self._lock:
            self.counters.gets += 1
            self.counters.bytes_read += len(data)
            self.counters.get_ranges.append((locator, start, end))
        return data

    def delete(self, locator: str) -> None:
        self.inner.delete(locator)
        with self._lock:
            self.counters.deletes += 1

    def put_named(self, data: bytes, name: str) -> str:
        """Passed through (counted as a put); ``TypeError`` if the inner store has no names."""
        locator = self._named().put_named(data, name)
        with self._lock:
            self.counters.puts += 1
            self.counters.bytes_written += len(data)
        return locator

    def scan_named(self) -> Iterator[NamedObject]:
        return self._named().scan_named()

    def _named(self) -> NamedChunkStore:
        if not isinstance(self.inner, NamedChunkStore):
            raise TypeError("the wrapped store cannot store named objects")
        return self.inner

    def close(self) -> None:
        self.inner.close()

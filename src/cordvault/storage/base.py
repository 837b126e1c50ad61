"""The chunk-store interface every storage backend implements.

A chunk store keeps opaque, already-encrypted byte strings ("chunks") and hands back a
*locator*: a short JSON-safe string the metadata DB keeps, from which the backend alone can find
the chunk again (a file path for the local backend; channel id + message id + attachment id for
Discord). Locators never contain URLs or secrets.

Error contract (every backend, checked by the conformance suite in
``tests/storage/conformance.py``):
- ``get`` of an unknown, deleted or malformed locator -> :class:`ChunkNotFound`;
- a range outside the chunk (``0 <= start <= end <= size`` violated) -> ``ValueError``;
- a chunk larger than ``capabilities.max_chunk_size``, or more than ``capabilities.max_batch``
  chunks in one ``put_many`` -> ``ValueError`` (caller bugs; nothing is stored);
- a full disk or exhausted quota -> :class:`StorageFull`;
- ``delete`` of an unknown locator is a no-op (idempotent);
- transient trouble after the backend's own retries -> :class:`StorageUnavailable`;
- rate limiting that outlasted the retries -> :class:`StorageRateLimited`;
- anything else the backend cannot do -> :class:`StorageError` (permanent).
All are :class:`~cordvault.core.errors.CordvaultError` subclasses, so adapters need no extra
translation. A ``put`` that raised stored nothing the caller must track (backends clean up or
leave orphans a later GC finds); the same holds for a ``put_many`` as a whole. The 0-byte chunk
is a valid chunk. Equal data put twice gives two distinct locators (no content addressing:
it would link equal chunks of different files).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from cordvault.core.errors import CordvaultError, ErrorCode


class StorageError(CordvaultError):
    """A permanent storage failure."""

    def __init__(self, message: str, code: ErrorCode = ErrorCode.STORAGE_UNAVAILABLE) -> None:
        super().__init__(code, message)


class ChunkNotFound(StorageError):
    """The locator names no stored chunk (never stored, or deleted)."""

    def __init__(self, message: str = "chunk not found") -> None:
        super().__init__(message, ErrorCode.NOT_FOUND)


class StorageUnavailable(StorageError):
    """Transient failure that outlasted the backend's retries (5xx, resets, timeouts)."""


class StorageRateLimited(StorageError):
    """Rate limited for longer than the backend was willing to wait."""

    def __init__(self, message: str = "storage backend rate limited") -> None:
        super().__init__(message, ErrorCode.RATE_LIMITED)


class StorageFull(StorageError):
    """No space left (local disk full, quota)."""

    def __init__(self, message: str = "storage is full") -> None:
        super().__init__(message, ErrorCode.STORAGE_FULL)


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do natively; callers adapt to it."""

    max_chunk_size: int
    """Largest chunk ``put`` accepts, in bytes."""
    ranged_reads: bool
    """``get`` with a range fetches only those bytes (not the whole chunk)."""
    batch_put: bool
    """``put_many`` stores several chunks in one round trip (e.g. one Discord message)."""
    max_batch: int = 1
    """Most chunks one ``put_many`` call stores together."""
    write_ahead_bytes: int = 0
    """Chunk bytes one sequential writer should keep in flight (``put`` calls not yet
    returned) to keep the backend busy; 0: no advice (the writer's own default). A backend
    whose puts are long round trips that it batches (Discord: one message carries several
    chunks, several lanes post at once) needs more than one batch in flight per writer."""


@runtime_checkable
class ChunkStore(Protocol):
    """Stores opaque chunks. Implementations must be safe to call from many threads."""

    @property
    def capabilities(self) -> Capabilities: ...

    def put(self, data: bytes) -> str:
        """Store one chunk durably; return its locator."""
        ...

    def put_many(self, chunks: Sequence[bytes]) -> list[str]:
        """Store several chunks (at most ``capabilities.max_batch``); locators in order."""
        ...

    def get(self, locator: str, start: int = 0, end: int | None = None) -> bytes | bytearray:
        """Return bytes ``[start, end)`` of the chunk (``end=None``: to the end).

        A store may hand back a fresh ``bytearray`` it read into (the Discord store does: no
        copy into ``bytes``); the caller owns it and must not expect it to be hashable."""
        ...

    def delete(self, locator: str) -> None:
        """Delete the chunk; unknown locators are ignored."""
        ...

    def close(self) -> None:
        """Release connections and threads."""
        ...


NAME_PATTERN = re.compile(r"[0-9a-f]{32}")
"""A caller-chosen object name: 32 lowercase hex characters, the shape of every random name
the backends give chunks themselves, so a named object looks like any other chunk."""


@dataclass(frozen=True)
class NamedObject:
    """One stored object as a scan sees it: its name, its locator and its age."""

    name: str
    locator: str
    order: int
    """Larger means stored later (Discord: the message snowflake; local: the file's mtime in
    nanoseconds). Comparable between objects of one store only."""


@runtime_checkable
class NamedChunkStore(ChunkStore, Protocol):
    """A chunk store that can also store an object under a name the caller picks, and list
    every stored object with its name without the metadata database.

    This is what the drive's catalog (disaster recovery, ``drive/catalog/``) needs: it names
    its records with a keyed tag, and finds them again after the database is lost by scanning
    names. ``put_named`` with a name not matching :data:`NAME_PATTERN` -> ``ValueError``;
    ``scan_named`` yields every object whose name has that shape (chunks included: only the
    caller can tell its tags from random names), in no particular order.
    """

    def put_named(self, data: bytes, name: str) -> str:
        """Store one chunk durably under ``name``; return its locator."""
        ...

    def scan_named(self) -> Iterator[NamedObject]:
        """Every stored object with a well-formed name (reads the backend, not the DB)."""
        ...

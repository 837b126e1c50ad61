"""Moving file content between plaintext streams and encrypted chunks in a chunk store.

:class:`ChunkReader` turns a byte range of a stored file back into plaintext: it reads whole
chunks with :func:`~cordvault.crypto.decrypt_chunk` and partly covered ones with
:func:`~cordvault.crypto.decrypt_range` (only the touched 64 KiB segments are fetched), and reads
the next chunks *ahead* in a small thread pool so store latency (a Discord CDN round trip) does
not serialise the stream. At most ``prefetch`` chunks are in flight beyond the one being
consumed, so memory stays bounded and a slow consumer slows the reads (backpressure).

:class:`ChunkWriter` does the reverse: it cuts a plaintext stream into ``chunk_size`` pieces,
hashes it (SHA-256 of the whole plaintext), encrypts each piece for its position and stores it,
with up to ``parallel`` chunks being encrypted/stored at once.

Error contract:
- integrity failures (tampered, swapped, truncated or missing chunks) raise
  ``CordvaultError(INTEGRITY_ERROR)`` *before* any byte of the affected piece is yielded; bytes
  already yielded belong to earlier, verified pieces;
- store errors (:class:`~cordvault.storage.base.StorageError` family) pass through, except
  :class:`~cordvault.storage.base.ChunkNotFound` for a chunk the metadata lists, which is data
  loss and becomes ``INTEGRITY_ERROR``;
- a failed :meth:`ChunkWriter.write_stream` deletes the chunks it had already stored (best
  effort: leftovers are unreferenced and a store GC may remove them) and re-raises;
- ranges outside the file and inconsistent chunk lists are ``INVALID_INPUT`` /
  ``INTEGRITY_ERROR``.
"""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import logging
from collections import deque
from collections.abc import AsyncIterable, Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.crypto import (
    ChunkContext,
    ciphertext_size,
    decrypt_chunk,
    decrypt_range,
    encrypt_chunk,
)
from cordvault.storage.base import ChunkNotFound, ChunkStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChunkRef:
    """One stored chunk of a file: where it is and which plaintext bytes it holds."""

    locator: str
    index: int
    plain_size: int
    is_last: bool


@dataclass(frozen=True)
class WriteResult:
    """What :meth:`ChunkWriter.write_stream` stored: chunks in index order, total plaintext
    size and the hex SHA-256 of the whole plaintext."""

    chunks: list[ChunkRef]
    size: int
    sha256: str


def _integrity(message: str, **details: object) -> CordvaultError:
    return CordvaultError(ErrorCode.INTEGRITY_ERROR, message, details=dict(details))


class ChunkReader:
    """Yields plaintext of a byte range across chunks: whole chunks via decrypt_chunk, partial
    ones via decrypt_range (only the touched segments are fetched); the next chunks are fetched
    and decrypted ahead in a small thread pool (order preserved, at most `prefetch` in flight, so
    memory stays bounded and a slow consumer applies backpressure). Integrity failures raise
    before any wrong byte is yielded for that piece.

    ``chunks`` must be the file's complete chunk list (indexes ``0..n-1`` in order, only the
    last marked ``is_last``), else ``INTEGRITY_ERROR``. ``prefetch=0`` reads in the consuming
    thread without read-ahead. One reader may serve several ranges one after the other (a
    multipart answer); :meth:`close` (or the ``with`` block) stops its threads.
    """

    def __init__(
        self,
        store: ChunkStore,
        file_key: bytes,
        file_id: str,
        content_version: int,
        chunks: Sequence[ChunkRef],
        *,
        prefetch: int = 2,
    ) -> None:
        if prefetch < 0:
            raise ValueError("prefetch must be >= 0")
        self._store = store
        self._key = file_key
        self._file_id = file_id
        self._version = content_version
        self._chunks = list(chunks)
        self._prefetch = prefetch
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False
        self._starts: list[int] = []
        offset = 0
        for position, ref in enumerate(self._chunks):
            last = position == len(self._chunks) - 1
            if ref.index != position or ref.is_last != last or ref.plain_size < 0:
                raise _integrity("the file's chunk list is inconsistent", chunk_index=position)
            self._starts.append(offset)
            offset += ref.plain_size
        self.size = offset
        """Total plaintext size of the file."""

    def __enter__(self) -> ChunkReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def iter_range(self, start: int, end: int) -> Iterator[bytes]:
        """Plaintext ``[start, end)`` as consecutive non-empty pieces (at most one per chunk).

        Raises ``CordvaultError(INVALID_INPUT)`` at once for a range outside ``[0, size]``.
        Closing the iterator early cancels the read-ahead.
        """
        if not 0 <= start <= end <= self.size:
            raise CordvaultError(
                ErrorCode.INVALID_INPUT,
                "byte range outside the file",
                details={"start": start, "end": end, "size": self.size},
            )
        if self._closed:
            raise CordvaultError(ErrorCode.INVALID_INPUT, "reader is closed")
        return self._iterate(start, end)

    def _pieces(self, start: int, end: int) -> Iterator[tuple[ChunkRef, int, int]]:
        """The chunks covering ``[start, end)`` with the chunk-local range of each."""
        position = bisect.bisect_right(self._starts, start) - 1
        while start < end:
            ref = self._chunks[position]
            chunk_start = self._starts[position]
            local_end = min(end - chunk_start, ref.plain_size)
            if local_end > start - chunk_start:
                yield ref, start - chunk_start, local_end
            start = chunk_start + local_end
            position += 1

    def _iterate(self, start: int, end: int) -> Iterator[bytes]:
        pieces = self._pieces(start, end)
        if self._prefetch == 0:
            for ref, lo, hi in pieces:
                yield self._load(ref, lo, hi)
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=self._prefetch, thread_name_prefix="chunk-read"
            )
        executor = self._executor
        pending: deque[Future[bytes]] = deque()

        def submit_next() -> None:
            piece = next(pieces, None)
            if piece is not None:
                pending.append(executor.submit(self._load, *piece))

        try:
            for _ in range(self._prefetch):
                submit_next()
            while pending:
                data = pending.popleft().result()
                # Refill before yielding: the next reads run while the consumer sends this one.
                submit_next()
                yield data
        finally:
            for future in pending:
                future.cancel()

    def _load(self, ref: ChunkRef, lo: int, hi: int) -> bytes:
        """Fetch and decrypt plaintext ``[lo, hi)`` of one chunk (runs in a pool thread)."""
        ctx = ChunkContext(self._file_id, ref.index, ref.is_last, self._version)
        try:
            if lo == 0 and hi == ref.plain_size:
                plain = decrypt_chunk(self._key, ctx, self._store.get(ref.locator))
            else:
                plain = decrypt_range(
                    self._key,
                    ctx,
                    ref.plain_size,
                    lo,
                    hi,
                    lambda cstart, cend: self._store.get(ref.locator, cstart, cend),
                )
        except ChunkNotFound:
            raise _integrity(
                f"chunk {ref.index} of the file is missing from storage", chunk_index=ref.index
            ) from None
        if len(plain) != hi - lo:
            raise _integrity(
                f"chunk {ref.index} holds a different amount of data than recorded",
                chunk_index=ref.index,
            )
        return plain

    def close(self) -> None:
        """Stop the read-ahead threads (waits for reads already running). Idempotent."""
        self._closed = True
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


class _Splitter:
    """Cuts a byte stream into ``chunk_size`` pieces, knowing which one is the last.

    A full piece is only released once a byte past it has arrived, because whether a chunk is
    the last one is bound into its encryption.
    """

    def __init__(self, chunk_size: int) -> None:
        self._size = chunk_size
        self._buffer = bytearray()
        self._index = 0
        self.total = 0
        self.hasher = hashlib.sha256()

    def feed(self, data: bytes) -> Iterator[tuple[int, bytes]]:
        """Add ``data``; yield ``(index, plaintext)`` of every chunk now known not to be last."""
        self.total += len(data)
        self._buffer += data
        while len(self._buffer) > self._size:
            with memoryview(self._buffer) as view:
                piece = bytes(view[: self._size])
            del self._buffer[: self._size]
            yield self._take(piece)

    def finish(self) -> tuple[int, bytes]:
        """The last chunk (possibly empty when the whole stream was empty)."""
        piece = bytes(self._buffer)
        self._buffer = bytearray()
        return self._take(piece)

    def _take(self, piece: bytes) -> tuple[int, bytes]:
        index = self._index
        self._index += 1
        return index, piece


class ChunkWriter:
    """Encrypts and stores plaintext as the chunks of one file (one content version).

    ``chunk_size`` is the plaintext size of every chunk but the last; its envelope must fit the
    store (``ciphertext_size(chunk_size) <= capabilities.max_chunk_size``), else
    ``CordvaultError(INVALID_SETTINGS)``. ``parallel`` chunks are encrypted and stored at once;
    memory use is about ``(parallel + 2) * chunk_size``. Safe to call :meth:`put_chunk` from
    several threads.
    """

    def __init__(
        self,
        store: ChunkStore,
        file_key: bytes,
        file_id: str,
        content_version: int,
        chunk_size: int,
        *,
        parallel: int = 4,
    ) -> None:
        if chunk_size <= 0:
            raise CordvaultError(ErrorCode.INVALID_SETTINGS, "chunk size must be positive")
        limit = store.capabilities.max_chunk_size
        if ciphertext_size(chunk_size) > limit:
            raise CordvaultError(
                ErrorCode.INVALID_SETTINGS,
                "DRIVE_CHUNK_SIZE is too large for the storage backend",
                details={"chunk_size": chunk_size, "max_chunk_size": limit},
            )
        if parallel < 1:
            raise ValueError("parallel must be >= 1")
        self.store = store
        self._key = file_key
        self._file_id = file_id
        self._version = content_version
        self.chunk_size = chunk_size
        self.parallel = parallel

    def put_chunk(self, index: int, is_last: bool, plaintext: bytes) -> ChunkRef:
        """Encrypt ``plaintext`` as chunk ``index`` of the file and store it.

        Raises ``INVALID_INPUT`` for a negative index or more than ``chunk_size`` bytes; store
        errors pass through (nothing was stored then).
        """
        if index < 0:
            raise CordvaultError(ErrorCode.INVALID_INPUT, "chunk index must be >= 0")
        if len(plaintext) > self.chunk_size:
            raise CordvaultError(
                ErrorCode.INVALID_INPUT,
                "chunk is larger than the chunk size",
                details={"size": len(plaintext), "chunk_size": self.chunk_size},
            )
        ctx = ChunkContext(self._file_id, index, is_last, self._version)
        locator = self.store.put(encrypt_chunk(self._key, ctx, plaintext))
        return ChunkRef(locator, index, len(plaintext), is_last)

    def write_stream(self, data: Iterable[bytes]) -> WriteResult:
        """Split, encrypt and store all of ``data``; split, encrypt, put in parallel.

        An empty stream stores one empty chunk (so every file has a last chunk to authenticate
        its end). On any error (from ``data`` too) the chunks stored so far are deleted and the
        error is re-raised.
        """
        with _Batch(self) as batch:
            splitter = _Splitter(self.chunk_size)
            for piece in data:
                for index, chunk in splitter.feed(piece):
                    batch.wait_for_room()
                    batch.submit(splitter, index, chunk, is_last=False)
            index, chunk = splitter.finish()
            batch.submit(splitter, index, chunk, is_last=True)
            return batch.result(splitter)

    async def awrite_stream(self, data: AsyncIterable[bytes]) -> WriteResult:
        """:meth:`write_stream` for an async byte stream (e.g. ``request.stream()``).

        The event loop only splits the stream; hashing, encryption and storage run in threads,
        and the loop waits (without blocking) while ``parallel`` chunks are in flight, which is
        the backpressure on the client's upload.
        """
        batch = _Batch(self)
        try:
            splitter = _Splitter(self.chunk_size)
            async for piece in data:
                for index, chunk in splitter.feed(piece):
                    await batch.await_room()
                    batch.submit(splitter, index, chunk, is_last=False)
            index, chunk = splitter.finish()
            batch.submit(splitter, index, chunk, is_last=True)
            await batch.await_all()
            return batch.result(splitter)
        except BaseException:
            # Synchronous on purpose: after a cancellation every further await would be
            # cancelled again, and the stored chunks must still be deleted.
            batch.abort()
            raise
        finally:
            batch.shutdown()


class _Batch:
    """The in-flight puts of one :meth:`ChunkWriter.write_stream` call.

    Hashing runs in its own single thread (in submission order, i.e. stream order) so it
    overlaps with encryption; ``parallel`` threads encrypt and store.
    """

    def __init__(self, writer: ChunkWriter) -> None:
        self._writer = writer
        self._puts = ThreadPoolExecutor(writer.parallel, thread_name_prefix="chunk-put")
        self._hash = ThreadPoolExecutor(1, thread_name_prefix="chunk-hash")
        self._pending: deque[Future[ChunkRef]] = deque()
        self._hashing: Future[None] | None = None
        self._done: list[ChunkRef] = []

    def __enter__(self) -> _Batch:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            self.abort()
        self.shutdown()

    def submit(self, splitter: _Splitter, index: int, chunk: bytes, *, is_last: bool) -> None:
        self._hashing = self._hash.submit(splitter.hasher.update, chunk)
        self._pending.append(self._puts.submit(self._writer.put_chunk, index, is_last, chunk))

    def wait_for_room(self) -> None:
        while len(self._pending) >= self._writer.parallel:
            self._done.append(self._pending.popleft().result())

    async def await_room(self) -> None:
        while len(self._pending) >= self._writer.parallel:
            self._done.append(await asyncio.wrap_future(self._pending.popleft()))

    async def await_all(self) -> None:
        while self._pending:
            self._done.append(await asyncio.wrap_future(self._pending.popleft()))
        if self._hashing is not None:
            await asyncio.wrap_future(self._hashing)

    def result(self, splitter: _Splitter) -> WriteResult:
        while self._pending:
            self._done.append(self._pending.popleft().result())
        if self._hashing is not None:
            self._hashing.result()
        chunks = sorted(self._done, key=lambda ref: ref.index)
        return WriteResult(chunks, splitter.total, splitter.hasher.hexdigest())

    def abort(self) -> None:
        """Cancel what has not started, wait for the rest, delete everything stored."""
        for future in self._pending:
            future.cancel()
        stored = list(self._done)
        for future in self._pending:
            if not future.cancelled() and future.exception() is None:
                stored.append(future.result())
        self._pending.clear()
        _delete_quietly(self._writer.store.delete, (ref.locator for ref in stored))

    def shutdown(self) -> None:
        self._puts.shutdown(wait=True, cancel_futures=True)
        self._hash.shutdown(wait=True, cancel_futures=True)


def _delete_quietly(delete: Callable[[str], None], locators: Iterable[str]) -> None:
    for locator in locators:
        try:
            delete(locator)
        except CordvaultError as exc:
            # The chunk stays unreferenced; only its position in a failed write is known.
            log.warning("could not delete a chunk of a failed write: %s", exc.code)


__all__ = ["ChunkReader", "ChunkRef", "ChunkWriter", "WriteResult"]

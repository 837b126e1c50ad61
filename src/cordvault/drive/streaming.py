"""Moving file content between plaintext streams and encrypted chunks in a chunk store.

:class:`ChunkReader` turns a byte range of a stored file back into plaintext: a wholly covered
chunk is read in one store call, a partly covered one only for the 64 KiB segments the range
touches (:func:`~cordvault.crypto.segment_span`); either is decrypted with
:func:`~cordvault.crypto.decrypt_range_into` straight into fresh ``bytearray`` pieces of at
most :data:`PIECE_SIZE` (all-or-nothing per chunk, no per-segment objects or joins). A consumer
on an event loop uses :meth:`ChunkReader.aiter_range` instead: pieces of up to
:data:`SEND_PIECE_SIZE` (a whole chunk at the default chunk size) and no thread hop per piece.
The next chunks are read *ahead* so store
latency (a Discord CDN round trip) does not serialise the stream. At most ``prefetch`` chunks
are in flight beyond the one being consumed, so memory stays bounded and a slow consumer slows
the reads (backpressure).

:class:`ChunkWriter` does the reverse: it cuts a plaintext stream into ``chunk_size`` pieces,
hashes it (SHA-256 of the whole plaintext), encrypts each piece for its position and stores it,
with up to ``parallel`` chunks being stored at once.

Both run on :class:`TransferPools`, threads shared by the whole process: store round trips
(worth overlapping) in a large I/O pool, AES-GCM in a crypto pool of one thread fewer than the
process has cores, and an upload's SHA-256 in a hashing pool of the same size. On a small
machine more crypto threads only steal the CPU from the event loop that receives or sends the
bytes, and every transfer slows down; with the pool, ten concurrent
downloads still decrypt on a bounded number of threads, and no threads are started per
transfer. Creating the shared pools also tunes glibc's allocator for chunk-sized buffers
(:func:`tune_allocator`; numbers in docs/benchmarks.md, "Drive HTTP throughput").

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

Size: this module is longer than most (~750 lines) on purpose: the reader and the writer are
two halves of one format rule set (piece sizes, per-position chunk contexts, the shared pools,
the trim threshold and the error contract above), and reading them side by side is how a change
to one half is checked against the other.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import hashlib
import logging
import os
import sys
import threading
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from dataclasses import dataclass

from cordvault.core.allocator import release_free_memory, tune_allocator
from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.crypto import (
    SEGMENT_SIZE,
    VERSION,
    ChunkContext,
    CryptoError,
    ciphertext_size,
    decrypt_range_into,
    encrypt_chunk,
    segment_span,
)
from cordvault.crypto.segments import HEADER_SIZE, MAGIC
from cordvault.drive.keys import crypto_error
from cordvault.drive.readahead import ReadAheadBudget
from cordvault.storage.base import ChunkNotFound, ChunkStore

log = logging.getLogger(__name__)

PIECE_SIZE = 16 * SEGMENT_SIZE
"""Largest plaintext piece :meth:`ChunkReader.iter_range` yields (1 MiB, whole segments)."""
SEND_PIECE_SIZE = 128 * SEGMENT_SIZE
"""Largest plaintext piece :meth:`ChunkReader.aiter_range` yields (8 MiB, whole segments: a
whole chunk at the default ``DRIVE_CHUNK_SIZE``). Below the allocator's 32 MiB mmap threshold
(:func:`tune_allocator`), so such buffers are reused from the heap, not mapped per chunk."""


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


def usable_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class TransferPools:
    """Worker threads for chunk transfers, shared by readers and writers.

    ``crypto`` runs AES-GCM (and the joins feeding it): ``crypto_threads`` threads, by default
    one fewer than the usable cores (at least one), leaving a core to the event loop.
    ``hashing`` (as many threads) runs uploads' SHA-256, side by side with their encryption:
    both release the GIL, and on a 2-core machine the two passes over a chunk then take the
    time of the longer one, not of both. ``io`` runs store round trips and the short waits that
    chain a chunk's stages. Tasks never wait on work queued behind them, so no pool can
    deadlock however busy it is.
    """

    def __init__(self, crypto_threads: int | None = None, io_threads: int = 32) -> None:
        self.crypto_threads = crypto_threads or max(1, usable_cores() - 1)
        self.crypto = ThreadPoolExecutor(self.crypto_threads, thread_name_prefix="chunk-crypto")
        self.hashing = ThreadPoolExecutor(self.crypto_threads, thread_name_prefix="chunk-hash")
        self.io = ThreadPoolExecutor(io_threads, thread_name_prefix="chunk-io")

    def shutdown(self) -> None:
        """Stop the threads (waits for running tasks)."""
        self.crypto.shutdown(wait=True, cancel_futures=True)
        self.hashing.shutdown(wait=True, cancel_futures=True)
        self.io.shutdown(wait=True, cancel_futures=True)


_shared: TransferPools | None = None
_shared_lock = threading.Lock()


def shared_pools() -> TransferPools:
    """The process's pools, created on first use (so never before a server forks).

    Creating them also applies :func:`tune_allocator`: the process is evidently one that moves
    chunks (a server should call it earlier too, see there).
    """
    global _shared
    with _shared_lock:
        if _shared is None:
            tune_allocator()
            _shared = TransferPools()
        return _shared


class _SendBuffers:
    """The plaintext buffers of one :meth:`ChunkReader.aiter_range` read, reused.

    Decrypting into a fresh ``bytearray`` first zero-fills it: for 8 MiB pieces that memset
    cost as much as a third of the AES-GCM itself (perf, docs/benchmarks.md issue 15). A piece
    handed to the web server stays referenced until it is on the wire (uvloop keeps a
    memoryview of unsent data, C code holds a buffer export, which references the object), so
    a buffer is rewritten only when this pool holds the only reference to it (CPython's
    reference count; a buffer anyone else still holds is never touched, a new one is made).
    At most ``keep`` buffers are kept, and they die with the read.
    """

    _ONLY_OURS = 3  # the list, the loop variable and getrefcount's own argument

    def __init__(self, keep: int) -> None:
        self._keep = keep
        self._kept: list[bytearray] = []
        self._lock = threading.Lock()

    def take(self, size: int) -> bytearray:
        """A buffer of exactly ``size`` bytes nobody else refers to (its content is stale)."""
        with self._lock:
            for buf in self._kept:
                if len(buf) == size and sys.getrefcount(buf) == self._ONLY_OURS:
                    return buf
            fresh = bytearray(size)
            if len(self._kept) < self._keep:
                self._kept.append(fresh)
            return fresh


MAX_PARALLEL = 16
"""Most chunks one writer keeps in flight, whatever the store advises: each in-flight put holds
a thread of the shared I/O pool while it waits."""

TRIM_AFTER_BYTES = 64 * 1024 * 1024
"""A transfer that moved at least this much hands its freed memory back afterwards."""


def _integrity(message: str, **details: object) -> CordvaultError:
    return CordvaultError(ErrorCode.INTEGRITY_ERROR, message, details=dict(details))


_Loading = Future[Future[list[bytearray]]]
"""A chunk in flight: its fetch (I/O pool), whose result is its decryption (crypto pool)."""


class _ReadWindow:
    """The chunks of one read in flight, in order: at most ``prefetch`` of them, and each one
    fetched *ahead* (beyond the chunk the consumer waits for) charged to ``budget`` first.

    Used by both read loops: :meth:`refill` submits what the bounds allow, :meth:`take_head`
    moves the oldest chunk out of the window once it is loaded (its charge stays until
    :meth:`head_sent`: its bytes are held until the consumer has them all), :meth:`close`
    cancels the rest and gives every charge back.
    """

    def __init__(
        self,
        pieces: Iterator[tuple[ChunkRef, int, int]],
        prefetch: int,
        budget: ReadAheadBudget | None,
        submit: Callable[[ChunkRef, int, int], _Loading],
    ) -> None:
        self._pieces = pieces
        self._next = next(pieces, None)
        self._prefetch = prefetch
        self._budget = budget
        self._submit = submit
        self.pending: deque[_Loading] = deque()
        self._charges: deque[int] = deque()
        self._head_charge = 0

    def refill(self, *, sending: bool) -> None:
        """Submit chunks while the window has room. The first chunk of an empty window is free
        when the consumer is not holding one (``sending=False``): it is what the consumer
        waits for, so a spent budget never stops a read; any other is read-ahead and is
        submitted only if its size fits in the budget."""
        while self._next is not None and len(self.pending) < self._prefetch:
            ref, lo, hi = self._next
            charge = 0
            if self._budget is not None and (self.pending or sending):
                charge = hi - lo
                if not self._budget.try_take(charge):
                    return
            self.pending.append(self._submit(ref, lo, hi))
            self._charges.append(charge)
            self._next = next(self._pieces, None)

    def take_head(self) -> None:
        """The oldest chunk is loaded and about to be handed over."""
        self.pending.popleft()
        self._head_charge = self._charges.popleft()

    def head_sent(self) -> None:
        """The consumer has every piece of the chunk last taken: its charge goes back."""
        self._give_back(self._head_charge)
        self._head_charge = 0

    def close(self) -> None:
        """Cancel the chunks still in flight (reads already running finish and are dropped)
        and give back every charge. Idempotent."""
        for future in self.pending:
            future.cancel()
        self.pending.clear()
        self.head_sent()
        while self._charges:
            self._give_back(self._charges.popleft())

    def _give_back(self, charge: int) -> None:
        if self._budget is not None:
            self._budget.give_back(charge)


class ChunkReader:
    """Yields plaintext of a byte range across chunks: whole chunks in one read, partial ones
    reading only the touched segments, all decrypted with decrypt_range_into in pieces; the next
    chunks are fetched and decrypted ahead on the transfer pools (order preserved, at most
    `prefetch` in flight, so memory stays bounded and a slow consumer applies backpressure).
    Integrity failures raise before any wrong byte is yielded for that piece.

    ``chunks`` must be the file's complete chunk list (indexes ``0..n-1`` in order, only the
    last marked ``is_last``), else ``INTEGRITY_ERROR``. ``prefetch=0`` reads and decrypts in
    the consuming thread without read-ahead. One reader may serve several ranges one after the
    other (a multipart answer); :meth:`close` (or the ``with`` block) cancels its read-ahead.
    ``pools`` defaults to :func:`shared_pools`. ``budget`` (the process's
    :class:`~cordvault.drive.readahead.ReadAheadBudget`) bounds the read-ahead of all readers
    sharing it: beyond the chunk the consumer waits for, a chunk is fetched ahead only if its
    size fits in the budget; ``None`` bounds each read by ``prefetch`` alone.
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
        pools: TransferPools | None = None,
        budget: ReadAheadBudget | None = None,
    ) -> None:
        if prefetch < 0:
            raise ValueError("prefetch must be >= 0")
        self._pools = pools or shared_pools()
        self._store = store
        self._key = file_key
        self._file_id = file_id
        self._version = content_version
        self._chunks = list(chunks)
        self._prefetch = prefetch
        self._budget = budget
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

    def iter_range(self, start: int, end: int) -> Iterator[bytearray]:
        """Plaintext ``[start, end)`` as consecutive non-empty pieces of at most
        :data:`PIECE_SIZE` bytes.

        Raises ``CordvaultError(INVALID_INPUT)`` at once for a range outside ``[0, size]``.
        Closing the iterator early cancels the read-ahead.
        """
        self._check_range(start, end)
        return self._iterate(start, end)

    def aiter_range(self, start: int, end: int) -> AsyncIterator[bytearray]:
        """:meth:`iter_range` for a consumer on an event loop (the web layer's send loop), in
        pieces of at most :data:`SEND_PIECE_SIZE` bytes.

        Same bytes, same read-ahead bound (``prefetch``, at least 1: reads always run on the
        pools), same error contract. The loop never blocks: it waits for each chunk's
        fetch-and-decrypt futures (one wake-up per chunk instead of a thread hop per 1 MiB
        piece), and a whole chunk goes to the transport in one write, whose remainder the
        server's transport (uvloop: C) sends as the socket drains. Raises ``INVALID_INPUT`` at
        once for a range outside ``[0, size]``. ``aclose()`` (or cancellation) stops the
        read-ahead.
        """
        self._check_range(start, end)
        return self._aiterate(start, end)

    def _check_range(self, start: int, end: int) -> None:
        if not 0 <= start <= end <= self.size:
            raise CordvaultError(
                ErrorCode.INVALID_INPUT,
                "byte range outside the file",
                details={"start": start, "end": end, "size": self.size},
            )
        if self._closed:
            raise CordvaultError(ErrorCode.INVALID_INPUT, "reader is closed")

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

    def _iterate(self, start: int, end: int) -> Iterator[bytearray]:
        pieces = self._pieces(start, end)
        if self._prefetch == 0:
            for ref, lo, hi in pieces:
                yield from self._decrypt(ref, lo, hi, *self._fetch(ref, lo, hi))
            return
        window = _ReadWindow(
            pieces,
            self._prefetch,
            self._budget,
            lambda ref, lo, hi: self._pools.io.submit(self._fetch_then_decrypt, ref, lo, hi),
        )
        moved = 0
        try:
            window.refill(sending=False)
            while window.pending:
                loaded = window.pending[0].result().result()
                window.take_head()
                # Read ahead before yielding: the next reads run while the consumer sends this.
                window.refill(sending=True)
                # Hand pieces over one by one, dropping each reference once yielded.
                loaded.reverse()
                while loaded:
                    piece = loaded.pop()
                    moved += len(piece)
                    yield piece
                    del piece
                window.head_sent()
                window.refill(sending=False)
        finally:
            window.close()
            if moved >= TRIM_AFTER_BYTES:
                self._pools.io.submit(release_free_memory)

    async def _aiterate(self, start: int, end: int) -> AsyncIterator[bytearray]:
        # The chunks in flight, the piece being sent and the one the consumer may still hold.
        prefetch = max(1, self._prefetch)
        buffers = _SendBuffers(prefetch + 2)
        window = _ReadWindow(
            self._pieces(start, end),
            prefetch,
            self._budget,
            lambda ref, lo, hi: self._pools.io.submit(
                self._fetch_then_decrypt, ref, lo, hi, SEND_PIECE_SIZE, buffers
            ),
        )
        moved = 0
        try:
            window.refill(sending=False)
            while window.pending:
                # Cancelling these awaits cancels the wrapped futures too (asyncio chains them).
                decrypting = await asyncio.wrap_future(window.pending[0])
                loaded = await asyncio.wrap_future(decrypting)
                window.take_head()
                window.refill(sending=True)
                loaded.reverse()
                while loaded:
                    piece = loaded.pop()
                    moved += len(piece)
                    yield piece
                    del piece
                window.head_sent()
                window.refill(sending=False)
        finally:
            window.close()
            if moved >= TRIM_AFTER_BYTES:
                self._pools.io.submit(release_free_memory)

    def _fetch_then_decrypt(
        self,
        ref: ChunkRef,
        lo: int,
        hi: int,
        piece_size: int = PIECE_SIZE,
        buffers: _SendBuffers | None = None,
    ) -> Future[list[bytearray]]:
        """I/O thread: read the chunk, then queue its decryption on the crypto pool."""
        data, offset = self._fetch(ref, lo, hi)
        return self._pools.crypto.submit(
            self._decrypt, ref, lo, hi, data, offset, piece_size, buffers
        )

    def _fetch(self, ref: ChunkRef, lo: int, hi: int) -> tuple[bytes | bytearray, int]:
        """The stored bytes needed for plaintext ``[lo, hi)`` and their offset in the envelope:
        the whole chunk when it is wholly covered, else the segment span of the range."""
        if lo == 0 and hi == ref.plain_size:
            cstart, cend = 0, ciphertext_size(ref.plain_size)
        else:
            cstart, cend = segment_span(lo, hi, ref.plain_size)
        try:
            if cstart == 0:
                data = self._store.get(ref.locator)
            else:
                data = self._store.get(ref.locator, cstart, cend)
        except ChunkNotFound:
            raise _integrity(
                f"chunk {ref.index} of the file is missing from storage", chunk_index=ref.index
            ) from None
        except ValueError:  # a range past the stored chunk: it is shorter than recorded
            data = b""
        if len(data) != cend - cstart:
            raise _integrity(
                f"chunk {ref.index} holds a different amount of data than recorded",
                chunk_index=ref.index,
            )
        if cstart == 0 and data[:HEADER_SIZE] != MAGIC + bytes([VERSION]):
            # Segments authenticate without the header (its version is in their AAD), but a
            # whole-chunk read checks it as decrypt_chunk would.
            raise _integrity(f"chunk {ref.index} is not a cordvault chunk", chunk_index=ref.index)
        return data, cstart

    def _decrypt(
        self,
        ref: ChunkRef,
        lo: int,
        hi: int,
        data: bytes | bytearray,
        offset: int,
        piece_size: int = PIECE_SIZE,
        buffers: _SendBuffers | None = None,
    ) -> list[bytearray]:
        """Plaintext ``[lo, hi)`` of the chunk from its stored bytes, in pieces of at most
        ``piece_size`` (a multiple of the segment size), each authenticated before it is kept.

        Each piece is one fresh buffer the segments are decrypted straight into
        (:func:`~cordvault.crypto.decrypt_range_into`): no per-segment objects and no join, the
        copies that used to cost most of a download's CPU. Pieces are handed to the consumer
        (ultimately the socket) and never written again, so a transport that keeps a reference
        to an unsent piece (uvloop does) can never send changed bytes; that is why they are not
        recycled, except through ``buffers`` (:class:`_SendBuffers`: only once nothing else
        refers to them). Pieces smaller than a chunk keep the process's memory (and its
        fragmentation) low."""
        ctx = ChunkContext(self._file_id, ref.index, ref.is_last, self._version)
        view = memoryview(data)
        pieces: list[bytearray] = []
        start = lo
        try:
            while start < hi:
                stop = min(hi, (start // piece_size + 1) * piece_size)
                cstart, cend = segment_span(start, stop, ref.plain_size)
                piece = bytearray(stop - start) if buffers is None else buffers.take(stop - start)
                decrypt_range_into(
                    self._key, ctx, ref.plain_size, start, view[cstart - offset : cend - offset],
                    piece,
                )  # fmt: skip
                pieces.append(piece)
                start = stop
        except CryptoError as exc:
            raise crypto_error(exc) from None
        return pieces

    def close(self) -> None:
        """Refuse further ranges; read-ahead of an unfinished range is cancelled when its
        iterator is closed (reads already running finish and are dropped). Idempotent."""
        self._closed = True


_Part = bytes | memoryview


class _Splitter:
    """Cuts a byte stream into ``chunk_size`` pieces, knowing which one is the last.

    A full piece is only released once a byte past it has arrived, because whether a chunk is
    the last one is bound into its encryption. Received pieces are kept as they are and joined
    once per chunk (one copy; no ever-growing buffer being reallocated).
    """

    def __init__(self, chunk_size: int) -> None:
        self._size = chunk_size
        self._parts: deque[_Part] = deque()
        self._held = 0
        self._index = 0
        self.total = 0
        self.hasher = hashlib.sha256()

    def feed(self, data: bytes | bytearray) -> Iterator[tuple[int, list[_Part]]]:
        """Add ``data``; yield ``(index, parts)`` of every chunk now known not to be last."""
        if not data:
            return
        # A mutable buffer may be reused by the caller once we return: keep a copy.
        self._parts.append(data if isinstance(data, bytes) else bytes(data))
        self._held += len(data)
        self.total += len(data)
        while self._held > self._size:
            yield self._take(self._cut(self._size))

    def finish(self) -> tuple[int, list[_Part]]:
        """The last chunk (possibly empty when the whole stream was empty)."""
        return self._take(self._cut(self._held))

    def _cut(self, size: int) -> list[_Part]:
        """The next ``size`` bytes as a list of parts (joining them is left to a worker
        thread: an 8 MiB copy into fresh memory costs milliseconds the event loop needs)."""
        out: list[_Part] = []
        need = size
        while need:
            part = self._parts[0]
            if len(part) <= need:
                out.append(self._parts.popleft())
                need -= len(part)
            else:
                view = memoryview(part)
                out.append(view[:need])
                self._parts[0] = view[need:]
                need = 0
        self._held -= size
        return out

    def _take(self, parts: list[_Part]) -> tuple[int, list[_Part]]:
        index = self._index
        self._index += 1
        return index, parts


class ChunkWriter:
    """Encrypts and stores plaintext as the chunks of one file (one content version).

    ``chunk_size`` is the plaintext size of every chunk but the last; its envelope must fit the
    store (``ciphertext_size(chunk_size) <= capabilities.max_chunk_size``), else
    ``CordvaultError(INVALID_SETTINGS)``. Up to ``parallel`` chunks are in flight (encrypted on
    the crypto pool, stored on the I/O pool), or more when the store advises it
    (``capabilities.write_ahead_bytes``, at most :data:`MAX_PARALLEL` chunks): memory use is
    about ``(self.parallel + 2) * chunk_size``. Safe to call :meth:`put_chunk` from several
    threads. ``pools`` defaults to :func:`shared_pools`.
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
        pools: TransferPools | None = None,
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
        # A store that batches puts into long round trips (Discord messages) needs more than
        # one batch in flight, or the stream stalls while each batch is posted.
        advised = store.capabilities.write_ahead_bytes // ciphertext_size(chunk_size)
        self.parallel = max(parallel, min(MAX_PARALLEL, advised))
        self.pools = pools or shared_pools()

    def put_chunk(self, index: int, is_last: bool, plaintext: bytes) -> ChunkRef:
        """Encrypt ``plaintext`` as chunk ``index`` of the file and store it.

        Raises ``INVALID_INPUT`` for a negative index or more than ``chunk_size`` bytes; store
        errors pass through (nothing was stored then). Encryption runs on the crypto pool, so
        concurrent callers (chunks of a resumable upload) share its bounded threads.
        """
        envelope = self.pools.crypto.submit(self._seal, index, is_last, plaintext).result()
        return ChunkRef(self.store.put(envelope), index, len(plaintext), is_last)

    def _seal(self, index: int, is_last: bool, plaintext: bytes) -> bytes:
        if index < 0:
            raise CordvaultError(ErrorCode.INVALID_INPUT, "chunk index must be >= 0")
        if len(plaintext) > self.chunk_size:
            raise CordvaultError(
                ErrorCode.INVALID_INPUT,
                "chunk is larger than the chunk size",
                details={"size": len(plaintext), "chunk_size": self.chunk_size},
            )
        ctx = ChunkContext(self._file_id, index, is_last, self._version)
        return encrypt_chunk(self._key, ctx, plaintext)

    def write_stream(self, data: Iterable[bytes | bytearray]) -> WriteResult:
        """Split, encrypt and store all of ``data``; split, encrypt, put in parallel.

        An empty stream stores one empty chunk (so every file has a last chunk to authenticate
        its end). On any error (from ``data`` too) the chunks stored so far are deleted and the
        error is re-raised.
        """
        batch = _Batch(self)
        splitter = _Splitter(self.chunk_size)
        try:
            for piece in data:
                for index, parts in splitter.feed(piece):
                    batch.wait_for_room()
                    batch.submit(splitter, index, parts, is_last=False)
            index, parts = splitter.finish()
            batch.wait_for_room()
            batch.submit(splitter, index, parts, is_last=True)
            return batch.result(splitter)
        except BaseException:
            batch.abort()
            raise
        finally:
            batch.release(splitter)

    async def awrite_stream(self, data: AsyncIterable[bytes]) -> WriteResult:
        """:meth:`write_stream` for an async byte stream (e.g. ``request.stream()``).

        The event loop only splits the stream; hashing, encryption and storage run in threads,
        and the loop waits (without blocking) while ``parallel`` chunks are in flight, which is
        the backpressure on the client's upload.
        """
        batch = _Batch(self)
        splitter = _Splitter(self.chunk_size)
        try:
            async for piece in data:
                for index, parts in splitter.feed(piece):
                    await batch.await_room()
                    batch.submit(splitter, index, parts, is_last=False)
            index, parts = splitter.finish()
            await batch.await_room()
            batch.submit(splitter, index, parts, is_last=True)
            await batch.await_room(self.parallel)  # drains the batch
            return batch.result(splitter)
        except BaseException:
            # Synchronous on purpose: after a cancellation every further await would be
            # cancelled again, and the stored chunks must still be deleted.
            batch.abort()
            raise
        finally:
            batch.release(splitter)


class _Batch:
    """The in-flight chunks of one :meth:`ChunkWriter.write_stream` call.

    Each chunk becomes three tasks on the shared pools: *seal* on the crypto pool (join the
    parts, hand them to *hash*, encrypt, wait for *hash*), *hash* on the hashing pool (add the
    chunk to the stream's hash once the previous chunk has been added) and *put* on the I/O
    pool (wait for the seal, store the envelope). Two bounds keep memory flat: at most
    ``parallel`` chunks in flight, and of those at most ``crypto_threads`` not yet sealed
    (plus the one the splitter is filling) - when encryption is the bottleneck (a local disk)
    plaintext would otherwise pile up waiting for a core; when the store is
    (Discord), envelopes wait for their upload.
    """

    def __init__(self, writer: ChunkWriter) -> None:
        self._writer = writer
        self._pools = writer.pools
        self._unsealed_limit = min(writer.parallel, self._pools.crypto_threads)
        self._pending: deque[tuple[Future[ChunkRef], Future[None]]] = deque()
        self._sealing: deque[Future[None]] = deque()
        self._seals: list[Future[None]] = []
        self._last_hash: Future[None] | None = None
        self._done: list[ChunkRef] = []

    def submit(self, splitter: _Splitter, index: int, parts: list[_Part], *, is_last: bool) -> None:
        writer = self._writer
        size = sum(len(part) for part in parts)
        # The envelope travels in this list rather than as a future's result, and the seal
        # drops the parts once joined and hashed: no chunk's bytes outlive their stage.
        handoff: list[bytes] = []
        previous = self._last_hash
        hashed: Future[None] = Future()

        def hash_in_order(plaintext: bytes) -> None:
            try:
                # The hash must see chunks in stream order; hashes may run side by side.
                if previous is not None:
                    previous.result()
                splitter.hasher.update(plaintext)
            except BaseException as exc:
                _settle(hashed, exc)
                return
            _settle(hashed, None)

        def seal() -> None:
            try:
                plaintext = b"".join(parts)
                parts.clear()
            except BaseException as exc:
                _settle(hashed, exc)
                raise
            # SHA-256 of the chunk runs on the hashing pool while this thread encrypts it: the
            # two passes over the bytes overlap instead of adding up (hashing costs about twice
            # the AES-GCM; docs/benchmarks.md, issue 15).
            self._pools.hashing.submit(hash_in_order, plaintext)
            envelope = writer._seal(index, is_last, plaintext)
            # A seal ends once its chunk is hashed too, so the plaintext is gone when the seal
            # counts as done and the unsealed bound below still bounds the memory held.
            hashed.result()
            handoff.append(envelope)

        sealed = self._pools.crypto.submit(seal)

        def put() -> ChunkRef:
            sealed.result()
            return ChunkRef(writer.store.put(handoff.pop()), index, size, is_last)

        self._last_hash = hashed
        self._pending.append((self._pools.io.submit(put), hashed))
        self._sealing.append(sealed)
        self._seals.append(sealed)

    def _unsealed(self) -> int:
        while self._sealing and self._sealing[0].done():
            self._sealing.popleft()
        return len(self._sealing)

    def _must_collect(self, room: int) -> bool:
        return bool(self._pending) and len(self._pending) > self._writer.parallel - room

    def _must_wait_seal(self, room: int) -> bool:
        return self._unsealed() > max(0, self._unsealed_limit - room)

    def wait_for_room(self, room: int = 1) -> None:
        while True:
            if self._must_collect(room):
                stored, hashed = self._pending.popleft()
                self._done.append(stored.result())
                hashed.result()
            elif self._must_wait_seal(room):
                self._sealing[0].exception()  # waits; a failure surfaces via its put
            else:
                return

    async def await_room(self, room: int = 1) -> None:
        while True:
            if self._must_collect(room):
                stored, hashed = self._pending.popleft()
                self._done.append(await asyncio.wrap_future(stored))
                await asyncio.wrap_future(hashed)
            elif self._must_wait_seal(room):
                await asyncio.wait([asyncio.wrap_future(self._sealing[0])])
            else:
                return

    def result(self, splitter: _Splitter) -> WriteResult:
        self.wait_for_room(self._writer.parallel)
        chunks = sorted(self._done, key=lambda ref: ref.index)
        return WriteResult(chunks, splitter.total, splitter.hasher.hexdigest())

    def release(self, splitter: _Splitter) -> None:
        """After a large write, hand the freed buffers back (off the caller's thread)."""
        if splitter.total >= TRIM_AFTER_BYTES:
            self._pools.io.submit(release_free_memory)

    def abort(self) -> None:
        """Cancel what has not started, wait for the rest, delete everything stored."""
        for sealed in self._seals:
            sealed.cancel()
        for stored, hashed in self._pending:
            stored.cancel()
            hashed.cancel()
        done = list(self._done)
        for stored, _hashed in self._pending:
            if not stored.cancelled() and stored.exception() is None:
                done.append(stored.result())
        self._pending.clear()
        self._sealing.clear()
        _delete_quietly(self._writer.store.delete, (ref.locator for ref in done))


def _settle(future: Future[None], error: BaseException | None) -> None:
    """Complete ``future`` unless an abort cancelled it already (nobody waits for it then)."""
    with contextlib.suppress(InvalidStateError):
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


def _delete_quietly(delete: Callable[[str], None], locators: Iterable[str]) -> None:
    for locator in locators:
        try:
            delete(locator)
        except CordvaultError as exc:
            # The chunk stays unreferenced; only its position in a failed write is known.
            log.warning("could not delete a chunk of a failed write: %s", exc.code)


__all__ = ["ChunkReader", "ChunkRef", "ChunkWriter", "WriteResult"]

"""The chunk envelope: AES-256-GCM in 64 KiB segments, each bound to its file and position.

Layout (version 1, written down with golden vectors in ``docs/drive-format.md``)::

    envelope = "CVCK" || version (0x01) || segment_0 || ... || segment_{n-1}
    segment  = nonce (12 random bytes) || AES-256-GCM(file_key, nonce, plaintext, aad) || tag (16)
    aad      = "CVCK" || version || u64 content_version || u64 chunk_index || u64 segment_index
               || u8 flags || u16 len(file_id) || file_id (UTF-8)        (integers big-endian)
    flags    = bit 0: last segment of this chunk; bit 1: this chunk is the file's last chunk

Why each AAD field: ``file_id`` stops chunks moving between files, ``content_version`` stops a
chunk of an earlier upload of the same file being replayed, ``chunk_index`` / ``segment_index``
stop reordering, and the two "last" flags make truncation (dropping trailing segments or
chunks) and extension (appending them) fail authentication rather than silently shortening or
lengthening the file. Segments exist so a Range read fetches and decrypts only the segments it
touches (as rclone crypt does).

Error contract: anything that does not authenticate - tampering, a swapped, reordered,
truncated or extended chunk, a wrong key or a wrong :class:`ChunkContext` - raises
:class:`~cordvault.crypto.errors.DecryptionFailed` (the drive reports it as
``CordvaultError(INTEGRITY_ERROR)``); no partial plaintext is ever returned. Caller bugs (key of
the wrong length, invalid range) raise ``ValueError``.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cordvault.crypto.errors import DecryptionFailed
from cordvault.crypto.segments import (
    HEADER_SIZE,
    MAGIC,
    NONCE_SIZE,
    SEGMENT_OVERHEAD,
    SEGMENT_SIZE,
    plaintext_size,
    segment_count,
    segment_plain_length,
    segment_span,
)

VERSION = 1
"""Envelope version this module writes."""
SUPPORTED_VERSIONS = frozenset({1})
"""Envelope versions this module reads; new versions add to it, old ones stay readable."""
KEY_SIZE = 32

_FLAG_LAST_SEGMENT = 0x01
_FLAG_LAST_CHUNK = 0x02
_AAD_FIXED = struct.Struct(">QQQBH")

NonceSource = Callable[[int], bytes]
"""Returns ``n`` nonce bytes; ``os.urandom`` in production, fixed bytes for golden vectors."""


@dataclass(frozen=True)
class ChunkContext:
    """Where a chunk belongs; every field is bound into each segment's associated data.

    ``is_last`` is true for the last chunk of a file (also for a one-chunk file).
    ``content_version`` starts at 1 and increases whenever the file's content is replaced.
    """

    file_id: str
    chunk_index: int
    is_last: bool
    content_version: int = 1

    def __post_init__(self) -> None:
        if not self.file_id:
            raise ValueError("file_id must not be empty")
        if len(self.file_id.encode()) > 0xFFFF:
            raise ValueError("file_id is too long")
        if not 0 <= self.chunk_index < 2**64:
            raise ValueError("chunk_index must be in [0, 2**64)")
        if not 0 <= self.content_version < 2**64:
            raise ValueError("content_version must be in [0, 2**64)")


def _header(version: int) -> bytes:
    return MAGIC + bytes([version])


def _aad(version: int, ctx: ChunkContext, segment_index: int, last_segment: bool) -> bytes:
    flags = (_FLAG_LAST_SEGMENT if last_segment else 0) | (_FLAG_LAST_CHUNK if ctx.is_last else 0)
    file_id = ctx.file_id.encode()
    fixed = _AAD_FIXED.pack(
        ctx.content_version, ctx.chunk_index, segment_index, flags, len(file_id)
    )
    return _header(version) + fixed + file_id


def _cipher(file_key: bytes) -> AESGCM:
    if len(file_key) != KEY_SIZE:
        raise ValueError("file key must be 32 bytes")
    return AESGCM(file_key)


def _integrity_error(ctx: ChunkContext, reason: str) -> DecryptionFailed:
    # The message names the chunk position only: file ids and keys stay out of errors and logs.
    return DecryptionFailed(
        f"chunk {ctx.chunk_index} failed integrity check: {reason}",
        details={"chunk_index": ctx.chunk_index},
    )


def _encrypt(file_key: bytes, ctx: ChunkContext, plaintext: bytes, nonces: NonceSource) -> bytes:
    """:func:`encrypt_chunk` with an injectable nonce source (golden vectors use fixed ones)."""
    aead = _cipher(file_key)
    view = memoryview(plaintext)
    count = segment_count(len(plaintext))
    parts = [_header(VERSION)]
    for index in range(count):
        nonce = nonces(NONCE_SIZE)
        if len(nonce) != NONCE_SIZE:
            raise ValueError("nonce source returned the wrong length")
        piece = view[index * SEGMENT_SIZE : (index + 1) * SEGMENT_SIZE]
        aad = _aad(VERSION, ctx, index, index == count - 1)
        parts.append(nonce)
        parts.append(aead.encrypt(nonce, piece, aad))
    return b"".join(parts)


def encrypt_chunk(file_key: bytes, ctx: ChunkContext, plaintext: bytes) -> bytes:
    """Encrypt one chunk into a version-1 envelope of ``ciphertext_size(len(plaintext))`` bytes.

    Every segment gets a fresh random 96-bit nonce. Random nonces are safe for up to 2**32
    segments per file key (256 TiB of plaintext), far beyond any file; keys are per file.
    """
    return _encrypt(file_key, ctx, plaintext, os.urandom)


def _check_header(ctx: ChunkContext, header: bytes | bytearray) -> int:
    if len(header) < HEADER_SIZE or header[: len(MAGIC)] != MAGIC:
        raise _integrity_error(ctx, "not a cordvault chunk envelope")
    version = header[len(MAGIC)]
    if version not in SUPPORTED_VERSIONS:
        raise _integrity_error(ctx, f"unsupported envelope version {version}")
    return version


def _open_segments(
    aead: AESGCM,
    ctx: ChunkContext,
    version: int,
    data: memoryview,
    first_segment: int,
    plain_size: int,
) -> list[bytes]:
    """Decrypt consecutive whole segments starting at ``first_segment`` from ``data``."""
    count = segment_count(plain_size)
    out: list[bytes] = []
    offset = 0
    index = first_segment
    while offset < len(data):
        if index >= count:
            raise _integrity_error(ctx, "more segments than expected")
        length = segment_plain_length(plain_size, index) + SEGMENT_OVERHEAD
        segment = data[offset : offset + length]
        if len(segment) != length:
            raise _integrity_error(ctx, "truncated segment")
        aad = _aad(version, ctx, index, index == count - 1)
        try:
            out.append(aead.decrypt(segment[:NONCE_SIZE], segment[NONCE_SIZE:], aad))
        except InvalidTag:
            raise _integrity_error(ctx, "authentication failed") from None
        offset += length
        index += 1
    return out


def decrypt_chunk(file_key: bytes, ctx: ChunkContext, envelope: bytes | bytearray) -> bytes:
    """Decrypt a whole envelope written for ``ctx``; all-or-nothing.

    Raises :class:`~cordvault.crypto.errors.DecryptionFailed` on any mismatch (see the module
    docstring).
    """
    aead = _cipher(file_key)
    version = _check_header(ctx, envelope[:HEADER_SIZE])
    try:
        size = plaintext_size(len(envelope))
    except DecryptionFailed:
        raise _integrity_error(ctx, "impossible envelope size (truncated or extended)") from None
    view = memoryview(envelope)[HEADER_SIZE:]
    return b"".join(_open_segments(aead, ctx, version, view, 0, size))


def decrypt_range(
    file_key: bytes,
    ctx: ChunkContext,
    plain_size: int,
    plain_start: int,
    plain_end: int,
    fetch: Callable[[int, int], bytes],
) -> bytes:
    """Return plaintext ``[plain_start, plain_end)`` of a chunk of ``plain_size`` bytes.

    ``fetch(cstart, cend)`` must return envelope bytes ``[cstart, cend)``; it is called exactly
    once, with ``segment_span(plain_start, plain_end, plain_size)``, so a 1 KiB read touches at
    most two segments (one unless it straddles a segment boundary). The 5-byte header is not
    fetched: the version byte is bound into every segment's AAD, so the segments authenticate
    only as the version this module writes. (A future envelope version with another layout will
    have its version recorded in the chunk metadata and passed in.)

    An empty range returns ``b""`` without fetching. Every touched segment is authenticated
    before any byte is returned; a fetch that returns fewer bytes, or raises ``ValueError``
    because the stored chunk is shorter than ``plain_size`` implies, gives
    :class:`~cordvault.crypto.errors.DecryptionFailed`. Raises ``ValueError`` for a range outside
    ``[0, plain_size]``.
    """
    if not 0 <= plain_start <= plain_end <= plain_size:
        raise ValueError("plaintext range outside the chunk")
    aead = _cipher(file_key)
    if plain_start == plain_end:
        return b""
    cstart, cend = segment_span(plain_start, plain_end, plain_size)
    try:
        data = fetch(cstart, cend)
    except ValueError:
        raise _integrity_error(ctx, "stored chunk is shorter than its recorded size") from None
    if len(data) != cend - cstart:
        raise _integrity_error(ctx, "stored chunk is shorter than its recorded size")
    first = plain_start // SEGMENT_SIZE
    plain = b"".join(_open_segments(aead, ctx, VERSION, memoryview(data), first, plain_size))
    skip = plain_start - first * SEGMENT_SIZE
    return plain[skip : skip + (plain_end - plain_start)]


def decrypt_range_into(
    file_key: bytes | AESGCM,
    ctx: ChunkContext,
    plain_size: int,
    plain_start: int,
    data: bytes | bytearray | memoryview,
    out: bytearray | memoryview,
) -> None:
    """Decrypt plaintext ``[plain_start, plain_start + len(out))`` of a chunk straight into
    ``out``, from ``data`` = envelope bytes ``segment_span(plain_start, plain_start +
    len(out), plain_size)`` (exactly: a wrong length is :class:`DecryptionFailed`).

    The zero-copy form of :func:`decrypt_range` for streaming readers: wholly covered segments
    are decrypted by ``AESGCM.decrypt_into`` at their place in ``out`` (no per-segment output
    objects, no join), only a range's partial first / last segment goes through a 64 KiB
    scratch buffer. ``file_key`` may be an ``AESGCM`` already built for the key (a reader
    decrypting many pieces builds it once).

    Same authentication as :func:`decrypt_range`; on :class:`DecryptionFailed` ``out`` has been
    zeroed (a segment that fails its tag may have been written before the check), so no
    unauthenticated byte is ever left behind. ``ValueError`` for a range outside the chunk.
    """
    plain_end = plain_start + len(out)
    if not 0 <= plain_start <= plain_end <= plain_size:
        raise ValueError("plaintext range outside the chunk")
    aead = file_key if isinstance(file_key, AESGCM) else _cipher(file_key)
    if plain_start == plain_end:
        return
    cstart, cend = segment_span(plain_start, plain_end, plain_size)
    if len(data) != cend - cstart:
        raise _integrity_error(ctx, "stored chunk is shorter than its recorded size")
    count = segment_count(plain_size)
    src = memoryview(data)
    dst = memoryview(out)
    index = plain_start // SEGMENT_SIZE
    offset = 0  # in src
    seg_start = index * SEGMENT_SIZE  # plaintext offset of segment ``index`` in the chunk
    scratch: bytearray | None = None
    try:
        while seg_start < plain_end:
            length = segment_plain_length(plain_size, index)
            segment = src[offset : offset + length + SEGMENT_OVERHEAD]
            aad = _aad(VERSION, ctx, index, index == count - 1)
            lo = max(plain_start, seg_start)
            hi = min(plain_end, seg_start + length)
            nonce, body = segment[:NONCE_SIZE], segment[NONCE_SIZE:]
            if lo == seg_start and hi == seg_start + length:
                aead.decrypt_into(nonce, body, aad, dst[lo - plain_start : hi - plain_start])
            else:
                if scratch is None:
                    scratch = bytearray(SEGMENT_SIZE)
                view = memoryview(scratch)[:length]
                aead.decrypt_into(nonce, body, aad, view)
                dst[lo - plain_start : hi - plain_start] = view[lo - seg_start : hi - seg_start]
            offset += length + SEGMENT_OVERHEAD
            seg_start += length
            index += 1
    except InvalidTag:
        dst[:] = bytes(len(dst))
        raise _integrity_error(ctx, "authentication failed") from None

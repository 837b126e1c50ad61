"""Segment arithmetic of the chunk envelope: sizes and the byte spans a range read needs.

A chunk envelope (see ``docs/drive-format.md``) is a 5-byte header followed by segments. Every
segment holds ``SEGMENT_SIZE`` plaintext bytes except the last, which holds 0..``SEGMENT_SIZE``;
an empty chunk still has one (empty) segment so that even it is authenticated. Each segment is
stored as ``nonce (12) || ciphertext || tag (16)``.

Everything here is pure integer arithmetic, shared by the encoder, the decoder and callers that
plan range reads. Sizes that no encoder can produce raise
:class:`~cordvault.crypto.errors.DecryptionFailed` (the stored object is not what we wrote);
negative sizes or inverted ranges are caller bugs and raise ``ValueError``.
"""

from __future__ import annotations

from cordvault.crypto.errors import DecryptionFailed

SEGMENT_SIZE = 64 * 1024
"""Plaintext bytes per segment (the last segment of a chunk may be shorter)."""
MAGIC = b"CVCK"
"""First bytes of every chunk envelope."""
HEADER_SIZE = len(MAGIC) + 1
"""Magic + one version byte."""
NONCE_SIZE = 12
TAG_SIZE = 16
SEGMENT_OVERHEAD = NONCE_SIZE + TAG_SIZE
"""Ciphertext bytes a segment adds to its plaintext."""
_FULL = SEGMENT_SIZE + SEGMENT_OVERHEAD


def segment_count(plaintext_size: int) -> int:
    """Number of segments a chunk of ``plaintext_size`` bytes is encrypted into (at least 1)."""
    if plaintext_size < 0:
        raise ValueError("plaintext size must be >= 0")
    return max(1, -(-plaintext_size // SEGMENT_SIZE))


def segment_plain_length(plaintext_size: int, index: int) -> int:
    """Plaintext bytes held by segment ``index`` of a chunk of ``plaintext_size`` bytes."""
    count = segment_count(plaintext_size)
    if not 0 <= index < count:
        raise ValueError("segment index out of range")
    if index < count - 1:
        return SEGMENT_SIZE
    return plaintext_size - index * SEGMENT_SIZE


def ciphertext_size(plaintext_size: int) -> int:
    """Size of the envelope that encrypts ``plaintext_size`` bytes."""
    return HEADER_SIZE + segment_count(plaintext_size) * SEGMENT_OVERHEAD + plaintext_size


def plaintext_size(ciphertext_size: int) -> int:
    """Inverse of :func:`ciphertext_size`.

    Raises :class:`~cordvault.crypto.errors.DecryptionFailed` for a size no envelope can have
    (truncated or extended by a partial segment, or a trailing empty segment the encoder never
    writes).
    """
    if ciphertext_size < 0:
        raise ValueError("ciphertext size must be >= 0")
    body = ciphertext_size - HEADER_SIZE
    full, rest = divmod(body, _FULL)
    if body >= SEGMENT_OVERHEAD:
        if rest == 0:
            return full * SEGMENT_SIZE
        # A trailing segment of 0 plaintext bytes only exists in the empty chunk.
        if rest > SEGMENT_OVERHEAD or (rest == SEGMENT_OVERHEAD and full == 0):
            return full * SEGMENT_SIZE + rest - SEGMENT_OVERHEAD
    raise DecryptionFailed(
        "chunk envelope has an impossible size (truncated or extended)",
        details={"size": ciphertext_size},
    )


def segment_span(
    plain_start: int, plain_end: int, plain_size: int | None = None
) -> tuple[int, int]:
    """Ciphertext byte range ``[cstart, cend)`` of the envelope covering plaintext
    ``[plain_start, plain_end)``: whole segments, nonces and tags included, header excluded.

    Without ``plain_size`` the span assumes the last touched segment is full, so ``cend`` may
    lie past the end of a chunk whose last segment is short; pass ``plain_size`` (the chunk's
    plaintext size) to get the exact span. An empty range gives an empty span at the segment
    that would hold ``plain_start``. Raises ``ValueError`` for negative or inverted ranges and
    for ranges past ``plain_size``.
    """
    if plain_start < 0 or plain_end < plain_start:
        raise ValueError("invalid plaintext range")
    if plain_size is not None and plain_end > plain_size:
        raise ValueError("plaintext range past the end of the chunk")
    first = plain_start // SEGMENT_SIZE
    cstart = HEADER_SIZE + first * _FULL
    if plain_end == plain_start:
        return cstart, cstart
    last = (plain_end - 1) // SEGMENT_SIZE
    cend = HEADER_SIZE + (last + 1) * _FULL
    if plain_size is not None:
        cend = min(cend, ciphertext_size(plain_size))
    return cstart, cend

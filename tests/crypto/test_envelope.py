"""The chunk envelope: golden vectors, round trips, every tampering case, range reads.

Failures are :class:`~cordvault.crypto.DecryptionFailed`; each is also checked to translate to
``INTEGRITY_ERROR``, the code the drive reports (:func:`cordvault.drive.keys.crypto_error`).
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cordvault.core.errors import ErrorCode
from cordvault.crypto import (
    SEGMENT_OVERHEAD,
    SEGMENT_SIZE,
    ChunkContext,
    DecryptionFailed,
    ciphertext_size,
    decrypt_chunk,
    decrypt_range,
    encrypt_chunk,
    new_file_key,
    plaintext_size,
    segment_count,
    segment_span,
)
from cordvault.crypto.envelope import _encrypt
from cordvault.drive.keys import crypto_error

VECTORS = json.loads((Path(__file__).parent / "vectors" / "chunk_v1.json").read_text())
S = SEGMENT_SIZE
SEG = S + SEGMENT_OVERHEAD
KEY = bytes(range(32))
CTX = ChunkContext("file-a-7f3c", 2, is_last=False, content_version=3)


def _vector_plaintext(case: dict[str, object]) -> bytes:
    if "plaintext" in case:
        return bytes.fromhex(str(case["plaintext"]))
    n = int(str(case["plaintext_pattern_length"]))
    return bytes(i % 256 for i in range(n))


def _vector_ctx(case: dict[str, object]) -> ChunkContext:
    return ChunkContext(
        str(case["file_id"]),
        int(str(case["chunk_index"])),
        bool(case["is_last"]),
        int(str(case["content_version"])),
    )


def _fixed_nonces(hexes: list[str]) -> Callable[[int], bytes]:
    it: Iterator[bytes] = (bytes.fromhex(h) for h in hexes)
    return lambda n: next(it)


def _envelope_matches(case: dict[str, object], envelope: bytes) -> None:
    if "envelope" in case:
        assert envelope.hex() == case["envelope"]
    else:
        assert len(envelope) == case["envelope_size"]
        assert hashlib.sha256(envelope).hexdigest() == case["envelope_sha256"]
        assert envelope.startswith(bytes.fromhex(str(case["envelope_head"])))
        assert envelope.endswith(bytes.fromhex(str(case["envelope_tail"])))


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: c["name"])
def test_golden_vector_encrypts_to_exact_bytes(case: dict[str, object]) -> None:
    plain = _vector_plaintext(case)
    nonces = _fixed_nonces(list(case["nonces"]))  # type: ignore[call-overload]
    key = bytes.fromhex(str(case["file_key"]))
    envelope = _encrypt(key, _vector_ctx(case), plain, nonces)
    _envelope_matches(case, envelope)
    assert decrypt_chunk(key, _vector_ctx(case), envelope) == plain


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: c["name"])
def test_golden_vector_follows_the_written_layout(case: dict[str, object]) -> None:
    """Rebuild each vector straight from docs/drive-format.md with bare AES-GCM, so the code
    and the written spec cannot drift apart."""
    plain = _vector_plaintext(case)
    key = bytes.fromhex(str(case["file_key"]))
    file_id = str(case["file_id"]).encode()
    nonces = [bytes.fromhex(h) for h in case["nonces"]]  # type: ignore[attr-defined]
    out = b"CVCK\x01"
    for i, nonce in enumerate(nonces):
        last = i == len(nonces) - 1
        flags = (1 if last else 0) | (2 if case["is_last"] else 0)
        aad = b"CVCK\x01" + struct.pack(
            ">QQQBH",
            int(str(case["content_version"])),
            int(str(case["chunk_index"])),
            i,
            flags,
            len(file_id),
        )
        out += nonce + AESGCM(key).encrypt(nonce, plain[i * S : (i + 1) * S], aad + file_id)
    _envelope_matches(case, out)


@pytest.mark.parametrize("size", [0, 1, S - 1, S, S + 1, 2 * S, 3 * S + 17])
def test_round_trip_at_segment_boundaries(size: int) -> None:
    key = new_file_key()
    plain = os.urandom(size)
    envelope = encrypt_chunk(key, CTX, plain)
    assert len(envelope) == ciphertext_size(size)
    assert plaintext_size(len(envelope)) == size
    assert segment_count(size) == max(1, -(-size // S))
    assert decrypt_chunk(key, CTX, envelope) == plain


@settings(
    max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    size=st.integers(0, 5 * S),
    chunk_index=st.integers(0, 2**64 - 1),
    is_last=st.booleans(),
    file_id=st.text(min_size=1, max_size=40),
)
def test_round_trip_property(size: int, chunk_index: int, is_last: bool, file_id: str) -> None:
    key = new_file_key()
    ctx = ChunkContext(file_id, chunk_index, is_last)
    plain = os.urandom(size)
    assert decrypt_chunk(key, ctx, encrypt_chunk(key, ctx, plain)) == plain


def test_nonces_are_fresh_per_segment_and_per_call() -> None:
    key = new_file_key()
    plain = bytes(3 * S)
    a, b = encrypt_chunk(key, CTX, plain), encrypt_chunk(key, CTX, plain)
    nonces = [env[5 + i * SEG : 5 + i * SEG + 12] for env in (a, b) for i in range(3)]
    assert len(set(nonces)) == 6
    assert a != b


def test_ciphertext_reveals_nothing_but_length() -> None:
    key = new_file_key()
    envelope = encrypt_chunk(key, CTX, b"A" * 1000)
    assert b"AAAA" not in envelope
    assert CTX.file_id.encode() not in envelope


@pytest.mark.parametrize("bad", [0, 4, 5, 5 + 27, 5 + SEG + 1, 5 + SEG + 28, 5 + SEG + 27])
def test_impossible_sizes_are_integrity_errors(bad: int) -> None:
    with pytest.raises(DecryptionFailed) as err:
        plaintext_size(bad)
    assert crypto_error(err.value).code == ErrorCode.INTEGRITY_ERROR


def _expect_integrity(key: bytes, ctx: ChunkContext, envelope: bytes) -> None:
    with pytest.raises(DecryptionFailed) as err:
        decrypt_chunk(key, ctx, envelope)
    assert crypto_error(err.value).code == ErrorCode.INTEGRITY_ERROR
    # the message names the position only, never the file id
    assert err.value.message.startswith(f"chunk {ctx.chunk_index} failed integrity check: ")
    assert len(ctx.file_id) < 4 or ctx.file_id not in err.value.message


@pytest.fixture(scope="module")
def three_segments() -> tuple[bytes, bytes, bytes]:
    key = new_file_key()
    plain = os.urandom(2 * S + 100)
    return key, plain, encrypt_chunk(key, CTX, plain)


def test_every_single_bit_flip_region_is_detected(three_segments: tuple[bytes, ...]) -> None:
    key, _, envelope = three_segments
    # header, a nonce, ciphertext, a tag, in the first, middle and last segment
    for pos in [0, 3, 4, 5, 16, 17, 1000, 5 + SEG - 1, 5 + SEG + 40, len(envelope) - 1]:
        broken = bytearray(envelope)
        broken[pos] ^= 0x01
        _expect_integrity(key, CTX, bytes(broken))


def test_unknown_version_is_rejected(three_segments: tuple[bytes, ...]) -> None:
    key, _, envelope = three_segments
    with pytest.raises(DecryptionFailed, match="unsupported envelope version 2"):
        decrypt_chunk(key, CTX, envelope[:4] + b"\x02" + envelope[5:])


def test_wrong_context_or_key_is_detected(three_segments: tuple[bytes, ...]) -> None:
    key, _, envelope = three_segments
    for other in [
        ChunkContext("file-b", CTX.chunk_index, CTX.is_last, CTX.content_version),
        ChunkContext(CTX.file_id, CTX.chunk_index + 1, CTX.is_last, CTX.content_version),
        ChunkContext(CTX.file_id, CTX.chunk_index, not CTX.is_last, CTX.content_version),
        ChunkContext(CTX.file_id, CTX.chunk_index, CTX.is_last, CTX.content_version + 1),
    ]:
        _expect_integrity(key, other, envelope)
    _expect_integrity(new_file_key(), CTX, envelope)


def test_segment_reorder_swap_truncation_and_extension(three_segments: tuple[bytes, ...]) -> None:
    key, _, envelope = three_segments
    head, s0, s1 = envelope[:5], envelope[5 : 5 + SEG], envelope[5 + SEG : 5 + 2 * SEG]
    s2 = envelope[5 + 2 * SEG :]
    assert head + s0 + s1 + s2 == envelope
    _expect_integrity(key, CTX, head + s1 + s0 + s2)  # reorder within the chunk
    _expect_integrity(key, CTX, head + s0 + s1)  # drop the last segment
    _expect_integrity(key, CTX, head + s0)  # drop two
    _expect_integrity(key, CTX, envelope[:-1])  # shave one byte
    _expect_integrity(key, CTX, envelope + s2)  # repeat the last segment
    _expect_integrity(key, CTX, envelope + b"\x00" * SEGMENT_OVERHEAD)  # append empty segment
    _expect_integrity(key, CTX, head)  # header only


def test_segment_swap_between_chunks_and_files_is_detected() -> None:
    key = new_file_key()
    plain = os.urandom(2 * S)
    ctx0, ctx1 = ChunkContext("f", 0, False), ChunkContext("f", 1, True)
    e0, e1 = encrypt_chunk(key, ctx0, plain), encrypt_chunk(key, ctx1, plain)
    _expect_integrity(key, ctx1, e0)  # whole chunks swapped
    _expect_integrity(key, ctx0, e0[: 5 + SEG] + e1[5 + SEG :])  # segment from another chunk
    other = encrypt_chunk(key, ChunkContext("g", 0, False), plain)
    _expect_integrity(key, ctx0, other)  # same key, other file (keys are per file anyway)


def test_dropping_the_last_chunk_of_a_file_is_detected() -> None:
    """File truncation at a chunk boundary: chunk 0 was written as 'not last'."""
    key = new_file_key()
    e0 = encrypt_chunk(key, ChunkContext("f", 0, False), b"x" * 10)
    _expect_integrity(key, ChunkContext("f", 0, True), e0)


def test_caller_bugs_are_value_errors() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        encrypt_chunk(b"short", CTX, b"")
    with pytest.raises(ValueError, match="file_id"):
        ChunkContext("", 0, True)
    with pytest.raises(ValueError, match="chunk_index"):
        ChunkContext("f", -1, True)
    with pytest.raises(ValueError, match="invalid plaintext range"):
        segment_span(5, 4)


# -- range reads -------------------------------------------------------------------------


def _boundaries(size: int) -> list[int]:
    points = {0, 1, size - 1, size}
    for k in range(1, size // S + 1):
        points.update({k * S - 1, k * S, k * S + 1})
    return sorted(p for p in points if 0 <= p <= size)


@pytest.mark.parametrize("size", [0, 1, S - 1, S, S + 1, 3 * S, 3 * S + 5])
def test_decrypt_range_matches_decrypt_chunk_at_every_boundary(size: int) -> None:
    key = new_file_key()
    plain = os.urandom(size)
    envelope = encrypt_chunk(key, CTX, plain)
    whole = decrypt_chunk(key, CTX, envelope)
    points = _boundaries(size)
    for start in points:
        for end in points:
            if end < start:
                continue
            calls: list[tuple[int, int]] = []

            def fetch(a: int, b: int, calls: list[tuple[int, int]] = calls) -> bytes:
                calls.append((a, b))
                return envelope[a:b]

            got = decrypt_range(key, CTX, size, start, end, fetch)
            assert got == whole[start:end], (start, end)
            if start == end:
                assert calls == []
            else:
                assert calls == [segment_span(start, end, size)]
                first, last = start // S, (end - 1) // S
                a, b = calls[0]
                # exactly the touched segments: no more, no fewer
                assert a == 5 + first * SEG
                assert (last - first) * SEG < b - a <= (last - first + 1) * SEG


def test_segment_span_fetches_whole_segments_only() -> None:
    assert segment_span(0, 1) == (5, 5 + SEG)
    assert segment_span(S - 1, S + 1) == (5, 5 + 2 * SEG)
    assert segment_span(S, 2 * S) == (5 + SEG, 5 + 2 * SEG)
    # with the chunk size known, the short last segment is not over-fetched
    assert segment_span(S, S + 10, S + 10) == (5 + SEG, ciphertext_size(S + 10))
    with pytest.raises(ValueError, match="past the end"):
        segment_span(0, 11, 10)


def test_decrypt_range_detects_tampering_and_short_chunks() -> None:
    key = new_file_key()
    plain = os.urandom(2 * S + 10)
    envelope = encrypt_chunk(key, CTX, plain)
    size = len(plain)
    broken = bytearray(envelope)
    broken[5 + SEG + 30] ^= 0x80
    with pytest.raises(DecryptionFailed) as err:
        decrypt_range(key, CTX, size, S + 1, S + 2, lambda a, b: bytes(broken[a:b]))
    assert crypto_error(err.value).code == ErrorCode.INTEGRITY_ERROR
    # the stored chunk is shorter than the metadata says
    with pytest.raises(DecryptionFailed) as err:
        decrypt_range(key, CTX, size, size - 5, size, lambda a, b: envelope[a : b - 1])
    assert crypto_error(err.value).code == ErrorCode.INTEGRITY_ERROR

    def strict(a: int, b: int) -> bytes:
        if b > len(envelope) - 1:
            raise ValueError("range outside the chunk")
        return envelope[a:b]

    with pytest.raises(DecryptionFailed) as err:
        decrypt_range(key, CTX, size, 0, size, strict)
    assert crypto_error(err.value).code == ErrorCode.INTEGRITY_ERROR
    # a lying plain_size: the segment that would be "last" is not flagged last
    with pytest.raises(DecryptionFailed) as err:
        decrypt_range(key, CTX, S, 0, 10, lambda a, b: envelope[a:b])
    assert crypto_error(err.value).code == ErrorCode.INTEGRITY_ERROR
    with pytest.raises(ValueError, match="outside the chunk"):
        decrypt_range(key, CTX, size, 0, size + 1, lambda a, b: envelope[a:b])

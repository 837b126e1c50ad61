"""``decrypt_range_into``: the zero-copy decryption the drive's reader streams with."""

from __future__ import annotations

import os
import random

import pytest

from cordvault.crypto import (
    SEGMENT_SIZE,
    ChunkContext,
    DecryptionFailed,
    decrypt_range,
    decrypt_range_into,
    encrypt_chunk,
    new_file_key,
    segment_span,
)

CTX = ChunkContext("file-into", 3, is_last=True, content_version=2)


@pytest.fixture(scope="module")
def sealed() -> tuple[bytes, bytes, bytes]:
    key = new_file_key()
    plain = os.urandom(5 * SEGMENT_SIZE + 1234)
    return key, plain, encrypt_chunk(key, CTX, plain)


def _into(key: bytes, envelope: bytes, size: int, start: int, end: int) -> bytearray:
    cstart, cend = segment_span(start, end, size)
    out = bytearray(end - start)
    decrypt_range_into(key, CTX, size, start, memoryview(envelope)[cstart:cend], out)
    return out


def test_every_kind_of_range_matches_decrypt_range(sealed: tuple[bytes, bytes, bytes]) -> None:
    key, plain, envelope = sealed
    size = len(plain)
    rng = random.Random(15)
    cases = [(0, size), (0, 1), (size - 1, size), (SEGMENT_SIZE, 2 * SEGMENT_SIZE), (7, 7)]
    cases += [(SEGMENT_SIZE - 3, SEGMENT_SIZE + 3), (5 * SEGMENT_SIZE, size)]
    for _ in range(40):
        start = rng.randrange(size)
        cases.append((start, rng.randrange(start, size + 1)))
    for start, end in cases:
        got = _into(key, envelope, size, start, end)
        assert got == plain[start:end], (start, end)

        def fetch(a: int, b: int) -> bytes:
            return envelope[a:b]

        assert got == decrypt_range(key, CTX, size, start, end, fetch)


def test_a_tampered_segment_fails_and_leaves_no_plaintext(
    sealed: tuple[bytes, bytes, bytes],
) -> None:
    key, plain, envelope = sealed
    broken = bytearray(envelope)
    broken[-1] ^= 1  # the last segment's tag
    size = len(plain)
    out = bytearray(size)
    with pytest.raises(DecryptionFailed):
        decrypt_range_into(key, CTX, size, 0, memoryview(broken)[5:], out)
    assert out == bytes(size)  # the segments decrypted before the failure were wiped


def test_wrong_context_short_data_and_bad_ranges(sealed: tuple[bytes, bytes, bytes]) -> None:
    key, plain, envelope = sealed
    size = len(plain)
    other = ChunkContext("file-into", 4, is_last=True, content_version=2)
    with pytest.raises(DecryptionFailed):
        decrypt_range_into(key, other, size, 0, memoryview(envelope)[5:], bytearray(size))
    with pytest.raises(DecryptionFailed):
        decrypt_range_into(key, CTX, size, 0, memoryview(envelope)[5:-1], bytearray(size))
    with pytest.raises(ValueError, match="outside the chunk"):
        decrypt_range_into(key, CTX, size, size, b"", bytearray(1))

"""The Python count of what the Dumpus app stores equals lz-string 1.5.0's (npm) output length.

The golden lengths were printed by ``benchmarks/js/stored_chars.mjs`` (the real library,
``LZString.compressToUTF16(JSON.stringify(Array.from(bytes))).length``) for these inputs;
``benchmarks/insights_client_storage.py --check-port`` compares whole databases too.
"""

from __future__ import annotations

import random

import pytest
from tests.insights.client_storage import json_of_bytes, lzstring_utf16_length, stored_chars


def _sparse() -> bytes:
    """Mostly zeros with runs of a small alphabet, like SQLite pages."""
    r = random.Random(9)
    buf = bytearray(60000)
    for _ in range(900):
        at = r.randrange(0, 59900)
        buf[at : at + 40] = bytes(r.choice(b"0123456789-message_sent") for _ in range(40))
    return bytes(buf)


GOLDEN = [
    ("empty", b"", 3),
    ("one_zero", b"\x00", 4),
    ("random_5000", random.Random(5).randbytes(5000), 3701),
    ("zeros_20000", bytes(20000), 213),
    ("sparse_60000", _sparse(), 12049),
    ("cycle_30000", bytes(i % 251 for i in range(30000)), 10308),
]


@pytest.mark.parametrize(("name", "data", "chars"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_stored_length_matches_the_javascript_library(name: str, data: bytes, chars: int) -> None:
    assert stored_chars(data) == chars, name


def test_json_of_bytes_is_javascripts() -> None:
    assert json_of_bytes(b"") == b"[]"
    assert json_of_bytes(bytes([0, 7, 255])) == b"[0,7,255]"
    assert lzstring_utf16_length(b"") == 2  # compressToUTF16("") is one flushed char + " "

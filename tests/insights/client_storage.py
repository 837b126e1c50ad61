"""What the Dumpus app stores in localStorage for a database, measured exactly.

The app keeps the inflated SQLite as
``LZString.compressToUTF16(JSON.stringify(Array.from(bytes)))`` (lz-string 1.5.0,
``src/utils/convert.ts``) and ``setItem`` throws past the browser's quota: 5 Mi UTF-16
characters in Chromium, Firefox and Android WebViews, ~2.62 M in WebKit.

:func:`stored_chars` is a port of lz-string's ``_compress`` that counts the output instead of
building it: the same LZW dictionary, the same code-width growth (``enlargeIn``/``numBits``),
the same literal codes for first-seen characters, the same end marker and flush. It is checked
against the real npm library by golden vectors in ``test_client_storage.py`` (and on whole
databases by ``benchmarks/insights_client_storage.py``). The dictionary is a trie of integer
codes keyed by ``code << 8 | byte``: the text is ASCII (digits, commas, brackets), so one dict
lookup per character.
"""

from __future__ import annotations

from collections.abc import Iterable

BITS_PER_CHAR = 15  # compressToUTF16 packs 15 bits in each UTF-16 character
WEBKIT_QUOTA = 2_620_000
CHROMIUM_QUOTA = 5 * 1024 * 1024


def json_of_bytes(data: bytes) -> bytes:
    """``JSON.stringify(Array.from(data))`` as ASCII bytes: ``[83,81,76,...]``."""
    return b"[" + b",".join(_DECIMALS[b] for b in data) + b"]"


_DECIMALS = [str(i).encode() for i in range(256)]


def lzstring_utf16_length(text: bytes | Iterable[int]) -> int:
    """``LZString.compressToUTF16(text).length`` for an ASCII ``text`` (its bytes)."""
    children: dict[int, int] = {}  # (code << 8 | char) -> code of that phrase
    singles: dict[int, int] = {}  # char -> code of the one-character phrase
    pending: set[int] = set()  # one-character phrases not yet sent as a literal
    dict_size = 3
    enlarge_in = 2
    num_bits = 2
    bits = 0
    w = -1  # code of the current phrase, -1 when empty
    w_char = -1  # its character when the phrase is one character long, else -1

    for c in text:
        if c not in singles:
            singles[c] = dict_size
            dict_size += 1
            pending.add(c)
        if w < 0:
            w, w_char = singles[c], c
            continue
        nxt = children.get(w << 8 | c)
        if nxt is not None:
            w, w_char = nxt, -1
            continue
        # Emit w.
        if w_char >= 0 and w_char in pending:
            bits += num_bits + 8
            enlarge_in -= 1
            if enlarge_in == 0:
                enlarge_in = 1 << num_bits
                num_bits += 1
            pending.discard(w_char)
        else:
            bits += num_bits
        enlarge_in -= 1
        if enlarge_in == 0:
            enlarge_in = 1 << num_bits
            num_bits += 1
        children[w << 8 | c] = dict_size
        dict_size += 1
        w, w_char = singles[c], c

    if w >= 0:
        if w_char >= 0 and w_char in pending:
            bits += num_bits + 8
            enlarge_in -= 1
            if enlarge_in == 0:
                enlarge_in = 1 << num_bits
                num_bits += 1
        else:
            bits += num_bits
        enlarge_in -= 1
        if enlarge_in == 0:
            enlarge_in = 1 << num_bits
            num_bits += 1
    bits += num_bits  # the end-of-stream code
    # The flush always pushes one more character, then compressToUTF16 appends " ".
    return bits // BITS_PER_CHAR + 1 + 1


def stored_chars(sqlite_bytes: bytes) -> int:
    """How many characters the app's ``localStorage.setItem`` receives for this database."""
    return lzstring_utf16_length(json_of_bytes(sqlite_bytes))

"""File and folder names: validation, normalisation, and clash resolution.

A name is one path component: NFC-normalised Unicode (so "é" typed two ways is one name), at most
255 bytes of UTF-8, without ``/``, ``\\``, NUL or other control characters, not ``.`` or ``..``
and without leading/trailing whitespace. Anything else is ``INVALID_NAME`` (400) with a message
that says which rule failed (never echoing the name: names of other users' files are private).

A listing must show what a name is, so names also refuse (``docs/drive-api.md``):

- Unicode format characters (category Cf): bidi overrides and isolates (U+202A..U+202E,
  U+2066..U+2069, which can make ``gpj.exe`` display as ``exe.jpg``), zero-width spaces and
  joiners used to hide characters (U+200B, U+2060, U+FEFF ...), soft hyphens, tag characters.
  The one exception: ZERO WIDTH NON-JOINER / JOINER (U+200C, U+200D) *between two visible
  characters*, which Persian and Indic scripts and emoji sequences need;
- look-alike slashes (:data:`LOOKALIKE_SLASHES`: division and fraction slashes, fullwidth and
  big solidus, their backslash twins), so a name cannot pretend to be a path;
- invisible fillers (Hangul fillers, the blank Braille pattern ...) at either end, like
  whitespace, and names without one visible character (only fillers or combining marks).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from enum import StrEnum

from cordvault.core.errors import CordvaultError, ErrorCode

MAX_NAME_BYTES = 255

LOOKALIKE_SLASHES = frozenset(
    "\u2044"  # FRACTION SLASH
    "\u2215"  # DIVISION SLASH
    "\u2571"  # BOX DRAWINGS LIGHT DIAGONAL UPPER RIGHT TO LOWER LEFT
    "\u29f8"  # BIG SOLIDUS
    "\ufe68"  # SMALL REVERSE SOLIDUS
    "\uff0f"  # FULLWIDTH SOLIDUS
    "\uff3c"  # FULLWIDTH REVERSE SOLIDUS
    "\u2216"  # SET MINUS
    "\u29f5"  # REVERSE SOLIDUS OPERATOR
    "\u29f9"  # BIG REVERSE SOLIDUS
)
"""Characters drawn like ``/`` or ``\\``: refused, so a name never reads as a path."""

# Drawn as nothing though neither whitespace nor format characters.
_BLANKS = frozenset(
    "\u034f"  # COMBINING GRAPHEME JOINER
    "\u115f\u1160\u3164\uffa0"  # Hangul fillers
    "\u17b4\u17b5"  # Khmer inherent vowels
    "\u2800"  # BRAILLE PATTERN BLANK
)
_JOINERS = frozenset("\u200c\u200d")  # ZWNJ, ZWJ: allowed between visible characters


class OnConflict(StrEnum):
    """What to do when a name is already taken in the target folder."""

    FAIL = "fail"
    """Refuse with ``NAME_CONFLICT`` (409)."""
    SKIP = "skip"
    """Leave the existing entry; the new one is not created/moved."""
    OVERWRITE = "overwrite"
    """Replace the existing file (files only; folders are merged instead)."""
    RENAME = "rename"
    """Pick the first free ``name (n).ext``."""


def _invalid(reason: str) -> CordvaultError:
    return CordvaultError(ErrorCode.INVALID_NAME, f"invalid name: {reason}")


def validate_name(name: str) -> str:
    """Return the normalised name or raise ``INVALID_NAME``."""
    if not isinstance(name, str):
        raise _invalid("not a string")
    name = unicodedata.normalize("NFC", name)
    if not name:
        raise _invalid("empty")
    if name in (".", ".."):
        raise _invalid("'.' and '..' are reserved")
    if "/" in name or "\\" in name:
        raise _invalid("contains a path separator")
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise _invalid("contains a control character (NUL, newline ...)")
    if any(ch in LOOKALIKE_SLASHES for ch in name):
        raise _invalid("contains a character that looks like a path separator")
    if _has_format_character(name):
        raise _invalid("contains an invisible format character (bidi override, zero-width ...)")
    if name != name.strip() or _is_blank(name[0]) or _is_blank(name[-1]):
        raise _invalid("leading or trailing whitespace (or invisible filler)")
    if not any(_is_visible(ch) for ch in name):
        raise _invalid("no visible character")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise _invalid(f"longer than {MAX_NAME_BYTES} bytes")
    return name


def _is_blank(ch: str) -> bool:
    return ch.isspace() or ch in _BLANKS


def _is_visible(ch: str) -> bool:
    return not _is_blank(ch) and unicodedata.category(ch) not in ("Cf", "Mn", "Me")


def _has_format_character(name: str) -> bool:
    for i, ch in enumerate(name):
        if unicodedata.category(ch) != "Cf":
            continue
        if ch in _JOINERS and 0 < i < len(name) - 1:
            before, after = name[i - 1], name[i + 1]
            # Marks and variation selectors (emoji presentation) may sit before a joiner.
            if (
                not _is_blank(before)
                and unicodedata.category(before) != "Cf"
                and _is_visible(after)
            ):
                continue
        return True
    return False


def split_path(path: str) -> list[str]:
    """Split an absolute or relative drive path into validated components ('' -> root)."""
    return [validate_name(part) for part in path.strip().split("/") if part != ""]


def candidate_names(name: str) -> Callable[[int], str]:
    """``n -> "stem (n).ext"``: the names tried by the ``rename`` policy."""
    dot = name.rfind(".")
    stem, ext = (name[:dot], name[dot:]) if dot > 0 else (name, "")

    def make(n: int) -> str:
        suffix = f" ({n})"
        # Keep the result within the byte limit by trimming the stem, never the extension.
        budget = MAX_NAME_BYTES - len((suffix + ext).encode())
        trimmed = stem.encode()[:budget].decode("utf-8", "ignore")
        return f"{trimmed}{suffix}{ext}"

    return make


MAX_SEARCH_KEY = 255


def search_key(text: str) -> str:
    """The case- and accent-insensitive form of a name (or of a search query) that the search
    index holds: compatibility-decomposed (NFKD, so "ﬁ" is "fi" and "①" is "1"), combining marks
    dropped ("é" -> "e"), case-folded ("ß" -> "ss"), recomposed (NFC). A query is reduced the same
    way, so a substring of the key is a case- and accent-insensitive substring of the name."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", bare.casefold())[:MAX_SEARCH_KEY]

"""File and folder names: validation, normalisation, and clash resolution.

A name is one path component: NFC-normalised Unicode (so "é" typed two ways is one name), at most
255 bytes of UTF-8, without ``/``, ``\\``, NUL or other control characters, not ``.`` or ``..``
and without leading/trailing whitespace. Anything else is ``INVALID_NAME`` (400) with a message
that says which rule failed (never echoing the name: names of other users' files are private).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from enum import StrEnum

from cordvault.core.errors import CordvaultError, ErrorCode

MAX_NAME_BYTES = 255


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
    if name != name.strip():
        raise _invalid("leading or trailing whitespace")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise _invalid(f"longer than {MAX_NAME_BYTES} bytes")
    return name


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

"""A folder tree streamed as a zip archive, without temp files and with bounded memory.

Built on `stream-zip <https://stream-zip.docs.trade.gov.uk/>`_: each member is written with a
data descriptor as its bytes go by, so nothing is buffered; ``ZIP_AUTO`` switches a member (and
the central directory) to Zip64 when its size or offset needs it, so archives over 4 GiB and
members over 4 GiB work. Members are deflated at level 0 by default: drive content is mostly
already compressed (photos, video, archives) and the archive must stream at network speed.

Each entry's content is opened lazily, only when the archive reaches it, and closed right after,
so a long archive holds one file's reader at a time. Error contract:
- an unsafe member path (absolute, ``..``, empty, NUL, backslash) or a duplicate one ->
  ``CordvaultError(INVALID_INPUT)`` before that member's first byte;
- content longer or shorter than the entry's ``size`` -> ``CordvaultError(INTEGRITY_ERROR)``
  (the archive is then cut short, which every unzip tool reports, rather than wrong);
- errors of ``open()`` / its iterator pass through.
"""

from __future__ import annotations

import stat
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from stream_zip import ZIP_64, ZIP_AUTO, stream_zip

from cordvault.core.errors import CordvaultError, ErrorCode

_FILE_MODE = stat.S_IFREG | 0o644
_DIR_MODE = stat.S_IFDIR | 0o755
# DOS timestamps cover 1980..2107; stream-zip also writes the exact Unix time in an extra field.
_EARLIEST = datetime(1980, 1, 1, tzinfo=UTC)
_LATEST = datetime(2107, 12, 31, 23, 59, 58, tzinfo=UTC)
_OUTPUT_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ZipEntry:
    """One archive member. ``path`` uses ``/`` separators; a path ending in ``/`` is a
    directory (``size`` 0, ``open`` never called). ``open()`` returns the content's bytes."""

    path: str
    size: int
    modified: datetime
    open: Callable[[], Iterator[bytes | bytearray]]


def stream_zip_tree(
    entries: Iterable[ZipEntry], *, level: int = 0, force_zip64: bool = False
) -> Iterator[bytes]:
    """The zip archive of ``entries`` (in the given order) as a stream of byte pieces.

    ``level`` is the deflate level (0 = store-like, fastest; 1..9 compress). Zip64 is used
    per member when needed, or for every member with ``force_zip64``. See the module docstring
    for errors.
    """
    if not 0 <= level <= 9:
        raise ValueError("deflate level must be 0..9")
    members = _members(entries, level, force_zip64)
    return iter(
        stream_zip(
            members,
            chunk_size=_OUTPUT_CHUNK,
            get_compressobj=lambda: zlib.compressobj(level=level, wbits=-zlib.MAX_WBITS),
        )
    )


def _members(entries: Iterable[ZipEntry], level: int, force_zip64: bool) -> Iterator[Any]:
    seen: set[str] = set()
    for entry in entries:
        path = _checked_path(entry.path)
        if path in seen:
            raise CordvaultError(ErrorCode.INVALID_INPUT, "two archive members have the same path")
        seen.add(path)
        modified = _clamped(entry.modified)
        if path.endswith("/"):
            method = ZIP_64 if force_zip64 else ZIP_AUTO(0, level=level)
            yield path, modified, _DIR_MODE, method, ()
        else:
            method = ZIP_64 if force_zip64 else ZIP_AUTO(entry.size, level=level)
            yield path, modified, _FILE_MODE, method, _content(entry)


def _checked_path(path: str) -> str:
    parts = path.split("/")
    body = parts[:-1] if path.endswith("/") else parts
    if (
        not path
        or path.startswith("/")
        or "\\" in path
        or "\x00" in path
        or any(part in ("", ".", "..") for part in body)
    ):
        raise CordvaultError(ErrorCode.INVALID_INPUT, "unsafe path for an archive member")
    return path


def _clamped(modified: datetime) -> datetime:
    if modified.tzinfo is None:
        modified = modified.replace(tzinfo=UTC)
    return min(max(modified, _EARLIEST), _LATEST)


def _content(entry: ZipEntry) -> Iterator[bytes | bytearray]:
    """``entry``'s bytes, opened on first use, closed after, checked against ``entry.size``."""
    pieces = entry.open()
    seen = 0
    try:
        for piece in pieces:
            seen += len(piece)
            if seen > entry.size:
                break
            yield piece
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()
    if seen != entry.size:
        raise CordvaultError(
            ErrorCode.INTEGRITY_ERROR,
            "archive member content does not match its recorded size",
            details={"expected": entry.size, "actual": seen},
        )

"""Opening a package zip safely, and reading its entries as bounded streams.

Contract:
- not a zip -> ``NOT_A_ZIP``; a zip whose central directory is missing/truncated or whose data
  fails its CRC -> ``CORRUPT_ZIP``; encrypted entries -> ``CORRUPT_ZIP``;
- zip bombs are refused *before* decompressing: the declared total uncompressed size, any one
  entry's size and any entry's compression ratio are capped (``PACKAGE_TOO_LARGE``). Declared
  sizes cannot be used to lie past the caps: :class:`zipfile.ZipExtFile` never yields more than
  the declared size and verifies the CRC at the end of each entry.
- entry names are only ever used to *find* sections (never as paths on disk); names that are
  absolute or contain ``..`` are ignored.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from cordvault.core.errors import CordvaultError, ErrorCode

READ_BLOCK = 4 * 1024 * 1024
# What reading damaged zip data can raise, whatever the layer that notices.
DATA_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError)
# Ratios are only meaningful for entries of some size: a 2 KB file of spaces is no bomb.
_RATIO_MIN_BYTES = 1024 * 1024


@dataclass(frozen=True)
class PackageLimits:
    """Caps applied to a package before anything is decompressed."""

    max_total_bytes: int = 64 * 1024**3
    max_entry_bytes: int = 16 * 1024**3
    max_ratio: float = 200.0


@dataclass(frozen=True)
class Entry:
    """One usable file of the package."""

    name: str
    size: int
    compressed_size: int


def _safe_name(name: str) -> str | None:
    clean = name.replace("\\", "/")
    if clean.startswith("/") or any(part == ".." for part in clean.split("/")):
        return None
    return clean


def open_zip(path: Path) -> zipfile.ZipFile:
    """Open ``path`` as a zip, translating failures into ``NOT_A_ZIP`` / ``CORRUPT_ZIP``."""
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise CordvaultError(ErrorCode.NOT_FOUND, "the package file cannot be read") from exc
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        if magic in (b"PK\x03\x04", b"PK\x05\x06"):
            raise CordvaultError(
                ErrorCode.CORRUPT_ZIP, "the zip is truncated or damaged (no central directory)"
            ) from exc
        raise CordvaultError(ErrorCode.NOT_A_ZIP, "the file is not a zip archive") from exc
    except DATA_ERRORS as exc:
        raise CordvaultError(ErrorCode.CORRUPT_ZIP, "the zip cannot be read") from exc


def list_entries(zf: zipfile.ZipFile, limits: PackageLimits) -> list[Entry]:
    """Validated entries of ``zf`` (directories and unsafe names dropped); enforces the caps."""
    entries: list[Entry] = []
    total = 0
    for info in zf.infolist():
        if info.is_dir():
            continue
        name = _safe_name(info.filename)
        if name is None:
            continue
        if info.flag_bits & 0x1:
            raise CordvaultError(ErrorCode.CORRUPT_ZIP, "the zip contains encrypted entries")
        if info.file_size > limits.max_entry_bytes:
            raise CordvaultError(
                ErrorCode.PACKAGE_TOO_LARGE,
                "an entry of the package is larger than allowed",
                details={"limit_bytes": limits.max_entry_bytes},
            )
        if info.file_size >= _RATIO_MIN_BYTES and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            raise CordvaultError(
                ErrorCode.PACKAGE_TOO_LARGE,
                "an entry of the package is compressed suspiciously well (zip bomb?)",
                details={"max_ratio": limits.max_ratio},
            )
        total += info.file_size
        if total > limits.max_total_bytes:
            raise CordvaultError(
                ErrorCode.PACKAGE_TOO_LARGE,
                "the package is larger than allowed once uncompressed",
                details={"limit_bytes": limits.max_total_bytes},
            )
        entries.append(Entry(name=name, size=info.file_size, compressed_size=info.compress_size))
    return entries


def _original_name(zf: zipfile.ZipFile, name: str) -> str:
    # list_entries may have normalised backslashes; map back to the stored name.
    if name in zf.NameToInfo:
        return name
    for info in zf.infolist():
        if info.filename.replace("\\", "/") == name:
            return info.filename
    raise KeyError(name)


def open_entry(zf: zipfile.ZipFile, name: str) -> IO[bytes]:
    """Open one entry for streaming reads."""
    try:
        return zf.open(_original_name(zf, name))
    except (KeyError, *DATA_ERRORS) as exc:
        raise CordvaultError(ErrorCode.CORRUPT_ZIP, "a zip entry cannot be read") from exc


def iter_blocks(zf: zipfile.ZipFile, name: str, block: int = READ_BLOCK) -> Iterator[bytes]:
    """Yield an entry's bytes in blocks; CRC/decompression failures -> ``CORRUPT_ZIP``."""
    with open_entry(zf, name) as fh:
        while True:
            try:
                data = fh.read(block)
            except DATA_ERRORS as exc:
                raise CordvaultError(
                    ErrorCode.CORRUPT_ZIP, "a zip entry is damaged (bad CRC or data)"
                ) from exc
            if not data:
                return
            yield data


def read_small(zf: zipfile.ZipFile, name: str, limit: int = 256 * 1024 * 1024) -> bytes:
    """Read a small metadata entry whole (user.json, index.json ...), bounded by ``limit``."""
    try:
        info = zf.getinfo(_original_name(zf, name))
    except KeyError as exc:
        raise CordvaultError(ErrorCode.CORRUPT_ZIP, "a zip entry cannot be found") from exc
    if info.file_size > limit:
        raise CordvaultError(
            ErrorCode.PACKAGE_TOO_LARGE,
            "a metadata file of the package is larger than allowed",
            details={"limit_bytes": limit},
        )
    return b"".join(iter_blocks(zf, name))

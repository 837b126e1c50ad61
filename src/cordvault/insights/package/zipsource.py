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

import io
import struct
import zipfile
import zlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import IO, Any

from cordvault.core.errors import CordvaultError, ErrorCode

_inflate: ModuleType
try:  # ISA-L's inflate is a drop-in for zlib's, about twice as fast.
    from isal import isal_zlib as _inflate
except ImportError:  # pragma: no cover - platforms without isal wheels
    _inflate = zlib

READ_BLOCK = 4 * 1024 * 1024
_RAW_READ = 1024 * 1024
# What reading damaged zip data can raise, whatever the layer that notices.
DATA_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    zlib.error,
    _inflate.error,  # isal's IsalError is not a zlib.error
    OSError,
    EOFError,
    ValueError,
    NotImplementedError,
)
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
        # A damaged central directory can name an entry with nothing ("": ZipInfo.is_dir
        # then raises IndexError): such an entry is unsafe like any other bad name, dropped.
        if not info.filename or info.is_dir():
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


class _EntryStream(io.RawIOBase):
    """A raw, read-only stream over :func:`iter_blocks` (for text/CSV readers)."""

    def __init__(self, blocks: Iterator[bytes]) -> None:
        self._blocks = blocks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while not self._pending:
            try:
                self._pending = next(self._blocks)
            except StopIteration:
                return 0
        size: int = min(len(view), len(self._pending))
        view[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def open_entry(zf: zipfile.ZipFile, name: str) -> IO[bytes]:
    """Open one entry for streaming reads (same checks as :func:`iter_blocks`)."""
    return io.BufferedReader(_EntryStream(iter_blocks(zf, name)), READ_BLOCK)


def iter_blocks(
    zf: zipfile.ZipFile, name: str, block: int = READ_BLOCK
) -> Generator[bytes, None, None]:
    """Yield an entry's bytes in blocks of at most ``block``.

    Deflated entries are inflated with ISA-L (``isal``, about twice zlib's speed; zlib when
    it is unavailable) straight from the entry's raw bytes: never more output than one block
    per call, never more than the declared size, and the CRC-32 and size are checked at the
    end. Damaged data -> ``CORRUPT_ZIP``. Other compression methods go through
    :mod:`zipfile`.
    """
    try:
        info = zf.getinfo(_original_name(zf, name))
    except KeyError as exc:
        raise CordvaultError(ErrorCode.CORRUPT_ZIP, "a zip entry cannot be found") from exc
    try:
        if info.compress_type == zipfile.ZIP_DEFLATED and zf.filename is not None:
            yield from _inflate_entry(Path(zf.filename), info, block)
        else:
            yield from _zipfile_blocks(zf, info, block)
    except DATA_ERRORS as exc:
        raise CordvaultError(
            ErrorCode.CORRUPT_ZIP, "a zip entry is damaged (bad CRC or data)"
        ) from exc


def _zipfile_blocks(zf: zipfile.ZipFile, info: zipfile.ZipInfo, block: int) -> Iterator[bytes]:
    with zf.open(info) as fh:
        while data := fh.read(block):
            yield data


def _data_offset(fh: IO[bytes], info: zipfile.ZipInfo) -> int:
    """Where an entry's compressed bytes start (after its local header)."""
    fh.seek(info.header_offset)
    header = fh.read(30)
    if len(header) != 30 or header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile("bad local file header")
    name_len: int
    extra_len: int
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    offset: int = info.header_offset
    return offset + 30 + name_len + extra_len


def _inflate_entry(path: Path, info: zipfile.ZipInfo, block: int) -> Iterator[bytes]:
    with path.open("rb") as fh:
        fh.seek(_data_offset(fh, info))
        inflater = _inflate.decompressobj(-15)
        remaining_in = info.compress_size
        produced = 0
        crc = 0
        tail = b""
        while True:
            if not tail:
                if remaining_in <= 0:
                    break
                tail = fh.read(min(_RAW_READ, remaining_in))
                if not tail:
                    raise EOFError("zip entry data is truncated")
                remaining_in -= len(tail)
            out = inflater.decompress(tail, block)
            tail = inflater.unconsumed_tail
            if out:
                produced += len(out)
                if produced > info.file_size:
                    raise zipfile.BadZipFile("entry inflates past its declared size")
                crc = _inflate.crc32(out, crc)
                yield out
            elif not tail and inflater.eof:
                break
        rest = inflater.flush()
        if rest:
            produced += len(rest)
            crc = _inflate.crc32(rest, crc)
            if produced > info.file_size:
                raise zipfile.BadZipFile("entry inflates past its declared size")
            yield rest
    if produced != info.file_size or crc != info.CRC:
        raise zipfile.BadZipFile("bad CRC-32 or size")


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

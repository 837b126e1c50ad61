"""Catalog records on the chunk store: tagged names, encrypted heads and parts, the body.

Format version 1 (the contract is ``docs/drive-format.md``, "Catalog records"; golden vector
``tests/drive/vectors/catalog_v1.json``). A *record* is a snapshot (every catalog row) or a
journal entry (the rows changed since the previous record of the same epoch). It is stored as

- one **head**, stored with ``put_named`` under a *tagged name*: 32 hex characters =
  ``nonce (8 random bytes) || HMAC-SHA256(name_key, "CVCT" || nonce)[:8]``. Without the key
  the name is as random as any chunk's; with it, a scan of the backend recognises heads
  without downloading anything;
- zero or more **parts** (plain ``put``, random names) when the body is too large to be
  inlined in the head.

Every object is a chunk envelope (:mod:`cordvault.crypto.envelope`) under ``record_key``:
the head's context is ``file_id = "cvcat-head:" + name`` (a head cannot be renamed), a part's
``file_id = "cvcat-part:<epoch>:<seq>:<kind>"`` with its index and the last-part flag (parts
cannot move between records, be reordered or dropped). Keys are subkeys of the *current*
master key: ``name_key = derive_key("drive-catalog-name")``, ``record_key =
derive_key("drive-catalog-record")``.

Head plaintext: ``"CVCT" || 0x01 || u32 len(header) || header JSON || inline body``. The body
(inline, or the parts' plaintexts concatenated) is gzip of JSON lines, checked against the
header's ``body_size`` and ``body_sha256`` after decompression-independent reassembly.
Anything that does not authenticate or parse is :class:`CatalogDamaged`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import IO, Any

import orjson

from cordvault.crypto import ChunkContext, DecryptionFailed, MasterKeyring
from cordvault.crypto import decrypt_chunk as _decrypt
from cordvault.crypto import encrypt_chunk as _encrypt
from cordvault.storage.base import ChunkStore, NamedChunkStore, StorageError

MAGIC = b"CVCT"
FORMAT_VERSION = 1
KINDS = ("snapshot", "journal")
_LEN = struct.Struct(">I")
_NONCE = 8
_TAG = 8
MAX_PART = 4 * 1024 * 1024
MAX_INLINE = 256 * 1024


class CatalogDamaged(Exception):
    """A record that does not authenticate, is incomplete or does not parse."""


class CatalogKeys:
    """The two catalog subkeys of a keyring's current master key. Holds secrets."""

    __slots__ = ("_name", "record")

    def __init__(self, keyring: MasterKeyring) -> None:
        self._name = keyring.derive_key("drive-catalog-name")
        self.record = keyring.derive_key("drive-catalog-record")

    def _tag(self, nonce: bytes) -> bytes:
        return hmac.new(self._name, MAGIC + nonce, hashlib.sha256).digest()[:_TAG]

    def new_name(self, nonce: bytes | None = None) -> str:
        """A fresh tagged name (``nonce``: 8 bytes, for golden vectors only)."""
        nonce = nonce if nonce is not None else os.urandom(_NONCE)
        return (nonce + self._tag(nonce)).hex()

    def is_head_name(self, name: str) -> bool:
        """True when ``name`` was made by :meth:`new_name` with these keys."""
        try:
            raw = bytes.fromhex(name)
        except ValueError:
            return False
        if len(raw) != _NONCE + _TAG:
            return False
        return hmac.compare_digest(raw[_NONCE:], self._tag(raw[:_NONCE]))

    def __repr__(self) -> str:
        return "<CatalogKeys>"


@dataclass
class Header:
    """A record's header (JSON in the head)."""

    kind: str
    epoch: str
    seq: int
    created_at: str
    schema: list[str]
    body_size: int
    body_sha256: str
    parts: list[str] = field(default_factory=list)
    format: int = FORMAT_VERSION

    @property
    def record_id(self) -> str:
        return f"{self.epoch}:{self.seq}:{self.kind}"

    @classmethod
    def parse(cls, data: bytes) -> Header:
        try:
            raw = orjson.loads(data)
            header = cls(**raw)
        except (orjson.JSONDecodeError, TypeError) as exc:
            raise CatalogDamaged("malformed record header") from exc
        if header.format != FORMAT_VERSION or header.kind not in KINDS or header.seq < 0:
            raise CatalogDamaged(f"unsupported record (format {header.format})")
        return header


def _head_context(name: str) -> ChunkContext:
    return ChunkContext(file_id="cvcat-head:" + name, chunk_index=0, is_last=True)


def _part_context(record_id: str, index: int, last: bool) -> ChunkContext:
    return ChunkContext(file_id="cvcat-part:" + record_id, chunk_index=index, is_last=last)


# -- the body ---------------------------------------------------------------------------------


class BodyWriter:
    """Gzip'd JSON lines spooled to a temporary file (in memory up to 1 MiB)."""

    def __init__(self) -> None:
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)  # noqa: SIM115
        self._zip = zlib.compressobj(6, zlib.DEFLATED, 31)
        self._sha = hashlib.sha256()
        self.size = 0
        self.lines = 0

    def _write(self, data: bytes) -> None:
        if data:
            self.file.write(data)
            self._sha.update(data)
            self.size += len(data)

    def line(self, item: Any) -> None:
        self._write(self._zip.compress(orjson.dumps(item) + b"\n"))
        self.lines += 1

    def table(self, name: str, columns: list[str], key: list[str]) -> None:
        self.line({"table": name, "columns": columns, "key": key})

    def finish(self) -> str:
        """Flush the compressor; returns the body's SHA-256 (hex) and rewinds the file."""
        self._write(self._zip.flush())
        self.file.seek(0)
        return self._sha.hexdigest()

    def close(self) -> None:
        self.file.close()


def parse_body(body: bytes) -> Iterator[Any]:
    """The JSON lines of a body (``CatalogDamaged`` if it does not decompress or parse)."""
    unzip = zlib.decompressobj(31)
    pending = b""
    try:
        for start in range(0, len(body), 1024 * 1024):
            pending += unzip.decompress(body[start : start + 1024 * 1024])
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield orjson.loads(line)
        pending += unzip.flush()
        if not unzip.eof or pending.strip():
            raise CatalogDamaged("record body is truncated")
    except (zlib.error, orjson.JSONDecodeError) as exc:
        raise CatalogDamaged("record body does not parse") from exc


# -- storing and loading records -------------------------------------------------------------


def part_size(store: ChunkStore) -> int:
    """Plaintext bytes per part: well inside the store's largest chunk."""
    return max(64 * 1024, min(MAX_PART, store.capabilities.max_chunk_size // 2))


def store_record(
    store: NamedChunkStore,
    keys: CatalogKeys,
    header: Header,
    body: BodyWriter,
    on_stored: Callable[[str, str], None],
) -> str:
    """Store ``body`` (finished) as parts or inline, then the head; returns the head's
    locator. ``on_stored(role, locator)`` runs after each object is stored (the writer
    records it for retention) - parts first, the head last, so a record is findable only once
    complete."""
    header.body_sha256 = body.finish()
    header.body_size = body.size
    size = part_size(store)
    inline = b""
    if body.size <= min(MAX_INLINE, size):
        inline = body.file.read()
    else:
        count = -(-body.size // size)
        for index in range(count):
            piece = body.file.read(size)
            sealed = _encrypt(
                keys.record, _part_context(header.record_id, index, index == count - 1), piece
            )
            locator = store.put(sealed)
            on_stored("part", locator)
            header.parts.append(locator)
    header_json = orjson.dumps(asdict(header))
    plain = MAGIC + bytes([FORMAT_VERSION]) + _LEN.pack(len(header_json)) + header_json + inline
    name = keys.new_name()
    locator = store.put_named(_encrypt(keys.record, _head_context(name), plain), name)
    on_stored("head", locator)
    return locator


def open_head(keys: CatalogKeys, name: str, sealed: bytes | bytearray) -> tuple[Header, bytes]:
    """Authenticate and split a head: its header and inline body."""
    try:
        plain = _decrypt(keys.record, _head_context(name), sealed)
    except DecryptionFailed as exc:
        raise CatalogDamaged("record head does not authenticate") from exc
    fixed = len(MAGIC) + 1 + _LEN.size
    if len(plain) < fixed or plain[: len(MAGIC)] != MAGIC:
        raise CatalogDamaged("not a catalog record")
    if plain[len(MAGIC)] != FORMAT_VERSION:
        raise CatalogDamaged(f"unsupported record format {plain[len(MAGIC)]}")
    (length,) = _LEN.unpack_from(plain, len(MAGIC) + 1)
    header = Header.parse(plain[fixed : fixed + length])
    return header, plain[fixed + length :]


def read_body(store: ChunkStore, keys: CatalogKeys, header: Header, inline: bytes) -> bytes:
    """The record's whole body, authenticated part by part and checked against the header."""
    if header.parts:
        pieces = []
        count = len(header.parts)
        for index, locator in enumerate(header.parts):
            context = _part_context(header.record_id, index, index == count - 1)
            try:
                pieces.append(_decrypt(keys.record, context, store.get(locator)))
            except DecryptionFailed as exc:
                raise CatalogDamaged(f"part {index} does not authenticate") from exc
            except StorageError as exc:
                raise CatalogDamaged(f"part {index} cannot be read ({exc.code})") from exc
        body = b"".join(pieces)
    else:
        body = inline
    if len(body) != header.body_size or hashlib.sha256(body).hexdigest() != header.body_sha256:
        raise CatalogDamaged("record body is incomplete")
    return body

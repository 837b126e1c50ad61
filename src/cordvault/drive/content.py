"""The one place the drive's services meet crypto and the chunk streaming code.

A *content* is the encrypted chunk sequence of one upload, identified by ``content_id``: that
id is what the chunk AEAD and the file-key wrapping bind to, so chunks cannot be moved between
files. Each content is written once, so its crypto ``content_version`` is always
:data:`CRYPTO_VERSION`; the file's own ``content_version`` counts replacements for validators
and links.
"""

from __future__ import annotations

import mimetypes
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from cordvault.crypto import CryptoError, new_file_key, unwrap_file_key, wrap_file_key
from cordvault.drive.context import DriveContext
from cordvault.drive.keys import crypto_error
from cordvault.drive.models import Chunk
from cordvault.drive.streaming import ChunkReader, ChunkRef, ChunkWriter

CRYPTO_VERSION = 1
DEFAULT_MIME = "application/octet-stream"


@dataclass(frozen=True)
class NewContent:
    content_id: str
    file_key: bytes
    wrapped_key: bytes

    def __repr__(self) -> str:
        return f"NewContent({self.content_id})"


def new_content(ctx: DriveContext) -> NewContent:
    """A fresh content id and file key (wrapped by the current master key)."""
    content_id = uuid.uuid4().hex
    key = new_file_key()
    return NewContent(content_id, key, wrap_file_key(ctx.keyring, key, content_id))


def file_key(ctx: DriveContext, content_id: str, wrapped: bytes) -> bytes:
    """Unwrap a content's key (``INTEGRITY_ERROR`` if it fails: tampered, bound to another
    content or wrapped by a master key that is not configured)."""
    try:
        return unwrap_file_key(ctx.keyring, wrapped, content_id)
    except CryptoError as exc:
        raise crypto_error(exc) from None


def writer(ctx: DriveContext, content_id: str, key: bytes, chunk_size: int) -> ChunkWriter:
    return ChunkWriter(ctx.store, key, content_id, CRYPTO_VERSION, chunk_size, parallel=4)


def refs(rows: Sequence[Chunk]) -> list[ChunkRef]:
    """Chunk rows (ordered by index) as the reader's references."""
    last = len(rows) - 1
    return [ChunkRef(r.locator, r.idx, r.plain_size, i == last) for i, r in enumerate(rows)]


def reader(
    ctx: DriveContext, content_id: str, wrapped: bytes, rows: Sequence[Chunk], *, prefetch: int = 2
) -> ChunkReader:
    key = file_key(ctx, content_id, wrapped)
    return ChunkReader(
        ctx.store,
        key,
        content_id,
        CRYPTO_VERSION,
        refs(rows),
        prefetch=prefetch,
        budget=ctx.download_budget,
    )


def guess_mime(name: str, declared: str | None = None) -> str:
    """The declared MIME type if it looks like one, else a guess from the name."""
    if declared and "/" in declared and len(declared) <= 255 and declared.isprintable():
        return declared.strip().lower()
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or DEFAULT_MIME

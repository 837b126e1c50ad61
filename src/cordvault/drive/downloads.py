"""Reading file content: single files (for Range responses) and folder trees (for zips).

:func:`prepare` loads everything a response needs while the request's DB session is open, so the
stream itself touches only the chunk store: ``open_range(start, end)`` builds a prefetching
decrypting :class:`~cordvault.drive.streaming.ChunkReader` per range and closes it when the
iterator is closed. Integrity failures surface as ``INTEGRITY_ERROR`` before any wrong byte.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive import access, content
from cordvault.drive import repository as repo
from cordvault.drive.access import Access
from cordvault.drive.auth import Actor
from cordvault.drive.context import DriveContext
from cordvault.drive.files import get_file
from cordvault.drive.folders import get_folder, subtree_levels
from cordvault.drive.models import DriveFile
from cordvault.drive.streaming import ChunkReader, ChunkRef
from cordvault.drive.zipstream import ZipEntry

OpenRange = Callable[[int, int], Iterator[bytes]]


@dataclass(frozen=True)
class Download:
    """What a content response needs; ``open_range`` yields plaintext ``[start, end)``."""

    file_id: str
    name: str
    size: int
    etag: str
    last_modified: datetime
    media_type: str
    open_range: OpenRange


def etag_of(row: DriveFile) -> str:
    """Changes whenever the content does (id, replacement counter, content hash)."""
    return f"{row.id}-{row.content_version}-{row.sha256[:16]}"


def _opener(
    ctx: DriveContext, content_id: str, wrapped_key: bytes, refs: list[ChunkRef]
) -> OpenRange:
    key = content.file_key(ctx, content_id, wrapped_key)

    def open_range(start: int, end: int) -> Iterator[bytes]:
        reader = ChunkReader(ctx.store, key, content_id, content.CRYPTO_VERSION, refs)
        try:
            yield from reader.iter_range(start, end)
        finally:
            reader.close()

    return open_range


def prepare_content(
    ctx: DriveContext,
    db: Session,
    *,
    file_id: str,
    name: str,
    content_id: str,
    wrapped_key: bytes,
    size: int,
    etag: str,
    last_modified: datetime,
    media_type: str,
) -> Download:
    """A :class:`Download` of one stored content (a file's, or a kept version's)."""
    refs = content.refs(repo.chunks(db, content_id))
    if sum(r.plain_size for r in refs) != size:
        raise CordvaultError(ErrorCode.INTEGRITY_ERROR, "the file's chunk list is inconsistent")
    return Download(
        file_id=file_id,
        name=name,
        size=size,
        etag=etag,
        last_modified=last_modified,
        media_type=media_type,
        open_range=_opener(ctx, content_id, wrapped_key, refs),
    )


def prepare(ctx: DriveContext, db: Session, row: DriveFile) -> Download:
    """A :class:`Download` for a file the caller already may read."""
    return prepare_content(
        ctx,
        db,
        file_id=row.id,
        name=row.name,
        content_id=row.content_id,
        wrapped_key=row.wrapped_key,
        size=row.size,
        etag=etag_of(row),
        last_modified=row.updated_at,
        media_type=row.mime_type,
    )


def open_file(ctx: DriveContext, db: Session, actor: Actor, file_id: str) -> Download:
    """``FORBIDDEN`` unless ``actor`` may read the file."""
    row = get_file(db, file_id)
    access.require_file(db, actor, row, Access.READ)
    return prepare(ctx, db, row)


@dataclass(frozen=True)
class ZipPlan:
    name: str
    entries: list[ZipEntry]
    skipped: int


def zip_plan(ctx: DriveContext, db: Session, actor: Actor, folder_id: str) -> ZipPlan:
    """The zip members of a folder tree: every folder, and the files ``actor`` may read
    (the others are skipped and counted). Paths are relative to the folder."""
    root = get_folder(db, folder_id)
    levels = subtree_levels(db, root.id)
    ids = [fid for level in levels for fid in level]
    paths: dict[str, str] = {root.id: ""}
    entries: list[ZipEntry] = []
    for fid in ids[1:]:
        sub = get_folder(db, fid)
        assert sub.parent_id is not None
        paths[fid] = f"{paths[sub.parent_id]}{sub.name}/"
        entries.append(ZipEntry(paths[fid], 0, sub.updated_at, lambda: iter(())))
    rows = repo.files_in(db, ids)
    # Inherited access for the whole subtree in a few queries (folder shares, public folders).
    grants = access.subtree_grants(db, actor, levels)
    levels_of = access.file_levels(db, actor, rows, grants)
    readable = {fid for fid, lvl in levels_of.items() if access.at_least(lvl, Access.READ)}
    for row in sorted(rows, key=lambda r: (paths[r.folder_id], r.name)):
        if row.id not in readable:
            continue
        dl = prepare(ctx, db, row)
        entries.append(
            ZipEntry(
                f"{paths[row.folder_id]}{row.name}",
                row.size,
                row.updated_at,
                lambda dl=dl: dl.open_range(0, dl.size),  # type: ignore[misc]
            )
        )
    return ZipPlan(name=root.name or "drive", entries=entries, skipped=len(rows) - len(readable))

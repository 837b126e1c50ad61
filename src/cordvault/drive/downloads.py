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
from cordvault.drive.models import DriveFile, Folder
from cordvault.drive.streaming import ChunkReader, ChunkRef
from cordvault.drive.zipstream import ZipEntry

OpenRange = Callable[[int, int], Iterator[bytes | bytearray]]


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
    return etag(row.id, row.content_version, row.sha256)


def etag(file_id: str, content_version: int, sha256: str) -> str:
    """:func:`etag_of` from the columns (for listings that load no ORM objects)."""
    return f"{file_id}-{content_version}-{sha256[:16]}"


def _opener(
    ctx: DriveContext, content_id: str, wrapped_key: bytes, refs: list[ChunkRef]
) -> OpenRange:
    key = content.file_key(ctx, content_id, wrapped_key)

    def open_range(start: int, end: int) -> Iterator[bytes | bytearray]:
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
    entries, skipped = _tree_entries(ctx, db, actor, root, "")
    return ZipPlan(name=root.name or "drive", entries=entries, skipped=skipped)


MAX_ZIP_SELECTION = 1000
"""Most folders + files one selection zip may name (a browser's multi-select)."""


def selection_zip_plan(
    ctx: DriveContext, db: Session, actor: Actor, folder_ids: list[str], file_ids: list[str]
) -> ZipPlan:
    """The zip members of a selection: each folder as a tree under its name, each file at the
    top. Files named directly must be readable (``FORBIDDEN`` otherwise, as one download
    would be); unreadable files inside the folders are skipped and counted. A name chosen
    twice gets `` (2)`` etc. so members never collide."""
    if not folder_ids and not file_ids:
        raise CordvaultError(ErrorCode.INVALID_INPUT, "select at least one file or folder")
    if len(folder_ids) + len(file_ids) > MAX_ZIP_SELECTION:
        raise CordvaultError(
            ErrorCode.INVALID_INPUT,
            f"a zip takes at most {MAX_ZIP_SELECTION} selected entries",
            details={"limit": MAX_ZIP_SELECTION},
        )
    used: set[str] = set()

    def unique(name: str) -> str:
        candidate, n = name, 1
        while candidate in used:
            n += 1
            candidate = f"{name} ({n})"
        used.add(candidate)
        return candidate

    entries: list[ZipEntry] = []
    skipped = 0
    for fid in dict.fromkeys(folder_ids):
        folder = get_folder(db, fid)
        prefix = unique(folder.name or "drive") + "/"
        entries.append(ZipEntry(prefix, 0, folder.updated_at, lambda: iter(())))
        sub, sub_skipped = _tree_entries(ctx, db, actor, folder, prefix)
        entries += sub
        skipped += sub_skipped
    for file_id in dict.fromkeys(file_ids):
        dl = open_file(ctx, db, actor, file_id)
        entries.append(_file_entry(unique(dl.name), dl))
    return ZipPlan(name="selection", entries=entries, skipped=skipped)


def _file_entry(path: str, dl: Download) -> ZipEntry:
    return ZipEntry(path, dl.size, dl.last_modified, lambda: dl.open_range(0, dl.size))


def _tree_entries(
    ctx: DriveContext, db: Session, actor: Actor, root: Folder, prefix: str
) -> tuple[list[ZipEntry], int]:
    """Members for ``root``'s tree under ``prefix`` (folders, readable files) and the number
    of unreadable files skipped."""
    levels = subtree_levels(db, root.id)
    ids = [fid for level in levels for fid in level]
    paths: dict[str, str] = {root.id: prefix}
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
        if row.id in readable:
            entries.append(_file_entry(f"{paths[row.folder_id]}{row.name}", prepare(ctx, db, row)))
    return entries, len(rows) - len(readable)

"""Reading file content: single files (for Range responses) and folder trees (for zips).

:func:`prepare` loads everything a response needs while the request's DB session is open, so the
stream itself touches only the chunk store: ``open_range(start, end)`` gives a
:class:`ContentRange` over a prefetching decrypting
:class:`~cordvault.drive.streaming.ChunkReader`, readable as an iterator (in a thread) or as an
async iterator (on the event loop, what ``web.ranges`` prefers), and closes the reader when it
is closed. Integrity failures surface as ``INTEGRITY_ERROR`` before any wrong byte.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
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


class ContentRange(Iterator[bytearray], AsyncIterator[bytearray]):
    """Plaintext ``[start, end)`` of one stored content, consumed once, either way:

    - as an iterator (zips, WebDAV, previews: in a worker thread), pieces of
      :meth:`ChunkReader.iter_range`;
    - as an async iterator (``web.ranges`` on the event loop), pieces of
      :meth:`ChunkReader.aiter_range`: no thread hop per piece, whole chunks per piece.

    Nothing is read before the first piece is asked for (errors of a bad range or chunk list
    surface then, as from a generator). ``close()`` / ``aclose()`` stop the read-ahead;
    mixing the two protocols on one object is a ``RuntimeError``.
    """

    def __init__(self, open_reader: Callable[[], ChunkReader], start: int, end: int) -> None:
        self._open_reader = open_reader
        self._start, self._end = start, end
        self._reader: ChunkReader | None = None
        self._sync: Iterator[bytearray] | None = None
        self._async: AsyncIterator[bytearray] | None = None
        self._closed = False

    def _open(self) -> ChunkReader:
        if self._closed:
            raise RuntimeError("content range is closed")
        self._reader = self._open_reader()
        return self._reader

    def __iter__(self) -> ContentRange:
        return self

    def __next__(self) -> bytearray:
        if self._sync is None:
            if self._async is not None:
                raise RuntimeError("content range is being read asynchronously")
            if self._closed:
                raise StopIteration
            self._sync = self._open().iter_range(self._start, self._end)
        return next(self._sync)

    def close(self) -> None:
        """Stop a synchronous read (idempotent)."""
        self._closed = True
        if self._sync is not None:
            close = getattr(self._sync, "close", None)
            if close is not None:
                close()
        if self._reader is not None:
            self._reader.close()

    def __aiter__(self) -> ContentRange:
        return self

    async def __anext__(self) -> bytearray:
        if self._async is None:
            if self._sync is not None:
                raise RuntimeError("content range is being read synchronously")
            if self._closed:
                raise StopAsyncIteration
            self._async = self._open().aiter_range(self._start, self._end)
        return await anext(self._async)

    async def aclose(self) -> None:
        """Stop an asynchronous read (idempotent)."""
        self._closed = True
        if self._async is not None:
            aclose = getattr(self._async, "aclose", None)
            if aclose is not None:
                await aclose()
        if self._reader is not None:
            self._reader.close()


def _opener(
    ctx: DriveContext, content_id: str, wrapped_key: bytes, refs: list[ChunkRef]
) -> OpenRange:
    key = content.file_key(ctx, content_id, wrapped_key)

    def open_reader() -> ChunkReader:
        return ChunkReader(
            ctx.store, key, content_id, content.CRYPTO_VERSION, refs, budget=ctx.download_budget
        )

    def open_range(start: int, end: int) -> ContentRange:
        return ContentRange(open_reader, start, end)

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

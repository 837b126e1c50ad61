"""File versions: overwriting a file keeps its previous content, restorable.

When an upload (or a version restore) replaces a file's content, the old content's chunks are
already stored: :func:`keep_previous` records them as a :class:`FileVersion` (no byte is
copied or re-uploaded) instead of queueing them for collection. At most
``DRIVE_FILE_VERSIONS_KEPT`` versions are kept per file (the oldest beyond go to the GC queue at
once); the collector purges versions older than ``DRIVE_FILE_VERSIONS_DAYS``
(:func:`purge_expired`); purging a file purges its versions (:func:`removal.purge_file`).
Versions count against the file owner's quota.

Access: listing and downloading versions needs read access to the file, restoring one write
access (it is an overwrite), deleting one ownership. Restoring swaps: the current content
becomes a version, the chosen one becomes current with ``content_version + 1``, so signed
links of the replaced content die as with any overwrite.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.orm import Session

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive import access
from cordvault.drive import repository as repo
from cordvault.drive.access import Access
from cordvault.drive.auth import Actor
from cordvault.drive.context import DriveContext
from cordvault.drive.downloads import Download, etag_of, prepare_content
from cordvault.drive.files import get_file
from cordvault.drive.gc import schedule_content
from cordvault.drive.models import DriveFile, FileVersion, utcnow


def keep_previous(ctx: DriveContext, db: Session, row: DriveFile) -> None:
    """Record the file's current content as a version (or queue it for collection when no
    versions are kept), then prune beyond ``DRIVE_FILE_VERSIONS_KEPT``. Call before replacing
    the content fields of ``row``."""
    if ctx.settings.drive_file_versions_kept <= 0:
        schedule_content(ctx, db, row.content_id)
        return
    repo.add(
        db,
        FileVersion(
            id=uuid.uuid4().hex,
            file_id=row.id,
            content_id=row.content_id,
            content_version=row.content_version,
            wrapped_key=row.wrapped_key,
            chunk_size=row.chunk_size,
            size=row.size,
            sha256=row.sha256,
            mime_type=row.mime_type,
            modified_at=row.updated_at,
            replaced_at=utcnow(),
        ),
    )
    for old in repo.versions_of(db, row.id)[ctx.settings.drive_file_versions_kept :]:
        _drop(ctx, db, old)


def _drop(ctx: DriveContext, db: Session, version: FileVersion) -> None:
    schedule_content(ctx, db, version.content_id)
    db.delete(version)
    db.flush()


def list_versions(db: Session, actor: Actor, file_id: str) -> list[FileVersion]:
    """The file's kept versions, newest first (read access)."""
    row = get_file(db, file_id)
    access.require_file(db, actor, row, Access.READ)
    return repo.versions_of(db, row.id)


def _version_of(db: Session, row: DriveFile, version_id: str) -> FileVersion:
    version = repo.version(db, version_id)
    if version is None or version.file_id != row.id:
        raise CordvaultError(ErrorCode.NOT_FOUND, "no such version of this file")
    return version


def open_version(
    ctx: DriveContext, db: Session, actor: Actor, file_id: str, version_id: str
) -> Download:
    """A version's content, for a ranged response (read access)."""
    row = get_file(db, file_id)
    access.require_file(db, actor, row, Access.READ)
    v = _version_of(db, row, version_id)
    return prepare_content(
        ctx,
        db,
        file_id=row.id,
        name=row.name,
        content_id=v.content_id,
        wrapped_key=v.wrapped_key,
        size=v.size,
        etag=f"{row.id}-v{v.content_version}-{v.sha256[:16]}",
        last_modified=v.modified_at,
        media_type=v.mime_type,
    )


def restore_version(
    ctx: DriveContext, db: Session, actor: Actor, file_id: str, version_id: str
) -> DriveFile:
    """Make a version the current content again (write access); the current one is kept."""
    row = get_file(db, file_id, for_update=True)
    access.require_file(db, actor, row, Access.WRITE)
    v = _version_of(db, row, version_id)
    chosen = (v.content_id, v.wrapped_key, v.chunk_size, v.size, v.sha256, v.mime_type)
    db.delete(v)
    db.flush()
    keep_previous(ctx, db, row)
    (row.content_id, row.wrapped_key, row.chunk_size, row.size, row.sha256, row.mime_type) = chosen
    row.content_version += 1
    row.updated_at = utcnow()
    db.flush()
    return row


def delete_version(
    ctx: DriveContext, db: Session, actor: Actor, file_id: str, version_id: str
) -> None:
    """Drop one version for good (the file's owner)."""
    row = get_file(db, file_id)
    access.require_file(db, actor, row, Access.OWNER)
    _drop(ctx, db, _version_of(db, row, version_id))


def purge_expired(ctx: DriveContext, limit: int = 500) -> int:
    """Purge versions older than ``DRIVE_FILE_VERSIONS_DAYS`` (0: none); returns how many."""
    days = ctx.settings.drive_file_versions_days
    if days <= 0:
        return 0
    with ctx.sessions() as db, db.begin():
        due = repo.versions_replaced_before(db, utcnow() - timedelta(days=days), limit)
        for version in due:
            _drop(ctx, db, version)
        return len(due)


__all__ = ["etag_of", "keep_previous", "list_versions", "open_version", "restore_version"]

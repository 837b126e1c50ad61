"""Deleting a file: shared by :mod:`files` (``DELETE``, a rename/move with ``overwrite``) and
:mod:`folders` (a merge with ``overwrite``), so neither of those imports the other for it.

Deleting moves the file to its owner's trash (:mod:`cordvault.drive.trash`) unless
``DRIVE_TRASH_RETENTION_DAYS`` is 0. :func:`purge_file` is the one way a file row goes for
good: its chunks and those of its kept versions are queued for the garbage collector
(:func:`cordvault.drive.gc.schedule_content`), which deletes them after the grace period.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive import access, events
from cordvault.drive import repository as repo
from cordvault.drive.access import Access
from cordvault.drive.auth import Actor
from cordvault.drive.context import DriveContext
from cordvault.drive.gc import schedule_content
from cordvault.drive.models import DriveFile


def purge_file(ctx: DriveContext, db: Session, row: DriveFile) -> None:
    """Remove a file for good: its content and its versions' contents go to the GC queue."""
    for version in repo.versions_of(db, row.id):
        schedule_content(ctx, db, version.content_id)
    schedule_content(ctx, db, row.content_id)
    repo.delete_file_row(db, row)


def delete_file(ctx: DriveContext, db: Session, actor: Actor, file_id: str) -> None:
    """Delete a file (owner only): into the owner's trash, or purged when the trash is off."""
    from cordvault.drive.trash import trash_file  # trash imports this module's purge_file

    row = repo.file(db, file_id, for_update=True)
    if row is None or row.trash_id is not None:
        raise CordvaultError(ErrorCode.NOT_FOUND, "no such file")
    access.require_file(db, actor, row, Access.OWNER)
    events.file_changed(db, row, "delete", "deleted")
    trash_file(ctx, db, actor, row)

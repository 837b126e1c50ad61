"""Deleting a file: shared by :mod:`files` (``DELETE``, a rename/move with ``overwrite``) and
:mod:`folders` (a merge with ``overwrite``), so neither of those imports the other for it.

The file's chunks are not deleted here: they are queued for the garbage collector
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


def delete_file(ctx: DriveContext, db: Session, actor: Actor, file_id: str) -> None:
    """Delete a file (owner only); its chunks are queued for garbage collection."""
    row = repo.file(db, file_id, for_update=True)
    if row is None:
        raise CordvaultError(ErrorCode.NOT_FOUND, "no such file")
    access.require_file(db, actor, row, Access.OWNER)
    events.file_changed(db, row, "delete", "deleted")
    schedule_content(ctx, db, row.content_id)
    repo.delete_file_row(db, row)

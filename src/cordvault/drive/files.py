"""Files: stat, rename/move/publish, ownership transfer and shares.

Content (upload/download) lives in :mod:`uploads` and :mod:`downloads`, deleting a file in
:mod:`removal` (a move with ``overwrite`` here uses it too). Errors: ``NOT_FOUND``,
``FORBIDDEN`` (rules in :mod:`access`), ``INVALID_NAME``, ``NAME_CONFLICT``, ``INVALID_INPUT``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive import access, events, grants, quotas
from cordvault.drive import repository as repo
from cordvault.drive.access import Access
from cordvault.drive.auth import Actor
from cordvault.drive.context import DriveContext
from cordvault.drive.folders import get_folder
from cordvault.drive.models import DriveFile, Share, utcnow
from cordvault.drive.names import OnConflict, validate_name
from cordvault.drive.paging import check_page
from cordvault.drive.placement import conflict, place, unique_names
from cordvault.drive.removal import delete_file
from cordvault.drive.security_log import Kind, record
from cordvault.drive.users import get_user_by_name

MAX_SHARED_PAGE = 1000


def get_file(db: Session, file_id: str, *, for_update: bool = False) -> DriveFile:
    row = repo.file(db, file_id, for_update=for_update)
    if row is None or row.trash_id is not None:  # trashed: out of the drive until restored
        raise CordvaultError(ErrorCode.NOT_FOUND, "no such file")
    return row


def stat(db: Session, actor: Actor, file_id: str) -> tuple[DriveFile, Access]:
    """A file's metadata and the actor's access to it (any signed-in user may stat)."""
    row = get_file(db, file_id)
    return row, access.file_access(db, actor, row)


def update_file(
    ctx: DriveContext,
    db: Session,
    actor: Actor,
    file_id: str,
    *,
    name: str | None = None,
    folder_id: str | None = None,
    public: bool | None = None,
    on_conflict: OnConflict = OnConflict.FAIL,
) -> DriveFile | None:
    """Rename/move (owner or write share; a move needs the target folder writable) and/or set
    the public flag (owner). ``overwrite`` deletes a clashing file (its owner only); ``skip``
    returns None and changes nothing."""
    row = get_file(db, file_id)
    if public is not None:
        access.require_file(db, actor, row, Access.OWNER)
    if name is not None or folder_id is not None:
        access.require_file(db, actor, row, Access.WRITE)
        new_name = validate_name(name) if name is not None else row.name
        target = (
            get_folder(db, folder_id) if folder_id is not None else get_folder(db, row.folder_id)
        )
        if target.id != row.folder_id:
            access.require_add_to(db, actor, target)
        spot = place(db, target.id, new_name, on_conflict, ignore_id=row.id)
        if spot.skip:
            return None
        if spot.existing_folder is not None:
            raise conflict("a folder with this name already exists in the folder")
        if spot.existing_file is not None:
            delete_file(ctx, db, actor, spot.existing_file.id)
        old_name, old_folder = row.name, row.folder_id
        with unique_names(db):
            row.name, row.folder_id = spot.name, target.id
            row.updated_at = utcnow()
        if old_folder != row.folder_id:
            events.file_changed(db, row, "modify", "moved", folder_origin=old_folder)
        if old_name != row.name:
            events.file_changed(db, row, "modify", "renamed", rename_origin=old_name)
    if public is not None:
        changed = public != row.public
        if changed:
            kind = Kind.FILE_PUBLIC if public else Kind.FILE_PRIVATE
            record(db, kind, user_id=row.owner_id, actor=actor, file=row.id)
        row.public = public
        row.updated_at = utcnow()
        if changed:
            events.file_changed(db, row, "modify", "published" if public else "unpublished")
    db.flush()
    return row


def share_levels(db: Session, actor: Actor, rows: list[DriveFile]) -> dict[str, Access]:
    """The actor's access to each of ``rows`` (own, shared or inherited: :mod:`access`)."""
    return access.file_levels(db, actor, rows)


def _level(actor: Actor, owner_id: int | None, public: bool, share: str | None) -> Access:
    if owner_id == actor.id:
        return Access.OWNER
    if share == "write":
        return Access.WRITE
    if share is not None or public:
        return Access.READ
    return Access.NONE


def folder_listing(db: Session, actor: Actor, folder_id: str) -> list[tuple[Any, Access]]:
    """Every file of a folder the actor may read, by name, with the actor's access: rows of
    :func:`repository.listing_files` (a few queries in all, whatever the folder's size; for
    listings that show every entry at once, such as WebDAV's ``PROPFIND``). Access is the
    file's own (owner, share, public) combined with what the folder's chain grants
    (:func:`access.folder_grant`: folder shares, public folders), as everywhere else."""
    inherited = access.folder_grant(db, actor.id, folder_id).access
    shared = repo.file_shares_in_folder(db, actor.id, folder_id)
    out: list[tuple[Any, Access]] = []
    for row in repo.listing_files(db, folder_id):
        level = _level(actor, row.owner_id, row.public, shared.get(row.id))
        if level is not Access.OWNER:
            level = access.best(level, inherited)
        if level is not Access.NONE:
            out.append((row, level))
    return out


def transfer_ownership(
    db: Session, actor: Actor, file_id: str, new_owner: str, ctx: DriveContext | None = None
) -> DriveFile:
    """Give a file to another user (owner only). The old owner keeps no access unless shared
    (or inherited from a folder); a share the new owner had is dropped (owning supersedes it).
    With ``ctx``, the file and its versions must fit the new owner's quota."""
    row = get_file(db, file_id, for_update=True)
    access.require_file(db, actor, row, Access.OWNER)
    user = get_user_by_name(db, new_owner)
    if user.disabled:
        raise CordvaultError(ErrorCode.INVALID_INPUT, "that account is disabled")
    if ctx is not None and user.id != row.owner_id:
        size = row.size + sum(v.size for v in repo.versions_of(db, row.id))
        quotas.reserve(ctx, db, user.id, size)
    repo.delete_share(db, row.id, user.id)
    record(
        db, Kind.FILE_TRANSFERRED, user_id=user.id, actor=actor, file=row.id, from_user=row.owner_id
    )
    row.owner_id = user.id
    row.updated_at = utcnow()
    db.flush()
    events.file_changed(db, row, "modify", "owner")
    return row


def set_share(db: Session, actor: Actor, file_id: str, user_name: str, level: str) -> Share:
    """Share a file with a user for ``read`` or ``write`` (owner only); replaces a share."""
    grants.check_level(level)
    row = get_file(db, file_id)
    access.require_file(db, actor, row, Access.OWNER)
    user = grants.grantee(db, user_name, row.owner_id)
    existing = repo.share(db, row.id, user.id)
    record(db, Kind.FILE_SHARED, user_id=user.id, actor=actor, file=row.id, access=level)
    events.share_changed(db, row, user.id, level)
    return grants.save(
        db, existing, level, lambda: Share(file_id=row.id, user_id=user.id, access=level)
    )


def remove_share(db: Session, actor: Actor, file_id: str, user_name: str) -> None:
    """Revoke a user's share (owner only; a user may also drop a share given to them)."""
    row = get_file(db, file_id)
    user = get_user_by_name(db, user_name)
    if user.id != actor.id:
        access.require_file(db, actor, row, Access.OWNER)
    if not repo.delete_share(db, row.id, user.id):
        raise CordvaultError(ErrorCode.NOT_FOUND, "the file is not shared with that user")
    record(db, Kind.FILE_UNSHARED, user_id=user.id, actor=actor, file=row.id)
    events.share_changed(db, row, user.id, None)


def list_shares(db: Session, actor: Actor, file_id: str) -> list[tuple[str, str]]:
    """``(user name, access)`` of every share (owner only)."""
    row = get_file(db, file_id)
    access.require_file(db, actor, row, Access.OWNER)
    return [(name, share.access) for share, name in repo.shares_of(db, row.id)]


def shared_with(db: Session, actor: Actor, limit: int, offset: int) -> list[DriveFile]:
    """Files other users shared with ``actor``, a page of at most ``MAX_SHARED_PAGE``."""
    check_page(limit, offset, max_limit=MAX_SHARED_PAGE)
    return repo.files_shared_with(db, actor.id, limit, offset)

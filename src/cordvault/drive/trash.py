"""The trash: deleted files and folders wait here, restorable, until purged.

Trashing an entry (a file, or a folder with everything below it) creates a
:class:`~cordvault.drive.models.TrashEntry` owned by the deleting owner, hangs the entry's row
from the hidden :data:`~cordvault.drive.models.TRASH_ID` folder under the entry's id as its name
(its old name is free again at once), and marks every row that went with it (``trash_id``).
So a trashed item is out of the tree (listings, paths, zips, search never reach it), gives
nobody access (:mod:`cordvault.drive.access`: its shares and signed links stop working), and
still counts against its owner's quota. Restoring undoes exactly that.

- :func:`restore` puts the entry back where it was (``path``); when that parent is gone, the
  missing folders are recreated. A name taken there meanwhile follows the overwrite policy
  (``fail`` -> ``NAME_CONFLICT`` with ``details.name``: the client asks and retries with
  ``rename``, ``overwrite`` or ``skip``).
- :func:`purge` (delete forever), :func:`empty`, and the collector
  (:func:`purge_expired`, entries older than ``DRIVE_TRASH_RETENTION_DAYS``) remove the rows
  for good and queue the chunks (of the versions too) for collection.
- ``DRIVE_TRASH_RETENTION_DAYS=0`` turns the trash off: deleting purges at once, as before.

Races: restore and purge both lock the entry row first (:func:`repository.lock_row`: a row
lock on PostgreSQL, the write lock on SQLite) and re-read it; the one that comes second finds
no entry and answers ``NOT_FOUND`` ("restored or purged already"): nothing is lost or purged
half way.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive import access
from cordvault.drive import repository as repo
from cordvault.drive.auth import Actor
from cordvault.drive.context import DriveContext
from cordvault.drive.folders import (
    check_move,
    folder_path,
    get_folder,
    make_path,
    merge,
    subtree_ids,
)
from cordvault.drive.models import TRASH_ID, DriveFile, Folder, TrashEntry, utcnow
from cordvault.drive.names import OnConflict, split_path
from cordvault.drive.paging import check_page
from cordvault.drive.placement import conflict, place, unique_names
from cordvault.drive.removal import purge_file

MAX_PAGE = 1000


def enabled(ctx: DriveContext) -> bool:
    return ctx.settings.drive_trash_retention_days > 0


def _new_entry(
    db: Session,
    actor: Actor,
    kind: str,
    item_id: str,
    name: str,
    parent: Folder,
    files: int,
    size: int,
) -> TrashEntry:
    parent_path = folder_path(db, parent)
    entry = TrashEntry(
        id=uuid.uuid4().hex,
        owner_id=actor.id,
        kind=kind,
        item_id=item_id,
        name=name,
        parent_id=parent.id,
        path=f"{parent_path.rstrip('/')}/{name}",
        files=files,
        size=size,
        trashed_at=utcnow(),
    )
    repo.add(db, entry)
    return entry


def trash_file(ctx: DriveContext, db: Session, actor: Actor, row: DriveFile) -> TrashEntry | None:
    """Move a file the actor owns to their trash (purge it when the trash is off)."""
    if not enabled(ctx):
        purge_file(ctx, db, row)
        return None
    entry = _new_entry(
        db, actor, "file", row.id, row.name, get_folder(db, row.folder_id), 1, row.size
    )
    with unique_names(db):
        row.folder_id, row.name, row.trash_id = TRASH_ID, entry.id, entry.id
    return entry


def _check_all_owned(db: Session, actor: Actor, ids: list[str]) -> list[DriveFile]:
    for sub_id in ids[1:]:
        if get_folder(db, sub_id).owner_id != actor.id:
            raise CordvaultError(ErrorCode.FORBIDDEN, "the folder contains folders of other users")
    rows = repo.files_in(db, ids)
    if any(f.owner_id != actor.id for f in rows):
        raise CordvaultError(ErrorCode.FORBIDDEN, "the folder contains files of other users")
    return rows


def trash_folder(ctx: DriveContext, db: Session, actor: Actor, folder_id: str) -> int:
    """Move a folder and everything below it to the actor's trash (owner of every folder and
    file in it only); purge instead when the trash is off. Returns the number of files."""
    repo.lock_folder_tree(db)  # the folder leaves the tree: serialised like a move
    row = get_folder(db, folder_id)
    if row.trash_id is not None:
        raise CordvaultError(ErrorCode.NOT_FOUND, "no such folder")
    access.require_folder_owner(actor, row)
    ids = subtree_ids(db, row.id)
    rows = _check_all_owned(db, actor, ids)
    if not enabled(ctx):
        for f in rows:
            purge_file(ctx, db, f)
        repo.delete_folder_rows(db, ids)
        return len(rows)
    parent = repo.folder(db, row.parent_id or "")
    assert parent is not None  # a live non-root folder has a live parent
    entry = _new_entry(
        db, actor, "folder", row.id, row.name, parent, len(rows), sum(f.size for f in rows)
    )
    repo.mark_trashed(db, ids, entry.id)
    with unique_names(db):
        row.parent_id, row.name, row.trash_id = TRASH_ID, entry.id, entry.id
    db.expire_all()  # bulk updates bypassed the identity map
    return len(rows)


def list_trash(db: Session, actor: Actor, limit: int, offset: int) -> tuple[list[TrashEntry], int]:
    """A page of the actor's trash, newest first, and how many entries it holds."""
    check_page(limit, offset, max_limit=MAX_PAGE)
    return repo.trash_of(db, actor.id, limit, offset), repo.count_trash(db, actor.id)


def _locked_entry(db: Session, actor: Actor, entry_id: str) -> TrashEntry:
    entry = repo.trash_entry(db, entry_id) if repo.lock_row(db, TrashEntry, entry_id) else None
    if entry is None or entry.owner_id != actor.id:
        raise CordvaultError(
            ErrorCode.NOT_FOUND, "no such item in your trash (restored or purged already?)"
        )
    return entry


def _live_parent(db: Session, actor: Actor, entry: TrashEntry) -> Folder:
    """The folder to restore into: the old parent if it is still in the tree, else the old
    path's folders, recreated as needed."""
    parent = repo.folder(db, entry.parent_id)
    if parent is not None and parent.trash_id is None and parent.id != TRASH_ID:
        try:
            folder_path(db, parent)  # reaches the root (not inside another trashed folder)
            return parent
        except CordvaultError:
            pass
    parts = split_path(entry.path)[:-1]
    return make_path(db, actor, "/" + "/".join(parts))


@dataclass(frozen=True)
class Restored:
    kind: str
    id: str
    name: str
    folder_id: str
    skipped: bool = False


def restore(
    ctx: DriveContext,
    db: Session,
    actor: Actor,
    entry_id: str,
    on_conflict: OnConflict = OnConflict.FAIL,
    folder_id: str | None = None,
) -> Restored:
    """Put a trash entry back (into ``folder_id`` if given, else where it was)."""
    entry = _locked_entry(db, actor, entry_id)
    if entry.kind == "folder":
        repo.lock_folder_tree(db)
    target = get_folder(db, folder_id) if folder_id is not None else _live_parent(db, actor, entry)
    if target.trash_id is not None or target.id == TRASH_ID:
        raise CordvaultError(ErrorCode.NOT_FOUND, "no such folder")
    access.require_add_to(db, actor, target)
    spot = place(db, target.id, entry.name, on_conflict)
    if spot.skip:
        return Restored(entry.kind, entry.item_id, entry.name, target.id, skipped=True)
    if entry.kind == "file":
        return _restore_file(
            ctx, db, actor, entry, target, spot.name, spot.existing_file, spot.existing_folder
        )
    return _restore_folder(
        ctx,
        db,
        actor,
        entry,
        target,
        spot.name,
        spot.existing_file,
        spot.existing_folder,
        on_conflict,
    )


def _restore_file(
    ctx: DriveContext,
    db: Session,
    actor: Actor,
    entry: TrashEntry,
    target: Folder,
    name: str,
    existing_file: DriveFile | None,
    existing_folder: Folder | None,
) -> Restored:
    row = repo.file(db, entry.item_id, for_update=True)
    if row is None:
        raise CordvaultError(ErrorCode.NOT_FOUND, "the trashed file is gone")
    if existing_folder is not None:
        raise conflict(
            "a folder with this name already exists there",
        )
    if existing_file is not None:  # overwrite: the file in the way goes to the trash
        access.require_file(db, actor, existing_file, access.Access.OWNER)
        trash_file(ctx, db, actor, existing_file)
    with unique_names(db):
        row.folder_id, row.name, row.trash_id = target.id, name, None
        repo.delete_entry(db, entry)
    return Restored("file", row.id, name, target.id)


def _restore_folder(
    ctx: DriveContext,
    db: Session,
    actor: Actor,
    entry: TrashEntry,
    target: Folder,
    name: str,
    existing_file: DriveFile | None,
    existing_folder: Folder | None,
    on_conflict: OnConflict,
) -> Restored:
    row = repo.folder(db, entry.item_id)
    if row is None:
        raise CordvaultError(ErrorCode.NOT_FOUND, "the trashed folder is gone")
    if existing_file is not None:
        raise conflict("a file with this name already exists there")
    ids = subtree_ids(db, row.id)
    check_move(db, row.id, target.id)
    repo.mark_trashed(db, ids, None)
    db.expire_all()
    row = get_folder(db, entry.item_id)
    with unique_names(db):
        # Back in the tree under a name nobody uses (the entry id) ...
        row.parent_id, row.trash_id = target.id, None
        repo.delete_entry(db, entry)
    if existing_folder is not None:  # ... then merged into the folder in the way
        merge(ctx, db, actor, row.id, existing_folder.id, on_conflict)
        return Restored("folder", existing_folder.id, existing_folder.name, target.id)
    with unique_names(db):
        row.name = name
    return Restored("folder", row.id, name, target.id)


def purge_entry(ctx: DriveContext, db: Session, entry: TrashEntry) -> int:
    """Remove an entry for good (the caller holds its lock); returns the files purged."""
    if entry.kind == "file":
        row = repo.file(db, entry.item_id)
        rows = [row] if row is not None else []
        ids: list[str] = []
    else:
        ids = subtree_ids(db, entry.item_id) if repo.folder(db, entry.item_id) else []
        rows = repo.files_in(db, ids)
    for f in rows:
        purge_file(ctx, db, f)
    repo.delete_folder_rows(db, ids)
    repo.delete_entry(db, entry)
    return len(rows)


def purge(ctx: DriveContext, db: Session, actor: Actor, entry_id: str) -> int:
    """Delete one trash entry forever (its owner); returns the files purged."""
    return purge_entry(ctx, db, _locked_entry(db, actor, entry_id))


def empty(ctx: DriveContext, db: Session, actor: Actor) -> int:
    """Delete everything in the actor's trash forever; returns the entries purged."""
    count = 0
    for entry_id in repo.trash_ids_of(db, actor.id):
        if repo.lock_row(db, TrashEntry, entry_id):
            entry = repo.trash_entry(db, entry_id)
            if entry is not None:
                purge_entry(ctx, db, entry)
                count += 1
    return count


def purge_expired(ctx: DriveContext, limit: int = 100) -> int:
    """Purge entries older than ``DRIVE_TRASH_RETENTION_DAYS`` (own transactions, one per
    entry, so a huge folder never holds a long lock); returns how many."""
    days = ctx.settings.drive_trash_retention_days
    # With the trash turned off (0), whatever is left in it goes now.
    before = utcnow() - timedelta(days=days) if days > 0 else utcnow() + timedelta(days=1)
    with ctx.sessions() as db:
        due = repo.trash_ids_before(db, before, limit)
    count = 0
    for entry_id in due:
        with ctx.sessions() as db, db.begin():
            if not repo.lock_row(db, TrashEntry, entry_id):
                continue  # restored or purged meanwhile
            entry = repo.trash_entry(db, entry_id)
            if entry is not None and entry.trashed_at < before:
                purge_entry(ctx, db, entry)
                count += 1
    return count

"""Folders: create, resolve paths, list (paged, sorted), rename/move, delete, merge, usage.

All functions take the request's DB session and the acting user; access rules come from
:mod:`cordvault.drive.access`, name rules from :mod:`cordvault.drive.names`, name clashes from
:mod:`cordvault.drive.placement`. Errors: ``NOT_FOUND``, ``FORBIDDEN``, ``INVALID_NAME``,
``NAME_CONFLICT``, ``INVALID_INPUT`` (moving a folder into itself, or deeper than
:data:`MAX_FOLDER_DEPTH`), ``TREE_CORRUPT`` (the stored tree has a parent cycle).

Moves and cycles. A folder move is "check that the target is not inside the folder, then
update its parent". Two crossed moves (``a`` into ``b`` and ``b`` into ``a``) used to both pass
the check before either wrote, committing a cycle that later requests walked forever. Every
change of a folder's parent (:func:`update_folder` with a new parent, :func:`merge`) now first
takes the tree lock (:func:`~cordvault.drive.repository.lock_folder_tree`: a row lock on the
root folder in PostgreSQL, the write lock in SQLite), so moves run one at a time per database;
the check then walks *up* from the target with fresh reads (one recursive query, bounded) and
sees every move committed before. A lock rather than a closure table: moves are rare and
cheap, the schema stays as it is, and the check is the same on both databases.

Every walk of the tree is bounded: upward walks stop after :data:`WALK_LIMIT` levels, downward
walks are one ``UNION`` query that ends on a cycle too; a cycle or an over-deep chain answers
``TREE_CORRUPT`` at once. ``cordvault drive doctor`` (:mod:`cordvault.drive.doctor`) finds and
repairs cycles stored before the fix.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive import access, events
from cordvault.drive import repository as repo
from cordvault.drive.auth import Actor
from cordvault.drive.context import DriveContext
from cordvault.drive.models import ROOT_ID, TRASH_ID, DriveFile, Folder, utcnow
from cordvault.drive.names import OnConflict, split_path, validate_name
from cordvault.drive.paging import check_page
from cordvault.drive.placement import conflict, place, unique_names
from cordvault.drive.removal import delete_file

SORT_KEYS = ("name", "size", "created", "updated", "type")
MAX_PAGE = 1000
MAX_FOLDER_DEPTH = 256
"""Deepest level a folder may be created at or moved to (the root is level 0)."""
WALK_LIMIT = 4 * MAX_FOLDER_DEPTH
"""Upward walks give up (``TREE_CORRUPT``) past this many levels: above any depth the API
makes (creates are not serialised with moves, so racing ones may overshoot a little), low enough
that a stored cycle costs one short query."""


def new_id() -> str:
    return uuid.uuid4().hex


def get_folder(db: Session, folder_id: str) -> Folder:
    """A live folder (trashed ones, and the trash itself, are ``NOT_FOUND``)."""
    row = repo.folder(db, folder_id)
    if row is None or row.trash_id is not None or row.id == TRASH_ID:
        raise CordvaultError(ErrorCode.NOT_FOUND, "no such folder")
    return row


def tree_corrupt(what: str) -> CordvaultError:
    return CordvaultError(
        ErrorCode.TREE_CORRUPT,
        f"the folder tree is damaged ({what}); an administrator can run "
        "`cordvault drive doctor --repair`",
    )


def ancestry(db: Session, folder_id: str) -> list[tuple[str, str]]:
    """``(id, name)`` of the folder and of each ancestor up to the root, nearest first.

    One bounded query: ``NOT_FOUND`` for no such folder, ``TREE_CORRUPT`` for a parent cycle,
    a chain deeper than :data:`WALK_LIMIT` or one ending somewhere else than the root."""
    rows = repo.ancestor_rows(db, folder_id, WALK_LIMIT)
    if not rows:
        raise CordvaultError(ErrorCode.NOT_FOUND, "no such folder")
    seen: set[str] = set()
    for row_id, _parent, _name in rows:
        if row_id in seen:
            raise tree_corrupt("a folder is its own ancestor")
        seen.add(row_id)
    last_id, last_parent, _name = rows[-1]
    if last_parent is not None:
        raise tree_corrupt(f"a folder is more than {WALK_LIMIT} levels deep")
    if last_id == TRASH_ID:  # inside a trashed folder: not part of the tree
        raise CordvaultError(ErrorCode.NOT_FOUND, "no such folder (it is in the trash)")
    if last_id != ROOT_ID:
        raise tree_corrupt("a folder's parent chain does not reach the root")
    return [(row_id, name) for row_id, _parent, name in rows]


def subtree_levels(db: Session, folder_id: str) -> list[list[str]]:
    """The folder's ids level by level: ``[[folder_id], [its children], ...]``.

    One query (one snapshot, ends on a cycle too); ``TREE_CORRUPT`` if the folder lies on a
    parent cycle (any cycle met going down passes through the start folder)."""
    edges = repo.subtree_edges(db, folder_id)
    ids = {row_id for row_id, _parent in edges}
    children: dict[str, list[str]] = {}
    for row_id, parent in edges:
        if row_id == folder_id:
            if parent in ids:
                raise tree_corrupt("a folder is inside itself")
            continue
        children.setdefault(parent or "", []).append(row_id)
    if folder_id not in ids:
        raise CordvaultError(ErrorCode.NOT_FOUND, "no such folder")
    levels, seen = [[folder_id]], {folder_id}
    while True:
        below = [c for parent in levels[-1] for c in children.get(parent, ())]
        if not below:
            break
        if seen.intersection(below):  # unreachable for a consistent snapshot: belt and braces
            raise tree_corrupt("a folder is inside itself")
        seen.update(below)
        levels.append(below)
    return levels


def subtree_ids(db: Session, folder_id: str) -> list[str]:
    """``folder_id`` and every folder below it, parents before children (breadth first)."""
    return [row_id for level in subtree_levels(db, folder_id) for row_id in level]


def folder_path(db: Session, row: Folder) -> str:
    """The folder's absolute path ("/" for the root)."""
    parts = [name for row_id, name in ancestry(db, row.id) if row_id != ROOT_ID]
    return "/" + "/".join(reversed(parts))


def resolve(db: Session, path: str) -> Folder | DriveFile:
    """The folder or file at an absolute path; ``NOT_FOUND`` if any part is missing."""
    parts = split_path(path)
    current = get_folder(db, ROOT_ID)
    for i, part in enumerate(parts):
        sub = repo.child_folder(db, current.id, part)
        if sub is not None:
            current = sub
            continue
        if i == len(parts) - 1:
            found = repo.child_file(db, current.id, part)
            if found is not None:
                return found
        raise CordvaultError(ErrorCode.NOT_FOUND, "no such file or folder")
    return current


def create_folder(
    db: Session,
    actor: Actor,
    parent_id: str,
    name: str,
    on_conflict: OnConflict = OnConflict.FAIL,
) -> Folder:
    """A new folder; an existing folder of that name is returned for ``skip``/``overwrite``."""
    name = validate_name(name)
    parent = get_folder(db, parent_id)
    access.require_add_to(db, actor, parent)
    if len(ancestry(db, parent.id)) > MAX_FOLDER_DEPTH:
        raise CordvaultError(
            ErrorCode.INVALID_INPUT, f"folders nest at most {MAX_FOLDER_DEPTH} levels deep"
        )
    spot = place(db, parent.id, name, on_conflict)
    if spot.existing_folder is not None and on_conflict in (OnConflict.SKIP, OnConflict.OVERWRITE):
        return spot.existing_folder
    if spot.existing_file is not None:
        raise conflict("a file with this name already exists in the folder")
    now = utcnow()
    row = Folder(
        id=new_id(),
        parent_id=parent.id,
        owner_id=actor.id,
        name=spot.name,
        created_at=now,
        updated_at=now,
    )
    with unique_names(db):
        db.add(row)
    events.folder_changed(db, row, "add")
    return row


def make_path(db: Session, actor: Actor, path: str) -> Folder:
    """``mkdir -p``: every missing folder of ``path`` is created."""
    current = get_folder(db, ROOT_ID)
    for part in split_path(path):
        current = create_folder(db, actor, current.id, part, OnConflict.SKIP)
    return current


@dataclass(frozen=True)
class Listing:
    folder: Folder
    folders: list[Folder]
    files: list[DriveFile]
    readable: set[str]
    total_folders: int
    total_files: int


def list_children(
    db: Session,
    actor: Actor,
    folder_id: str,
    *,
    sort: str = "name",
    desc: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> Listing:
    """One page of a folder's entries: folders first, then files, each sorted by ``sort``.

    Any signed-in user may list (``readable`` says which files they may also open)."""
    if sort not in SORT_KEYS:
        raise CordvaultError(ErrorCode.INVALID_INPUT, f"sort must be one of {', '.join(SORT_KEYS)}")
    check_page(limit, offset, max_limit=MAX_PAGE)
    row = get_folder(db, folder_id)
    n_folders, n_files = repo.count_children(db, row.id)
    folder_sort = sort if sort in ("name", "created", "updated") else "name"
    folders = (
        repo.page_folders(db, row.id, sort=folder_sort, desc=desc, limit=limit, offset=offset)
        if offset < n_folders
        else []
    )
    files: list[DriveFile] = []
    if len(folders) < limit:
        file_offset = max(0, offset - n_folders)
        files = repo.page_files(
            db, row.id, sort=sort, desc=desc, limit=limit - len(folders), offset=file_offset
        )
    return Listing(
        folder=row,
        folders=folders,
        files=files,
        readable=access.readable_ids(db, actor, files),
        total_folders=n_folders,
        total_files=n_files,
    )


def child_folders(db: Session, folder_id: str) -> list[Folder]:
    """Every subfolder of a folder, by name (``NOT_FOUND`` if the folder is gone); with
    :func:`cordvault.drive.files.folder_listing`, a whole listing in a few queries."""
    row = get_folder(db, folder_id)
    return sorted(repo.subfolders(db, row.id), key=lambda f: (f.name, f.id))


def check_move(db: Session, folder_id: str, target_id: str, *, extra_depth: int = 1) -> None:
    """``INVALID_INPUT`` unless ``folder_id``'s subtree may go ``extra_depth`` levels below
    ``target_id``: the target is not inside it, and nothing ends deeper than
    :data:`MAX_FOLDER_DEPTH`. Call with the tree lock held (reads are then current)."""
    chain = ancestry(db, target_id)
    if any(row_id == folder_id for row_id, _name in chain):
        raise CordvaultError(ErrorCode.INVALID_INPUT, "a folder cannot move into itself")
    height = len(subtree_levels(db, folder_id)) - 1
    if len(chain) - 1 + extra_depth + height > MAX_FOLDER_DEPTH:
        raise CordvaultError(
            ErrorCode.INVALID_INPUT, f"folders nest at most {MAX_FOLDER_DEPTH} levels deep"
        )


def update_folder(
    ctx: DriveContext,
    db: Session,
    actor: Actor,
    folder_id: str,
    *,
    name: str | None = None,
    parent_id: str | None = None,
    on_conflict: OnConflict = OnConflict.FAIL,
) -> Folder:
    """Rename and/or move a folder (owner only). A clash with a folder under ``overwrite``
    merges into it (the merged-into folder is returned); ``skip`` leaves everything as is.
    A move takes the tree lock before reading anything (see the module docstring)."""
    if parent_id is not None:
        repo.lock_folder_tree(db)
    row = get_folder(db, folder_id)
    access.require_folder_owner(actor, row)
    new_name = validate_name(name) if name is not None else row.name
    target = (
        get_folder(db, parent_id)
        if parent_id is not None
        else get_folder(db, row.parent_id or ROOT_ID)
    )
    if target.id != row.parent_id:
        access.require_add_to(db, actor, target)
        check_move(db, row.id, target.id)
    spot = place(db, target.id, new_name, on_conflict, ignore_id=row.id)
    if spot.skip:
        return row
    if spot.existing_folder is not None:
        merge(ctx, db, actor, row.id, spot.existing_folder.id, on_conflict)
        return spot.existing_folder
    if spot.existing_file is not None:
        raise conflict("a file with this name already exists in the folder")
    old_name, old_parent = row.name, row.parent_id
    with unique_names(db):
        row.name, row.parent_id, row.updated_at = spot.name, target.id, utcnow()
    if old_parent != row.parent_id:
        events.folder_changed(db, row, "move", parent_folder_origin=old_parent)
    if old_name != row.name:
        events.folder_changed(db, row, "rename", rename_origin=old_name)
    return row


@dataclass
class MergeReport:
    moved: int = 0
    skipped: int = 0
    renamed: int = 0
    overwritten: int = 0
    skipped_names: list[str] = field(default_factory=list)


def merge(
    ctx: DriveContext,
    db: Session,
    actor: Actor,
    source_id: str,
    target_id: str,
    on_conflict: OnConflict = OnConflict.FAIL,
    report: MergeReport | None = None,
) -> MergeReport:
    """Move every entry of ``source`` into ``target``; same-named folders merge recursively,
    file clashes follow ``on_conflict`` (``overwrite`` deletes the target's file: owner only).
    The source is deleted when it ends up empty. Any failure rolls the whole merge back."""
    report = report if report is not None else MergeReport()
    repo.lock_folder_tree(db)  # moves the source's folders: serialised like any move
    source, target = get_folder(db, source_id), get_folder(db, target_id)
    access.require_folder_owner(actor, source)
    access.require_add_to(db, actor, target)
    if source.id == target.id:
        raise CordvaultError(ErrorCode.INVALID_INPUT, "cannot merge a folder into itself")
    check_move(db, source.id, target.id, extra_depth=0)  # its entries go one level below
    for sub in repo.subfolders(db, source.id):
        existing = repo.child_folder(db, target.id, sub.name)
        if existing is not None:
            merge(ctx, db, actor, sub.id, existing.id, on_conflict, report)
            continue
        access.require_folder_owner(actor, sub)
        spot = place(db, target.id, sub.name, on_conflict)
        if spot.skip:
            report.skipped += 1
            continue
        if spot.existing_file is not None:
            raise conflict("a file in the target has the name of a folder being merged")
        report.renamed += spot.name != sub.name
        with unique_names(db):
            sub.name, sub.parent_id, sub.updated_at = spot.name, target.id, utcnow()
        events.folder_changed(db, sub, "move", parent_folder_origin=source.id)
        report.moved += 1
    for row in repo.folder_files(db, source.id):
        access.require_file(db, actor, row, access.Access.WRITE)
        spot = place(db, target.id, row.name, on_conflict)
        if spot.skip:
            report.skipped += 1
            continue
        if spot.existing_folder is not None:
            raise conflict("a folder in the target has the name of a file being merged")
        if spot.existing_file is not None:
            delete_file(ctx, db, actor, spot.existing_file.id)
            report.overwritten += 1
        report.renamed += spot.name != row.name
        with unique_names(db):
            row.name, row.folder_id, row.updated_at = spot.name, target.id, utcnow()
        events.file_changed(db, row, "modify", "moved", folder_origin=source.id)
        report.moved += 1
    if repo.count_children(db, source.id) == (0, 0):
        events.folder_changed(db, source, "delete")
        repo.delete_folder_rows(db, [source.id])
    return report


def delete_folder(ctx: DriveContext, db: Session, actor: Actor, folder_id: str) -> int:
    """Delete a folder and everything below it (owner of every folder and file in it only):
    into the owner's trash (:mod:`cordvault.drive.trash`), or purged when the trash is off.
    Returns the number of files."""
    from cordvault.drive.trash import trash_folder  # trash builds on this module

    events.folder_changed(db, get_folder(db, folder_id), "delete")  # clients drop the subtree
    return trash_folder(ctx, db, actor, folder_id)


@dataclass(frozen=True)
class TypeUsage:
    type: str
    count: int
    size: int


@dataclass(frozen=True)
class Usage:
    files: int
    size: int
    by_type: list[TypeUsage]
    by_mime: list[TypeUsage]


def usage(db: Session, folder_id: str) -> Usage:
    """Total size of a folder tree, per MIME major type ("image", "video" ...) and MIME type."""
    row = get_folder(db, folder_id)
    by_mime = repo.usage_by_type(db, subtree_ids(db, row.id))
    majors: dict[str, list[int]] = {}
    for mime, count, size in by_mime:
        acc = majors.setdefault(mime.split("/", 1)[0] or "application", [0, 0])
        acc[0] += count
        acc[1] += size
    return Usage(
        files=sum(c for _, c, _ in by_mime),
        size=sum(s for _, _, s in by_mime),
        by_type=sorted((TypeUsage(t, c, s) for t, (c, s) in majors.items()), key=lambda u: -u.size),
        by_mime=sorted((TypeUsage(m, c, s) for m, c, s in by_mime), key=lambda u: -u.size),
    )

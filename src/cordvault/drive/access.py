"""Who may do what. Every service asks here; nothing else decides access.

The rules (docs/drive-api.md has the full table):
- every signed-in user may list folders and see file metadata (the reference's shared tree);
  the content hash is shown only to those who may read the content;
- reading content (download, Range, zip, signed link creation) needs: owner, the public flag,
  a share (``read`` or ``write``), or **inherited** access from a folder above it;
- changing content or renaming/moving a file needs: owner or ``write`` (own or inherited);
- deleting, sharing, publishing and transferring a file are the owner's alone;
- a folder is changed (rename, move, delete, merge, share, publish) by its owner only; new
  entries go into the root, or a folder the actor may write (its owner, or ``write`` inherited
  from a folder share), or (files only) over a file one may write;
- administrators manage accounts; they get no extra access to other users' content;
- a signed link carries its creator's authority: it opens the file only while the creator's
  account exists, is enabled and may read the file (:func:`account_may_read`).

Inherited access (folder sharing). A folder grants, to everything below it, at any depth and
including entries added later: ``write`` to its owner and to users it is shared with for
``write``, ``read`` to users it is shared with for ``read``, and ``read`` to every signed-in
user when it is public. The grant is computed from the *current* parent chain on every check
(one bounded recursive query plus one for the caller's folder shares), so moving an item into
a shared folder gives access at once, moving it out or revoking a share takes it away at once,
and every front door (REST, zip, signed links, WebDAV) gets the same answer by asking here.

Trash. Trashed items (``trash_id`` set) give nobody any access: their shares and links stop
working until they are restored (:mod:`cordvault.drive.trash`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.orm import Session

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive import repository as repo
from cordvault.drive.auth import Actor, actor_of
from cordvault.drive.models import ROOT_ID, DriveFile, Folder


class Access(StrEnum):
    NONE = "none"
    READ = "read"
    WRITE = "write"
    OWNER = "owner"


_RANK = {Access.NONE: 0, Access.READ: 1, Access.WRITE: 2, Access.OWNER: 3}
_WALK_LIMIT = 1024  # as folders.WALK_LIMIT: a stored cycle still ends the walk


def best(*levels: Access) -> Access:
    return max(levels, key=lambda a: _RANK[a], default=Access.NONE)


def at_least(have: Access, needed: Access) -> bool:
    return _RANK[have] >= _RANK[needed]


@dataclass(frozen=True)
class FolderGrant:
    """What a folder's chain gives an actor: the inherited access, and whether it is trashed."""

    access: Access
    trashed: bool


def _grant_from(
    chain: list[tuple[str, int | None, bool, str | None]], actor_id: int, shares: dict[str, str]
) -> FolderGrant:
    level = Access.NONE
    trashed = False
    for folder_id, owner_id, public, trash_id in chain:
        trashed = trashed or trash_id is not None
        if owner_id is not None and owner_id == actor_id:
            level = best(level, Access.WRITE)
        share = shares.get(folder_id)
        if share is not None:
            level = best(level, Access.WRITE if share == "write" else Access.READ)
        if public:
            level = best(level, Access.READ)
    return FolderGrant(Access.NONE if trashed else level, trashed)


def folder_grant(db: Session, actor_id: int, folder_id: str) -> FolderGrant:
    """The access ``actor_id`` inherits at ``folder_id`` (its own share/owner/public included)."""
    chain = repo.grant_chain(db, folder_id, _WALK_LIMIT)
    shares = repo.folder_shares_for_user(db, actor_id, [c[0] for c in chain])
    return _grant_from(chain, actor_id, shares)


def subtree_grants(db: Session, actor: Actor, levels: list[list[str]]) -> dict[str, Access]:
    """Inherited access at every folder of a subtree given level by level
    (:func:`cordvault.drive.folders.subtree_levels`), in three queries whatever its size."""
    top = levels[0][0]
    grants = {top: folder_grant(db, actor.id, top).access}
    ids = [fid for level in levels[1:] for fid in level]
    facts = repo.folder_facts(db, ids)
    shares = repo.folder_shares_for_user(db, actor.id, ids)
    for fid in ids:
        parent_id, owner_id, public, trash_id = facts[fid]
        own = _grant_from([(fid, owner_id, public, trash_id)], actor.id, shares)
        inherited = grants.get(parent_id or "", Access.NONE)
        grants[fid] = Access.NONE if own.trashed else best(inherited, own.access)
    return grants


def _own_level(row: DriveFile, actor_id: int, share: str | None) -> Access:
    if row.owner_id == actor_id:
        return Access.OWNER
    if share == "write":
        return Access.WRITE
    if share is not None or row.public:
        return Access.READ
    return Access.NONE


def file_access(db: Session, actor: Actor, row: DriveFile) -> Access:
    """The strongest access ``actor`` has to a file's content (none while it is trashed)."""
    if row.trash_id is not None:
        return Access.NONE
    share = repo.share(db, row.id, actor.id)
    own = _own_level(row, actor.id, share.access if share is not None else None)
    if own is Access.OWNER:
        return own
    return best(own, folder_grant(db, actor.id, row.folder_id).access)


def file_levels(
    db: Session, actor: Actor, rows: list[DriveFile], grants: dict[str, Access] | None = None
) -> dict[str, Access]:
    """The actor's access to each of ``rows``: one query for the file shares and one grant per
    distinct folder (``grants`` may hold them already, e.g. a zip's subtree)."""
    shared = repo.shares_for_user(db, actor.id, (r.id for r in rows if r.owner_id != actor.id))
    known: dict[str, Access] = dict(grants or {})
    out: dict[str, Access] = {}
    for r in rows:
        if r.trash_id is not None:
            out[r.id] = Access.NONE
            continue
        own = _own_level(r, actor.id, shared.get(r.id))
        if own is Access.OWNER:
            out[r.id] = own
            continue
        if r.folder_id not in known:
            known[r.folder_id] = folder_grant(db, actor.id, r.folder_id).access
        out[r.id] = best(own, known[r.folder_id])
    return out


def account_may_read(db: Session, user_id: int, row: DriveFile) -> bool:
    """Whether account ``user_id`` exists, is enabled and may read the file's content now
    (the authority a signed link carries: :mod:`cordvault.drive.signed_links`)."""
    user = repo.user_by_id(db, user_id)
    if user is None or user.disabled:
        return False
    return at_least(file_access(db, actor_of(user), row), Access.READ)


def account_may_read_folder(db: Session, user_id: int, folder: Folder) -> Actor | None:
    """The account (as an actor) if it exists, is enabled and inherits at least ``read`` at
    ``folder`` now; else None (a folder link's authority: :mod:`cordvault.drive.folder_links`)."""
    user = repo.user_by_id(db, user_id)
    if user is None or user.disabled:
        return None
    grant = folder_grant(db, user.id, folder.id)
    return actor_of(user) if at_least(grant.access, Access.READ) else None


def readable_ids(db: Session, actor: Actor, rows: list[DriveFile]) -> set[str]:
    """Ids of the files ``actor`` may read."""
    levels = file_levels(db, actor, rows)
    return {fid for fid, level in levels.items() if at_least(level, Access.READ)}


def require_file(db: Session, actor: Actor, row: DriveFile, needed: Access) -> Access:
    """``FORBIDDEN`` unless ``actor`` has at least ``needed`` on the file."""
    have = file_access(db, actor, row)
    if not at_least(have, needed):
        what = {Access.READ: "read", Access.WRITE: "change", Access.OWNER: "manage"}[needed]
        raise CordvaultError(ErrorCode.FORBIDDEN, f"you may not {what} this file")
    return have


def can_add_to(db: Session, actor: Actor, folder: Folder) -> bool:
    if folder.trash_id is not None:
        return False
    if folder.id == ROOT_ID or folder.owner_id == actor.id:
        return True
    return at_least(folder_grant(db, actor.id, folder.id).access, Access.WRITE)


def require_add_to(db: Session, actor: Actor, folder: Folder) -> None:
    if not can_add_to(db, actor, folder):
        raise CordvaultError(ErrorCode.FORBIDDEN, "you may not add entries to this folder")


def require_folder_owner(actor: Actor, folder: Folder) -> None:
    if folder.id == ROOT_ID:
        raise CordvaultError(ErrorCode.FORBIDDEN, "the root folder cannot be changed")
    if folder.owner_id != actor.id:
        raise CordvaultError(ErrorCode.FORBIDDEN, "only the folder's owner may change it")


def shared_folder_ids(db: Session, actor: Actor, ids: Iterable[str]) -> dict[str, str]:
    """The actor's own share level on each of ``ids`` that is shared with them."""
    return repo.folder_shares_for_user(db, actor.id, list(ids))

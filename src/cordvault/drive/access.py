"""Who may do what. Every service asks here; nothing else decides access.

The rules (docs/drive-api.md has the full table):
- every signed-in user may list folders and see file metadata (the reference's shared tree);
  the content hash is shown only to those who may read the content;
- reading content (download, Range, zip, signed link creation) needs: owner, the public flag,
  or a share (``read`` or ``write``);
- changing content or renaming/moving a file needs: owner or a ``write`` share;
- deleting, sharing, publishing and transferring a file are the owner's alone;
- a folder is changed (rename, move, delete, merge) by its owner only; new entries go into the
  root, a folder one owns, or (files only) over a file one may write;
- administrators manage accounts; they get no extra access to other users' content;
- a signed link carries its creator's authority: it opens the file only while the creator's
  account exists, is enabled and may read the file (:func:`account_may_read`).
"""

from __future__ import annotations

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


def file_access(db: Session, actor: Actor, row: DriveFile) -> Access:
    """The strongest access ``actor`` has to a file's content."""
    if row.owner_id == actor.id:
        return Access.OWNER
    share = repo.share(db, row.id, actor.id)
    if share is not None and share.access == "write":
        return Access.WRITE
    if share is not None or row.public:
        return Access.READ
    return Access.NONE


def account_may_read(db: Session, user_id: int, row: DriveFile) -> bool:
    """Whether account ``user_id`` exists, is enabled and may read the file's content now
    (the authority a signed link carries: :mod:`cordvault.drive.signed_links`)."""
    user = repo.user_by_id(db, user_id)
    if user is None or user.disabled:
        return False
    return _RANK[file_access(db, actor_of(user), row)] >= _RANK[Access.READ]


def readable_ids(db: Session, actor: Actor, rows: list[DriveFile]) -> set[str]:
    """Ids of the files ``actor`` may read, in one query for the shares."""
    shared = repo.shares_for_user(db, actor.id, (r.id for r in rows if r.owner_id != actor.id))
    return {r.id for r in rows if r.owner_id == actor.id or r.public or r.id in shared}


def require_file(db: Session, actor: Actor, row: DriveFile, needed: Access) -> Access:
    """``FORBIDDEN`` unless ``actor`` has at least ``needed`` on the file."""
    have = file_access(db, actor, row)
    if _RANK[have] < _RANK[needed]:
        what = {Access.READ: "read", Access.WRITE: "change", Access.OWNER: "manage"}[needed]
        raise CordvaultError(ErrorCode.FORBIDDEN, f"you may not {what} this file")
    return have


def can_add_to(actor: Actor, folder: Folder) -> bool:
    return folder.id == ROOT_ID or folder.owner_id == actor.id


def require_add_to(actor: Actor, folder: Folder) -> None:
    if not can_add_to(actor, folder):
        raise CordvaultError(ErrorCode.FORBIDDEN, "you may not add entries to this folder")


def require_folder_owner(actor: Actor, folder: Folder) -> None:
    if folder.id == ROOT_ID:
        raise CordvaultError(ErrorCode.FORBIDDEN, "the root folder cannot be changed")
    if folder.owner_id != actor.id:
        raise CordvaultError(ErrorCode.FORBIDDEN, "only the folder's owner may change it")

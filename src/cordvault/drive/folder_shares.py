"""Folder sharing and public folders: grants that apply to everything below a folder.

The folder's owner shares it with a user for ``read`` or ``write`` or makes it public (every
signed-in user may read); :mod:`cordvault.drive.access` turns these into inherited access on
every file and folder below, at any depth, including entries added later. Unsharing (the owner,
or the user dropping a share given to them) or unpublishing takes effect on the next request,
links created through the grant included (they carry their creator's current access).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive import access, grants
from cordvault.drive import repository as repo
from cordvault.drive.auth import Actor
from cordvault.drive.folders import get_folder
from cordvault.drive.models import Folder, FolderShare, utcnow
from cordvault.drive.paging import check_page
from cordvault.drive.users import get_user_by_name

MAX_PAGE = 1000


def set_share(db: Session, actor: Actor, folder_id: str, user_name: str, level: str) -> FolderShare:
    """Share a folder (and everything below it) with a user (folder owner; replaces a share)."""
    grants.check_level(level)
    row = get_folder(db, folder_id)
    access.require_folder_owner(actor, row)
    user = grants.grantee(db, user_name, row.owner_id)
    existing = repo.folder_share(db, row.id, user.id)
    return grants.save(
        db, existing, level, lambda: FolderShare(folder_id=row.id, user_id=user.id, access=level)
    )


def remove_share(db: Session, actor: Actor, folder_id: str, user_name: str) -> None:
    """Revoke a folder share (the owner; a user may also drop a share given to them)."""
    row = get_folder(db, folder_id)
    user = get_user_by_name(db, user_name)
    if user.id != actor.id:
        access.require_folder_owner(actor, row)
    if not repo.delete_folder_share(db, row.id, user.id):
        raise CordvaultError(ErrorCode.NOT_FOUND, "the folder is not shared with that user")


def list_shares(db: Session, actor: Actor, folder_id: str) -> list[tuple[str, str]]:
    """``(user name, access)`` of the folder's own shares (folder owner)."""
    row = get_folder(db, folder_id)
    access.require_folder_owner(actor, row)
    return [(name, share.access) for share, name in repo.folder_shares_of(db, row.id)]


def set_public(db: Session, actor: Actor, folder_id: str, public: bool) -> Folder:
    """Make a folder public (every signed-in user reads everything below) or private again."""
    row = get_folder(db, folder_id)
    access.require_folder_owner(actor, row)
    row.public = public
    row.updated_at = utcnow()
    db.flush()
    return row


def shared_with(db: Session, actor: Actor, limit: int, offset: int) -> list[tuple[Folder, str]]:
    """Folders other users shared with ``actor`` and the level, a page."""
    check_page(limit, offset, max_limit=MAX_PAGE)
    rows = repo.folders_shared_with(db, actor.id, limit, offset)
    levels = repo.folder_shares_for_user(db, actor.id, [r.id for r in rows])
    return [(r, levels[r.id]) for r in rows]

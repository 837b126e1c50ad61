"""What sharing a file (:mod:`.files`) and sharing a folder (:mod:`.folder_shares`) have in
common: the levels, who may be given a share, and replacing or adding the share's row.

The use cases keep what differs: which row they share, who may share it (the file rules of
:mod:`.access` or the folder's owner) and what they record. They call these in the same order
(level, then their owner check, then the grantee, then :func:`save`), so both answer a bad
request with the same error first. Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive import repository as repo
from cordvault.drive.models import DriveUser, FolderShare, Share
from cordvault.drive.users import get_user_by_name

SHARE_ACCESS = ("read", "write")

_ShareRow = TypeVar("_ShareRow", Share, FolderShare)


def check_level(level: str) -> None:
    """``INVALID_INPUT`` unless ``level`` is one of :data:`SHARE_ACCESS`."""
    if level not in SHARE_ACCESS:
        raise CordvaultError(ErrorCode.INVALID_INPUT, "access must be 'read' or 'write'")


def grantee(db: Session, user_name: str, owner_id: int | None) -> DriveUser:
    """The user named ``user_name`` (``NOT_FOUND`` if none), who must not be the owner
    ``owner_id`` (``INVALID_INPUT``: the owner already has full access)."""
    user = get_user_by_name(db, user_name)
    if user.id == owner_id:
        raise CordvaultError(ErrorCode.INVALID_INPUT, "the owner already has full access")
    return user


def save(
    db: Session, existing: _ShareRow | None, level: str, create: Callable[[], _ShareRow]
) -> _ShareRow:
    """Give ``existing`` the ``level``, or add the share ``create()`` builds when there is
    none yet (flushed either way); returns the share."""
    if existing is not None:
        existing.access = level
        db.flush()
        return existing
    share = create()
    repo.add(db, share)
    return share

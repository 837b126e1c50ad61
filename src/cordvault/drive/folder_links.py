"""Signed links to a folder: a listing and a zip of it (and its files) without an account.

Token format ``f1`` (the file links' ``v1`` format with its own domain, so a token of one kind
never verifies as the other)::

    f1.<link_id>.<signature>
    signature = base64url_nopad(HMAC-SHA256(link_key,
        "cordvault-folder-link|f1|<link_id>|<folder_id>|<expires_unix or 0>"))

Like a file link, a folder link carries its creator's authority, checked on every request: the
creator's account must exist, be enabled and inherit at least ``read`` at the folder
(:func:`cordvault.drive.access.account_may_read_folder`: the folder's owner, a folder share on
it or above, or a public folder). Inside, the files shown with a hash, zipped and downloadable
are those the creator may read *now* (the same rules as for a signed-in creator). A trashed
folder's links answer ``INVALID_LINK`` until it is restored; revoked ones for good.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive import access
from cordvault.drive import repository as repo
from cordvault.drive.access import Access
from cordvault.drive.auth import Actor
from cordvault.drive.context import DriveContext
from cordvault.drive.folders import get_folder
from cordvault.drive.models import DriveFile, Folder, FolderLink, utcnow
from cordvault.drive.names import split_path

_TOKEN = re.compile(r"^f1\.([0-9a-f]{32})\.([A-Za-z0-9_-]{43})$")
MAX_EXPIRY = timedelta(days=3650)


def sign(link_key: bytes, link_id: str, folder_id: str, expires_at: datetime | None) -> str:
    """The f1 token for these facts (pure function)."""
    expires = int(expires_at.timestamp()) if expires_at is not None else 0
    message = f"cordvault-folder-link|f1|{link_id}|{folder_id}|{expires}"
    mac = hmac.new(link_key, message.encode(), hashlib.sha256).digest()
    return f"f1.{link_id}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


@dataclass(frozen=True)
class IssuedFolderLink:
    link: FolderLink
    token: str


def _token(ctx: DriveContext, link: FolderLink) -> str:
    return sign(ctx.signing.link_key, link.id, link.folder_id, link.expires_at)


def create_link(
    ctx: DriveContext, db: Session, actor: Actor, folder_id: str, expires_in: int | None = None
) -> IssuedFolderLink:
    """A new link to a folder the actor may read (inherited ``read`` at least)."""
    row = get_folder(db, folder_id)
    if not access.at_least(access.folder_grant(db, actor.id, row.id).access, Access.READ):
        raise CordvaultError(ErrorCode.FORBIDDEN, "you may not read this folder")
    expires_at = None
    if expires_in is not None:
        if not 1 <= expires_in <= MAX_EXPIRY.total_seconds():
            raise CordvaultError(ErrorCode.INVALID_INPUT, "expires_in must be 1s to 10 years")
        expires_at = (utcnow() + timedelta(seconds=expires_in)).replace(microsecond=0)
    link = FolderLink(
        id=uuid.uuid4().hex, folder_id=row.id, created_by=actor.id, expires_at=expires_at
    )
    repo.add(db, link)
    return IssuedFolderLink(link, _token(ctx, link))


def list_links(
    ctx: DriveContext, db: Session, actor: Actor, folder_id: str
) -> list[IssuedFolderLink]:
    """Live links of a folder: all for its owner, one's own otherwise."""
    row = get_folder(db, folder_id)
    return [
        IssuedFolderLink(link, _token(ctx, link))
        for link in repo.active_folder_links(db, row.id, utcnow())
        if (row.owner_id == actor.id or link.created_by == actor.id)
        and access.account_may_read_folder(db, link.created_by, row) is not None
    ]


def revoke_link(db: Session, actor: Actor, link_id: str) -> None:
    """Revoke one folder link (its creator or the folder's owner)."""
    link = repo.folder_link(db, link_id)
    if link is None:
        raise CordvaultError(ErrorCode.NOT_FOUND, "no such link")
    if link.created_by != actor.id:
        folder = repo.folder(db, link.folder_id)
        if folder is None or folder.owner_id != actor.id:
            raise CordvaultError(ErrorCode.FORBIDDEN, "only its creator or the folder's owner")
    link.revoked_at = link.revoked_at or utcnow()


@dataclass(frozen=True)
class Opened:
    """A folder link resolved: the linked folder and the authority it acts with."""

    folder: Folder
    actor: Actor


def _invalid(message: str = "invalid folder link") -> CordvaultError:
    return CordvaultError(ErrorCode.INVALID_LINK, message)


def resolve(ctx: DriveContext, db: Session, token: str) -> Opened:
    """The folder a token opens and its creator (as the actor to check files with)."""
    match = _TOKEN.match(token or "")
    if match is None:
        raise _invalid()
    link = repo.folder_link(db, match.group(1))
    folder = repo.folder(db, link.folder_id) if link is not None else None
    if link is None or folder is None:
        raise _invalid()
    if not hmac.compare_digest(_token(ctx, link).encode(), token.encode()):
        raise _invalid()
    creator = None
    if link.revoked_at is None and folder.trash_id is None:
        creator = access.account_may_read_folder(db, link.created_by, folder)
    if creator is None:
        raise _invalid("this folder link was revoked")
    if link.expires_at is not None and link.expires_at <= utcnow():
        raise CordvaultError(ErrorCode.EXPIRED_LINK, "this folder link has expired")
    return Opened(folder, creator)


def subfolder(db: Session, opened: Opened, path: str) -> Folder:
    """The folder at ``path`` (relative, ``a/b``) below the linked one."""
    current = opened.folder
    for part in split_path("/" + path.strip("/")) if path.strip("/") else []:
        sub = repo.child_folder(db, current.id, part)
        if sub is None or sub.trash_id is not None:
            raise CordvaultError(ErrorCode.NOT_FOUND, "no such folder")
        current = sub
    return get_folder(db, current.id)


def file_below(db: Session, opened: Opened, file_id: str) -> DriveFile:
    """A file below the linked folder that the link's creator may read."""
    row = repo.file(db, file_id)
    if row is None or row.trash_id is not None:
        raise CordvaultError(ErrorCode.NOT_FOUND, "no such file")
    chain = repo.grant_chain(db, row.folder_id, 1024)
    if opened.folder.id not in {c[0] for c in chain}:
        raise CordvaultError(ErrorCode.NOT_FOUND, "no such file")
    access.require_file(db, opened.actor, row, Access.READ)
    return row

"""Signed download links: usable without an account, HMAC-signed, revocable, optional expiry.

Token format v1 (docs/drive-api.md has a golden vector)::

    v1.<link_id>.<signature>
    signature = base64url_nopad(HMAC-SHA256(link_key,
        "cordvault-link|v1|<link_id>|<file_id>|<sha256>|<content_version>|<expires_unix or 0>"))

``link_key`` is derived from ``DRIVE_SECRET_KEY`` (:mod:`cordvault.drive.keys`). The link row
maps the id to its file; the signature binds the file's *current* content hash and version, so
replacing the content invalidates every link, and deleting the file deletes its link rows. The
token itself is never stored (it is derived again on demand) and never logged.

A link carries the authority of the account that created it: it opens the file only while that
account exists, is enabled and may read the file under the current rules
(:func:`cordvault.drive.access.account_may_read`: owner, share or public). Unsharing, disabling
the account or transferring the file away silences the link (and giving the access back
revives it, as long as it is neither revoked nor expired).

Errors: malformed, unknown, forged, revoked or stale links, and links whose creator lost
access, are ``INVALID_LINK``; an expired one is ``EXPIRED_LINK``. The messages never echo the
token.
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
from cordvault.drive.files import get_file
from cordvault.drive.models import DriveFile, Link, utcnow
from cordvault.drive.security_log import Kind, record

VERSION = "v1"
_TOKEN = re.compile(r"^v1\.([0-9a-f]{32})\.([A-Za-z0-9_-]{43})$")
MAX_EXPIRY = timedelta(days=3650)


def sign(
    link_key: bytes,
    link_id: str,
    file_id: str,
    sha256: str,
    content_version: int,
    expires_at: datetime | None,
) -> str:
    """The v1 token for these facts (pure function; the golden vector test calls it)."""
    expires = int(expires_at.timestamp()) if expires_at is not None else 0
    message = f"cordvault-link|v1|{link_id}|{file_id}|{sha256}|{content_version}|{expires}"
    mac = hmac.new(link_key, message.encode(), hashlib.sha256).digest()
    return f"{VERSION}.{link_id}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def token_for(ctx: DriveContext, link: Link, row: DriveFile) -> str:
    return sign(
        ctx.signing.link_key, link.id, row.id, row.sha256, row.content_version, link.expires_at
    )


@dataclass(frozen=True)
class IssuedLink:
    link: Link
    token: str


def create_link(
    ctx: DriveContext, db: Session, actor: Actor, file_id: str, expires_in: int | None = None
) -> IssuedLink:
    """A new link to a file the actor may read; ``expires_in`` seconds (None: no expiry)."""
    row = get_file(db, file_id)
    access.require_file(db, actor, row, Access.READ)
    expires_at = None
    if expires_in is not None:
        if not 1 <= expires_in <= MAX_EXPIRY.total_seconds():
            raise CordvaultError(ErrorCode.INVALID_INPUT, "expires_in must be 1s to 10 years")
        # Whole seconds: the signature covers the unix time, the DB keeps the same instant.
        expires_at = (utcnow() + timedelta(seconds=expires_in)).replace(microsecond=0)
    link = Link(id=uuid.uuid4().hex, file_id=row.id, created_by=actor.id, expires_at=expires_at)
    repo.add(db, link)
    # The link's id, never its token (the token alone opens the file).
    record(db, Kind.LINK_CREATED, actor=actor, file=row.id, link=link.id, expires=expires_in)
    return IssuedLink(link, token_for(ctx, link, row))


def list_links(ctx: DriveContext, db: Session, actor: Actor, file_id: str) -> list[IssuedLink]:
    """The file's live links (owner, or the links one created oneself); links whose creator
    lost access to the file are not live."""
    row = get_file(db, file_id)
    is_owner = access.file_access(db, actor, row) is Access.OWNER
    return [
        IssuedLink(link, token_for(ctx, link, row))
        for link in repo.active_links(db, row.id, utcnow())
        if (is_owner or link.created_by == actor.id)
        and access.account_may_read(db, link.created_by, row)
    ]


def revoke_links(db: Session, actor: Actor, file_id: str) -> int:
    """Revoke every link of a file (owner or write share); returns how many."""
    row = get_file(db, file_id)
    access.require_file(db, actor, row, Access.WRITE)
    count = repo.revoke_links(db, row.id, utcnow())
    record(db, Kind.LINK_REVOKED, actor=actor, file=row.id, count=count)
    return count


def revoke_link(db: Session, actor: Actor, link_id: str) -> None:
    """Revoke one link (its creator, or the file's owner/writer)."""
    link = repo.link(db, link_id)
    if link is None:
        raise CordvaultError(ErrorCode.NOT_FOUND, "no such link")
    if link.created_by != actor.id:
        access.require_file(db, actor, get_file(db, link.file_id), Access.WRITE)
    if link.revoked_at is None:
        link.revoked_at = utcnow()
        record(db, Kind.LINK_REVOKED, actor=actor, file=link.file_id, link=link.id, count=1)


def _invalid(message: str = "invalid download link") -> CordvaultError:
    return CordvaultError(ErrorCode.INVALID_LINK, message)


def resolve(ctx: DriveContext, db: Session, token: str) -> DriveFile:
    """The file a token opens, or ``INVALID_LINK``/``EXPIRED_LINK``."""
    match = _TOKEN.match(token or "")
    if match is None:
        raise _invalid()
    link = repo.link(db, match.group(1))
    row = repo.file(db, link.file_id) if link is not None else None
    if link is None or row is None:
        raise _invalid()
    expected = token_for(ctx, link, row)
    if not hmac.compare_digest(expected.encode(), token.encode()):
        raise _invalid("invalid download link (forged, or the file has changed)")
    # A link whose creator lost access (unshared, disabled, file transferred away) answers
    # exactly as a revoked one.
    if link.revoked_at is not None or not access.account_may_read(db, link.created_by, row):
        raise _invalid("this download link was revoked")
    if link.expires_at is not None and link.expires_at <= utcnow():
        raise CordvaultError(ErrorCode.EXPIRED_LINK, "this download link has expired")
    return row

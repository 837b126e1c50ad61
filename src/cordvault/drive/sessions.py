"""Sessions: list one's sign-ins and tokens, revoke one or all; administrators act for anyone.

A revoked session's token is refused at its next use (``verify_token`` reads the row on every
request) and its live connections are closed (``sessions-revoked`` event, published on
commit: :func:`cordvault.drive.events.sessions_revoked`). Revoking is logged
(``session.revoked``, with the session id and how many). Unknown session ids
and other users' sessions answer the same ``NOT_FOUND``.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive import events
from cordvault.drive import security_repository as srepo
from cordvault.drive.auth import Actor
from cordvault.drive.models import SignInSession, utcnow
from cordvault.drive.security_log import Kind, record


def _may_manage(actor: Actor | None, user_id: int) -> bool:
    return actor is None or actor.is_admin or actor.id == user_id


def list_sessions(db: Session, actor: Actor | None, user_id: int) -> list[SignInSession]:
    """The active sessions of ``user_id``, newest first (one's own, or any as admin/CLI)."""
    if not _may_manage(actor, user_id):
        raise CordvaultError(ErrorCode.FORBIDDEN, "administrators only")
    return srepo.active_sessions(db, user_id, utcnow())


def revoke_session(db: Session, actor: Actor | None, session_id: str) -> SignInSession:
    """Revoke one active session of the actor's (any, for an administrator or the CLI)."""
    row = srepo.session(db, session_id[:32])
    now = utcnow()
    if (
        row is None
        or not _may_manage(actor, row.user_id)
        or row.revoked_at is not None
        or row.expires_at <= now
    ):
        raise CordvaultError(ErrorCode.NOT_FOUND, "no such session")
    row.revoked_at = now
    events.sessions_revoked(db, row.user_id, [row.id])
    record(db, Kind.SESSION_REVOKED, user_id=row.user_id, actor=actor, session=row.id, count=1)
    return row


def revoke_all(
    db: Session, actor: Actor | None, user_id: int, *, keep_current: bool = False
) -> int:
    """Revoke every active session of ``user_id`` (but the actor's current one with
    ``keep_current``); how many."""
    if not _may_manage(actor, user_id):
        raise CordvaultError(ErrorCode.FORBIDDEN, "administrators only")
    keep = actor.session_id if keep_current and actor is not None else None
    now = utcnow()
    ids = [row.id for row in srepo.active_sessions(db, user_id, now) if row.id != keep]
    count = srepo.revoke_sessions(db, user_id, now, keep=keep)
    events.sessions_revoked(db, user_id, ids)
    record(db, Kind.SESSION_REVOKED, user_id=user_id, actor=actor, count=count, all=True)
    return count


def end_all_for_credential_change(db: Session, user_id: int) -> None:
    """Mark every session of ``user_id`` revoked (a password change or reset, disabling):
    ``token_version`` already kills the tokens, this keeps the session list truthful."""
    srepo.revoke_sessions(db, user_id, utcnow())

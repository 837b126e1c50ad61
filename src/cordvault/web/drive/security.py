"""``/api/auth/sessions``, ``/api/auth/users/{id}/sessions|unlock``, ``/api/auth/security-log``.

Sessions: one's own list (the one in use marked ``current``), revoke one or all; an
administrator does the same for any account. Unlock: clear an account's sign-in throttling
(administrators). Security log: administrators read every event, others their own. Rules and
error codes: ``docs/drive-api.md`` (Sessions, Security log).
"""

from __future__ import annotations

from fastapi import APIRouter, Query

from cordvault.drive import security_log, sessions, signin, users
from cordvault.drive.api_models import (
    RevokedOut,
    SecurityEventOut,
    SessionOut,
    UnlockedOut,
    UnlockIn,
)
from cordvault.web.drive.deps import CurrentUser, DriveDep, SessionDep

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.get("/sessions")
def my_sessions(actor: CurrentUser, db: SessionDep) -> list[SessionOut]:
    """One's active sessions, newest first."""
    rows = sessions.list_sessions(db, actor, actor.id)
    return [SessionOut.of(r, actor.session_id) for r in rows]


@router.delete("/sessions")
def revoke_my_sessions(
    actor: CurrentUser, db: SessionDep, keep_current: bool = Query(False)
) -> RevokedOut:
    """Revoke all of one's sessions (``keep_current=true``: all but the one in use)."""
    return RevokedOut(revoked=sessions.revoke_all(db, actor, actor.id, keep_current=keep_current))


@router.delete("/sessions/{session_id}", status_code=204)
def revoke_session(session_id: str, actor: CurrentUser, db: SessionDep) -> None:
    """Revoke one session: one's own, or anyone's for an administrator (else 404)."""
    sessions.revoke_session(db, actor, session_id)


@router.get("/users/{user_id}/sessions")
def user_sessions(user_id: int, actor: CurrentUser, db: SessionDep) -> list[SessionOut]:
    """An account's active sessions (administrators, or the account itself)."""
    user = users.get_user(db, user_id)
    return [SessionOut.of(r, actor.session_id) for r in sessions.list_sessions(db, actor, user.id)]


@router.delete("/users/{user_id}/sessions")
def revoke_user_sessions(user_id: int, actor: CurrentUser, db: SessionDep) -> RevokedOut:
    """Revoke every session of an account (administrators, or the account itself)."""
    user = users.get_user(db, user_id)
    return RevokedOut(revoked=sessions.revoke_all(db, actor, user.id))


@router.post("/users/{user_id}/unlock")
def unlock_user(
    user_id: int, body: UnlockIn, actor: CurrentUser, drive: DriveDep, db: SessionDep
) -> UnlockedOut:
    """Clear the sign-in delays of an account (and of ``client_address`` when given)."""
    users.require_admin(actor)
    user = users.get_user(db, user_id)
    cleared = signin.unlock(drive, db, actor, name=user.name, address=body.client_address)
    return UnlockedOut(cleared=cleared)


@router.get("/security-log")
def read_security_log(
    actor: CurrentUser,
    db: SessionDep,
    user_id: int | None = Query(None, ge=1, le=2**31 - 1),
    kind: str | None = Query(None, max_length=40),
    before: int | None = Query(None, ge=1, le=2**31 - 1),
    limit: int = Query(100, ge=1, le=security_log.MAX_EVENTS_PAGE),
) -> list[SecurityEventOut]:
    """Events newest first (``before``: an event id, to page on). Administrators see all
    (``user_id`` filters), others only events about or by themselves."""
    rows = security_log.list_events(
        db, actor, user_id=user_id, kind=kind, before_id=before, limit=limit
    )
    return [SecurityEventOut.of(r) for r in rows]

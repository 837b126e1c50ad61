"""All SQL of sign-in sessions, sign-in throttling and the security log.

Kept apart from :mod:`cordvault.drive.repository` (the files and folders SQL, near the module
size limit). Same contract: functions take a Session and never commit. The security log has
no update and no delete here but :func:`prune_events` (retention): it is append-only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from cordvault.drive.models import SecurityEvent, SignInSession, SignInThrottle

# -- sessions ------------------------------------------------------------------------------


def session(db: Session, session_id: str) -> SignInSession | None:
    return db.get(SignInSession, session_id)


def active_sessions(db: Session, user_id: int, now: datetime) -> list[SignInSession]:
    stmt = (
        select(SignInSession)
        .where(
            SignInSession.user_id == user_id,
            SignInSession.revoked_at.is_(None),
            SignInSession.expires_at > now,
        )
        .order_by(SignInSession.created_at.desc(), SignInSession.id)
    )
    return list(db.scalars(stmt))


def revoke_sessions(db: Session, user_id: int, now: datetime, *, keep: str | None = None) -> int:
    """Revoke every active session of ``user_id`` but ``keep``; how many were revoked."""
    stmt = update(SignInSession).where(
        SignInSession.user_id == user_id,
        SignInSession.revoked_at.is_(None),
        SignInSession.expires_at > now,
    )
    if keep is not None:
        stmt = stmt.where(SignInSession.id != keep)
    result = db.execute(stmt.values(revoked_at=now).execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def forget_sessions(db: Session, before: datetime) -> None:
    """Delete sessions that expired or were revoked before ``before`` (no longer listable)."""
    db.execute(
        delete(SignInSession).where(
            or_(SignInSession.expires_at < before, SignInSession.revoked_at < before)
        )
    )


# -- throttle ------------------------------------------------------------------------------


def throttle_rows(db: Session, keys: Sequence[tuple[str, str, str]]) -> list[SignInThrottle]:
    rows = (db.get(SignInThrottle, key) for key in keys)
    return [row for row in rows if row is not None]


def throttle_row(
    db: Session, key: tuple[str, str, str], *, for_update: bool = False
) -> SignInThrottle | None:
    return db.get(SignInThrottle, key, with_for_update=for_update)


def ensure_throttle_row(db: Session, key: tuple[str, str, str], now: datetime) -> None:
    """Insert an empty throttle row unless one exists (a concurrent insert is waited for, never
    an error): a row to lock even for a client with no failures yet."""
    values = {
        "scope": key[0],
        "account_key": key[1],
        "client": key[2],
        "failures": 0,
        "last_failure_at": now,
        "blocked_until": now,
        "alerted": False,
    }
    if db.get_bind().dialect.name == "postgresql":
        db.execute(pg_insert(SignInThrottle).values(**values).on_conflict_do_nothing())
    else:
        db.execute(sqlite_insert(SignInThrottle).values(**values).on_conflict_do_nothing())


def take_back_failure(
    db: Session,
    key: tuple[str, str, str],
    *,
    blocked_until: tuple[datetime, datetime] | None,
    alerted: bool | None,
    drop_if_empty: bool,
) -> None:
    """One failure fewer on a throttle row, in single statements (atomic without a read:
    concurrent callers each take back exactly one). ``blocked_until=(was, set)``: restore
    ``was`` unless the row now waits longer than ``set``; ``alerted``: restore that flag;
    ``drop_if_empty``: delete the row once it counts no failure."""
    where = (
        SignInThrottle.scope == key[0],
        SignInThrottle.account_key == key[1],
        SignInThrottle.client == key[2],
    )
    db.execute(
        update(SignInThrottle)
        .where(*where, SignInThrottle.failures > 0)
        .values(failures=SignInThrottle.failures - 1)
    )
    if blocked_until is not None:
        was, mine = blocked_until
        db.execute(
            update(SignInThrottle)
            .where(*where, SignInThrottle.blocked_until <= mine)
            .values(blocked_until=was)
        )
    if alerted is not None:
        db.execute(update(SignInThrottle).where(*where).values(alerted=alerted))
    if drop_if_empty:
        db.execute(delete(SignInThrottle).where(*where, SignInThrottle.failures <= 0))


def delete_throttle_row(db: Session, key: tuple[str, str, str]) -> None:
    db.execute(
        delete(SignInThrottle).where(
            SignInThrottle.scope == key[0],
            SignInThrottle.account_key == key[1],
            SignInThrottle.client == key[2],
        )
    )


def clear_throttle(db: Session, *, account_key: str | None, client: str | None) -> int:
    """Delete the throttle rows of an account (every client), of a client, or of both."""
    conditions = []
    if account_key is not None:
        conditions.append(SignInThrottle.account_key == account_key)
    if client is not None:
        conditions.append(SignInThrottle.client == client)
    if not conditions:
        return 0
    result = db.execute(delete(SignInThrottle).where(*conditions))
    return int(getattr(result, "rowcount", 0) or 0)


def forget_throttle(db: Session, before: datetime) -> None:
    db.execute(
        delete(SignInThrottle).where(
            SignInThrottle.last_failure_at < before, SignInThrottle.blocked_until < before
        )
    )


# -- security log --------------------------------------------------------------------------


def events(
    db: Session,
    *,
    user_id: int | None,
    kind: str | None,
    before_id: int | None,
    limit: int,
) -> list[SecurityEvent]:
    """Newest first; ``user_id`` keeps the events about or by that user."""
    stmt = select(SecurityEvent).order_by(SecurityEvent.id.desc()).limit(limit)
    if user_id is not None:
        stmt = stmt.where(or_(SecurityEvent.user_id == user_id, SecurityEvent.actor_id == user_id))
    if kind is not None:
        stmt = stmt.where(SecurityEvent.kind == kind)
    if before_id is not None:
        stmt = stmt.where(SecurityEvent.id < before_id)
    return list(db.scalars(stmt))


def prune_events(db: Session, before: datetime) -> int:
    result = db.execute(delete(SecurityEvent).where(SecurityEvent.at < before))
    return int(getattr(result, "rowcount", 0) or 0)

"""The security log: a persistent, append-only record of who did what to accounts and access.

:func:`record` adds one event in the caller's transaction (so an event exists exactly when
what it describes was committed). The one exception is a failed sign-in, whose request is
rolled back: :mod:`cordvault.drive.signin` records it in a transaction of its own.

An event holds its :class:`Kind`, when, the account it concerns (``user_id``), who acted
(``actor_id``; None for a local operator using the CLI, or an anonymous caller), the client
address and user agent, and a small JSON ``detail`` of ids and flags. **Never a secret**: no
password, token, app password, link token, UPN or key; and no account name typed at a failed
sign-in that matches no account (people type passwords into name fields). Callers pass only
the fields listed with each kind in ``docs/drive-api.md`` (Security log).

Rows are never updated; :func:`prune` deletes those older than
``DRIVE_SECURITY_LOG_RETENTION_DAYS`` (run by the drive's background collector).
Administrators read every event, other users the events about them or by them.
"""

from __future__ import annotations

import json
from datetime import timedelta
from enum import StrEnum

from sqlalchemy.orm import Session

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive import security_repository as srepo
from cordvault.drive.auth import Actor
from cordvault.drive.clients import ClientInfo
from cordvault.drive.context import DriveContext
from cordvault.drive.models import SecurityEvent, utcnow
from cordvault.drive.paging import check_page

MAX_EVENTS_PAGE = 1000
_MAX_ID = 2**31 - 1  # an INTEGER column
_MAX_DETAIL = 1024

DetailValue = str | int | bool | None


class Kind(StrEnum):
    """Event kinds (stable names: they are part of the API). No value is a secret."""

    SIGNIN_SUCCESS = "signin.success"
    SIGNIN_FAILURE = "signin.failure"
    SIGNIN_ALERT = "signin.alert"
    THROTTLE_CLEARED = "signin.unlocked"
    PASSWORD_CHANGED = "password.changed"  # noqa: S105
    PASSWORD_RESET = "password.reset"  # noqa: S105
    ACCOUNT_CREATED = "account.created"
    ACCOUNT_DISABLED = "account.disabled"
    ACCOUNT_ENABLED = "account.enabled"
    ACCOUNT_PROMOTED = "account.promoted"
    ACCOUNT_DEMOTED = "account.demoted"
    SESSION_REVOKED = "session.revoked"
    APP_PASSWORD_CREATED = "app_password.created"  # noqa: S105
    APP_PASSWORD_REVOKED = "app_password.revoked"  # noqa: S105
    FILE_SHARED = "file.shared"
    FILE_UNSHARED = "file.unshared"
    FILE_PUBLIC = "file.public"
    FILE_PRIVATE = "file.private"
    FILE_TRANSFERRED = "file.transferred"
    LINK_CREATED = "link.created"
    LINK_REVOKED = "link.revoked"
    KEYS_REWRAPPED = "keys.rewrapped"


def record(
    db: Session,
    kind: Kind,
    *,
    user_id: int | None = None,
    actor: Actor | None = None,
    client: ClientInfo | None = None,
    **detail: DetailValue,
) -> SecurityEvent:
    """Append one event in ``db``'s transaction. ``user_id`` defaults to the actor's id;
    ``client`` to the actor's client."""
    client = client or (actor.client if actor is not None else None)
    text = json.dumps({k: v for k, v in detail.items() if v is not None}, sort_keys=True)
    if len(text) > _MAX_DETAIL:  # ids and flags only: this is a caller's bug, keep the kind
        text = json.dumps({"truncated": True})
    event = SecurityEvent(
        at=utcnow(),
        kind=str(kind),
        user_id=user_id if user_id is not None else (actor.id if actor else None),
        actor_id=actor.id if actor is not None else None,
        client_address=client.address if client is not None else None,
        user_agent=client.user_agent if client is not None else None,
        detail=text,
    )
    db.add(event)
    return event


def list_events(
    db: Session,
    actor: Actor | None,
    *,
    user_id: int | None = None,
    kind: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[SecurityEvent]:
    """Events newest first, a page of at most ``MAX_EVENTS_PAGE`` (``before_id`` pages on).

    An administrator (or ``actor=None``, the local CLI operator) sees all events, or those
    about or by ``user_id``; anyone else only the events about or by themselves."""
    check_page(limit, 0, max_limit=MAX_EVENTS_PAGE)
    if before_id is not None and not 1 <= before_id <= _MAX_ID:
        raise CordvaultError(ErrorCode.INVALID_INPUT, f"before is 1-{_MAX_ID}")
    if actor is not None and not actor.is_admin:
        user_id = actor.id
    return srepo.events(db, user_id=user_id, kind=kind, before_id=before_id, limit=limit)


def detail_of(event: SecurityEvent) -> dict[str, DetailValue]:
    value = json.loads(event.detail or "{}")
    return value if isinstance(value, dict) else {}


def prune(ctx: DriveContext) -> int:
    """Delete events older than the retention (own transaction); how many were deleted."""
    days = ctx.settings.drive_security_log_retention_days
    with ctx.sessions() as db, db.begin():
        return srepo.prune_events(db, utcnow() - timedelta(days=days))

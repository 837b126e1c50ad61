"""Login tokens: each one a signed JWT (HS256) naming a server-side session row.

Claims: ``sub`` (user id as a string), ``sid`` (the :class:`~cordvault.drive.models.SignInSession`
id), ``ver`` (the user's ``token_version`` when issued), ``iat``, ``exp``, ``typ="drive"``.
Verification checks the signature, then re-reads the session and the user: a revoked or
expired session, a disabled or deleted account, or a bumped ``token_version`` (password
change, admin reset) rejects the token. Every failure is the same ``UNAUTHORIZED`` error so a
caller learns nothing about why.

A session row is created by :func:`issue_token` (kind ``"token"`` for the bearer API; another
front door, e.g. a cookie-based web page, passes its own ``kind`` and keeps the token in its
cookie). Listing and revoking sessions: :mod:`cordvault.drive.sessions`. A front door that
holds a connection open (WebSocket) re-checks :func:`session_alive` periodically and closes
the connection once it answers False.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from sqlalchemy.orm import Session

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive import repository as repo
from cordvault.drive import security_repository as srepo
from cordvault.drive.clients import ClientInfo
from cordvault.drive.context import DriveContext
from cordvault.drive.models import DriveUser, SignInSession, utcnow

_ALGORITHM = "HS256"
_TYPE = "drive"
TOKEN_SESSION = "token"  # noqa: S105 - a session kind, not a secret
"""Session kind of the bearer tokens of ``POST /api/auth/login`` (the API and the CLI)."""
TOKEN_BROWSER = "browser"  # noqa: S105 - a session kind, not a secret
"""Session kind of the web pages' cookie sessions (the same token, kept in ``cv_session``)."""
TOUCH_INTERVAL = timedelta(seconds=60)
"""A session's ``last_used_at`` is written at most this often (not on every request)."""


@dataclass(frozen=True)
class Actor:
    """The authenticated user a request acts as, through which session, from which client."""

    id: int
    name: str
    is_admin: bool
    session_id: str | None = None
    client: ClientInfo | None = None


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime
    session_id: str


def actor_of(
    user: DriveUser, *, session_id: str | None = None, client: ClientInfo | None = None
) -> Actor:
    return Actor(
        id=user.id, name=user.name, is_admin=user.is_admin, session_id=session_id, client=client
    )


def issue_token(
    ctx: DriveContext,
    db: Session,
    user: DriveUser,
    client: ClientInfo,
    *,
    kind: str = TOKEN_SESSION,
) -> IssuedToken:
    """Open a session for ``user`` and a signed token naming it, valid for
    ``DRIVE_TOKEN_TTL_SECONDS`` (the caller commits)."""
    now = utcnow()
    # The claims count whole seconds; the row keeps the exact time, so sessions opened within
    # one second still list newest first (ordering by a rounded time fell back to the random id).
    issued = now.replace(microsecond=0)
    expires = issued + timedelta(seconds=ctx.settings.drive_token_ttl_seconds)
    row = SignInSession(
        id=uuid.uuid4().hex,
        user_id=user.id,
        kind=kind,
        created_at=now,
        expires_at=expires,
        last_used_at=now,
        client_address=client.address,
        last_client_address=client.address,
        user_agent=client.user_agent,
    )
    repo.add(db, row)
    claims = {
        "sub": str(user.id),
        "sid": row.id,
        "ver": user.token_version,
        "typ": _TYPE,
        "iat": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
    }
    token = jwt.encode(claims, ctx.signing.token_key, algorithm=_ALGORITHM)
    return IssuedToken(token=token, expires_at=expires, session_id=row.id)


def _unauthorized(message: str = "invalid or expired token") -> CordvaultError:
    return CordvaultError(ErrorCode.UNAUTHORIZED, message)


def verify_token(
    ctx: DriveContext, db: Session, token: str, client: ClientInfo | None = None
) -> Actor:
    """The actor a token stands for, or ``UNAUTHORIZED``. Notes the session's use (time and
    client address) at most once per :data:`TOUCH_INTERVAL`."""
    try:
        claims = jwt.decode(
            token,
            ctx.signing.token_key,
            algorithms=[_ALGORITHM],
            options={"require": ["sub", "sid", "exp", "iat"]},
        )
        user_id = int(claims["sub"])
        version = int(claims["ver"])
        session_id = claims["sid"]
        if claims.get("typ") != _TYPE or not isinstance(session_id, str) or len(session_id) > 32:
            raise _unauthorized()
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        raise _unauthorized() from None
    now = utcnow()
    row = srepo.session(db, session_id)
    if row is None or row.user_id != user_id or row.revoked_at is not None:
        raise _unauthorized()
    if row.expires_at <= now:
        raise _unauthorized()
    user = repo.user_by_id(db, user_id)
    if user is None or user.disabled or user.token_version != version:
        raise _unauthorized()
    address = client.address if client is not None else row.last_client_address
    if now - row.last_used_at >= TOUCH_INTERVAL or address != row.last_client_address:
        row.last_used_at = now
        row.last_client_address = address
    return actor_of(user, session_id=row.id, client=client)


def session_alive(ctx: DriveContext, session_id: str) -> bool:
    """Whether a session may still be used (for connections held open: WebSocket)."""
    with ctx.sessions() as db:
        row = srepo.session(db, session_id)
        if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
            return False
        user = repo.user_by_id(db, row.user_id)
        return user is not None and not user.disabled

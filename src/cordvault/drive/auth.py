"""Login tokens: issue and verify JWTs (HS256), bound to the user's token version.

Claims: ``sub`` (user id as a string), ``ver`` (the user's ``token_version`` when issued),
``iat``, ``exp``, ``typ="drive"``. Verification re-reads the user: a disabled account, a deleted
account or a bumped ``token_version`` (password change, admin reset) rejects the token. Every
failure is the same ``UNAUTHORIZED`` error so a caller learns nothing about why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from sqlalchemy.orm import Session

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive import repository as repo
from cordvault.drive.context import DriveContext
from cordvault.drive.models import DriveUser, utcnow

_ALGORITHM = "HS256"
_TYPE = "drive"


@dataclass(frozen=True)
class Actor:
    """The authenticated user a request acts as."""

    id: int
    name: str
    is_admin: bool


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


def actor_of(user: DriveUser) -> Actor:
    return Actor(id=user.id, name=user.name, is_admin=user.is_admin)


def issue_token(ctx: DriveContext, user: DriveUser) -> IssuedToken:
    """A signed token for ``user`` valid for ``DRIVE_TOKEN_TTL_SECONDS``."""
    now = utcnow()
    expires = now + timedelta(seconds=ctx.settings.drive_token_ttl_seconds)
    claims = {
        "sub": str(user.id),
        "ver": user.token_version,
        "typ": _TYPE,
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
    }
    token = jwt.encode(claims, ctx.signing.token_key, algorithm=_ALGORITHM)
    return IssuedToken(token=token, expires_at=expires.replace(microsecond=0))


def _unauthorized(message: str = "invalid or expired token") -> CordvaultError:
    return CordvaultError(ErrorCode.UNAUTHORIZED, message)


def verify_token(ctx: DriveContext, db: Session, token: str) -> Actor:
    """The actor a token stands for, or ``UNAUTHORIZED``."""
    try:
        claims = jwt.decode(
            token,
            ctx.signing.token_key,
            algorithms=[_ALGORITHM],
            options={"require": ["sub", "exp", "iat"]},
        )
        user_id = int(claims["sub"])
        version = int(claims["ver"])
        if claims.get("typ") != _TYPE:
            raise _unauthorized()
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        raise _unauthorized() from None
    user = repo.user_by_id(db, user_id)
    if user is None or user.disabled or user.token_version != version:
        raise _unauthorized()
    return actor_of(user)

"""What the WebDAV provider and resources share: the caller, transactions, error mapping.

- :func:`actor_of_environ`: the caller the gateway authenticated (it rides in the ASGI scope,
  which a client cannot write, as ``cordvault.dav.actor``).
- :func:`transaction`: one short transaction per operation; store I/O never runs inside one.
- :func:`dav_errors`: the one translation of :class:`CordvaultError` into WsgiDAV's
  :class:`DAVError` (status codes below); messages are the drive's (secret-free) messages.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import Session
from wsgidav.dav_error import DAVError

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive.auth import Actor
from cordvault.drive.context import DriveContext

ACTOR_KEY = "cordvault.dav.actor"
"""Scope key holding the authenticated :class:`Actor`."""

_STATUS = {
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.NAME_CONFLICT: 409,
    ErrorCode.CONFLICT: 409,
    ErrorCode.INVALID_NAME: 400,
    ErrorCode.INVALID_INPUT: 400,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.STORAGE_FULL: 507,
    ErrorCode.STORAGE_UNAVAILABLE: 503,
    ErrorCode.UPSTREAM_ERROR: 502,
}


def actor_of_environ(environ: dict[str, Any]) -> Actor:
    scope = environ.get("asgi.scope") or {}
    actor = scope.get(ACTOR_KEY)
    if not isinstance(actor, Actor):  # unreachable behind the gateway: refuse, never guess
        raise DAVError(401)
    return actor


@contextlib.contextmanager
def transaction(drive: DriveContext) -> Iterator[Session]:
    """One transaction, committed when the block ends normally, else rolled back."""
    with drive.sessions() as db, db.begin():
        yield db


def to_dav_error(exc: CordvaultError) -> DAVError:
    return DAVError(_STATUS.get(exc.code, exc.http_status), context_info=exc.message)


@contextlib.contextmanager
def dav_errors() -> Iterator[None]:
    """Run drive services, answering their errors as WebDAV statuses."""
    try:
        yield
    except CordvaultError as exc:
        raise to_dav_error(exc) from None

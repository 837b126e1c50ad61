"""Who a socket is: the one seam between live connections and the drive's credentials.

:func:`authenticate` is the only place a socket's credentials are checked, on connect and
again on every heartbeat; it uses the same verification as the REST routes
(:func:`cordvault.drive.auth.verify_token`), so re-pointing it (server-side sessions, cookie
sessions) changes sockets and REST together. Credentials come in the first packet
(``c2s:auth`` ``{"token": ...}``), never in the URL (URLs end up in logs and histories).
"""

from __future__ import annotations

from dataclasses import dataclass

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive import repository as repo
from cordvault.drive.auth import Actor, verify_token
from cordvault.drive.context import DriveContext
from cordvault.web.drive.deps import transaction


@dataclass(frozen=True)
class SocketIdentity:
    actor: Actor
    token_version: int
    """The account's ``token_version`` when the socket authenticated: an ``account-revoked``
    event with a higher version closes the socket."""


def authenticate(drive: DriveContext, token: str | None) -> SocketIdentity:
    """The identity behind a bearer token, or ``UNAUTHORIZED``. Blocking (a DB read)."""
    if not token or not isinstance(token, str):
        raise CordvaultError(ErrorCode.UNAUTHORIZED, "send c2s:auth with a token first")
    with transaction(drive) as db:
        actor = verify_token(drive, db, token)
        user = repo.user_by_id(db, actor.id)
        if user is None:  # deleted between the two reads
            raise CordvaultError(ErrorCode.UNAUTHORIZED, "invalid or expired token")
        return SocketIdentity(actor, user.token_version)

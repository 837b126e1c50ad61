"""Who a socket is: the one seam between live connections and the drive's credentials.

:func:`authenticate` is the only place a socket's credentials are checked, on connect and
again on every heartbeat; it uses the same verification as the REST routes
(:func:`cordvault.drive.auth.verify_token`), so re-pointing it (server-side sessions, cookie
sessions) changes sockets and REST together. Credentials come in the first packet
(``c2s:auth`` ``{"token": ...}``), or, for the web pages, in the ``cv_session`` cookie of the
handshake (:mod:`cordvault.web.session_cookie`); never in the URL (URLs end up in logs and
histories).

A browser attaches the cookie to a WebSocket handshake whatever page opens it (the same-origin
policy does not cover WebSockets; ``SameSite=Strict`` only stops other *sites*, not another
origin of the same site). So the cookie counts only when the handshake's ``Origin`` is this
server's own (:func:`same_origin`): that is what stops cross-site WebSocket hijacking. A bearer
in the first packet needs no such check: a foreign page cannot read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.settings import Settings
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


_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _origin_of(url: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an absolute URL, ports made explicit; None if not one."""
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        return None
    if scheme not in _DEFAULT_PORTS or not parts.hostname or port is None:
        return None
    return ("https" if scheme in ("https", "wss") else "http", parts.hostname.lower(), port)


def same_origin(origin: str | None, host: str | None, secure: bool, settings: Settings) -> bool:
    """Whether a handshake's ``Origin`` header is this server's own origin.

    Own origin: ``PUBLIC_URL``'s (or ``DRIVE_PUBLIC_URL``'s) when set, the only one accepted
    then; otherwise the scheme of the handshake (``secure``: wss) and its ``Host`` header. No
    ``Origin`` (not a browser) or ``Origin: null`` never matches: a client without a browser
    sends its bearer in ``c2s:auth`` instead.
    """
    got = _origin_of(origin) if origin else None
    if got is None:
        return False
    configured = [u for u in (settings.public_url, settings.drive_public_url) if u]
    if configured:
        return any(_origin_of(u) == got for u in configured)
    if not host:
        return False
    return _origin_of(f"{'https' if secure else 'http'}://{host}") == got

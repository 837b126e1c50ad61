"""The ASGI front of ``/dav``: authentication, the download fast path, then WsgiDAV.

Every request is authenticated here, once, with HTTP Basic and an app password
(:func:`cordvault.drive.app_passwords.verify_basic`, in the thread pool: it touches the DB).
Failures answer 401 with a ``WWW-Authenticate`` challenge (429 with ``Retry-After`` while the
account name is throttled). The caller rides on to WsgiDAV in the ASGI scope (``asgi.scope`` in
the WSGI environ), where no client can write.

``GET``/``HEAD`` of a file is answered here by the drive's read path (``downloads.prepare``
+ :func:`cordvault.web.drive.responses.content_response`, as the REST routes answer: Range,
multi-range, If-Range, conditional requests, streamed after the transaction closed), rather
than through WsgiDAV's single-range block loop and the WSGI bridge. Everything else goes to
WsgiDAV behind :mod:`a2wsgi` (its threads, request body pulled on demand: a ``PUT`` streams
with backpressure).

``PROPFIND`` with ``Depth: infinity`` (or none, which means infinity) is refused with 403 and
the ``propfind-finite-depth`` condition (RFC 4918, 9.1): a client walks the tree level by level.
"""

from __future__ import annotations

import base64
import binascii

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive import access, app_passwords, downloads, folders
from cordvault.drive.access import Access
from cordvault.drive.app_passwords import CredentialCache
from cordvault.drive.auth import Actor
from cordvault.drive.clients import ClientInfo
from cordvault.drive.context import DriveContext
from cordvault.drive.models import DriveFile
from cordvault.web.dav.provider import DriveDavProvider
from cordvault.web.dav.support import ACTOR_KEY, transaction
from cordvault.web.drive.deps import client_of
from cordvault.web.drive.responses import content_response

PREFIX = "/dav"
REALM = "cordvault"
_FINITE_DEPTH = (
    b'<?xml version="1.0" encoding="utf-8"?>\n'
    b'<D:error xmlns:D="DAV:"><D:propfind-finite-depth/></D:error>'
)


class DavGateway:
    """``/dav`` and everything below it (see the module docstring)."""

    def __init__(
        self,
        drive: DriveContext,
        credentials: CredentialCache,
        provider: DriveDavProvider,
        wsgi: ASGIApp,
    ) -> None:
        self.drive = drive
        self.credentials = credentials
        self.provider = provider
        self.wsgi = wsgi

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        full = scope["path"]
        dav_path = full[len(PREFIX) :] if full.startswith(PREFIX) else full
        scope = {**scope, "root_path": PREFIX, "path": PREFIX + (dav_path or "/")}
        headers = {k.decode("latin1").lower(): v.decode("latin1") for k, v in scope["headers"]}
        try:
            # The one client-address rule of every front door (TRUSTED_PROXIES, every
            # X-Forwarded-For line): the same answer the REST API and the pages give.
            client = client_of(Request(scope))
            actor = await run_in_threadpool(
                self._authenticate, headers.get("authorization"), client
            )
        except CordvaultError as exc:
            await _refusal(exc)(scope, receive, send)
            return
        scope[ACTOR_KEY] = actor
        method = scope["method"].upper()
        if method == "PROPFIND" and headers.get("depth", "infinity").strip().lower() not in (
            "0",
            "1",
        ):
            response = Response(
                _FINITE_DEPTH, status_code=403, media_type='application/xml; charset="utf-8"'
            )
            await response(scope, receive, send)
            return
        if method in ("GET", "HEAD"):
            served = await run_in_threadpool(self._download, actor, dav_path or "/")
            if served is not None:
                request = Request(scope, receive)
                await content_response(request, served)(scope, receive, send)
                return
        await self.wsgi(scope, receive, send)

    def _authenticate(self, authorization: str | None, client: ClientInfo) -> Actor:
        name, secret = _basic(authorization)
        with transaction(self.drive) as db:
            return app_passwords.verify_basic(
                self.drive, db, self.credentials, name, secret, client
            )

    def _download(self, actor: Actor, path: str) -> downloads.Download | None:
        """The file's download plan, or None (a folder, or nothing: WsgiDAV answers)."""
        with transaction(self.drive) as db:
            try:
                found = folders.resolve(db, path)
            except CordvaultError:
                return None
            if not isinstance(found, DriveFile):
                return None
            if access.file_access(db, actor, found) is Access.NONE:
                return None
            return downloads.prepare(self.drive, db, found)


def _basic(authorization: str | None) -> tuple[str, str]:
    if not authorization or not authorization[:6].lower() == "basic ":
        raise CordvaultError(ErrorCode.UNAUTHORIZED, "sign in with your name and an app password")
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise CordvaultError(ErrorCode.UNAUTHORIZED, "malformed Basic credentials") from None
    name, sep, secret = decoded.partition(":")
    if not sep:
        raise CordvaultError(ErrorCode.UNAUTHORIZED, "malformed Basic credentials")
    return name, secret


def _refusal(exc: CordvaultError) -> Response:
    headers: dict[str, str] = {}
    status = exc.http_status
    if exc.code is ErrorCode.RATE_LIMITED:
        headers["retry-after"] = str(exc.details.get("retry_after", 60))
    else:
        status = 401
        headers["www-authenticate"] = f'Basic realm="{REALM}", charset="UTF-8"'
    body = f"{exc.code}: {exc.message}\n".encode()
    return Response(body, status_code=status, headers=headers, media_type="text/plain")

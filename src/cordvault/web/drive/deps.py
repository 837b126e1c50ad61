"""The drive routes' dependencies: the drive context, the request's transaction, the caller.

- :data:`DriveDep`: the :class:`~cordvault.drive.context.DriveContext` of the app's composition
  root (``request.app.state.services.drive``).
- :data:`SessionDep`: one transaction per request, **committed before the response is sent**
  and rolled back on any error. It is a yield dependency with ``scope="function"``: FastAPI
  (0.121+) closes it right after the route function returns, before the response goes out, so
  a failing commit still becomes the error answer (never a success whose writes are lost), and
  a streamed response (downloads, zip) is built while the transaction is open but streamed
  after it closed: a slow download never holds a DB connection. (The default ``"request"``
  scope would commit only after the response was sent.)
- :data:`ClientDep`: who is calling (:class:`~cordvault.drive.clients.ClientInfo`: the socket
  peer, or ``X-Forwarded-For`` from a ``TRUSTED_PROXIES`` peer; the user agent).
- :data:`CurrentUser`: the caller, from ``Authorization: Bearer <token>`` or, for a browser, the
  session cookie holding the same kind of token (``web/session_cookie.py``), verified in the
  request's transaction by the same ``verify_token`` (its session must be active); else
  ``UNAUTHORIZED`` (401). The actor carries its session id and client (for the security log).
  A state-changing request signed in by the cookie must carry the page's CSRF token
  (``X-CSRF-Token``), else ``CSRF_FAILED`` (403); a bearer request needs none (a browser never
  sends that header on its own).
- :data:`SignedIn`: the caller too, verified in a transaction of its own that is over before
  the route runs: for routes that do store I/O and must not hold a transaction meanwhile
  (chunk uploads, completing an upload, streaming uploads).

Dependencies run before the route's own parameters are validated: a request without a valid
token is refused (401) before its query and body fields are (a body that is not JSON at all is
refused earlier, by FastAPI).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive.auth import Actor, verify_token
from cordvault.drive.clients import ClientInfo, client_info
from cordvault.drive.context import DriveContext
from cordvault.runtime import Services
from cordvault.web import csrf
from cordvault.web.session_cookie import session_token


async def drive_context(request: Request) -> DriveContext:
    """The drive context of the app serving ``request`` (no I/O: runs on the event loop)."""
    services: Services = request.app.state.services
    return services.drive


DriveDep = Annotated[DriveContext, Depends(drive_context)]


@contextlib.contextmanager
def transaction(drive: DriveContext) -> Iterator[Session]:
    """One transaction: committed when the block ends normally, else rolled back."""
    with drive.sessions() as db, db.begin():
        yield db


def _request_transaction(drive: DriveDep) -> Iterator[Session]:
    with transaction(drive) as db:
        yield db


SessionDep = Annotated[Session, Depends(_request_transaction, scope="function")]


async def request_client(request: Request) -> ClientInfo:
    """The calling client (no I/O: runs on the event loop)."""
    return client_of(request)


def client_of(request: Request) -> ClientInfo:
    """The calling client of ``request``, by the ``TRUSTED_PROXIES`` rule (pages use it too)."""
    services: Services = request.app.state.services
    return client_info(
        request.client.host if request.client else None,
        ", ".join(request.headers.getlist("x-forwarded-for")) or None,
        request.headers.get("user-agent"),
        services.settings.trusted_proxy_networks,
    )


ClientDep = Annotated[ClientInfo, Depends(request_client)]


def bearer_actor(
    drive: DriveContext, db: Session, authorization: str | None, client: ClientInfo | None = None
) -> Actor:
    """The caller, from ``Authorization: Bearer <token>``; else ``UNAUTHORIZED`` (401)."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise CordvaultError(
            ErrorCode.UNAUTHORIZED,
            "sign in first (Authorization: Bearer <token>)",
        )
    return verify_token(drive, db, authorization[7:].strip(), client)


def request_actor(drive: DriveContext, db: Session, request: Request, client: ClientInfo) -> Actor:
    """The caller from the bearer token, else from the session cookie (CSRF-checked)."""
    authorization = request.headers.get("authorization")
    token = None if authorization else session_token(request)
    if token is None:
        return bearer_actor(drive, db, authorization, client)
    # An expired session is 401 before any CSRF check.
    actor = verify_token(drive, db, token, client)
    if request.method.upper() not in csrf.SAFE_METHODS:
        key = csrf.csrf_key(drive.signing.token_key)
        if not csrf.csrf_valid(key, token, request.headers.get(csrf.HEADER)):
            raise CordvaultError(
                ErrorCode.CSRF_FAILED,
                "this request needs the page's CSRF token (X-CSRF-Token); reload the page",
            )
    return actor


def current_actor(drive: DriveDep, db: SessionDep, client: ClientDep, request: Request) -> Actor:
    return request_actor(drive, db, request, client)


CurrentUser = Annotated[Actor, Depends(current_actor)]


def signed_in_actor(drive: DriveDep, client: ClientDep, request: Request) -> Actor:
    with transaction(drive) as db:
        return request_actor(drive, db, request, client)


SignedIn = Annotated[Actor, Depends(signed_in_actor)]

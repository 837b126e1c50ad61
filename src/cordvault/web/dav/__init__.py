"""WebDAV under ``/dav/`` for file managers and rclone: WsgiDAV over the drive's services.

Why WsgiDAV (4.x) behind :mod:`a2wsgi`: it is the maintained, complete Python WebDAV server
(class 1 and 2: PROPFIND/PROPPATCH, MKCOL, COPY/MOVE with Depth and Overwrite, LOCK/UNLOCK
with timeouts and If-header evaluation, the Windows and macOS hotfixes) and it passes litmus;
the ASGI-native alternatives are either read-only, unmaintained or leave locking out. Only the
storage side is ours (:mod:`.provider`, :mod:`.resources`): every decision about who may do
what is the drive's (:mod:`cordvault.drive.access` through the drive's service functions), and
content moves through the drive's chunk writer and reader. The bridge costs a thread per
request, which WsgiDAV needs anyway (its handlers are synchronous); downloads skip it
(:mod:`.gateway`).

Authentication: HTTP Basic with per-device app passwords (:mod:`cordvault.drive.app_passwords`,
managed at ``/api/auth/app-passwords`` and with ``cordvault drive app-password``).

Locks are held in memory (WsgiDAV's ``LockStorageDict``): they last until they expire
(default 1 week, at most 4 weeks, as the client asks) or the server restarts, and are not shared
between server processes. ``docs/webdav.md`` lists what was tested with which client.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from a2wsgi import WSGIMiddleware
from fastapi import FastAPI
from starlette.routing import Mount, Route
from starlette.types import ASGIApp
from wsgidav.dav_error import DAVError
from wsgidav.error_printer import ErrorPrinter
from wsgidav.wsgidav_app import WsgiDAVApp

from cordvault.runtime import Services
from cordvault.web.dav.gateway import PREFIX, DavGateway
from cordvault.web.dav.listing import ListingRequestResolver
from cordvault.web.dav.provider import DriveDavProvider
from cordvault.web.dav.support import ACTOR_KEY
from cordvault.web.middleware import allow_streaming, streaming_route

BLOCK_SIZE = 1024 * 1024
"""Bytes WsgiDAV reads from a ``PUT`` body at a time (the chunk writer re-cuts them)."""
DAV_THREADS = 16
"""WsgiDAV requests served at once (each holds a thread while it runs)."""


def _with_user(app: WsgiDAVApp) -> Any:
    """Tell WsgiDAV who the gateway authenticated (its lock owner, its log name)."""

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        actor = (environ.get("asgi.scope") or {}).get(ACTOR_KEY)
        environ["wsgidav.auth.user_name"] = actor.name if actor is not None else ""
        environ["wsgidav.auth.realm"] = "cordvault"
        environ["wsgidav.auth.roles"] = []
        environ["wsgidav.auth.permissions"] = []
        return app(environ, start_response)

    return wsgi


class _ExpectedRefusals(logging.Filter):
    """Drop WsgiDAV's error log (with traceback) of a ``PUT`` the drive refused on purpose
    (403, 409 ...): that is an answer, not a server fault. 5xx stay logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (isinstance(exc, DAVError) and exc.value < 500)


def build_gateway(services: Services) -> DavGateway:
    provider = DriveDavProvider(services.drive)
    config = {
        "provider_mapping": {"/": provider},
        "mount_path": PREFIX,
        # The resolver hands PROPFIND to our listing server (folder listings without WsgiDAV's
        # per-property loop, see .listing); every other method is WsgiDAV's RequestServer.
        "middleware_stack": [ErrorPrinter, ListingRequestResolver],
        # Authentication is the gateway's (app passwords), not WsgiDAV's.
        "http_authenticator": {"accept_basic": False, "accept_digest": False},
        "simple_dc": {"user_mapping": {"*": True}},  # never consulted: no authenticator
        "lock_storage": True,
        "property_manager": None,
        "block_size": BLOCK_SIZE,
        "add_header_MS_Author_Via": True,
        "hotfixes": {"re_encode_path_info": True, "unquote_path_info": False},
        "dir_browser": {"enable": False},
        "logging": {"enable": False, "enable_loggers": []},
        "verbose": 1,
    }
    app = WsgiDAVApp(config)
    # WsgiDAV configures its own logger at start: keep it quiet (paths are private).
    logging.getLogger("wsgidav").setLevel(logging.WARNING)
    server_log = logging.getLogger("wsgidav.request_server")
    if not any(isinstance(f, _ExpectedRefusals) for f in server_log.filters):
        server_log.addFilter(_ExpectedRefusals())
    wsgi = cast(ASGIApp, WSGIMiddleware(_with_user(app), workers=DAV_THREADS))
    return DavGateway(services.drive, services.dav_credentials, provider, wsgi)


def install(app: FastAPI, services: Services) -> None:
    """Serve WebDAV at ``/dav`` (and ``/dav/``) for the drive's accounts."""
    gateway = build_gateway(services)
    app.router.routes.append(Route(PREFIX, gateway, include_in_schema=False))
    app.router.routes.append(Mount(PREFIX, app=gateway))
    allow_streaming(app, streaming_route("PUT", PREFIX + r"/.*"))


__all__ = ["install"]

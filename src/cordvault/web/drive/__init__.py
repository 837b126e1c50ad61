"""The drive's HTTP adapter: ``/api/auth/...`` (accounts) and ``/api/drive/...`` (files).

Routes are thin: their dependencies (:mod:`.deps`) give them the drive context, the request's
transaction (committed before the response is sent, rolled back on any error) and the caller;
each route calls one service and shapes the answer. Content responses are built while the
transaction is open and streamed after it closed, so a slow download never holds a DB
connection. Errors leave as the app-wide JSON shape (``web/app.py``); the routes, their access
rules and error codes are listed in ``docs/drive-api.md``.

- :mod:`.accounts`: ``/api/auth/...`` (accounts, sign-in)
- :mod:`.security`: sessions, sign-in unlock, the security log
- :mod:`.app_passwords`: ``/api/auth/app-passwords`` (WebDAV's per-device passwords)
- :mod:`.files`: folders, files, shares, signed links
- :mod:`.uploads`: resumable and streamed uploads
- :mod:`.previews`: thumbnails
- :mod:`.trash`: the trash, file versions
- :mod:`.quotas`: quotas and name search
- :mod:`.folder_sharing`: folder shares, folder links (public folders: ``PATCH`` in :mod:`.files`)
- :mod:`.responses`: the answers several of these (and WebDAV) share: content, zip, links

``install`` is what ``web/app.py`` calls; the garbage collector runs in the app's lifespan
(``drive.gc.collector_loop``, started by ``Services.running``).
"""

from __future__ import annotations

from fastapi import FastAPI

from cordvault.runtime import Services
from cordvault.web.drive import (
    accounts,
    app_passwords,
    files,
    folder_sharing,
    previews,
    quotas,
    security,
    trash,
    uploads,
)
from cordvault.web.middleware import allow_streaming, streaming_route


def install(app: FastAPI, services: Services) -> None:
    """Add the drive routes. The drive context is opened now, so bad keys fail at start."""
    _ = services.drive
    routers = (
        accounts.router,
        security.router,
        app_passwords.router,
        files.router,
        previews.router,
        uploads.router,
        trash.router,
        quotas.router,
        folder_sharing.router,
    )
    for router in routers:
        app.include_router(router)
    # The upload routes stream their bodies (bounded by the chunk size / streamed to the
    # store); every other route is held to MAX_JSON_BODY_BYTES.
    allow_streaming(
        app,
        streaming_route("PUT", r"/api/drive/uploads/[^/]+/chunks/[^/]+"),
        streaming_route("PUT", r"/api/drive/upload"),
    )


__all__ = ["install"]

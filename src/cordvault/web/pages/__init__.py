"""The browser front end: server-rendered pages (Jinja2) and small plain JS modules.

No build step and no Node at run time: every asset (our JS and CSS, and the vendored
``static/vendor/*`` libraries, each with its licence) ships in the package and is served from
``/static`` on our own origin; pages load nothing from any other origin.

- :mod:`.accounts`: first-run administrator, sign in / out, change password (forms); the
  account page's sessions and security log sections (``static/js/account.js``, REST).
- :mod:`.drive_pages`: ``/`` (app shell), ``/drive``, ``/shared``, ``/view/{id}``, ``/admin``.
- :mod:`.conveniences_pages`: ``/trash`` and ``/search`` (versions are a dialog, ``versions.js``).
- :mod:`.folder_links`: ``/fl/{token}``, the account-less page of a folder link.
- :mod:`.insights_pages`: ``/insights`` (send a package, follow it, decrypt the result here).
- :mod:`.docs_pages`: ``/docs`` and ``/redoc`` from vendored assets.
- :mod:`.insights_dashboard`: ``/insights/dashboard`` (statistics computed in the browser).
- :mod:`.headers`: the CSP and friends on every answer.
- :mod:`.render`: templates, the page's visitor, CSRF tokens.

Sessions are a cookie holding an API token (``web/session_cookie.py``) checked by the drive
routes' own dependency (``web/drive/deps.py``); state-changing requests carry a CSRF token
(``web/csrf.py``). The pages' scripts call the same REST routes as the CLI.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.gzip import GZipMiddleware
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cordvault.runtime import Services
from cordvault.web.middleware import DefaultHeaders
from cordvault.web.pages import (
    accounts,
    conveniences_pages,
    docs_pages,
    drive_pages,
    folder_links,
    insights_dashboard,
    insights_pages,
)
from cordvault.web.pages.headers import PAGE_HEADERS
from cordvault.web.pages.render import STATIC_DIR


class _Cached:
    """Static answers may be cached for an hour (URLs carry the version as cache buster)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_cached(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), (b"cache-control", b"public, max-age=3600")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_cached)


def install(app: FastAPI, services: Services) -> None:
    """Add the pages, ``/static`` (gzip-compressed) and the security headers."""
    _ = services
    routers = (
        accounts.router,
        drive_pages.router,
        conveniences_pages.router,
        folder_links.router,
        insights_pages.router,
        insights_dashboard.router,
        docs_pages.router,
    )
    for router in routers:
        app.include_router(router)
    static = StaticFiles(directory=STATIC_DIR)
    app.mount("/static", _Cached(GZipMiddleware(static, minimum_size=1024)), name="static")
    app.add_middleware(DefaultHeaders, headers=PAGE_HEADERS)


__all__ = ["install"]

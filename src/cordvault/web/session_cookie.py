"""The browser session cookie: it holds a login token the drive API issues (``drive/auth.py``).

A signed-in browser sends ``cv_session=<token>``; :mod:`cordvault.web.drive.deps` verifies it
with the same ``verify_token`` as a bearer token, so a cookie session is exactly as valid as
the token inside it: disabling the account, changing or resetting its password (token version
bump) or its expiry ends it. The cookie is ``HttpOnly`` (no script reads it), ``SameSite=Strict``
(never sent on a cross-site request), ``Secure`` when the request came over HTTPS, and lives as
long as the token. State-changing requests it authenticates must carry a CSRF token
(:mod:`cordvault.web.csrf`).

Kept apart from the routes so server-side session records (listing / revoking sessions) can
replace the token inside without touching the pages.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "cv_session"


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def session_token(request: Request) -> str | None:
    """The token in the request's session cookie, if any."""
    value = request.cookies.get(SESSION_COOKIE)
    return value or None


def set_private_cookie(
    response: Response, request: Request, name: str, value: str, max_age: int
) -> None:
    """Set an HttpOnly, SameSite=Strict cookie (Secure over HTTPS) for the whole site."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=is_https(request),
    )


def start_session(response: Response, request: Request, token: str, max_age: int) -> None:
    set_private_cookie(response, request, SESSION_COOKIE, token, max_age)


def end_session(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=is_https(request)
    )

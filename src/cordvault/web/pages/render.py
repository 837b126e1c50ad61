"""Rendering pages: the Jinja2 environment, the signed-in user of a page request, CSRF tokens.

Templates autoescape everything. Every page gets ``user`` (or None), ``csrf`` (the token its
forms and fetches send back, see :mod:`cordvault.web.csrf`) and ``asset(path)`` (a static URL
with the package version as cache buster). A page request without a session gets a
pre-session nonce cookie so its forms can carry a CSRF token before anyone signs in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

import cordvault
from cordvault.core.errors import CordvaultError
from cordvault.drive import repository as repo
from cordvault.drive.auth import Actor, verify_token
from cordvault.drive.context import DriveContext
from cordvault.runtime import Services
from cordvault.web import csrf
from cordvault.web.drive.deps import client_of
from cordvault.web.session_cookie import session_token, set_private_cookie

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
_env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_NONCE_MAX_AGE = 12 * 3600


def asset(path: str) -> str:
    return f"/static/{path}?v={cordvault.__version__}"


_env.globals["asset"] = asset


def drive_of(request: Request) -> DriveContext:
    services: Services = request.app.state.services
    return services.drive


@dataclass(frozen=True)
class Visitor:
    """Who asks for a page: the signed-in actor (or None) and whether any account exists."""

    actor: Actor | None
    has_users: bool


def visitor(request: Request) -> Visitor:
    """The session's actor (None when absent, expired or revoked) and whether setup is done."""
    drive = drive_of(request)
    token = session_token(request)
    with drive.sessions() as db, db.begin():
        has_users = repo.count_users(db) > 0
        if token is None or not has_users:
            return Visitor(None, has_users)
        try:
            return Visitor(verify_token(drive, db, token, client_of(request)), True)
        except CordvaultError:
            return Visitor(None, True)


def _csrf_binding(request: Request, signed_in: bool) -> tuple[str, str | None]:
    """What the page's CSRF token is bound to, and a new nonce to set (None: keep cookies)."""
    token = session_token(request)
    if signed_in and token is not None:
        return token, None
    nonce = request.cookies.get(csrf.NONCE_COOKIE)
    if nonce:
        return nonce, None
    fresh = csrf.new_nonce()
    return fresh, fresh


def form_csrf_ok(request: Request, presented: str | None, *, signed_in: bool) -> bool:
    """Whether a form post carries the right CSRF token (session- or nonce-bound)."""
    key = csrf.csrf_key(drive_of(request).signing.token_key)
    binding = session_token(request) if signed_in else request.cookies.get(csrf.NONCE_COOKIE)
    return csrf.csrf_valid(key, binding, presented)


def render(
    request: Request, template: str, *, actor: Actor | None, status: int = 200, **ctx: Any
) -> HTMLResponse:
    """Render ``template`` with the page context (user, csrf, asset)."""
    binding, new_nonce = _csrf_binding(request, actor is not None)
    key = csrf.csrf_key(drive_of(request).signing.token_key)
    html = _env.get_template(template).render(
        user=actor, csrf=csrf.csrf_token(key, binding), path=request.url.path, **ctx
    )
    response = HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})
    if new_nonce is not None:
        set_private_cookie(response, request, csrf.NONCE_COOKIE, new_nonce, _NONCE_MAX_AGE)
    return response


def render_anonymous(template: str, *, path: str, **ctx: Any) -> HTMLResponse:
    """Render ``template`` with no visitor and no CSRF token, for pages served without the
    drive (the one-result server of ``cordvault analyze --open``): they have no form to post."""
    html = _env.get_template(template).render(user=None, csrf="", path=path, **ctx)
    return HTMLResponse(html, headers={"cache-control": "no-store"})

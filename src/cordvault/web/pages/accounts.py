"""Account pages: first-run administrator, sign in, sign out, change password.

Forms post back to these routes (they work without script) and call the same account use
cases as ``/api/auth`` (``drive/users.py``, ``drive/auth.py``); on success the browser gets the
session cookie holding a token the API issued (``web/session_cookie.py``). Every form carries
a CSRF token (pre-session forms: bound to a nonce cookie); a post without it is refused with
403 and a readable page. Errors are shown next to the form, never as JSON.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive import sessions, signin, users
from cordvault.drive.auth import TOKEN_BROWSER, Actor, IssuedToken, issue_token
from cordvault.web import csrf
from cordvault.web.drive.deps import client_of
from cordvault.web.pages.render import drive_of, form_csrf_ok, render, visitor
from cordvault.web.session_cookie import end_session, start_session

router = APIRouter(include_in_schema=False)

_CSRF_MESSAGE = "This form has expired. Reload the page and try again."


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _signed_in(request: Request, response: Response, issued: IssuedToken) -> Response:
    ttl = drive_of(request).settings.drive_token_ttl_seconds
    start_session(response, request, issued.token, ttl)
    return response


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _message(exc: CordvaultError) -> str:
    if exc.code is ErrorCode.RATE_LIMITED:
        wait = (exc.details or {}).get("retry_after")
        return (
            f"Too many failed attempts. Wait {wait} s and try again."
            if wait
            else ("Too many failed attempts. Wait a little and try again.")
        )
    return exc.message[:1].upper() + exc.message[1:] + "."


@router.get("/setup")
async def setup_page(request: Request) -> Response:
    who = await run_in_threadpool(visitor, request)
    if who.has_users:
        return _redirect("/login")
    return render(request, "setup.html", actor=None)


@router.post("/setup")
async def setup(request: Request) -> Response:
    form = await _form(request)
    if not form_csrf_ok(request, form.get(csrf.FORM_FIELD), signed_in=False):
        return render(request, "setup.html", actor=None, status=403, error=_CSRF_MESSAGE)
    name, password = form.get("name", ""), form.get("password", "")
    if password != form.get("password2", ""):
        return render(
            request,
            "setup.html",
            actor=None,
            status=400,
            name=name,
            error="The two passwords differ.",
        )

    def create() -> IssuedToken:
        drive = drive_of(request)
        with drive.sessions() as db, db.begin():
            client = client_of(request)
            user = users.register_first(db, name, password, client)
            return issue_token(drive, db, user, client, kind=TOKEN_BROWSER)

    try:
        issued = await run_in_threadpool(create)
    except CordvaultError as exc:
        status = exc.http_status
        return render(
            request, "setup.html", actor=None, status=status, name=name, error=_message(exc)
        )
    return _signed_in(request, _redirect("/drive"), issued)


@router.get("/login")
async def login_page(request: Request) -> Response:
    who = await run_in_threadpool(visitor, request)
    if not who.has_users:
        return _redirect("/setup")
    if who.actor is not None:
        return _redirect("/drive")
    return render(request, "login.html", actor=None)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await _form(request)
    name = form.get("name", "")
    if not form_csrf_ok(request, form.get(csrf.FORM_FIELD), signed_in=False):
        return render(request, "login.html", actor=None, status=403, name=name, error=_CSRF_MESSAGE)

    def check() -> IssuedToken:
        drive = drive_of(request)
        with drive.sessions() as db, db.begin():
            client = client_of(request)
            password = form.get("password", "")
            user = signin.check_password(drive, db, name, password, client, via="web")
            return issue_token(drive, db, user, client, kind=TOKEN_BROWSER)

    try:
        issued = await run_in_threadpool(check)
    except CordvaultError as exc:
        return render(
            request,
            "login.html",
            actor=None,
            status=exc.http_status,
            name=name,
            error=_message(exc),
        )
    return _signed_in(request, _redirect("/drive"), issued)


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await _form(request)
    if not form_csrf_ok(request, form.get(csrf.FORM_FIELD), signed_in=True):
        who = await run_in_threadpool(visitor, request)
        if who.actor is not None:  # a live session is only ended by its own page
            return render(request, "error.html", actor=who.actor, status=403, error=_CSRF_MESSAGE)
    await run_in_threadpool(_end_server_session, request)
    response = _redirect("/login")
    end_session(response, request)
    return response


def _end_server_session(request: Request) -> None:
    """Revoke the cookie's session on the server too: the token inside stops working."""
    who = visitor(request)
    if who.actor is None or who.actor.session_id is None:
        return
    drive = drive_of(request)
    with drive.sessions() as db, db.begin():
        sessions.revoke_session(db, who.actor, who.actor.session_id)


@router.get("/account")
async def account_page(request: Request) -> Response:
    who = await run_in_threadpool(visitor, request)
    if who.actor is None:
        return _redirect("/login")
    changed = request.query_params.get("changed") == "1"
    notice = "Password changed. Every other session has been signed out." if changed else None
    return render(request, "account.html", actor=who.actor, notice=notice)


@router.post("/account/password")
async def change_password(request: Request) -> Response:
    form = await _form(request)
    who = await run_in_threadpool(visitor, request)
    if who.actor is None:
        return _redirect("/login")
    actor: Actor = who.actor
    if not form_csrf_ok(request, form.get(csrf.FORM_FIELD), signed_in=True):
        return render(request, "account.html", actor=actor, status=403, error=_CSRF_MESSAGE)
    new = form.get("new_password", "")
    if new != form.get("new_password2", ""):
        return render(
            request, "account.html", actor=actor, status=400, error="The two new passwords differ."
        )

    def change() -> IssuedToken:
        drive = drive_of(request)
        with drive.sessions() as db, db.begin():
            old = form.get("old_password", "")
            client = client_of(request)
            user = users.change_password(drive, db, actor, old, new, client)
            return issue_token(drive, db, user, client, kind=TOKEN_BROWSER)

    try:
        issued = await run_in_threadpool(change)
    except CordvaultError as exc:
        return render(
            request, "account.html", actor=actor, status=exc.http_status, error=_message(exc)
        )
    # The token version moved on: every other session ended; this one gets a fresh token (and
    # the next page a CSRF token bound to it).
    return _signed_in(request, _redirect("/account?changed=1"), issued)

"""The drive's pages: the app shell at ``/``, the file browser, shared-with-me, file view, admin.

Each page is a server-rendered shell; its plain JS module (``static/js/``) calls the REST API
(``/api/drive``, ``/api/auth``) with the session cookie and the page's CSRF token, so the
access rules live in one place (``drive/access.py`` behind the routes). A page request without
a live session goes to the sign-in page (or to first-run setup when no account exists).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from cordvault.web.pages.render import Visitor, drive_of, render, visitor

router = APIRouter(include_in_schema=False)


def _gate(who: Visitor) -> Response | None:
    """Where a visitor without a session goes (None: signed in)."""
    if not who.has_users:
        return RedirectResponse("/setup", status_code=303)
    if who.actor is None:
        return RedirectResponse("/login", status_code=303)
    return None


@router.get("/")
async def home(request: Request) -> Response:
    who = await run_in_threadpool(visitor, request)
    return _gate(who) or RedirectResponse("/drive", status_code=303)


@router.get("/drive")
async def drive_page(request: Request) -> Response:
    who = await run_in_threadpool(visitor, request)
    folder = request.query_params.get("folder", "root")[:64]
    days = drive_of(request).settings.drive_trash_retention_days  # "moved to trash" or final
    return _gate(who) or render(
        request, "drive.html", actor=who.actor, folder=folder, trash_days=days
    )


@router.get("/shared")
async def shared_page(request: Request) -> Response:
    who = await run_in_threadpool(visitor, request)
    return _gate(who) or render(request, "shared.html", actor=who.actor)


@router.get("/view/{file_id}")
async def view_page(request: Request, file_id: str) -> Response:
    who = await run_in_threadpool(visitor, request)
    return _gate(who) or render(request, "view.html", actor=who.actor, file_id=file_id[:64])


@router.get("/admin")
async def admin_page(request: Request) -> Response:
    who = await run_in_threadpool(visitor, request)
    gate = _gate(who)
    if gate is not None:
        return gate
    if who.actor is None or not who.actor.is_admin:
        return render(
            request,
            "error.html",
            actor=who.actor,
            status=403,
            error="Only administrators can open this page.",
        )
    return render(request, "admin.html", actor=who.actor)

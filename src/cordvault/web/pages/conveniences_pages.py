"""The drive conveniences' pages: ``/trash`` (the signed-in user's trash) and ``/search``.

Like the other drive pages these are server-rendered shells; their scripts
(``static/js/trash.js``, ``static/js/search.js``) call the REST routes of
``web/drive/trash.py`` and ``web/drive/quotas.py`` (search) with the session cookie and the
page's CSRF token, so the rules (whose trash, what a search may show) stay behind the API.
The search page reads its query from the URL (``/search?q=...&offset=...``): the app shell's
search box is a plain GET form, so a result page can be bookmarked, reloaded and paged with
links.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from cordvault.web.pages.drive_pages import _gate as gate
from cordvault.web.pages.render import drive_of, render, visitor

router = APIRouter(include_in_schema=False)

SEARCH_QUERY_MAX = 200
"""The API's limit on ``q`` (``drive/search.py`` MAX_QUERY); longer text is cut, not refused."""


@router.get("/trash")
async def trash_page(request: Request) -> Response:
    who = await run_in_threadpool(visitor, request)
    days = drive_of(request).settings.drive_trash_retention_days
    return gate(who) or render(request, "trash.html", actor=who.actor, retention_days=days)


@router.get("/search")
async def search_page(request: Request) -> Response:
    who = await run_in_threadpool(visitor, request)
    q = request.query_params.get("q", "")[:SEARCH_QUERY_MAX]
    return gate(who) or render(request, "search.html", actor=who.actor, query=q)

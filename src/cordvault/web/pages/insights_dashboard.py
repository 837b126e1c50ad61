"""``/insights/dashboard``: the insights statistics, computed in the browser from the SQLite.

The page is a shell; ``static/js/insights/dashboard.js`` opens the result named in the URL
fragment (``#<result id>``, saved in this browser's IndexedDB by ``/insights``, contract in
``static/js/insights/store.js``) or a local ``.sqlite`` file the visitor chooses or drops, with
the vendored sql.js, and runs every query there. The server never receives the database: the
page needs no account (the zero-knowledge promise of the insights half) and makes no request
but for its own static assets.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from cordvault.web.pages.render import render, visitor

router = APIRouter(include_in_schema=False)


@router.get("/insights/dashboard")
async def insights_dashboard(request: Request) -> Response:
    # The visitor only decides whether the app's navigation shows; nobody is turned away.
    who = await run_in_threadpool(visitor, request)
    return render(request, "insights_dashboard.html", actor=who.actor)

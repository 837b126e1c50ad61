"""``/insights/dashboard``: the insights statistics, computed in the browser from the SQLite.

The page is a shell; ``static/js/insights/dashboard.js`` opens the result named in the URL
fragment (``#<result id>``, saved in this browser's IndexedDB by ``/insights``, contract in
``static/js/insights/store.js``) or a local ``.sqlite`` file the visitor chooses or drops, with
the vendored sql.js, and runs every query there. The server never receives the database: the
page needs no account (the zero-knowledge promise of the insights half) and makes no request
but for its own static assets, and, for a result of this server whose key this browser keeps,
the names and avatars of the DM users it shows (``/process/<id>/user/<user_id>`` and its
``/avatar``, with the key as bearer: ``static/js/insights/people.js``).

The page is told whether this server can look users up (``data-user-lookups``: a bot token is
configured), so it never asks in vain; the offline server of ``cordvault analyze --open``
(``insights_local.py``) does not say so, and its dashboard keeps the initials.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from cordvault.runtime import Services
from cordvault.web.pages.render import render, visitor

router = APIRouter(include_in_schema=False)


@router.get("/insights/dashboard")
async def insights_dashboard(request: Request) -> Response:
    # The visitor only decides whether the app's navigation shows; nobody is turned away.
    who = await run_in_threadpool(visitor, request)
    services: Services = request.app.state.services
    token = services.settings.discord_bot_token
    lookups = token is not None and bool(token.get_secret_value().strip())
    return render(request, "insights_dashboard.html", actor=who.actor, user_lookups=lookups)

"""The insights flow page ``/insights``: submit a package (link or zip), follow its job, fetch
and decrypt the result in the browser.

The page is a server-rendered shell; ``static/js/insights/submit.js`` talks to the
Dumpus-compatible routes (``web/insights.py``, ``docs/insights-api.md``) with the package's
UPN as bearer, exactly like the Dumpus client, and never sends the decrypted database
anywhere. The UPN stays in the browser (memory, or IndexedDB when the user asks); the server
only ever sees it as that bearer (and, for a signed-in tab, in the live socket's
``c2s:insights-subscribe``, which proves the key the same way).

No account is needed (the insights API has none); a signed-in visitor gets the app shell's
navigation and live job news over ``/api/ws``, others poll ``/status`` every second. The
page is told which link prefixes the server accepts (``DL_ZIP_WHITELISTED_DOMAINS``, not a
secret) and the upload cap, so it can refuse a bad link or an oversized zip before sending it.
Beside the live step it shows how long similar jobs took here (``GET
/insights/typical-durations``, public aggregates: ``insights/jobs/durations.py``).
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from cordvault.insights.jobs.package_links import whitelisted_prefixes
from cordvault.runtime import Services
from cordvault.web.pages.render import render, visitor

router = APIRouter(include_in_schema=False)


@router.get("/insights")
async def insights_page(request: Request) -> Response:
    """The submit / follow / decrypt page (no account needed)."""
    who = await run_in_threadpool(visitor, request)
    services: Services = request.app.state.services
    settings = services.settings
    config = {
        "prefixes": whitelisted_prefixes(settings),
        "maxUploadBytes": settings.max_upload_bytes,
        "live": who.actor is not None,
    }
    return render(
        request,
        "insights.html",
        actor=who.actor,
        config=json.dumps(config, separators=(",", ":")),
    )

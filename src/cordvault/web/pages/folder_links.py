"""``/fl/{token}``: the browser page of a folder link (no account, no session needed).

The page is a shell; ``static/js/folder_link.js`` lists the linked folder (and folders below
it, ``?path=``) through the account-less ``/api/drive/fl/{token}`` routes, with a download
link per file and a zip of the folder shown. The token is checked by those routes (an expired,
revoked or unknown link shows their error as a sentence); this page only echoes a bounded,
escaped copy of it into the template.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from cordvault.web.pages.render import render, visitor

router = APIRouter(include_in_schema=False)
MAX_TOKEN = 2048


@router.get("/fl/{token}")
async def folder_link_page(request: Request, token: str) -> Response:
    who = await run_in_threadpool(visitor, request)
    return render(
        request,
        "folder_link.html",
        actor=who.actor,
        token=token[:MAX_TOKEN],
    )

"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) from vendored assets: they work offline.

FastAPI's own docs pages load their assets from a CDN and start Swagger UI with an inline
script; these load ``static/vendor/swagger-ui`` and ``static/vendor/redoc`` and start from
``static/js/docs-init.js``, so the page policy forbids inline script here too. Both libraries
inject inline *styles*, so these two pages get :data:`~.headers.DOCS_CSP`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from cordvault.web.pages.headers import DOCS_CSP
from cordvault.web.pages.render import render

router = APIRouter(include_in_schema=False)


@router.get("/docs")
async def swagger(request: Request) -> Response:
    response = render(request, "docs.html", actor=None, openapi_url=request.app.openapi_url)
    response.headers["content-security-policy"] = DOCS_CSP
    return response


@router.get("/redoc")
async def redoc(request: Request) -> Response:
    response = render(request, "redoc.html", actor=None, openapi_url=request.app.openapi_url)
    response.headers["content-security-policy"] = DOCS_CSP
    return response

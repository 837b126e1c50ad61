"""One result on 127.0.0.1: the dashboard for ``cordvault analyze PKG.zip --open``.

No account, no upload, no queue, no database: a tiny app serving the same static pages as the
server (``/static``, ``/insights/dashboard``) plus the SQLite the analysis produced, under a
random path (``/r/<token>``) that works once. The page at that path (``insights_local.js``)
fetches the file, keeps it in the browser's IndexedDB through the dashboard's own store
(``store.js``) and opens ``/insights/dashboard#local-<token>``; reloads and later visits read the
browser's copy. The CLI never imports this module (adapters stay apart): it runs
``python -m cordvault.web.pages.insights_local RESULT.sqlite``, reads the URL from the first
line of its output and opens the browser.
"""

from __future__ import annotations

import argparse
import secrets
import socket
import sys
import threading
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from cordvault.web.middleware import DefaultHeaders
from cordvault.web.pages.headers import PAGE_HEADERS
from cordvault.web.pages.render import STATIC_DIR, render_anonymous


def local_app(sqlite: Path, label: str, token: str) -> FastAPI:
    """The app serving ``sqlite`` once at ``/r/<token>/result.sqlite`` and the dashboard."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    served = threading.Event()
    lock = threading.Lock()
    result_id = f"local-{token}"

    @app.get("/")
    def root() -> Response:
        return RedirectResponse("/insights/dashboard", status_code=303)

    @app.get(f"/r/{token}")
    def bootstrap() -> Response:
        return render_anonymous(
            "insights_local.html", path="/insights", result_id=result_id, label=label,
            source=f"/r/{token}/result.sqlite",
        )  # fmt: skip

    @app.get(f"/r/{token}/result.sqlite")
    def result() -> Response:
        with lock:  # one download: the file then lives in the browser that asked first
            if served.is_set():
                return Response(status_code=410)
            served.set()
        return FileResponse(
            sqlite, media_type="application/vnd.sqlite3", headers={"cache-control": "no-store"}
        )

    @app.get("/insights/dashboard")
    def dashboard(request: Request) -> Response:
        return render_anonymous("insights_dashboard.html", path=request.url.path)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(DefaultHeaders, headers=PAGE_HEADERS)
    return app


def serve(sqlite: Path, label: str, port: int = 0) -> None:
    """Serve on 127.0.0.1 (``port`` 0: any free port); print the page's URL first, then run
    until interrupted."""
    token = secrets.token_urlsafe(24)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", port))
    sock.listen(64)  # listening before the URL is printed: the browser cannot come too early
    host, bound = sock.getsockname()[:2]
    config = uvicorn.Config(
        local_app(sqlite, label, token), log_level="warning", access_log=False, lifespan="off"
    )
    print(f"http://{host}:{bound}/r/{token}", flush=True)
    uvicorn.Server(config).run(sockets=[sock])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve one insights result on 127.0.0.1.")
    parser.add_argument("sqlite", type=Path)
    parser.add_argument("--label", default="")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.sqlite.is_file():
        print(f"no such file: {args.sqlite}", file=sys.stderr)
        return 2
    serve(args.sqlite, args.label or args.sqlite.name, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())

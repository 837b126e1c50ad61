"""The FastAPI application factory and the HTTP error boundary.

``create_app(settings)`` gets every long-lived object from the composition root
(:func:`cordvault.runtime.build_services`), stores it as ``app.state.services`` and lets each
domain in :data:`DOMAINS` install its routers. A domain module exposes
``install(app: FastAPI, services: Services) -> None``. The app's lifespan runs the services'
background work (the insights job queue when the insights routes are installed, the drive's
collector when the drive routes are) and closes the services at shutdown.

Every route but the upload routes a domain registers with ``allow_streaming`` takes at most
``MAX_JSON_BODY_BYTES`` of body (413 ``BODY_TOO_LARGE`` otherwise, see ``web/middleware.py``);
every answer carries ``X-Content-Type-Options: nosniff``. A new data dir is created 0700 (an
existing one open to others is reported) and, when the app is served from the main thread, a
shutdown watchdog bounds how long a stop signal may take (``core/process.py``).

Every error leaves as the one JSON shape ``{"errorMessageCode", "message"[, "details"]}``:
:class:`CordvaultError` with its status, validation errors as 400 ``INVALID_INPUT``, anything
unexpected as 500 ``UNKNOWN_ERROR`` (logged, never echoed).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import math
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

import cordvault
from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.logs import configure_logging
from cordvault.core.process import (
    SHUTDOWN_MARGIN_SECONDS,
    install_shutdown_watchdog,
)
from cordvault.core.settings import Settings
from cordvault.runtime import Services, build_services
from cordvault.web import observability
from cordvault.web.middleware import NOSNIFF, BodyLimit, DefaultHeaders, StreamingRoute

log = logging.getLogger(__name__)

INSIGHTS = "cordvault.web.insights"
DRIVE = "cordvault.web.drive"
PAGES = "cordvault.web.pages"
DAV = "cordvault.web.dav"
LIVE = "cordvault.web.live"
# Domain modules that install routes; each has ``install(app, services)``. The pages (browser
# front end, ``/docs`` and ``/redoc`` from vendored assets) call the drive routes; ``/dav/`` is
# WebDAV and ``/api/ws`` the live-events WebSocket, both over the same drive services.
DOMAINS: tuple[str, ...] = (INSIGHTS, DRIVE, PAGES, DAV, LIVE)


def app_from_env() -> FastAPI:
    """The uvicorn factory used by ``cordvault serve``: settings from the environment."""
    from cordvault.core.allocator import tune_allocator
    from cordvault.core.collector import tune_collector
    from cordvault.core.settings import load_settings

    # Before any thread allocates: malloc arena and mmap thresholds that keep the server's
    # memory flat across multi-GB transfers (see tune_allocator).
    tune_allocator()
    settings = load_settings()
    app = create_app(settings)
    # After the app and its services exist: they are frozen out of every later collection.
    tune_collector(settings.gc_gen0_threshold)
    return app


def create_app(settings: Settings, *, domains: tuple[str, ...] | None = None) -> FastAPI:
    """Build the app. ``domains`` overrides :data:`DOMAINS` (tests install one at a time)."""
    configure_logging(settings.debug_logging, fmt=settings.log_format)
    installed = domains if domains is not None else DOMAINS
    services = build_services(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # A stop signal ends the process at the latest this long after it arrived, even when
        # threads are stuck (no-op unless served from the main thread, i.e. a real server).
        restore_signals = install_shutdown_watchdog(
            settings.shutdown_grace_seconds + SHUTDOWN_MARGIN_SECONDS
        )
        try:
            async with services.running(
                job_queue=INSIGHTS in installed, drive_gc=DRIVE in installed or DAV in installed
            ):
                yield
        finally:
            observability.uninstall(_app)
            services.close()
            restore_signals()

    app = FastAPI(
        title="cordvault",
        version=cordvault.__version__,
        lifespan=lifespan,
        # Served by the pages domain from vendored assets (FastAPI's own load a CDN).
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = services
    # Routes whose request body is streamed (uploads), exempt from MAX_JSON_BODY_BYTES; the
    # domains add theirs with ``web.middleware.allow_streaming``.
    streaming: list[StreamingRoute] = []
    app.state.streaming_routes = streaming
    # Innermost first: the body cap answers inside CORS (so browsers can read the 413).
    app.add_middleware(BodyLimit, max_bytes=settings.max_json_body_bytes, streaming=streaming)
    # The Dumpus client is a browser app on another origin. `*` in Allow-Headers does not cover
    # Authorization, so it is listed explicitly.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
        allow_headers=["authorization", "content-type", "range", "if-range", "x-requested-with"],
        expose_headers=["content-range", "accept-ranges", "content-disposition", "etag"],
        max_age=600,
    )
    app.add_middleware(DefaultHeaders, headers=NOSNIFF)
    # Outermost: the request id is set before anything logs, latency covers every layer.
    observability.install(app, services)
    _install_error_handlers(app)
    for name in installed:
        importlib.import_module(name).install(app, services)
    return app


def services_of(app: FastAPI) -> Services:
    """The composition root's object behind ``app`` (tests and benchmarks reach in here)."""
    services: Services = app.state.services
    return services


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CordvaultError)
    async def _cordvault_error(_request: Request, exc: CordvaultError) -> JSONResponse:
        headers = None
        retry = (exc.details or {}).get("retry_after")
        if exc.code is ErrorCode.RATE_LIMITED and isinstance(retry, int | float):
            headers = {"retry-after": str(max(1, math.ceil(retry)))}
        return JSONResponse(exc.to_dict(), status_code=exc.http_status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [".".join(str(p) for p in err.get("loc", ())) for err in exc.errors()]
        err = CordvaultError(ErrorCode.INVALID_INPUT, "invalid request", details={"fields": fields})
        return JSONResponse(err.to_dict(), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {401: ErrorCode.UNAUTHORIZED, 403: ErrorCode.FORBIDDEN, 404: ErrorCode.NOT_FOUND}
        err = CordvaultError(code.get(exc.status_code, ErrorCode.INVALID_INPUT), str(exc.detail))
        return JSONResponse(err.to_dict(), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected %s while serving a request", type(exc).__name__, exc_info=exc)
        err = CordvaultError(ErrorCode.UNKNOWN_ERROR, "internal error")
        # Answered outside the middlewares (Starlette's outermost error layer): set here.
        return JSONResponse(
            err.to_dict(), status_code=500, headers={"x-content-type-options": "nosniff"}
        )

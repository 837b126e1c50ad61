"""The FastAPI application factory and the HTTP error boundary.

``create_app(settings)`` builds one :class:`AppContext` (settings, DB engine, sessions), applies
migrations at start, and lets each domain in :data:`DOMAINS` install its routers. A domain
module exposes ``install(app: FastAPI, ctx: AppContext) -> None``; it may append async context
managers to ``ctx.lifespans`` (entered at start-up in order, exited in reverse at shutdown).

Every route but the upload routes a domain lists in ``ctx.streaming_routes`` takes at most
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
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

import cordvault
from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.logs import configure_logging
from cordvault.core.process import (
    SHUTDOWN_MARGIN_SECONDS,
    install_shutdown_watchdog,
    private_dir,
)
from cordvault.core.settings import Settings
from cordvault.db import create_engine_for, make_sessionmaker, migrate
from cordvault.web.middleware import BodyLimit, NoSniff, StreamingRoute

log = logging.getLogger(__name__)

# Domain modules that install routes; each has ``install(app, ctx)``.
DOMAINS: tuple[str, ...] = ("cordvault.web.insights", "cordvault.web.drive")


@dataclass
class AppContext:
    """What every request handler may need, built once per app."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    lifespans: list[Callable[[], contextlib.AbstractAsyncContextManager[Any]]] = field(
        default_factory=list
    )
    extras: dict[str, Any] = field(default_factory=dict)
    streaming_routes: list[StreamingRoute] = field(default_factory=list)
    """Routes whose request body is streamed (uploads): exempt from ``MAX_JSON_BODY_BYTES``."""


def create_app(settings: Settings, *, domains: tuple[str, ...] | None = None) -> FastAPI:
    """Build the app. ``domains`` overrides :data:`DOMAINS` (tests install one at a time)."""
    configure_logging(settings.debug_logging)
    private_dir(settings.data_dir, what="DATA_DIR")
    url = settings.effective_database_url
    migrate(url)
    engine = create_engine_for(url)
    ctx = AppContext(settings=settings, engine=engine, sessions=make_sessionmaker(engine))

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # A stop signal ends the process at the latest this long after it arrived, even when
        # threads are stuck (no-op unless served from the main thread, i.e. a real server).
        restore_signals = install_shutdown_watchdog(
            settings.shutdown_grace_seconds + SHUTDOWN_MARGIN_SECONDS
        )
        try:
            async with contextlib.AsyncExitStack() as stack:
                for factory in ctx.lifespans:
                    await stack.enter_async_context(factory())
                yield
            engine.dispose()
        finally:
            restore_signals()

    app = FastAPI(
        title="cordvault",
        version=cordvault.__version__,
        lifespan=lifespan,
        docs_url="/docs",
    )
    app.state.ctx = ctx
    # Innermost first: the body cap answers inside CORS (so browsers can read the 413).
    app.add_middleware(
        BodyLimit, max_bytes=settings.max_json_body_bytes, streaming=ctx.streaming_routes
    )
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
    app.add_middleware(NoSniff)
    _install_error_handlers(app)
    for name in domains if domains is not None else DOMAINS:
        importlib.import_module(name).install(app, ctx)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CordvaultError)
    async def _cordvault_error(_request: Request, exc: CordvaultError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.http_status)

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

"""The Dumpus-compatible Insights API (routes of ``docs/insights-api.md``).

Thin adapters: each route reads the bearer and the body from the request, calls one
:class:`~cordvault.insights.api_service.InsightsApi` method and shapes the answer. The answers
are the :mod:`~cordvault.insights.api_models` shapes, so ``/openapi.json`` shows the wire
contract (field names, ``errorMessageCode`` values) exactly; the status poll is written with
orjson from a dict (it is the hot path) and only documented by its model. Routes never see SQL
and never log a UPN, link or signed URL.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from cordvault.core.errors import CordvaultError
from cordvault.insights.api_models import (
    BlobOut,
    DeleteOut,
    HealthOut,
    ProcessOut,
    StatusOut,
    StorageOut,
    TypicalDurationsOut,
    UpgradeOut,
    UserLookupOut,
    WidgetOut,
)
from cordvault.insights.api_service import InsightsApi
from cordvault.insights.jobs.package_links import bearer_token
from cordvault.runtime import Services
from cordvault.web.middleware import allow_streaming, streaming_route
from cordvault.web.ranges import FILE_HEADERS

log = logging.getLogger(__name__)

HEALTH_MAX_AGE = 1.0
"""Seconds a ``/health`` snapshot is served before a refresh starts (its queue depth may lag
the database by about this much)."""

PackageId = Annotated[str, PathParam(max_length=64)]

# An avatar is public and changes rarely; it is still not a document: no sniffing (the
# middleware), no script even if a browser opened it as a page, kept by this browser only.
_AVATAR_HEADERS = {
    "Cache-Control": "private, max-age=3600",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}

_PROCESS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["package_link"],
                    "properties": {"package_link": {"type": "string"}},
                }
            }
        },
    }
}
_PROCESS_REFUSED: dict[int | str, dict[str, Any]] = {
    400: {"model": ProcessOut, "description": "INVALID_INPUT (with message)"},
    413: {"model": ProcessOut, "description": "PACKAGE_TOO_LARGE: body over 64 KiB"},
}


class _HealthCache:
    """The newest ``/health`` answer, refreshed in a worker thread when older than
    :data:`HEALTH_MAX_AGE` seconds (stale-while-revalidate, one refresh at a time).

    Why: computing the answer reads the database (the queue's depth), which must not run on
    the event loop, and a thread-pool hop waits behind every transfer's pieces: four
    concurrent downloads put ``/health``'s p99 at 87-174 ms (docs/benchmarks.md, issue 15).
    Only the first call of a process waits for a computation.
    """

    def __init__(self, compute: Callable[[], HealthOut]) -> None:
        self._compute = compute
        self._value: HealthOut | None = None
        self._at = 0.0
        self._refreshing: asyncio.Task[None] | None = None

    async def get(self) -> HealthOut:
        if self._value is None:
            await self._refresh()
        elif time.monotonic() - self._at > HEALTH_MAX_AGE and self._refreshing is None:
            self._refreshing = asyncio.create_task(self._refresh())
        assert self._value is not None
        return self._value

    async def _refresh(self) -> None:
        try:
            value = await run_in_threadpool(self._compute)
        except Exception:
            if self._value is None:
                raise  # nothing to serve: the caller's request fails as it always did
            # A background refresh: keep serving the last answer, retry on the next call.
            log.warning("health: refreshing the snapshot failed", exc_info=True)
            return
        else:
            self._value, self._at = value, time.monotonic()
        finally:
            self._refreshing = None


def install(app: FastAPI, services: Services) -> None:
    """Add the insights routes (the app's lifespan runs the job queue)."""
    api = InsightsApi(services.jobs, services.status_engine, lambda: services.queue)
    app.include_router(_router(api, services))
    # Packages are streamed to disk, capped by MAX_UPLOAD_BYTES instead.
    allow_streaming(app, streaming_route("POST", r"/process/upload"))


def _bearer(request: Request) -> str | None:
    return bearer_token(request.headers.get("authorization"))


def _router(api: InsightsApi, services: Services) -> APIRouter:
    router = APIRouter(tags=["insights"])
    settings = services.settings
    lookups = services.lookups

    def base_url(request: Request) -> str:
        return settings.public_url or str(request.base_url)

    def health_now() -> HealthOut:
        backend = settings.storage_backend.strip().lower()
        try:
            state = services.drive.storage_state()
        except CordvaultError:  # the drive's keys could not be loaded
            state = "unavailable"
        return api.health(StorageOut(backend=backend, state=state))

    health_cache = _HealthCache(health_now)

    @router.get("/health")
    async def health() -> HealthOut:
        """Liveness: ``{"status": "alive", "hostname", "version", "queue", "queueDepth",
        "storage"}`` (the drive's chunk store: its backend and whether it is usable).

        Answered on the event loop from a snapshot at most ~1 s old (see :class:`_HealthCache`),
        so a probe does not queue behind downloads in the thread pool."""
        return await health_cache.get()

    @router.post(
        "/process",
        response_model_exclude_unset=True,
        responses=_PROCESS_REFUSED,
        openapi_extra=_PROCESS_BODY,
    )
    async def process(request: Request, response: Response) -> ProcessOut:
        """Queue a package from its download link; always 200 for a well-formed request."""
        answer, response.status_code = await api.process_link(request.stream())
        return answer

    @router.post("/process/upload", response_model_exclude_unset=True)
    async def upload(request: Request) -> ProcessOut:
        """Queue a package uploaded directly (``Authorization: Bearer <UPN>``).

        Body: the zip itself (``application/zip`` / ``application/octet-stream``) or
        ``multipart/form-data`` with a ``file`` part. Over ``MAX_UPLOAD_BYTES`` -> 413
        ``PACKAGE_TOO_LARGE``; no zip signature -> 400 ``NOT_A_ZIP``; starts like a zip but
        cannot be opened (truncated, damaged) -> 400 ``CORRUPT_ZIP``.
        """
        headers = request.headers
        return await api.submit_upload(
            _bearer(request),
            request.stream(),
            headers.get("content-type", ""),
            headers.get("content-length"),
        )

    @router.get(
        "/process/{package_id}/status",
        response_model=StatusOut,
        responses={401: {"model": StatusOut, "description": "UNAUTHORIZED (same keys)"}},
    )
    async def status(package_id: PackageId, request: Request) -> Response:
        """Job state and queue position (``UNKNOWN_PACKAGE_ID`` with 200 when unknown).

        Runs on the event loop (see ``InsightsApi.status``) and writes its dict with orjson.
        """
        body, code = api.status(package_id, _bearer(request))
        return Response(orjson.dumps(body), status_code=code, media_type="application/json")

    @router.get("/process/{package_id}/blob")
    def blob(package_id: PackageId, request: Request) -> BlobOut:
        """``{"url", "iv", "ttl"}``: a short-lived absolute URL of the encrypted blob."""
        return api.blob_link(package_id, _bearer(request), base_url(request))

    @router.get("/process/{package_id}/data")
    def data(package_id: PackageId, request: Request) -> FileResponse:
        """Legacy clients: the gzip of the SQLite file, decrypted (and verified) here."""
        out = api.legacy_data(package_id, _bearer(request))
        cleanup = BackgroundTask(shutil.rmtree, out.parent, ignore_errors=True)
        return FileResponse(
            out, media_type="application/octet-stream", headers=FILE_HEADERS, background=cleanup
        )

    @router.get("/process/{package_id}/user/{user_id}")
    def user(package_id: PackageId, user_id: str, request: Request) -> UserLookupOut:
        """A Discord user's public profile (404 unknown, 429 rate limited, 500 upstream)."""
        api.authorize(_bearer(request), package_id)
        api.require_package(package_id)
        return lookups.user(user_id)

    @router.get(
        "/process/{package_id}/user/{user_id}/avatar",
        response_class=Response,
        responses={
            200: {
                "content": {t: {} for t in ("image/png", "image/gif", "image/webp", "image/jpeg")},
                "description": "The avatar image (the user's default avatar when none is set).",
            }
        },
    )
    def user_avatar(package_id: PackageId, user_id: str, request: Request) -> Response:
        """A Discord user's avatar image, served through our origin (for the dashboard, whose
        CSP allows no other): authorised exactly like ``/user``; the image is fetched from the
        CDN at a URL the server builds from the looked-up user (never a client's URL), checked
        to be a raster image under the size cap, and cached. 404 unknown user or no image, 429
        rate limited, 502 the CDN failed."""
        api.authorize(_bearer(request), package_id)
        api.require_package(package_id)
        image = lookups.avatar(user_id)
        return Response(image.data, media_type=image.content_type, headers=_AVATAR_HEADERS)

    @router.get("/insights/typical-durations")
    def typical_durations() -> TypicalDurationsOut:
        """How long similar jobs took: median seconds per step and in total (public,
        aggregates only; a figure from fewer than ``minimumJobs`` jobs is null)."""
        return api.typical_durations()

    @router.delete("/process/{package_id}")
    def delete(package_id: PackageId, request: Request) -> DeleteOut:
        """Delete a package: abort its running job, remove its blob and uploaded zip."""
        api.authorize(_bearer(request), package_id)
        return api.delete(package_id)

    @router.get("/widget/{guild_id}")
    def widget(guild_id: str) -> WidgetOut:
        """A guild's name, icon and member count (400 non-numeric id, 404 unavailable)."""
        return lookups.widget(guild_id)

    @router.post("/admin/process/{package_id}/upgrade")
    def admin_upgrade(package_id: PackageId, request: Request) -> UpgradeOut:
        """Move a package to the premium queue (``Authorization: Bearer <ADMIN_TOKEN>``)."""
        api.authorize_admin(_bearer(request))
        return api.upgrade(package_id)

    @router.get("/blobs/{key:path}", include_in_schema=False)
    def blob_file(key: str, expires: str = "", signature: str = "") -> FileResponse:
        """The local blob store's signed, expiring download URL."""
        return FileResponse(
            api.local_blob(key, expires, signature),
            media_type="application/octet-stream",
            headers={**FILE_HEADERS, "Cache-Control": "private, no-store"},
        )

    return router

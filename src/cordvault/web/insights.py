"""The Dumpus-compatible Insights API (routes of ``docs/insights-api.md``).

Thin adapters: each route checks the bearer, calls the job service in a session, commits, then
wakes the workers. The wire contract (field names, status codes, ``errorMessageCode`` values)
is the reference's; our additions are documented. Routes never see SQL and never log a UPN,
link or signed URL.
"""

from __future__ import annotations

import hmac
import logging
import os
import shutil
import socket
import tempfile
import uuid
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response
from sqlalchemy.exc import DBAPIError
from starlette.background import BackgroundTask

import cordvault
from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.insights.blob import BlobMeta, decrypt_blob
from cordvault.insights.blobstore import LocalBlobStore
from cordvault.insights.demo import DEMO_ID, ensure_demo
from cordvault.insights.jobs import repository as repo
from cordvault.insights.jobs import service
from cordvault.insights.jobs.context import tmp_root, upload_path
from cordvault.insights.jobs.dispatch import Dispatcher
from cordvault.insights.jobs.links import (
    bearer_matches,
    bearer_token,
    package_id_for,
    whitelisted_prefixes,
)
from cordvault.insights.jobs.states import JobState
from cordvault.insights.package.zipsource import open_zip
from cordvault.runtime import Services
from cordvault.web.middleware import allow_streaming, streaming_route
from cordvault.web.ranges import FILE_HEADERS

log = logging.getLogger(__name__)

_MAX_JSON_BODY = 64 * 1024
PackageId = Annotated[str, PathParam(max_length=64)]


class InsightsState:
    """What the insights routes use, all taken from the composition root's services."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings
        self.jobs = services.jobs
        self.prefixes = whitelisted_prefixes(services.settings.dl_zip_whitelisted_domains)

    @property
    def dispatcher(self) -> Dispatcher | None:
        """The running job queue (None outside the app's lifespan)."""
        return self.services.queue

    def wake(self, package_id: str, premium: bool) -> None:
        """Wake workers after a commit. A broker outage must not fail the request: the job is
        safely queued in the database and the reaper re-sends a wake-up later."""
        if self.dispatcher is None:
            return
        try:
            self.dispatcher.wake(package_id, premium)
        except Exception as exc:
            log.warning("job %s queued but the wake-up failed (%s)", package_id, type(exc).__name__)

    def base_url(self, request: Request) -> str:
        return self.settings.public_url or str(request.base_url)


def install(app: FastAPI, services: Services) -> None:
    """Add the insights routes (the app's lifespan runs the job queue)."""
    app.include_router(_router(InsightsState(services)))
    # Packages are streamed to disk, capped by MAX_UPLOAD_BYTES instead.
    allow_streaming(app, streaming_route("POST", r"/process/upload"))


def _upn(request: Request, package_id: str) -> str:
    upn = bearer_token(request.headers.get("authorization"))
    if upn is None or not bearer_matches(upn, package_id):
        raise CordvaultError(ErrorCode.UNAUTHORIZED, "missing or wrong bearer for this package")
    return upn


def _admin(request: Request, expected: str | None) -> None:
    if not expected:
        raise CordvaultError(ErrorCode.FORBIDDEN, "admin routes are disabled (no ADMIN_TOKEN)")
    token = bearer_token(request.headers.get("authorization")) or ""
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise CordvaultError(ErrorCode.UNAUTHORIZED, "wrong admin token")


def _process_answer(
    accepted: bool, package_id: str | None, code: str | None, status: int = 200, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {
        "isAccepted": accepted,
        "packageId": package_id,
        "errorMessageCode": code,
    }
    body.update(extra)
    return JSONResponse(body, status_code=status)


def _router(state: InsightsState) -> APIRouter:
    router = APIRouter(tags=["insights"])
    settings = state.settings
    sessions = state.jobs.sessions
    poll_engine = state.services.status_engine
    lookups = state.services.lookups

    @router.get("/health")
    def health() -> dict[str, Any]:
        """Liveness: ``{"status": "alive", "hostname", "version", "queue"}``."""
        return {
            "status": "alive",
            "hostname": socket.gethostname(),
            "version": cordvault.__version__,
            "queue": state.dispatcher.name if state.dispatcher else None,
        }

    @router.post(
        "/process",
        openapi_extra={
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
        },
    )
    async def process(request: Request) -> JSONResponse:
        """Queue a package from its download link; always 200 for a well-formed request."""
        try:
            body = await _read_json(request)
        except CordvaultError as exc:
            return _process_answer(False, None, str(exc.code), exc.http_status, message=exc.message)
        if not isinstance(body, dict) or "package_link" not in body:
            return _process_answer(
                False, None, "INVALID_INPUT", 400, message="the body needs a package_link field"
            )
        try:
            submitted = await run_in_threadpool(_submit_link, body["package_link"])
        except CordvaultError as exc:
            if exc.code == ErrorCode.INVALID_LINK:
                return _process_answer(False, None, "INVALID_LINK")
            raise
        return _process_answer(True, submitted.package_id, None)

    def _submit_link(link: object) -> service.Submitted:
        with sessions.begin() as session:
            submitted = service.submit_link(session, state.jobs.transit, link, state.prefixes)
        if submitted.queued:
            state.wake(submitted.package_id, submitted.premium)
        return submitted

    @router.post("/process/upload")
    async def upload(request: Request) -> JSONResponse:
        """Queue a package uploaded directly (``Authorization: Bearer <UPN>``).

        Body: the zip itself (``application/zip`` / ``application/octet-stream``) or
        ``multipart/form-data`` with a ``file`` part. Over ``MAX_UPLOAD_BYTES`` -> 413
        ``PACKAGE_TOO_LARGE``; no zip signature -> 400 ``NOT_A_ZIP``; starts like a zip but
        cannot be opened (truncated, damaged) -> 400 ``CORRUPT_ZIP``.
        """
        upn = bearer_token(request.headers.get("authorization"))
        if upn is None:
            raise CordvaultError(
                ErrorCode.UNAUTHORIZED, "the upload needs Authorization: Bearer <UPN>"
            )
        package_id = package_id_for(upn)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > settings.max_upload_bytes + 64 * 1024:
            raise _upload_too_large(settings.max_upload_bytes)
        if not await run_in_threadpool(_upload_wanted, package_id):
            return _process_answer(True, package_id, None)
        folder = upload_path(settings, package_id).parent
        part = folder / f".{uuid.uuid4().hex}.part"
        try:
            await _receive_upload(request, part, settings.max_upload_bytes)
            await run_in_threadpool(_check_zip, part)
            submitted = await run_in_threadpool(_submit_upload, upn, part)
        finally:
            part.unlink(missing_ok=True)
        return _process_answer(True, submitted.package_id, None)

    def _upload_wanted(package_id: str) -> bool:
        with sessions() as session:
            return service.can_accept_upload(session, package_id)

    def _submit_upload(upn: str, part: Path) -> service.Submitted:
        with sessions.begin() as session:
            submitted = service.submit_upload(session, state.jobs.transit, upn)
            if submitted.queued:
                # In place before the commit makes the job claimable.
                os.replace(part, upload_path(settings, submitted.package_id))
        if submitted.queued:
            state.wake(submitted.package_id, submitted.premium)
        return submitted

    @router.get("/process/{package_id}/status")
    async def status(package_id: PackageId, request: Request) -> Response:
        """Job state and queue position (``UNKNOWN_PACKAGE_ID`` with 200 when unknown).

        Runs on the event loop, not the thread pool: one to three indexed queries of well
        under a millisecond cost less than the thread hand-off, and this route is polled
        every second by every waiting client.
        """
        if package_id == DEMO_ID:
            body = service.base_status()
            body.update(isDataAvailable=True, processingStep=JobState.PROCESSED.value)
            return _json(body)
        upn = bearer_token(request.headers.get("authorization"))
        if upn is None or not bearer_matches(upn, package_id):
            body = service.base_status()
            body["errorMessageCode"] = ErrorCode.UNAUTHORIZED.value
            return _json(body, 401)
        try:
            with poll_engine.connect() as conn:
                return _json(service.status(conn, package_id))
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        with poll_engine.connect() as conn:
            return _json(service.status(conn, package_id))

    @router.get("/process/{package_id}/blob")
    def blob(package_id: PackageId, request: Request) -> dict[str, Any]:
        """``{"url", "iv", "ttl"}``: a short-lived absolute URL of the encrypted blob."""
        ttl = settings.blob_url_ttl
        if package_id == DEMO_ID:
            key = ensure_demo(settings, state.jobs.blobs)
            url = state.jobs.blobs.url(key, ttl=ttl, base_url=state.base_url(request))
            return {"url": url, "iv": None, "ttl": ttl}
        _upn(request, package_id)
        key, meta = _processed_blob(package_id)
        url = state.jobs.blobs.url(key, ttl=ttl, base_url=state.base_url(request))
        return {"url": url, "iv": meta.iv.hex(), "ttl": ttl}

    def _processed_blob(package_id: str) -> tuple[str, BlobMeta]:
        with sessions() as session:
            job = repo.get(session, package_id)
            if job is None or job.state != JobState.PROCESSED or not job.blob_key:
                raise CordvaultError(ErrorCode.NOT_FOUND, "no processed data for this package")
            assert job.blob_meta is not None
            return job.blob_key, BlobMeta.from_json(job.blob_meta)

    @router.get("/process/{package_id}/data")
    def data(package_id: PackageId, request: Request) -> Response:
        """Legacy clients: the gzip of the SQLite file, decrypted (and verified) here."""
        workdir = Path(tempfile.mkdtemp(prefix="data-", dir=tmp_root(settings)))
        cleanup = BackgroundTask(shutil.rmtree, workdir, ignore_errors=True)
        try:
            out = workdir / "data.gz"
            if package_id == DEMO_ID:
                state.jobs.blobs.fetch(ensure_demo(settings, state.jobs.blobs), out)
            else:
                upn = _upn(request, package_id)
                key, meta = _processed_blob(package_id)
                ciphertext = workdir / "blob.bin"
                state.jobs.blobs.fetch(key, ciphertext)
                decrypt_blob(ciphertext, meta, upn, out)
                ciphertext.unlink()
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        return FileResponse(
            out, media_type="application/octet-stream", headers=FILE_HEADERS, background=cleanup
        )

    @router.get("/process/{package_id}/user/{user_id}")
    def user(package_id: PackageId, user_id: str, request: Request) -> dict[str, Any]:
        """A Discord user's public profile (404 unknown, 429 rate limited, 500 upstream)."""
        _upn(request, package_id)
        _require_package(package_id)
        return lookups.user(user_id)

    def _require_package(package_id: str) -> None:
        with sessions() as session:
            job = repo.get(session, package_id)
            if job is None or job.state == JobState.DELETED:
                raise CordvaultError(ErrorCode.UNKNOWN_PACKAGE_ID, "no such package")

    @router.delete("/process/{package_id}")
    def delete(package_id: PackageId, request: Request) -> dict[str, Any]:
        """Delete a package: abort its running job, remove its blob and uploaded zip."""
        _upn(request, package_id)
        with sessions.begin() as session:
            known, blob_key = service.delete(session, package_id)
        if not known:
            return {"isDeleted": False, "errorMessageCode": ErrorCode.UNKNOWN_PACKAGE_ID.value}
        if state.dispatcher is not None:
            state.dispatcher.cancel(package_id)
        if blob_key:
            state.jobs.blobs.delete(blob_key)
        upload_path(settings, package_id).unlink(missing_ok=True)
        return {"isDeleted": True, "errorMessageCode": None}

    @router.get("/widget/{guild_id}")
    def widget(guild_id: str) -> dict[str, Any]:
        """A guild's name, icon and member count (400 non-numeric id, 404 unavailable)."""
        return lookups.widget(guild_id)

    @router.post("/admin/process/{package_id}/upgrade")
    def admin_upgrade(package_id: PackageId, request: Request) -> dict[str, Any]:
        """Move a package to the premium queue (``Authorization: Bearer <ADMIN_TOKEN>``)."""
        token = settings.admin_token.get_secret_value() if settings.admin_token else None
        _admin(request, token)
        with sessions.begin() as session:
            service.upgrade(session, package_id)
        return {"packageId": package_id, "isUpgraded": True}

    @router.get("/blobs/{key:path}", include_in_schema=False)
    def blob_file(key: str, expires: str = "", signature: str = "") -> FileResponse:
        """The local blob store's signed, expiring download URL."""
        store = state.jobs.blobs
        if not isinstance(store, LocalBlobStore):
            raise CordvaultError(ErrorCode.NOT_FOUND, "no such blob")
        path = store.verify(key, expires, signature)
        return FileResponse(
            path,
            media_type="application/octet-stream",
            headers={**FILE_HEADERS, "Cache-Control": "private, no-store"},
        )

    return router


async def _read_json(request: Request) -> Any:
    """The JSON body, capped; malformed or too large -> 400/413 ``CordvaultError``."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > _MAX_JSON_BODY:
            raise CordvaultError(ErrorCode.PACKAGE_TOO_LARGE, "the request body is too large")
        chunks.append(chunk)
    try:
        return orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError:
        raise CordvaultError(ErrorCode.INVALID_INPUT, "the body is not valid JSON") from None


async def _receive_upload(request: Request, dest: Path, limit: int) -> None:
    """Stream the request's zip (raw body or multipart ``file`` part) to ``dest``, capped."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        await _receive_multipart(request, dest, limit, content_type)
        return
    written = 0
    with dest.open("wb") as out:
        async for chunk in request.stream():
            written += len(chunk)
            if written > limit:
                raise _upload_too_large(limit)
            await run_in_threadpool(out.write, chunk)
    if written == 0:
        raise CordvaultError(ErrorCode.NOT_A_ZIP, "the upload is empty")


async def _receive_multipart(request: Request, dest: Path, limit: int, content_type: str) -> None:
    from python_multipart.multipart import MultipartParser, parse_options_header

    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise CordvaultError(ErrorCode.INVALID_INPUT, "multipart body without a boundary")
    current: dict[str, Any] = {"headers": b"", "field": b"", "is_file": False}
    found = {"file": False, "written": 0}
    out = dest.open("wb")

    def on_header_field(data: bytes, start: int, end: int) -> None:
        current["field"] = data[start:end].lower()

    def on_header_value(data: bytes, start: int, end: int) -> None:
        if current["field"] == b"content-disposition":
            _, disp = parse_options_header(data[start:end])
            current["is_file"] = disp.get(b"name") in (b"file", b"package") and not found["file"]

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if current["is_file"]:
            found["written"] += end - start
            if found["written"] > limit:
                raise _upload_too_large(limit)
            out.write(data[start:end])

    def on_part_end() -> None:
        if current["is_file"]:
            found["file"] = True
        current["is_file"] = False

    parser = MultipartParser(
        boundary,
        {
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except CordvaultError:
        raise
    except Exception as exc:  # python-multipart raises its own parse errors
        raise CordvaultError(ErrorCode.INVALID_INPUT, "malformed multipart body") from exc
    finally:
        out.close()
    if not found["file"] or found["written"] == 0:
        raise CordvaultError(ErrorCode.INVALID_INPUT, "the multipart body has no 'file' part")


def _check_zip(path: Path) -> None:
    """``NOT_A_ZIP`` without a zip signature, ``CORRUPT_ZIP`` when it starts like a zip but its
    central directory cannot be read (a truncated upload): the analysis's own rules."""
    open_zip(path).close()


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _upload_too_large(limit: int) -> CordvaultError:
    return CordvaultError(
        ErrorCode.PACKAGE_TOO_LARGE, "the upload exceeds MAX_UPLOAD_BYTES", details={"limit": limit}
    )

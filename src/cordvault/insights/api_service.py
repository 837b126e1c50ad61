"""The insights API's use cases, one method per route: ``web/insights.py`` only adapts HTTP.

Each method opens its own transaction (the job sessions of
:class:`~cordvault.insights.jobs.context.JobsContext`), commits, and only then has its
after-commit effects: waking the workers (a broker outage is logged, never fails the request:
the job is safely queued and the reaper re-sends a wake-up), cancelling a running attempt,
deleting a blob or an uploaded zip. Answers are the :mod:`~cordvault.insights.api_models`
shapes (the status poll's plain dict excepted, see :meth:`InsightsApi.status`).

Blocking methods (database, files) are called from a worker thread. The async ones take the
request body as an async iterator of bytes (framework-free). Authorisation: a package's routes
need its UPN as bearer (``md5(bearer) == package_id``, :meth:`InsightsApi.authorize`); the
``demo`` package needs none. No method logs a UPN, a link or a signed URL.
"""

from __future__ import annotations

import hmac
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
from anyio import to_thread
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

import cordvault
from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.insights.api_models import (
    BlobOut,
    DeleteOut,
    HealthOut,
    ProcessOut,
    QueueDepthOut,
    StorageOut,
    TypicalDurationsOut,
    UpgradeOut,
)
from cordvault.insights.blob import BlobMeta, decrypt_blob
from cordvault.insights.blobstore import LocalBlobStore
from cordvault.insights.demo import DEMO_ID, ensure_demo
from cordvault.insights.jobs import repository as repo
from cordvault.insights.jobs import service
from cordvault.insights.jobs.context import JobsContext, tmp_root, upload_path
from cordvault.insights.jobs.dispatch import Dispatcher
from cordvault.insights.jobs.durations import typical_durations
from cordvault.insights.jobs.package_links import (
    bearer_matches,
    package_id_for,
    whitelisted_prefixes,
)
from cordvault.insights.jobs.states import JobState
from cordvault.insights.upload_receiver import check_declared_length, receive_zip

log = logging.getLogger(__name__)

#: Cap on ``POST /process``'s JSON body.
MAX_JSON_BODY = 64 * 1024
#: Seconds a ``/insights/typical-durations`` answer is reused (a public route: the database is
#: read at most this often per process, whatever the traffic).
DURATIONS_MAX_AGE = 60.0


class InsightsApi:
    """The insights routes' use cases over one process's jobs context (thread-safe)."""

    def __init__(
        self,
        jobs: JobsContext,
        status_engine: Engine,
        dispatcher: Callable[[], Dispatcher | None],
    ) -> None:
        self.jobs = jobs
        self.settings = jobs.settings
        self.sessions = jobs.sessions
        self.prefixes = whitelisted_prefixes(jobs.settings)
        self._status_engine = status_engine
        self._dispatcher = dispatcher
        self._durations: tuple[float, TypicalDurationsOut] | None = None
        self._durations_lock = threading.Lock()

    # -- authorisation --------------------------------------------------------------------
    def authorize(self, upn: str | None, package_id: str) -> str:
        """The bearer when it is this package's UPN, else ``UNAUTHORIZED``."""
        if upn is None or not bearer_matches(upn, package_id):
            raise CordvaultError(ErrorCode.UNAUTHORIZED, "missing or wrong bearer for this package")
        return upn

    def authorize_admin(self, token: str | None) -> None:
        """``ADMIN_TOKEN`` as bearer, else ``UNAUTHORIZED``; ``FORBIDDEN`` when it is unset."""
        secret = self.settings.admin_token
        expected = secret.get_secret_value() if secret else None
        if not expected:
            raise CordvaultError(ErrorCode.FORBIDDEN, "admin routes are disabled (no ADMIN_TOKEN)")
        if not hmac.compare_digest((token or "").encode(), expected.encode()):
            raise CordvaultError(ErrorCode.UNAUTHORIZED, "wrong admin token")

    # -- submissions ----------------------------------------------------------------------
    async def process_link(self, body: AsyncIterator[bytes]) -> tuple[ProcessOut, int]:
        """``POST /process``: the answer and its HTTP status (200 unless the body is refused:
        400 ``INVALID_INPUT``, 413 over :data:`MAX_JSON_BODY`; a refused link is a 200)."""
        try:
            data = await _read_json(body)
        except CordvaultError as exc:
            return _refused(str(exc.code), exc.message), exc.http_status
        if not isinstance(data, dict) or "package_link" not in data:
            return _refused("INVALID_INPUT", "the body needs a package_link field"), 400
        try:
            submitted = await to_thread.run_sync(self.submit_link, data["package_link"])
        except CordvaultError as exc:
            if exc.code == ErrorCode.INVALID_LINK:
                answer = ProcessOut(
                    isAccepted=False, packageId=None, errorMessageCode=ErrorCode.INVALID_LINK.value
                )
                return answer, 200
            raise
        return _accepted(submitted.package_id), 200

    def submit_link(self, link: object) -> service.Submitted:
        """Queue a package from its link (``INVALID_LINK`` if we do not accept it)."""
        with self.sessions.begin() as session:
            submitted = service.submit_link(session, self.jobs.transit, link, self.prefixes)
        if submitted.queued:
            self._wake(submitted.package_id, submitted.premium)
        return submitted

    async def submit_upload(
        self,
        upn: str | None,
        body: AsyncIterator[bytes],
        content_type: str,
        content_length: str | None,
    ) -> ProcessOut:
        """``POST /process/upload``: stream the zip to disk, then queue it (see
        :mod:`~cordvault.insights.upload_receiver` for the body forms and errors). A package
        that needs no new upload (queued, running or processed) is answered without reading
        the body."""
        if upn is None:
            raise CordvaultError(
                ErrorCode.UNAUTHORIZED, "the upload needs Authorization: Bearer <UPN>"
            )
        package_id = package_id_for(upn)
        limit = self.settings.max_upload_bytes
        check_declared_length(content_length, limit)
        if not await to_thread.run_sync(self._upload_wanted, package_id):
            return _accepted(package_id)
        part = upload_path(self.settings, package_id).parent / f".{uuid.uuid4().hex}.part"
        try:
            await receive_zip(body, content_type, part, limit)
            submitted = await to_thread.run_sync(self._submit_upload, upn, part)
        finally:
            part.unlink(missing_ok=True)
        return _accepted(submitted.package_id)

    def _upload_wanted(self, package_id: str) -> bool:
        with self.sessions() as session:
            return service.can_accept_upload(session, package_id)

    def _submit_upload(self, upn: str, part: Path) -> service.Submitted:
        with self.sessions.begin() as session:
            submitted = service.submit_upload(session, self.jobs.transit, upn)
            if submitted.queued:
                # In place before the commit makes the job claimable.
                os.replace(part, upload_path(self.settings, submitted.package_id))
        if submitted.queued:
            self._wake(submitted.package_id, submitted.premium)
        return submitted

    # -- reads ----------------------------------------------------------------------------
    def status(self, package_id: str, upn: str | None) -> tuple[dict[str, Any], int]:
        """``GET /process/{id}/status``: the body (keys of ``api_models.StatusOut``) and status.

        Called on the event loop, not in a thread: one to three indexed queries of well under a
        millisecond cost less than the thread hand-off, and every waiting client polls this
        every second. Reads through the autocommit status engine; a connection the database
        dropped is retried once on a fresh one.
        """
        if package_id == DEMO_ID:
            body = service.base_status()
            body.update(isDataAvailable=True, processingStep=JobState.PROCESSED.value)
            return body, 200
        if upn is None or not bearer_matches(upn, package_id):
            body = service.base_status()
            body["errorMessageCode"] = ErrorCode.UNAUTHORIZED.value
            return body, 401
        try:
            with self._status_engine.connect() as conn:
                return service.status(conn, package_id), 200
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        with self._status_engine.connect() as conn:
            return service.status(conn, package_id), 200

    def blob_link(self, package_id: str, upn: str | None, base_url: str) -> BlobOut:
        """``GET /process/{id}/blob``: a short-lived absolute URL of the encrypted blob."""
        ttl = self.settings.blob_url_ttl
        blobs = self.jobs.blobs
        if package_id == DEMO_ID:
            key = ensure_demo(self.settings, blobs)
            return BlobOut(url=blobs.url(key, ttl=ttl, base_url=base_url), iv=None, ttl=ttl)
        self.authorize(upn, package_id)
        key, meta = self._processed_blob(package_id)
        url = blobs.url(key, ttl=ttl, base_url=base_url)
        return BlobOut(url=url, iv=meta.iv.hex(), ttl=ttl)

    def legacy_data(self, package_id: str, upn: str | None) -> Path:
        """``GET /process/{id}/data``: the gzip of the SQLite file, MAC-checked and decrypted
        here, in a fresh work dir: the caller removes ``path.parent`` once it is sent."""
        workdir = Path(tempfile.mkdtemp(prefix="data-", dir=tmp_root(self.settings)))
        try:
            out = workdir / "data.gz"
            if package_id == DEMO_ID:
                self.jobs.blobs.fetch(ensure_demo(self.settings, self.jobs.blobs), out)
                return out
            upn = self.authorize(upn, package_id)
            key, meta = self._processed_blob(package_id)
            ciphertext = workdir / "blob.bin"
            self.jobs.blobs.fetch(key, ciphertext)
            decrypt_blob(ciphertext, meta, upn, out)
            ciphertext.unlink()
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        return out

    def local_blob(self, key: str, expires: str, signature: str) -> Path:
        """``GET /blobs/{key}``: the local store's file behind a valid signed URL, else
        ``NOT_FOUND`` (also with an S3 store, whose URLs never point here)."""
        store = self.jobs.blobs
        if not isinstance(store, LocalBlobStore):
            raise CordvaultError(ErrorCode.NOT_FOUND, "no such blob")
        return store.verify(key, expires, signature)

    def require_package(self, package_id: str) -> None:
        """``UNKNOWN_PACKAGE_ID`` unless the package exists and is not deleted."""
        with self.sessions() as session:
            job = repo.get(session, package_id)
            if job is None or job.state == JobState.DELETED:
                raise CordvaultError(ErrorCode.UNKNOWN_PACKAGE_ID, "no such package")

    def health(self, storage: StorageOut | None = None) -> HealthOut:
        """``GET /health``: liveness plus the queue's depth (one aggregate query; null when the
        database does not answer, so the endpoint itself never fails) and ``storage``."""
        dispatcher = self._dispatcher()
        depth: QueueDepthOut | None = None
        try:
            with self.sessions() as session:
                counts = repo.queue_counts(session)
            depth = QueueDepthOut(premium=counts.premium, standard=counts.standard)
        except DBAPIError:
            log.warning("health: the database did not answer")
        return HealthOut(
            status="alive",
            hostname=socket.gethostname(),
            version=cordvault.__version__,
            queue=dispatcher.name if dispatcher else None,
            queueDepth=depth,
            storage=storage,
        )

    def typical_durations(self) -> TypicalDurationsOut:
        """``GET /insights/typical-durations``: how long similar jobs took (aggregates only,
        see :mod:`~cordvault.insights.jobs.durations`), at most :data:`DURATIONS_MAX_AGE`
        seconds old."""
        with self._durations_lock:  # one reader at a time: concurrent callers share one read
            cached = self._durations
            if cached is not None and time.monotonic() - cached[0] < DURATIONS_MAX_AGE:
                return cached[1]
            with self.sessions() as session:
                answer = typical_durations(session)
            self._durations = (time.monotonic(), answer)
            return answer

    # -- changes --------------------------------------------------------------------------
    def delete(self, package_id: str) -> DeleteOut:
        """``DELETE /process/{id}``: abort its running job, remove its blob and uploaded zip."""
        with self.sessions.begin() as session:
            known, blob_key = service.delete(session, package_id)
        if not known:
            return DeleteOut(isDeleted=False, errorMessageCode=ErrorCode.UNKNOWN_PACKAGE_ID.value)
        dispatcher = self._dispatcher()
        if dispatcher is not None:
            dispatcher.cancel(package_id)
        if blob_key:
            self.jobs.blobs.delete(blob_key)
        upload_path(self.settings, package_id).unlink(missing_ok=True)
        return DeleteOut(isDeleted=True, errorMessageCode=None)

    def upgrade(self, package_id: str) -> UpgradeOut:
        """``POST /admin/process/{id}/upgrade``: move a package to the premium queue."""
        with self.sessions.begin() as session:
            service.upgrade(session, package_id)
        return UpgradeOut(packageId=package_id, isUpgraded=True)

    # -- helpers --------------------------------------------------------------------------
    def _processed_blob(self, package_id: str) -> tuple[str, BlobMeta]:
        with self.sessions() as session:
            job = repo.get(session, package_id)
            if job is None or job.state != JobState.PROCESSED or not job.blob_key:
                raise CordvaultError(ErrorCode.NOT_FOUND, "no processed data for this package")
            assert job.blob_meta is not None
            return job.blob_key, BlobMeta.from_json(job.blob_meta)

    def _wake(self, package_id: str, premium: bool) -> None:
        dispatcher = self._dispatcher()
        if dispatcher is None:
            return
        try:
            dispatcher.wake(package_id, premium)
        except Exception as exc:
            log.warning("job %s queued but the wake-up failed (%s)", package_id, type(exc).__name__)


def _accepted(package_id: str) -> ProcessOut:
    return ProcessOut(isAccepted=True, packageId=package_id, errorMessageCode=None)


def _refused(code: str, message: str) -> ProcessOut:
    return ProcessOut(isAccepted=False, packageId=None, errorMessageCode=code, message=message)


async def _read_json(body: AsyncIterator[bytes]) -> Any:
    """The JSON body, capped; malformed or too large -> 400/413 ``CordvaultError``."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in body:
        size += len(chunk)
        if size > MAX_JSON_BODY:
            raise CordvaultError(ErrorCode.PACKAGE_TOO_LARGE, "the request body is too large")
        chunks.append(chunk)
    try:
        return orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError:
        raise CordvaultError(ErrorCode.INVALID_INPUT, "the body is not valid JSON") from None

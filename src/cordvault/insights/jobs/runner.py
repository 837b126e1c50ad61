"""The job runner: claim a job, run it in a separate process, heartbeat, finish or abort.

Shared by the in-process queue and the Celery task. One call of :meth:`JobRunner.run_next`
claims the next queued job (premium first), unseals its input, starts an
:mod:`~cordvault.insights.jobs.analysis_process` and supervises it:

- every ``heartbeat`` seconds it renews the job's lease; if the renewal fails the job is no
  longer ours (deleted, or re-queued after our lease expired): the process tree is killed;
- :meth:`cancel` kills it at once (the in-process queue's fast path for ``DELETE``);
- a process that dies without an answer (kill -9, out of memory) -> the attempt is released:
  re-queued, or failed with ``WORKER_LOST`` after ``JOB_MAX_ATTEMPTS``;
- a download overrunning ``DOWNLOAD_TOTAL_TIMEOUT`` (plus grace) is killed -> ``DOWNLOAD_TIMEOUT``.

The work dir ``<tmp>/<package_id>.<token>`` is removed when the attempt ends, whatever happened;
stale work dirs of earlier attempts of the same package (a killed worker's) are removed when the
package is claimed again. An uploaded zip is removed when its job reaches a final state.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import psutil

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.metrics import JOB_STEP_BUCKETS
from cordvault.insights.jobs import analysis_process
from cordvault.insights.jobs import repository as repo
from cordvault.insights.jobs.context import JOB_STEP, JobsContext, tmp_root, upload_path
from cordvault.insights.jobs.package_links import whitelisted_prefixes
from cordvault.insights.jobs.service import open_input
from cordvault.insights.jobs.states import JobState

log = logging.getLogger(__name__)

#: Called when a job goes back to the queue (package id, premium?).
Requeued = Callable[[str, bool], None]
_DOWNLOAD_GRACE = 30.0


@dataclass
class _Outcome:
    kind: str  # done | error | lost | aborted
    payload: str = ""
    code: str = ""


class JobRunner:
    """Runs jobs one at a time per calling thread; thread-safe."""

    def __init__(
        self, wctx: JobsContext, *, heartbeat: float = 1.0, on_requeue: Requeued | None = None
    ) -> None:
        self.wctx = wctx
        self.heartbeat = heartbeat
        self.on_requeue = on_requeue
        self._lock = threading.Lock()
        self._running: dict[str, multiprocessing.process.BaseProcess] = {}
        self._cancelled: set[str] = set()
        self._mp = multiprocessing.get_context("spawn")

    # -- public -------------------------------------------------------------------------
    def run_next(self, stop: threading.Event | None = None) -> str | None:
        """Claim and run the next queued job; its package id, or None if the queue is empty."""
        settings = self.wctx.settings
        token = uuid.uuid4().hex
        with self.wctx.sessions.begin() as session:
            claimed = repo.claim_next(
                session, token=token, lease_seconds=settings.job_lease_seconds, now=repo.utcnow()
            )
        if claimed is None:
            return None
        package_id = claimed.package_id
        log.info("job %s: attempt %d started", package_id, claimed.attempts)
        self._news(package_id, JobState.DOWNLOADING)
        self._clean_stale(package_id)
        workdir = tmp_root(settings) / f"{package_id}.{token}"
        workdir.mkdir(mode=0o700, parents=True)
        try:
            outcome = self._attempt(claimed, workdir, stop)
            self._finish(claimed, workdir, outcome)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return package_id

    def run_until_empty(self, stop: threading.Event | None = None) -> int:
        """Run jobs until none is queued; how many ran."""
        count = 0
        while (stop is None or not stop.is_set()) and self.run_next(stop) is not None:
            count += 1
        return count

    def cancel(self, package_id: str) -> None:
        """Kill the running attempt of ``package_id`` in this process, if any."""
        with self._lock:
            self._cancelled.add(package_id)
            proc = self._running.get(package_id)
        if proc is not None:
            _kill_tree(proc)

    def running_pids(self) -> dict[str, int]:
        """Package id -> analysis process id of the attempts running here (for tests/ops)."""
        with self._lock:
            return {k: p.pid for k, p in self._running.items() if p.pid is not None}

    # -- one attempt ----------------------------------------------------------------------
    def _attempt(
        self, claimed: repo.Claimed, workdir: Path, stop: threading.Event | None
    ) -> _Outcome:
        settings = self.wctx.settings
        package_id = claimed.package_id
        if claimed.sealed_secret is None:
            return _Outcome("error", code=ErrorCode.UNKNOWN_ERROR.value)
        try:
            job_input = open_input(self.wctx.transit, package_id, claimed.sealed_secret)
        except (CordvaultError, ValueError, KeyError) as exc:
            log.error("job %s: its sealed input does not open (%s)", package_id, exc)
            return _Outcome("error", code=ErrorCode.UNKNOWN_ERROR.value)
        zip_path = upload_path(settings, package_id) if claimed.source == "upload" else None
        if zip_path is not None and not zip_path.is_file():
            return _Outcome("error", code=ErrorCode.NOT_FOUND.value)
        spec = analysis_process.AnalysisSpec(
            package_id=package_id,
            upn=job_input.upn,
            link=job_input.link,
            zip_path=zip_path,
            workdir=workdir,
            prefixes=whitelisted_prefixes(settings),
        )
        parent_conn, child_conn = self._mp.Pipe(duplex=False)
        proc = self._mp.Process(
            target=analysis_process.run,
            args=(child_conn, settings, spec),
            name=f"cordvault-analysis-{package_id[:8]}",
        )
        with self._lock:
            self._cancelled.discard(package_id)
        proc.start()
        child_conn.close()
        with self._lock:
            self._running[package_id] = proc
        try:
            return self._supervise(claimed, proc, parent_conn, stop)
        finally:
            with self._lock:
                self._running.pop(package_id, None)
            _kill_tree(proc)
            parent_conn.close()

    def _supervise(
        self,
        claimed: repo.Claimed,
        proc: multiprocessing.process.BaseProcess,
        conn: Connection,
        stop: threading.Event | None,
    ) -> _Outcome:
        settings = self.wctx.settings
        package_id, token = claimed.package_id, claimed.token
        step = JobState.DOWNLOADING
        step_started = time.monotonic()
        last_beat = time.monotonic()
        while True:
            if conn.poll(0.2):
                try:
                    message = conn.recv()
                except (EOFError, OSError):
                    return _Outcome("lost")
                # A step ends at the next step, done or an error (the child first announces
                # the step it starts in: that ends nothing). Its duration, by step name.
                if message[0] != "step" or JobState(message[1]) != step:
                    self._record_step(package_id, step, time.monotonic() - step_started)
                if message[0] == "step":
                    step = JobState(message[1])
                    step_started = time.monotonic()
                    if not self._beat(package_id, token, step):
                        return _Outcome("aborted")
                    last_beat = time.monotonic()
                    log.info("job %s: %s", package_id, step)
                    self._news(package_id, step)
                    continue
                if message[0] == "done":
                    return _Outcome("done", payload=str(message[1]))
                return _Outcome("error", code=str(message[1]), payload=str(message[2]))
            with self._lock:
                cancelled = package_id in self._cancelled
            if cancelled or (stop is not None and stop.is_set()):
                return _Outcome("aborted" if cancelled else "lost")
            if not proc.is_alive() and not conn.poll(0):
                return _Outcome("lost")
            if (
                step == JobState.DOWNLOADING
                and time.monotonic() - step_started
                > settings.download_total_timeout + _DOWNLOAD_GRACE
            ):
                return _Outcome("error", code=ErrorCode.DOWNLOAD_TIMEOUT.value)
            if time.monotonic() - last_beat >= self.heartbeat:
                if not self._beat(package_id, token, None):
                    return _Outcome("aborted")
                last_beat = time.monotonic()

    def _record_step(self, package_id: str, step: JobState, seconds: float) -> None:
        """Add a finished step to the shared duration histogram; never fails the job."""
        try:
            with self.wctx.sessions.begin() as session:
                repo.record_step(session, step.value, seconds, JOB_STEP_BUCKETS)
        except Exception as exc:  # a metric is not worth a job
            log.warning("job %s: step duration not recorded (%s)", package_id, type(exc).__name__)

    def _news(self, package_id: str, step: str) -> None:
        """Tell listeners (live sockets) that a job moved; never fails the job."""
        try:
            self.wctx.notify(JOB_STEP, {"package_id": package_id, "step": str(step)})
        except Exception as exc:
            log.warning("job %s: news not published (%s)", package_id, type(exc).__name__)

    def _beat(self, package_id: str, token: str, step: JobState | None) -> bool:
        with self.wctx.sessions.begin() as session:
            return repo.heartbeat(
                session,
                package_id,
                token,
                lease_seconds=self.wctx.settings.job_lease_seconds,
                now=repo.utcnow(),
                step=step,
            )

    # -- outcome --------------------------------------------------------------------------
    def _finish(self, claimed: repo.Claimed, workdir: Path, outcome: _Outcome) -> None:
        settings = self.wctx.settings
        package_id, token = claimed.package_id, claimed.token
        now = repo.utcnow()
        final = False
        if outcome.kind == "done":
            key = f"{package_id}/{token}.bin"
            try:
                self.wctx.blobs.put(key, workdir / analysis_process.BLOB_NAME)
            except CordvaultError as exc:
                outcome = _Outcome("error", code=str(exc.code))
            else:
                with self.wctx.sessions.begin() as session:
                    ok = repo.finish_processed(
                        session, package_id, token, blob_key=key, blob_meta=outcome.payload, now=now
                    )
                if ok:
                    log.info("job %s: processed", package_id)
                    self._news(package_id, JobState.PROCESSED)
                    final = True
                else:
                    # Deleted (or re-queued) while we finished: the blob must not outlive it.
                    self.wctx.blobs.delete(key)
                    final = self._is_deleted(package_id)
        if outcome.kind == "error":
            with self.wctx.sessions.begin() as session:
                ok = repo.finish_errored(session, package_id, token, code=outcome.code, now=now)
            log.info("job %s: failed with %s", package_id, outcome.code)
            if ok:
                self._news(package_id, JobState.ERRORED)
            final = ok or self._is_deleted(package_id)
        elif outcome.kind == "lost":
            with self.wctx.sessions.begin() as session:
                state = repo.release_lost(
                    session, package_id, token, max_attempts=settings.job_max_attempts, now=now
                )
                job = repo.get(session, package_id)
                premium = bool(job and job.is_upgraded)
            log.warning("job %s: attempt lost; now %s", package_id, state)
            self._news(package_id, str(state))
            if state == JobState.LOCKED and self.on_requeue is not None:
                self.on_requeue(package_id, premium)
            final = state == JobState.ERRORED or self._is_deleted(package_id)
        elif outcome.kind == "aborted":
            log.info("job %s: aborted (deleted or taken over)", package_id)
            final = self._is_deleted(package_id)
        if final and claimed.source == "upload":
            upload_path(settings, package_id).unlink(missing_ok=True)

    def _is_deleted(self, package_id: str) -> bool:
        with self.wctx.sessions() as session:
            job = repo.get(session, package_id)
            return job is None or job.state == JobState.DELETED

    def _clean_stale(self, package_id: str) -> None:
        for stale in tmp_root(self.wctx.settings).glob(f"{package_id}.*"):
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)


def _kill_tree(proc: multiprocessing.process.BaseProcess) -> None:
    """Kill the analysis process and anything it started (its own worker pool)."""
    if proc.pid is None:
        return
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        children = []
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.kill()
    if proc.is_alive():
        proc.kill()
    proc.join(timeout=10)

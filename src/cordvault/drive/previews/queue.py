"""Thumbnail jobs on the job framework (:mod:`cordvault.core.jobs`), like insights jobs.

The ``drive_previews`` row is the job (claimed with a lease by :func:`.service.claim`); this
module only decides *where* runs happen, picked by ``BROKER_URL`` as for insights:

- :class:`InProcessPreviews` (embedded default): ``PREVIEW_WORKERS`` threads in the serving
  process run :func:`.service.run_pending`; an upload wakes them at once, and they poll every
  ``PREVIEW_POLL_SECONDS`` for work queued by other processes or left by a dead one.
- :class:`CeleryPreviews` (``BROKER_URL`` set): the serving process makes no thumbnail; each
  upload sends the Celery task :data:`TASK_NAME` to the :data:`QUEUE` queue with the file's id
  as its only argument (no name, type or content reaches the broker), and ``cordvault worker``
  runs :func:`run_task`: that file first, then whatever else waits, until nothing does.

Never a stuck queue: in both modes a periodic pass (in the API process and in every worker)
sweeps the previews of deleted files and, with Celery, sends a wake-up again when work waits
while no run holds a live lease (a lost message, a worker killed mid-run: its lease expires,
the file is claimed again, at most ``MAX_ATTEMPTS`` runs, then "no thumbnail"). A hostile file
never takes a worker down: rendering happens in a limited child process (:mod:`.render`).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Protocol

from cordvault.core.jobs import REQUEST_ID_HEADER, JobQueue, Periodic, WorkerThreads
from cordvault.core.logs import REQUEST_ID
from cordvault.drive.context import DriveContext
from cordvault.drive.models import utcnow
from cordvault.drive.previews import repository as prepo
from cordvault.drive.previews.service import claim, make, make_missing, run_pending
from cordvault.drive.previews.service import sweep as sweep_deleted

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger(__name__)

TASK_NAME = "cordvault.drive.make_thumbnails"
QUEUE = "previews"
SWEEP_EVERY = 60.0


class PreviewQueue(JobQueue, Protocol):
    """A thumbnail queue; ``wake(file_id, premium)`` after the commit of an upload."""

    def catch_up(self, *, retry: bool = False) -> dict[str, int]:
        """Make (or queue) the missing thumbnails of existing files (``cordvault drive
        thumbnails``); ``retry`` first forgets "no thumbnail" verdicts. Counts by outcome
        (``ready``, ``none``, ``queued``, ``swept``)."""


class _Sweeper:
    """Sweeps previews of deleted files at most every :data:`SWEEP_EVERY` seconds."""

    def __init__(self, ctx: DriveContext) -> None:
        self.ctx = ctx
        self._last = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self._last < SWEEP_EVERY:
                return
            self._last = now
        sweep_deleted(self.ctx)


class InProcessPreviews:
    """Thumbnail worker threads in this process."""

    name = "inprocess"

    def __init__(self, ctx: DriveContext, workers: int | None = None) -> None:
        self.ctx = ctx
        count = ctx.settings.preview_workers if workers is None else workers
        self._sweep = _Sweeper(ctx)
        self._threads = WorkerThreads(
            "cordvault-preview",
            self._run_once,
            count=count,
            poll=ctx.settings.preview_poll_seconds,
            join_timeout=ctx.settings.preview_timeout_seconds + 5,
        )

    def start(self) -> None:
        self._threads.start()

    def stop(self) -> None:
        """Stop after the runs in progress (each bounded by ``PREVIEW_TIMEOUT_SECONDS``)."""
        self._threads.stop()

    def wake(self, file_id: str, premium: bool = False, /) -> None:
        self._threads.wake()

    def cancel(self, file_id: str, /) -> None:
        """Nothing to do: a run on a deleted file discards its result."""

    def catch_up(self, *, retry: bool = False) -> dict[str, int]:
        return make_missing(self.ctx, retry=retry)

    def _run_once(self, stop: threading.Event) -> bool:
        self._sweep()
        return bool(run_pending(self.ctx, limit=5))


def stalled(ctx: DriveContext) -> str | None:
    """A file id to wake workers for when thumbnails wait while no run holds a live lease."""
    now = utcnow()
    with ctx.sessions() as db:
        if prepo.running(db, now):
            return None
        ids = prepo.work(db, now, 1)
    return ids[0] if ids else None


class CeleryPreviews:
    """Thumbnail runs in ``cordvault worker`` processes: this side sends the wake-ups."""

    name = "celery"

    def __init__(self, ctx: DriveContext, app: Celery) -> None:
        self.ctx = ctx
        self.app = app
        self._sweep = _Sweeper(ctx)
        self._periodic = Periodic(
            "cordvault-preview-reaper", self.maintain, ctx.settings.preview_poll_seconds
        )

    def start(self) -> None:
        self._periodic.start()

    def stop(self) -> None:
        self._periodic.stop()

    def wake(self, file_id: str, premium: bool = False, /) -> None:
        self.app.send_task(
            TASK_NAME, args=[file_id], queue=QUEUE, headers={REQUEST_ID_HEADER: REQUEST_ID.get()}
        )

    def cancel(self, file_id: str, /) -> None:
        """Nothing to do: a run on a deleted file discards its result."""

    def maintain(self) -> None:
        """One periodic pass: sweep now and then; re-send a wake-up for stalled work."""
        self._sweep()
        file_id = stalled(self.ctx)
        if file_id is not None:
            log.info("thumbnails wait while none is being made: waking the workers")
            self.wake(file_id)

    def catch_up(self, *, retry: bool = False) -> dict[str, int]:
        """Queue every missing thumbnail for the workers (one message per file)."""
        if retry:
            with self.ctx.sessions() as db, db.begin():
                prepo.reset_none(db)
        counts = {"swept": sweep_deleted(self.ctx), "queued": 0}
        with self.ctx.sessions() as db:
            ids = prepo.work(db, utcnow(), None)
        for file_id in ids:
            self.wake(file_id)
        counts["queued"] = len(ids)
        return counts


def open_preview_queue(ctx: DriveContext, app: Celery | None = None) -> PreviewQueue:
    """A not yet started thumbnail queue: Celery when ``BROKER_URL`` is set (``app``, or a new
    one from :func:`~cordvault.core.jobs.make_celery`), else worker threads here."""
    if ctx.settings.broker_url:
        if app is None:
            from cordvault.core.jobs import make_celery

            app = make_celery(ctx.settings)
        return CeleryPreviews(ctx, app)
    return InProcessPreviews(ctx)


def run_task(ctx: DriveContext, file_id: str) -> dict[str, int]:
    """The Celery task's body: ``file_id``'s thumbnails first (when still wanted and not
    taken), then any other waiting ones until none is left. Counts by outcome."""
    counts: dict[str, int] = {}
    job = claim(ctx, file_id)
    if job is not None:
        outcome = make(ctx, job)
        counts[outcome] = 1
    while done := run_pending(ctx, limit=5):
        for outcome, n in done.items():
            counts[outcome] = counts.get(outcome, 0) + n
    return counts

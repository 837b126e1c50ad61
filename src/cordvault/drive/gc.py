"""Garbage collection of stored chunks nobody refers to any more.

Deleting or overwriting a file moves its chunk locators into the ``drive_gc`` queue in the same
transaction (so a rollback keeps them referenced); :func:`collect` deletes due entries from the
store and then from the queue. The store's ``delete`` is idempotent, so two collectors racing on
the same entry (PostgreSQL skips locked rows; SQLite serialises) do no harm. Entries become due
after ``DRIVE_GC_GRACE_SECONDS`` so downloads already streaming the old chunks can finish.
Abandoned upload sessions (older than ``DRIVE_UPLOAD_TTL_SECONDS``) are aborted here too, and
each pass first purges trash entries older than ``DRIVE_TRASH_RETENTION_DAYS`` and file
versions older than ``DRIVE_FILE_VERSIONS_DAYS`` (:mod:`cordvault.drive.trash`,
:mod:`cordvault.drive.versions`), whose chunks then wait out the grace period like any other.

:func:`collector_loop` runs :func:`collect` every ``DRIVE_GC_INTERVAL_SECONDS`` for as long as
the server runs (entered by the composition root's ``Services.running``); it closes the chunk
store when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from cordvault.core.errors import CordvaultError
from cordvault.drive import repository as repo
from cordvault.drive import signin
from cordvault.drive.context import DriveContext
from cordvault.drive.models import utcnow

log = logging.getLogger(__name__)
_BATCH = 200


def schedule_content(ctx: DriveContext, db: Session, content_id: str) -> int:
    """Queue every chunk of a content for deletion; returns how many."""
    not_before = utcnow() + timedelta(seconds=ctx.settings.drive_gc_grace_seconds)
    return repo.drop_content(db, content_id, not_before)


@dataclass(frozen=True)
class GcReport:
    deleted: int
    failed: int
    expired_uploads: int
    purged_trash: int = 0
    purged_versions: int = 0


def collect(ctx: DriveContext, *, limit: int = 10_000) -> GcReport:
    """One GC pass (own transactions): purge expired trash and versions, expire uploads, then
    delete due chunks; sign-in housekeeping (throttle rows, ended sessions, security log
    retention) too."""
    # Imported here: both build on this module's schedule_content.
    from cordvault.drive import trash, versions

    signin.housekeeping(ctx)
    purged_trash = trash.purge_expired(ctx)
    purged_versions = versions.purge_expired(ctx)
    expired = _expire_uploads(ctx)
    deleted = failed = 0
    while deleted + failed < limit:
        with ctx.sessions() as db, db.begin():
            due = repo.due_garbage(db, utcnow(), _BATCH)
            if not due:
                break
            done: list[int] = []
            for entry in due:
                try:
                    ctx.store.delete(entry.locator)
                    done.append(entry.id)
                except CordvaultError as exc:
                    # Retried on a later pass, with backoff; the locator itself is never logged.
                    entry.attempts += 1
                    entry.not_before = utcnow() + timedelta(seconds=min(3600, 2**entry.attempts))
                    failed += 1
                    log.warning("chunk deletion failed (%s); will retry", exc.code)
            repo.forget_garbage(db, done)
            deleted += len(done)
        if failed:
            break
    if deleted or expired or purged_trash or purged_versions:
        log.info(
            "drive gc: %d chunks deleted, %d uploads expired, %d trash entries and %d versions "
            "purged",
            deleted,
            expired,
            purged_trash,
            purged_versions,
        )
    return GcReport(
        deleted=deleted,
        failed=failed,
        expired_uploads=expired,
        purged_trash=purged_trash,
        purged_versions=purged_versions,
    )


def _expire_uploads(ctx: DriveContext) -> int:
    count = 0
    now = utcnow()
    with ctx.sessions() as db, db.begin():
        for upload in repo.expired_uploads(db, now, _BATCH):
            schedule_content(ctx, db, upload.id)
            upload.state = "aborted"
            count += 1
        # Keep finished sessions for a day so "complete twice" gets a clear answer, then drop.
        repo.finished_uploads_before(db, now - timedelta(days=1))
    return count


@contextlib.asynccontextmanager
async def collector_loop(ctx: DriveContext) -> AsyncIterator[None]:
    """Collect in a worker thread every ``DRIVE_GC_INTERVAL_SECONDS`` until the block ends."""

    async def run() -> None:
        while True:
            await asyncio.sleep(ctx.settings.drive_gc_interval_seconds)
            try:
                await asyncio.to_thread(collect, ctx)
            except Exception as exc:  # the loop must survive a bad pass; next pass retries
                log.warning("drive gc pass failed: %s", type(exc).__name__)

    task = asyncio.create_task(run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        ctx.close()


def backlog(ctx: DriveContext) -> int:
    """Chunks waiting in the garbage queue (for ``/metrics``)."""
    with ctx.sessions() as db:
        return repo.garbage_backlog(db)

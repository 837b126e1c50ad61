"""How the API tells workers that a job is waiting, or that one was deleted.

The database is the queue (jobs are claimed from it in priority order); a dispatcher only wakes
workers up. Calls happen after the commit that made the job visible and carry ids only.
"""

from __future__ import annotations

from typing import Protocol


class Dispatcher(Protocol):
    """Wakes workers; implemented by the in-process queue and the Celery dispatcher."""

    name: str

    def wake(self, package_id: str, premium: bool) -> None:
        """A job for ``package_id`` was queued (or re-queued)."""

    def cancel(self, package_id: str) -> None:
        """``package_id`` was deleted: abort its running attempt now if it runs here."""


class JobQueue(Dispatcher, Protocol):
    """A dispatcher with background work of its own (worker threads, a lease reaper).

    Started once when the process starts serving, stopped once when it stops; built by
    :func:`cordvault.insights.jobs.queues.open_job_queue`."""

    def start(self) -> None:
        """Start the background threads."""

    def stop(self) -> None:
        """Stop them; running attempts are released for a later retry."""

"""Scale-out queue: Celery with a Redis or RabbitMQ broker (``BROKER_URL``), the job framework's
(:mod:`cordvault.core.jobs`) Celery side for insights jobs.

Messages carry the package id only (JSON serializer, never pickle); the link and UPN stay
sealed in the database. Jobs are routed to the ``premium`` or ``standard`` queue, but the task
claims the next job from the database in priority order, so premium jobs go first even when
the broker interleaves the two queues. Any number of ``cordvault worker`` processes on any
machine may consume both queues; they need the same database, transit key and blob store.

The API process uses :class:`CeleryQueue` (send wake-ups, reap expired leases); the consuming
side (the task and the worker process) is the ``worker/`` adapter.
"""

from __future__ import annotations

from celery import Celery

from cordvault.core.jobs import REQUEST_ID_HEADER, make_celery
from cordvault.core.logs import REQUEST_ID
from cordvault.insights.jobs.context import JobsContext
from cordvault.insights.jobs.reaper import Reaper

TASK_NAME = "cordvault.insights.process_next"
QUEUES = ("premium", "standard")

__all__ = [
    "QUEUES",
    "REQUEST_ID_HEADER",
    "TASK_NAME",
    "CeleryDispatcher",
    "CeleryQueue",
    "make_celery",
]


class CeleryDispatcher:
    """Sends a wake-up task per queued job; deletion is seen by the worker's heartbeat."""

    name = "celery"

    def __init__(self, app: Celery) -> None:
        self.app = app

    def wake(self, package_id: str, premium: bool) -> None:
        # The request id travels in a message header, so the worker's logs carry it too.
        self.app.send_task(
            TASK_NAME,
            args=[package_id],
            queue="premium" if premium else "standard",
            headers={REQUEST_ID_HEADER: REQUEST_ID.get()},
        )

    def cancel(self, package_id: str) -> None:
        # The worker's next heartbeat (within a second) sees the job is gone and kills the
        # analysis process; nothing to send.
        _ = package_id


class CeleryQueue(CeleryDispatcher):
    """The API process's side of the Celery queue: wake-ups plus a lease reaper thread."""

    def __init__(self, jobs: JobsContext, app: Celery | None = None) -> None:
        super().__init__(app if app is not None else make_celery(jobs.settings))
        self.reaper = Reaper(jobs, on_requeue=self.wake)

    def start(self) -> None:
        self.reaper.start()

    def stop(self) -> None:
        self.reaper.stop()

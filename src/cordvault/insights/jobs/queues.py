"""Which job queue a process runs: in-process threads by default, Celery with ``BROKER_URL``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cordvault.insights.jobs.context import JobsContext
from cordvault.insights.jobs.dispatch import JobQueue

if TYPE_CHECKING:
    from celery import Celery


def open_job_queue(jobs: JobsContext, app: Celery | None = None) -> JobQueue:
    """A not yet started queue for this process (the caller starts and stops it); ``app`` is
    the process's Celery app when ``BROKER_URL`` is set (else one is made)."""
    if jobs.settings.broker_url:
        from cordvault.insights.jobs.celery_queue import CeleryQueue

        return CeleryQueue(jobs, app)
    from cordvault.insights.jobs.inprocess import InProcessQueue

    return InProcessQueue(jobs)

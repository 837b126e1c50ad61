"""Which job queue a process runs: in-process threads by default, Celery with ``BROKER_URL``."""

from __future__ import annotations

from cordvault.insights.jobs.context import JobsContext
from cordvault.insights.jobs.dispatch import JobQueue


def open_job_queue(jobs: JobsContext) -> JobQueue:
    """A not yet started queue for this process (the caller starts and stops it)."""
    if jobs.settings.broker_url:
        from cordvault.insights.jobs.celery_queue import CeleryQueue

        return CeleryQueue(jobs)
    from cordvault.insights.jobs.inprocess import InProcessQueue

    return InProcessQueue(jobs)

"""The Celery tasks and the worker process (``python -m cordvault.worker``, ``cordvault worker``).

One worker consumes every kind of job of the job framework (:mod:`cordvault.core.jobs`):
insights packages (queues ``premium``, ``standard``) and drive thumbnails (queue
``previews``); ``--queues`` narrows that (e.g. thumbnail-only workers). Each task is a thin
trigger: it runs queued jobs from the database until none is left (the insights task's
argument, a package id, is only a hint for logs; the thumbnail task makes its file first).
Each kind's periodic pass (lease reaper) runs here too. Running the analysis happens in a child
process supervised by :class:`~cordvault.insights.jobs.runner.JobRunner`, so the worker uses
Celery's thread pool (``--concurrency`` = jobs at once). Everything it needs comes from the
composition root (:func:`cordvault.runtime.build_services`).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, Task

from cordvault.core.jobs import REQUEST_ID_HEADER
from cordvault.core.logs import REQUEST_ID
from cordvault.core.settings import Settings
from cordvault.drive.context import DriveContext
from cordvault.drive.previews import queue as previews
from cordvault.insights.jobs.celery_queue import QUEUES, TASK_NAME, CeleryDispatcher
from cordvault.insights.jobs.reaper import Reaper
from cordvault.insights.jobs.runner import JobRunner
from cordvault.runtime import build_services

log = logging.getLogger(__name__)


def register_tasks(app: Celery, runner: JobRunner) -> None:
    """Bind the process task to ``runner``."""

    @app.task(name=TASK_NAME, ignore_result=True, bind=True)
    def process_next(task: Task[Any, Any], package_id: str) -> int:
        token = REQUEST_ID.set(str(getattr(task.request, REQUEST_ID_HEADER, None) or ""))
        try:
            log.info("wake-up for job %s", package_id)
            return runner.run_until_empty()
        finally:
            REQUEST_ID.reset(token)

    _ = process_next


def register_preview_task(app: Celery, ctx: DriveContext) -> None:
    """Bind the thumbnail task to the drive context ``ctx``."""

    @app.task(name=previews.TASK_NAME, ignore_result=True, bind=True)
    def make_thumbnails(task: Task[Any, Any], file_id: str) -> dict[str, int]:
        token = REQUEST_ID.set(str(getattr(task.request, REQUEST_ID_HEADER, None) or ""))
        try:
            done = previews.run_task(ctx, file_id)
            log.info("thumbnails for %s: %s", file_id, done)
            return done
        finally:
            REQUEST_ID.reset(token)

    _ = make_thumbnails


ALL_QUEUES = (*QUEUES, previews.QUEUE)


def run_worker(
    settings: Settings,
    *,
    concurrency: int = 1,
    loglevel: str = "INFO",
    queues: tuple[str, ...] = ALL_QUEUES,
) -> None:
    """Run a Celery worker consuming ``queues`` (default: every kind's) until stopped."""
    with build_services(settings) as services:
        app = services.celery
        dispatcher = CeleryDispatcher(app)
        runner = JobRunner(services.jobs, on_requeue=dispatcher.wake)
        register_tasks(app, runner)
        register_preview_task(app, services.drive)
        reaper = Reaper(services.jobs, on_requeue=dispatcher.wake)
        thumbnails = previews.CeleryPreviews(services.drive, app)
        reaper.start()
        thumbnails.start()
        try:
            app.worker_main(
                [
                    "worker",
                    "--pool=threads",
                    f"--concurrency={max(1, concurrency)}",
                    f"--queues={','.join(queues)}",
                    f"--loglevel={loglevel}",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ]
            )
        finally:
            thumbnails.stop()
            reaper.stop()

"""The Celery task and the worker process (``python -m cordvault.worker``, ``cordvault worker``).

The task is a thin trigger: it runs queued jobs from the database until none is left (its
argument, a package id, is only a hint for logs). Running the analysis happens in a child
process supervised by :class:`~cordvault.insights.jobs.runner.JobRunner`, so the worker uses
Celery's thread pool (``--concurrency`` = jobs at once). Everything it needs comes from the
composition root (:func:`cordvault.runtime.build_services`).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, Task

from cordvault.core.logs import REQUEST_ID
from cordvault.core.settings import Settings
from cordvault.insights.jobs.celery_queue import (
    QUEUES,
    REQUEST_ID_HEADER,
    TASK_NAME,
    CeleryDispatcher,
    make_celery,
)
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


def run_worker(settings: Settings, *, concurrency: int = 1, loglevel: str = "INFO") -> None:
    """Run a Celery worker consuming both queues until stopped (blocks)."""
    with build_services(settings) as services:
        app = make_celery(settings)
        dispatcher = CeleryDispatcher(app)
        runner = JobRunner(services.jobs, on_requeue=dispatcher.wake)
        register_tasks(app, runner)
        reaper = Reaper(services.jobs, on_requeue=dispatcher.wake)
        reaper.start()
        try:
            app.worker_main(
                [
                    "worker",
                    "--pool=threads",
                    f"--concurrency={max(1, concurrency)}",
                    f"--queues={','.join(QUEUES)}",
                    f"--loglevel={loglevel}",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ]
            )
        finally:
            reaper.stop()

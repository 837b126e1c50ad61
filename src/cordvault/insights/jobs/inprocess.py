"""The embedded default queue: worker threads in the API process, analysis in child processes.

Used when ``BROKER_URL`` is unset. ``INPROCESS_WORKERS`` threads (the job framework's
:class:`~cordvault.core.jobs.WorkerThreads`) each claim jobs from the database (premium first)
and supervise one analysis process at a time, so the API's event loop never runs analysis code
and ``POST /process`` returns at once. Idle threads wait on a wake-up (set by :meth:`wake`) and
poll every half second anyway, so a job queued by another API process is picked up too. A
reaper thread re-queues jobs whose lease expired.
"""

from __future__ import annotations

import threading

from cordvault.core.jobs import WorkerThreads
from cordvault.insights.jobs.context import JobsContext
from cordvault.insights.jobs.reaper import Reaper
from cordvault.insights.jobs.runner import JobRunner

_IDLE_POLL = 0.5


class InProcessQueue:
    """Dispatcher + workers for a single-process deployment."""

    name = "inprocess"

    def __init__(self, wctx: JobsContext, workers: int | None = None) -> None:
        self.wctx = wctx
        self.workers = max(1, workers if workers is not None else wctx.settings.inprocess_workers)
        self.runner = JobRunner(wctx, on_requeue=self.wake)
        self.reaper = Reaper(wctx, on_requeue=self.wake)
        self._threads = WorkerThreads(
            "cordvault-job", self._run_once, count=self.workers, poll=_IDLE_POLL
        )

    def start(self) -> None:
        self._threads.start()
        self.reaper.start()

    def stop(self) -> None:
        """Stop taking jobs; running attempts are killed and released for a later retry."""
        self.reaper.stop()
        self._threads.stop()

    def wake(self, package_id: str, premium: bool) -> None:
        _ = package_id, premium
        self._threads.wake()

    def cancel(self, package_id: str) -> None:
        self.runner.cancel(package_id)

    def _run_once(self, stop: threading.Event) -> bool:
        return self.runner.run_next(stop) is not None

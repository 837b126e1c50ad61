"""The embedded default queue: worker threads in the API process, analysis in child processes.

Used when ``BROKER_URL`` is unset. ``INPROCESS_WORKERS`` threads each claim jobs from the
database (premium first) and supervise one analysis process at a time, so the API's event loop
never runs analysis code and ``POST /process`` returns at once. Idle threads wait on a wake-up
event (set by :meth:`wake`) and poll every half second anyway, so a job queued by another API
process is picked up too. A reaper thread re-queues jobs whose lease expired.
"""

from __future__ import annotations

import logging
import threading

from cordvault.insights.jobs.context import JobsContext
from cordvault.insights.jobs.reaper import Reaper
from cordvault.insights.jobs.runner import JobRunner

log = logging.getLogger(__name__)

_IDLE_POLL = 0.5


class InProcessQueue:
    """Dispatcher + workers for a single-process deployment."""

    name = "inprocess"

    def __init__(self, wctx: JobsContext, workers: int | None = None) -> None:
        self.wctx = wctx
        self.workers = max(1, workers if workers is not None else wctx.settings.inprocess_workers)
        self.runner = JobRunner(wctx, on_requeue=self.wake)
        self.reaper = Reaper(wctx, on_requeue=self.wake)
        self._wakeup = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for i in range(self.workers):
            thread = threading.Thread(target=self._loop, name=f"cordvault-job-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self.reaper.start()

    def stop(self) -> None:
        """Stop taking jobs; running attempts are killed and released for a later retry."""
        self._stop.set()
        self._wakeup.set()
        self.reaper.stop()
        for thread in self._threads:
            thread.join(timeout=30)

    def wake(self, package_id: str, premium: bool) -> None:
        _ = package_id, premium
        self._wakeup.set()

    def cancel(self, package_id: str) -> None:
        self.runner.cancel(package_id)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                ran = self.runner.run_next(self._stop)
            except Exception as exc:  # a DB hiccup must not kill the worker thread
                log.error("job worker error: %s", type(exc).__name__, exc_info=True)
                ran = None
            if ran is None:
                self._wakeup.wait(_IDLE_POLL)
                self._wakeup.clear()

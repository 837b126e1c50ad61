"""Stuck-job recovery: running jobs whose lease expired are re-queued or failed.

A worker renews its job's lease every second; a lease that is ``JOB_LEASE_SECONDS`` old means
the worker died (kill -9, machine lost). The reaper runs in the API process and in every
``cordvault worker``; each state change is a compare-and-set, so several reapers never
double-count an attempt.
"""

from __future__ import annotations

import logging

from cordvault.core.jobs import Periodic
from cordvault.insights.jobs import repository as repo
from cordvault.insights.jobs.context import JobsContext
from cordvault.insights.jobs.runner import Requeued
from cordvault.insights.jobs.states import JobState

log = logging.getLogger(__name__)


def reap_once(wctx: JobsContext, on_requeue: Requeued | None = None) -> int:
    """One pass; returns how many jobs changed state.

    Also re-sends a wake-up when jobs wait while none runs: a broker message lost (flushed
    broker, a consumer of another deployment on the same queue) must not stall the queue.
    """
    with wctx.sessions.begin() as session:
        changed = repo.reap_expired(
            session, max_attempts=wctx.settings.job_max_attempts, now=repo.utcnow()
        )
        premium = {
            pid: bool(job.is_upgraded) for pid, _ in changed if (job := repo.get(session, pid))
        }
        stalled = repo.stalled_queue(session)
    for package_id, state in changed:
        log.warning("job %s: lease expired (worker lost); now %s", package_id, state)
        if state == JobState.LOCKED and on_requeue is not None:
            on_requeue(package_id, premium.get(package_id, False))
    if stalled is not None and not changed and on_requeue is not None:
        on_requeue(*stalled)
    return len(changed)


class Reaper:
    """The job framework's :class:`~cordvault.core.jobs.Periodic` calling :func:`reap_once`
    every ``interval`` seconds."""

    def __init__(
        self, wctx: JobsContext, on_requeue: Requeued | None = None, interval: float | None = None
    ) -> None:
        self.wctx = wctx
        self.on_requeue = on_requeue
        self.interval = interval or max(1.0, wctx.settings.job_lease_seconds / 4)
        self._thread = Periodic("cordvault-reaper", self._pass, self.interval)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._thread.stop()

    def _pass(self) -> None:
        reap_once(self.wctx, self.on_requeue)

"""The one background job framework: insights package jobs and drive thumbnails both run on it.

The model (one for every kind of job):

- **The database is the queue.** A job is a row its service owns (``insights_jobs``,
  ``drive_previews``); a worker *claims* it with a compare-and-set that sets a lease, so
  workers of any number of processes never run the same job twice, and a job whose worker
  died comes back when its lease expires (retried, then given up after a bounded number of
  attempts). The row is the source of truth; nothing else has to survive a crash.
- **A dispatcher only wakes workers** (:class:`Dispatcher`), after the commit that made the job
  visible, with an id only. Two implementations per kind, picked by ``BROKER_URL``:

  - embedded default: worker threads in the serving process (:class:`WorkerThreads`), woken
    by an event and polling anyway (a job queued by another process is found too);
  - Celery (``BROKER_URL`` set): :func:`make_celery`'s app sends a task whose only argument is
    the job's id (JSON, never pickle; nothing about contents reaches the broker) to the kind's
    queue; ``cordvault worker`` (the ``worker/`` adapter) consumes every kind's queue and runs
    the same claim-and-run code as the threads.

- **Never a stuck queue**: each kind runs a periodic pass (:class:`Periodic`) in the API process
  and in every worker: leases that expired are re-queued or given up, and a wake-up is sent
  again when jobs wait while none runs (a lost broker message must not stall the queue).

Kinds: :mod:`cordvault.insights.jobs` (queues ``premium`` / ``standard``) and
:mod:`cordvault.drive.previews.queue` (queue ``previews``). The composition root starts one
:class:`JobQueue` of each kind inside ``Services.running()``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.core.settings import Settings

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "cordvault_request_id"
"""Celery message header carrying the request id, so the worker's logs carry it too."""


class Dispatcher(Protocol):
    """Wakes workers for one kind of job."""

    name: str

    def wake(self, job_id: str, premium: bool, /) -> None:
        """A job ``job_id`` was queued (or re-queued)."""

    def cancel(self, job_id: str, /) -> None:
        """``job_id`` was deleted: abort its running attempt now if it runs here."""


class JobQueue(Dispatcher, Protocol):
    """A dispatcher with background work of its own (worker threads, a lease reaper).

    Started once when the process starts serving, stopped once when it stops."""

    def start(self) -> None:
        """Start the background threads."""

    def stop(self) -> None:
        """Stop them; running attempts are released for a later retry."""


def make_celery(settings: Settings) -> Celery:
    """The Celery app of every job kind (``MISSING_SETTINGS`` without a broker)."""
    if not settings.broker_url:
        raise CordvaultError(ErrorCode.MISSING_SETTINGS, "missing required settings: BROKER_URL")
    from celery import Celery

    app = Celery("cordvault", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        result_backend=None,
        # The DB lease, not the broker ack, is what makes a job survive a dead worker.
        task_acks_late=False,
        worker_prefetch_multiplier=1,
        task_default_queue="standard",
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        broker_transport_options={"visibility_timeout": 3600},
    )
    return app


class WorkerThreads:
    """``count`` daemon threads calling ``run_once(stop)`` in a loop (the embedded queue).

    ``run_once`` claims and runs what it can and returns True when it did something; after a
    round with nothing to do a thread waits for :meth:`wake` or ``poll`` seconds. An exception
    is logged and the loop goes on (the job's lease brings it back later)."""

    def __init__(
        self,
        name: str,
        run_once: Callable[[threading.Event], bool],
        *,
        count: int,
        poll: float,
        join_timeout: float = 30.0,
    ) -> None:
        self.name = name
        self.run_once = run_once
        self.count = count
        self.poll = poll
        self.join_timeout = join_timeout
        self._wakeup = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for i in range(self.count):
            thread = threading.Thread(target=self._loop, name=f"{self.name}-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self._wakeup.set()
        for thread in self._threads:
            thread.join(timeout=self.join_timeout)
        self._threads.clear()

    def wake(self) -> None:
        self._wakeup.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wakeup.clear()
            try:
                ran = self.run_once(self._stop)
            except Exception as exc:  # a DB hiccup must not kill the worker thread
                log.error("%s error: %s", self.name, type(exc).__name__, exc_info=True)
                ran = False
            if not ran:
                self._wakeup.wait(self.poll)


class Periodic:
    """A daemon thread calling ``step()`` every ``interval`` seconds (reapers, sweeps)."""

    def __init__(self, name: str, step: Callable[[], object], interval: float) -> None:
        self.step = step
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.step()
            except Exception as exc:  # keep going after a transient DB error
                log.warning("%s pass failed: %s", self._thread.name, type(exc).__name__)

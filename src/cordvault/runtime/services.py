"""The composition root: every long-lived object of a cordvault process, built in one place.

``build_services(settings)`` is the only code that turns settings into engines, sessions, the
drive context (signing keys, master keyring, chunk store), the insights job context (job
engine, transit key, blob store), the Discord lookups client and the insights job queue. Every
adapter starts from it: ``web/app.py`` (one per app), each CLI command that touches the
database, and the Celery worker (``worker/``). Adapters never build any of these themselves,
so a new front door (web pages, WebDAV, WebSocket) gets everything from the one
:class:`Services` it is handed.

Contract:

- Construction creates ``DATA_DIR`` (0700; one open to others is reported), applies database
  migrations (``upgrade heads``) and opens the main engine; the
  other parts are built on first use (a CLI command that only reads users never loads the
  chunk store, the transit key or a Discord client).
- :meth:`Services.running` is the async context in which background work runs: the insights
  job queue (in-process worker threads, or the Celery dispatcher + lease reaper when
  ``BROKER_URL`` is set), the drive's garbage collector loop, the event bus listener, the
  thumbnail queue (worker threads, or Celery wake-ups for ``cordvault worker``: the same job
  framework, :mod:`cordvault.core.jobs`) and the catalog writer (disaster-recovery
  snapshots and journal, ``drive/catalog/``). The web app enters it in its lifespan; the
  CLI never does.
- Drive events (:mod:`cordvault.drive.events`) are recorded by the drive services on the DB
  session; the constructor installs the ``after_commit`` hook that publishes them on
  :attr:`Services.events` (:mod:`cordvault.core.bus`: in-process, or Redis pub/sub when
  ``BROKER_URL`` is a Redis URL, so every API process hears every change, the CLI's too).
- :meth:`Services.close` releases everything that was opened (idempotent); ``with
  build_services(...) as services:`` closes on exit.

Which engine for what: ``engine``/``sessions`` serve the drive and the storage ledger;
the job queue has its own engine whose SQLite transactions take the write lock first (see
:func:`cordvault.insights.jobs.context.open_engine`); the status poll reads through an
autocommit engine without pre-ping (one round trip per poll).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import threading
from collections.abc import AsyncIterator, Sequence
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from cordvault.core.bus import EventBus, open_bus
from cordvault.core.files import private_dir
from cordvault.core.settings import Settings
from cordvault.db import create_engine_for, make_sessionmaker, migrate
from cordvault.drive import events as drive_events
from cordvault.drive.app_passwords import CredentialCache
from cordvault.drive.catalog.writer import catalog_loop
from cordvault.drive.context import DriveContext
from cordvault.drive.gc import collector_loop
from cordvault.drive.previews.queue import PreviewQueue, open_preview_queue
from cordvault.drive.previews.service import kind_of
from cordvault.insights.jobs.context import JobsContext
from cordvault.insights.jobs.dispatch import JobQueue
from cordvault.insights.jobs.queues import open_job_queue
from cordvault.insights.lookups import Lookups

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger(__name__)


class Services:
    """What a process needs, built once from its settings (see the module docstring)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        private_dir(settings.data_dir, what="DATA_DIR")
        url = settings.effective_database_url
        migrate(url)
        self.engine: Engine = create_engine_for(url)
        self.sessions: sessionmaker[Session] = make_sessionmaker(engine=self.engine)
        self._lock = threading.Lock()
        self._queue: JobQueue | None = None
        self._bus: EventBus | None = None
        self._previews: PreviewQueue | None = None
        self._closed = False
        drive_events.install_publisher(self.sessions, self._publish)

    # -- parts built on first use -------------------------------------------------------
    @cached_property
    def drive(self) -> DriveContext:
        """Drive services' context: signing keys, keyring, the chunk store (opened lazily)."""
        return DriveContext.open(self.settings, self.sessions)

    @cached_property
    def dav_credentials(self) -> CredentialCache:
        """Verified WebDAV (HTTP Basic) credentials, remembered for a short while."""
        return CredentialCache(self.settings.drive_dav_auth_cache_seconds)

    @cached_property
    def jobs(self) -> JobsContext:
        """Insights jobs' context: the job engine, transit key and blob store."""
        return JobsContext.build(self.settings, notify=self._notify)

    @cached_property
    def lookups(self) -> Lookups:
        """Discord user / guild lookups (the Discord client is created on first lookup)."""
        return Lookups(self.settings)

    @cached_property
    def status_engine(self) -> Engine:
        """Autocommit reads without pre-ping, for the job status poll (one round trip)."""
        return create_engine_for(
            self.settings.effective_database_url,
            isolation_level="AUTOCOMMIT",
            pool_pre_ping=False,
        )

    @property
    def events(self) -> EventBus:
        """The event bus (built on first use: a CLI command that changes nothing never
        connects to Redis)."""
        with self._lock:
            if self._bus is None:
                # Processes sharing a database share the channel (a hash: no URL in Redis).
                url = self.settings.effective_database_url.encode()
                scope = hashlib.sha256(url).hexdigest()[:16]
                self._bus = open_bus(self.settings.broker_url, scope)
            return self._bus

    @cached_property
    def celery(self) -> Celery:
        """The one Celery app of every job kind (only with ``BROKER_URL``)."""
        from cordvault.core.jobs import make_celery

        return make_celery(self.settings)

    def preview_queue(self) -> PreviewQueue:
        """A new, not started thumbnail queue (the CLI uses it to queue missing ones)."""
        return open_preview_queue(self.drive, self.celery if self.settings.broker_url else None)

    def _publish(self, events: Sequence[drive_events.Event]) -> None:
        self.events.publish(drive_events.encode_batch(events))
        self._wake_previews(events)

    def _notify(self, topic: str, data: dict[str, Any]) -> None:
        """The neutral publish hook handed to insights (``core.bus.Notify``): one event with no
        user audience on the bus; the live adapter routes it by topic (insights job news goes
        to the sockets that proved they hold the package's UPN)."""
        event = drive_events.Event(topic, data, drive_events.Audience())
        self.events.publish(drive_events.encode_batch([event]))

    def _wake_previews(self, events: Sequence[drive_events.Event]) -> None:
        """New content committed in this process: wake the thumbnail queue (once per file,
        from the committing process only, so N API processes never send N wake-ups)."""
        queue = self._previews
        if queue is None:
            return
        for event in events:
            if event.topic != drive_events.FILE_MODIFY:
                continue
            handle = event.data.get("handle", {})
            if event.data.get("change") in ("created", "content") and kind_of(
                str(handle.get("mime_type", ""))
            ):
                try:
                    queue.wake(str(handle["id"]), False)
                except Exception as exc:  # the change is committed; the periodic pass retries
                    log.warning("thumbnail wake-up failed: %s", type(exc).__name__)

    @property
    def queue(self) -> JobQueue | None:
        """The running job queue (inside :meth:`running`), else None."""
        return self._queue

    # -- lifecycle ----------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def running(
        self, *, job_queue: bool = True, drive_gc: bool = True, drive_catalog: bool | None = None
    ) -> AsyncIterator[Services]:
        """Run the insights job queue (``job_queue``), the drive's background work
        (``drive_gc``: the collector, the event bus listener and the thumbnail workers) and its
        catalog writer (``drive_catalog``, default: with the collector when ``DRIVE_CATALOG``
        is on) until the block ends; all are stopped on the way out, whatever happened (the
        catalog writer first: it writes a last journal record)."""
        if drive_catalog is None:
            drive_catalog = drive_gc and self.settings.drive_catalog
        app = self.celery if self.settings.broker_url else None
        queue = open_job_queue(self.jobs, app) if job_queue else None
        if queue is not None:
            queue.start()
            self._queue = queue
        try:
            async with contextlib.AsyncExitStack() as stack:
                if drive_gc:
                    await stack.enter_async_context(collector_loop(self.drive))
                    await stack.enter_async_context(self.events.running())
                    previews = open_preview_queue(self.drive, app)
                    previews.start()
                    self._previews = previews
                    stack.push_async_callback(asyncio.to_thread, previews.stop)
                if drive_catalog:
                    await stack.enter_async_context(catalog_loop(self.drive))
                yield self
        finally:
            self._queue = None
            self._previews = None
            if queue is not None:
                await asyncio.to_thread(queue.stop)

    def close(self) -> None:
        """Release engines, clients and the chunk store (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        cache = self.__dict__
        if self._bus is not None:
            self._bus.close()
        if "drive" in cache:
            self.drive.close()
        if "lookups" in cache:
            self.lookups.close()
        if "status_engine" in cache:
            self.status_engine.dispose()
        if "jobs" in cache:
            self.jobs.engine.dispose()
        self.engine.dispose()

    def __enter__(self) -> Services:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def build_services(settings: Settings) -> Services:
    """The composition root: see the module docstring."""
    return Services(settings)
